"""The three built-in plugins on their own: each redaction pattern, the deny list's rules, the schema check."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.plugins.api import Caller, Hook, PluginConfig, Refuse
from shared.plugins.builtin import deny, redact, schema

pytestmark = pytest.mark.anyio
CALLER = Caller("t:u", "t")

# (pattern, text that must be redacted, a near miss that must stay)
SAMPLES = [
    (
        "private_key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN CERTIFICATE-----",
    ),
    ("jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", "eyJ.not.a.token"),
    ("bearer", "Authorization: Bearer abcdefghijklmnop1234", "a bearer of news"),
    ("github_token", "ghp_" + "x" * 36, "ghp_short"),
    ("github_token", "github_pat_" + "A" * 30, "github_pat_"),
    ("slack_token", "xoxb-1234567890-abcdef", "xoxb-"),
    ("aws_access_key", "AKIAIOSFODNN7EXAMPLE", "AKIA-not-a-key"),
    ("google_api_key", "AIza" + "B" * 35, "AIza short"),
    ("stripe_key", "sk_live_" + "a" * 24, "sk_live_"),
    ("openai_key", "sk-proj-" + "a" * 40, "sk-short"),
    ("openai_key", "sk-ant-api03-" + "b" * 40, "sk-ant-"),
    ("azure_key", "AccountKey=" + "k" * 86 + "==", "AccountKey=short"),
    ("url_credentials", "postgres://admin:hunter22@db.internal/app", "https://example.com/a@b"),
    ("email", "write to ada.lovelace+hub@example.co.uk today", "not@an address"),
    ("credit_card", "4111 1111 1111 1111", "4111 1111 1111 1112"),  # the second fails the Luhn check
    ("iban", "GB82 WEST 1234 5698 7654 32", "GB00 WEST 1234 5698 7654 32"),  # mod-97
    ("us_ssn", "123-45-6789", "666-45-6789"),
    ("phone", "+44 20 7946 0958", "+1 2"),
]


@pytest.mark.parametrize(("name", "secret", "near_miss"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_each_documented_pattern_redacts_its_kind_and_leaves_near_misses(
    name: str, secret: str, near_miss: str
) -> None:
    redactor = redact.Redactor({n: redact.PATTERNS[n] for n in redact.PATTERNS if n not in redact.OFF_BY_DEFAULT})
    assert f"[redacted:{name}]" in redactor.text(f"before {secret} after")
    assert redactor.text(near_miss) == near_miss


def test_a_password_assignment_keeps_its_name() -> None:
    redactor = redact.Redactor({"password": redact.PATTERNS["password"]})
    assert redactor.text('password = "correct horse"') == 'password = "[redacted:password]"'
    assert redactor.text("api_key=abcdef123456 and more") == "api_key=[redacted:password] and more"


def test_ipv4_is_redacted_only_when_named() -> None:
    default = redact.factory(PluginConfig("pii"))
    chosen = redact.factory(PluginConfig("pii", settings={"patterns": "ipv4,email"}))
    hook = Hook(CALLER, "s", "tools/call", {"content": [{"type": "text", "text": "host 10.1.2.3"}]})
    assert redact.Redactor(redact.PATTERNS).text("10.1.2.3") == "[redacted:ipv4]"

    async def run() -> tuple[Any, Any]:
        return await default.after_tool_call(hook), await chosen.after_tool_call(hook)

    import asyncio

    unchanged, changed = asyncio.run(run())
    assert unchanged is None
    assert changed["content"][0]["text"] == "host [redacted:ipv4]"


async def test_a_company_pattern_and_mark_can_be_added() -> None:
    plugin = redact.factory(
        PluginConfig("pii", settings={"extra__ticket": r"\bSEC-[0-9]{4}\b", "replacement": "<{name} removed>"})
    )
    result = {"content": [{"type": "text", "text": "see SEC-1234 and ada@example.com"}]}
    changed = await plugin.after_tool_call(Hook(CALLER, "s", "tools/call", result))
    assert changed is not None
    assert changed["content"][0]["text"] == "see <ticket removed> and <email removed>"
    assert result["content"][0]["text"] == "see SEC-1234 and ada@example.com"  # the upstream's answer, untouched


async def test_binary_parts_are_left_alone_and_embedded_resources_are_read() -> None:
    plugin = redact.factory(PluginConfig("pii"))
    image = {"type": "image", "data": "ZXlKaGJHY2lPaUpJVXpJMU5pSjk=" * 10, "mimeType": "image/png"}
    embedded = {"type": "resource", "resource": {"uri": "file:///a", "text": "mail ada@example.com"}}
    changed = await plugin.after_tool_call(Hook(CALLER, "s", "tools/call", {"content": [image, embedded]}))
    assert changed is not None
    assert changed["content"][0] is image
    assert changed["content"][1]["resource"]["text"] == "mail [redacted:email]"


def test_redaction_takes_linear_time_on_hostile_text() -> None:
    redactor = redact.Redactor(redact.PATTERNS)
    hostile = "a@" + "a." * 100_000 + "!" + "1-" * 100_000  # long runs that backtracking engines choke on
    started = time.perf_counter()
    redactor.text(hostile)
    assert time.perf_counter() - started < 5  # RE2: milliseconds; a backtracking engine: far longer


async def test_deny_rules_match_by_server_tool_and_argument() -> None:
    plugin = deny.factory(
        PluginConfig(
            "deny",
            settings={
                "paths__server": "files",
                "paths__tool": "read_*",
                "paths__argument": "path",
                "paths__pattern": r"^/etc/",
                "paths__message": "system files are off limits",
            },
        )
    )

    async def call(server: str, tool: str, arguments: dict[str, Any]) -> str | None:
        try:
            await plugin.before_tool_call(Hook(CALLER, server, "tools/call", {"name": tool, "arguments": arguments}))
        except Refuse as refusal:
            return refusal.message
        return None

    assert await call("files", "read_file", {"path": "/etc/shadow"}) == "system files are off limits"
    assert await call("files", "read_file", {"path": "/home/ada/notes"}) is None
    assert await call("files", "read_file", {"other": "/etc/shadow"}) is None  # another argument
    assert await call("files", "write_file", {"path": "/etc/shadow"}) is None  # another tool
    assert await call("git", "read_file", {"path": "/etc/shadow"}) is None  # another server


async def test_deny_patterns_search_nested_strings_in_linear_time() -> None:
    plugin = deny.factory(PluginConfig("deny", settings={"evil__pattern": r"(a+)+$"}))
    nested = {"batch": [{"q": "fine"}, {"q": "a" * 100_000 + "!"}]}
    started = time.perf_counter()
    await plugin.before_tool_call(Hook(CALLER, "s", "tools/call", {"name": "t", "arguments": nested}))
    assert time.perf_counter() - started < 5  # Python's re would take hours on this
    with pytest.raises(Refuse, match=r"arguments.batch\[0\].q"):
        await plugin.before_tool_call(
            Hook(CALLER, "s", "tools/call", {"name": "t", "arguments": {"batch": [{"q": "aaa"}]}})
        )


async def test_the_schema_plugin_passes_tools_it_cannot_judge() -> None:
    plugin = schema.factory(PluginConfig("schema"))
    unlisted = Hook(CALLER, "s", "tools/call", {"name": "t", "arguments": {"x": 1}})
    assert await plugin.before_tool_call(unlisted) is None
    broken = {"name": "t", "inputSchema": {"type": 12}}
    assert await plugin.before_tool_call(Hook(CALLER, "s", "tools/call", {"name": "t"}, tool=broken)) is None
    strict = {"name": "t", "inputSchema": {"type": "object", "required": ["q"]}}
    with pytest.raises(Refuse, match=r"arguments.q is required"):
        await plugin.before_tool_call(Hook(CALLER, "s", "tools/call", {"name": "t"}, tool=strict))
