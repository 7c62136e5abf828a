"""Redirect URIs a hostile client sends, beside the loopback one an honest IDE registered (REGISTERED).

Each entry is (uri, registrable, why). `registrable` is True for the few that are well-formed and
allowed in themselves (another path, a query) but are not what the client registered: they may
be registered, never used in place of REGISTERED. Every other one is refused everywhere. The
classes: parser differentials (backslash, userinfo, missing slashes), whitespace and control
characters, encodings of the host (percent, IPv4 shorthands, IDN and full-width look-alikes,
punycode), non-canonical forms, fragments, and other hosts, schemes and web redirects.
"""

from __future__ import annotations

REGISTERED = "http://127.0.0.1:33418/callback"

CORPUS: list[tuple[str, bool, str]] = [
    # A browser and urlsplit disagree on the host.
    ("http://evil.example\\@127.0.0.1:33418/callback", False, "backslash: browser host evil.example"),
    ("http://evil.example:33418\\@127.0.0.1/callback", False, "backslash with a port before it"),
    ("http://127.0.0.1:33418\\@evil.example/callback", False, "backslash after the loopback host"),
    ("http:\\\\evil.example\\@127.0.0.1:33418/callback", False, "backslashes for slashes"),
    ("http:/\\evil.example/callback", False, "slash-backslash authority"),
    ("http:evil.example/callback", False, "no slashes: a browser still finds host evil.example"),
    ("http:127.0.0.1:33418/callback", False, "no slashes: urlsplit sees no host at all"),
    ("//127.0.0.1:33418/callback", False, "scheme-relative"),
    ("/\\evil.example/callback", False, "relative with a backslash"),
    ("http://evil.example#@127.0.0.1:33418/callback", False, "fragment before the userinfo"),
    ("http://evil.example?@127.0.0.1:33418/callback", False, "query before the userinfo"),
    ("http://evil.example;@127.0.0.1:33418/callback", False, "semicolon userinfo"),
    ("http://user@127.0.0.1:33418/callback", False, "userinfo"),
    ("http://user:pass@127.0.0.1:33418/callback", False, "userinfo with a password"),
    ("http://127.0.0.1@evil.example/callback", False, "loopback as the userinfo"),
    ("http://127.0.0.1:33418@evil.example/callback", False, "loopback and port as the userinfo"),
    ("http://evil.example%5c@127.0.0.1:33418/callback", False, "percent-encoded backslash in userinfo"),
    ("http://evil.example%40127.0.0.1:33418/callback", False, "percent-encoded @ in the host"),
    ("http://127.0.0.1%2f@evil.example/callback", False, "percent-encoded slash before @"),
    # Whitespace and control characters (WHATWG strips tabs and newlines, trims C0 and spaces).
    ("http://evil.example\t@127.0.0.1:33418/callback", False, "tab"),
    ("http://127.0.0.1:33418/callback\n", False, "trailing newline"),
    (" http://127.0.0.1:33418/callback", False, "leading space"),
    ("http://127.0.0.1:33418/callback ", False, "trailing space"),
    ("http://127.0.0.1\x00.evil.example/callback", False, "NUL in the host"),
    ("http://127.0.0.1:33418/call\rback", False, "carriage return in the path"),
    ("\x01http://127.0.0.1:33418/callback", False, "leading control character"),
    ("http://127.0.0.1:33418/call back", False, "space in the path"),
    # Encodings of the host.
    ("http://%31%32%37.0.0.1:33418/callback", False, "percent-encoded loopback host"),
    ("http://127.0.0.1%2eevil.example:33418/callback", False, "percent-encoded dot joins another host"),
    ("http://127\u30020\u30020\u30021:33418/callback", False, "ideographic full stops"),
    ("http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:33418/callback", False, "full-width localhost"),
    ("http://\u2113ocalhost:33418/callback", False, "script small l maps to localhost"),
    ("http://xn--localhost-9ja:33418/callback", False, "punycode host"),
    ("http://localhost.xn--p1ai:33418/callback", False, "punycode top-level domain"),
    ("http://0x7f.0.0.1:33418/callback", False, "hexadecimal loopback"),
    ("http://0x7f.1:33418/callback", False, "hexadecimal shorthand"),
    ("http://0177.0.0.1:33418/callback", False, "octal loopback"),
    ("http://2130706433:33418/callback", False, "decimal loopback"),
    ("http://127.1:33418/callback", False, "two-part shorthand"),
    ("http://127.0.1:33418/callback", False, "three-part shorthand"),
    ("http://[::ffff:127.0.0.1]:33418/callback", False, "IPv4-mapped IPv6"),
    ("http://[0:0:0:0:0:0:0:1]:33418/callback", False, "uncompressed IPv6 loopback"),
    ("http://LOCALHOST:33418/callback", False, "upper-case host"),
    ("http://localhost.:33418/callback", False, "trailing dot"),
    ("http://127.0.0.1.nip.io:33418/callback", False, "a DNS name that resolves to loopback"),
    ("http://localhost.evil.example:33418/callback", False, "loopback name as a subdomain"),
    ("http://127.0.0.1.evil.example/callback", False, "loopback address as a subdomain"),
    # Not canonical: a browser reads them as something else than what was sent.
    ("HTTP://127.0.0.1:33418/callback", False, "upper-case scheme"),
    ("http://127.0.0.1:033418/callback", False, "leading zero in the port"),
    ("http://127.0.0.1:80/callback", False, "default port written out"),
    ("http://127.0.0.1:99999/callback", False, "port out of range"),
    ("http://127.0.0.1:33418/x/../callback", False, "dot segments"),
    ("http://127.0.0.1:33418/%2e%2e/callback", False, "percent-encoded dot segments"),
    ("http://127.0.0.1:33418/callback/..", False, "trailing dot segment"),
    ("http://127.0.0.1:33418", False, "no path (a browser adds /)"),
    # Fragments.
    ("http://127.0.0.1:33418/callback#frag", False, "fragment"),
    ("http://127.0.0.1:33418/callback#", False, "empty fragment"),
    # Other schemes, hosts and web redirects.
    ("https://evil.example/callback", False, "a web host"),
    ("http://10.0.0.5:33418/callback", False, "a private address"),
    ("http://169.254.169.254/callback", False, "the metadata address"),
    ("javascript://127.0.0.1:33418/%0aalert(1)", False, "javascript scheme"),
    ("data:text/html,<script>alert(1)</script>", False, "data scheme"),
    ("file:///etc/passwd", False, "file scheme"),
    ("vscode://evil@vscode.github-authentication/cb", False, "userinfo in an IDE scheme"),
    ("cursor://anysphere.cursor-mcp\\@evil/cb", False, "backslash in an IDE scheme"),
    ("https://vscode.dev/redirect/../../evil", False, "dot segments after a web redirect"),
    ("https://vscode.dev/redirect@evil.example", False, "web redirect with @"),
    ("https://vscode.dev.evil.example/redirect", False, "web redirect host as a subdomain"),
    ("https://127.0.0.1:33418/callback", False, "https on loopback (not the registered scheme)"),
    # Well-formed, allowed to register, but not what was registered.
    ("http://127.0.0.1:33418/callback?next=https://evil.example", True, "same path, another query"),
    ("http://127.0.0.1:33418/callback/", True, "trailing slash"),
    ("http://127.0.0.1:33418/other", True, "another path"),
    ("http://localhost:33418/callback", True, "another loopback host literal"),
    ("http://[::1]:33418/callback", True, "IPv6 loopback instead of IPv4"),
]

# Allowed as they are, and matching REGISTERED (only the port of a loopback redirect may differ).
MATCHING = ["http://127.0.0.1:33418/callback", "http://127.0.0.1:50123/callback", "http://127.0.0.1/callback"]
