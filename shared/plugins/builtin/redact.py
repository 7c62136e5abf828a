"""`MODULE=redact`: secrets and personal data replaced in what upstreams answer, nothing cut.

Runs after tools/call, prompts/get and resources/read: every text a client would read (`content`
text, embedded resource text, prompt messages, resource contents) and every string inside
`structuredContent`, whether the answer came as JSON or as the last event of a stream. A match
becomes `[redacted:<name>]`; the rest of the text stays as it was, however long (unlike the audit
trail's capture, which also cuts). Binary parts (images, audio, blobs) are left alone.

The patterns, by name (`CONFIG__PATTERNS=<names>` picks some; default: all but `ipv4`):

  secrets   private_key      PEM private key blocks
            jwt              JSON Web Tokens (three base64url parts, the first `eyJ`)
            bearer           `Bearer <token>` values
            github_token     ghp_/gho_/ghu_/ghs_/ghr_ tokens and github_pat_ fine-grained tokens
            slack_token      xoxa-/xoxb-/xoxp-/xoxo-/xoxr-/xoxs- tokens
            aws_access_key   AKIA/ASIA/ABIA/ACCA access key IDs
            google_api_key   AIza keys
            stripe_key       sk_live_/sk_test_/rk_live_/rk_test_ keys
            openai_key       sk-, sk-proj-, sk-ant- keys (OpenAI, Anthropic)
            azure_key        AccountKey=... in connection strings, sig=... in SAS URLs
            url_credentials  user:password@ inside URLs
            password         the values of password=/secret=/api_key=/token= assignments
  personal  email            e-mail addresses
            credit_card      13-19 digit card numbers that pass the Luhn check
            iban             IBANs that pass the ISO 13616 mod-97 check
            us_ssn           US social security numbers (not 000, 666 or 9xx areas)
            phone            international numbers written with a leading + (8-15 digits)
            ipv4             IPv4 addresses (off unless named)

`CONFIG__EXTRA__<NAME>=<RE2 pattern>` adds a pattern of the company's own; `CONFIG__REPLACEMENT`
changes the mark (`{name}` stands for the pattern's name). One RE2 pass per text: linear time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from shared.linear_regex import LinearPatternError, compile_linear
from shared.plugins.api import ConfigProblem, Hook, JsonObject, PluginConfig

PATTERNS: dict[str, str] = {
    "private_key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    "jwt": r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
    "bearer": r"(?i:\bbearer)\s+[A-Za-z0-9._~+/-]{16,}=*",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
    "slack_token": r"\bxox[aboprs]-[A-Za-z0-9-]{10,}",
    "aws_access_key": r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
    "google_api_key": r"\bAIza[0-9A-Za-z_-]{35}",
    "stripe_key": r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",
    "openai_key": r"\bsk-(?:proj-|ant-[a-z0-9]{0,8}-?)?[A-Za-z0-9_-]{20,}",
    "azure_key": r"\bAccountKey=[A-Za-z0-9+/]{40,}={0,2}|\bsig=[A-Za-z0-9%+/]{20,}={0,2}",
    "url_credentials": r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]+:[^\s/@]+@",
    "password": (
        r"(?i:\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|token)\b)\s*[:=]\s*"
        r"(?:\"[^\"\n]{6,}\"|'[^'\n]{6,}'|[^\s\"',;]{6,})"
    ),
    "email": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
    "credit_card": r"\b\d(?:[ -]?\d){12,18}\b",
    "iban": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b",
    "us_ssn": r"\b\d{3}-\d{2}-\d{4}\b",
    "phone": r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}\b",
    "ipv4": r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b",
}
OFF_BY_DEFAULT = frozenset({"ipv4"})


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _luhn(text: str) -> bool:
    digits = [int(c) for c in _digits(text)]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if index % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def _iban(text: str) -> bool:
    compact = text.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def _ssn(text: str) -> bool:
    area, group, serial = text.split("-")
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def _phone(text: str) -> bool:
    return 8 <= len(_digits(text)) <= 15


CHECKS: dict[str, Callable[[str], bool]] = {"credit_card": _luhn, "iban": _iban, "us_ssn": _ssn, "phone": _phone}


class Redactor:
    def __init__(self, patterns: dict[str, str], replacement: str = "[redacted:{name}]") -> None:
        # One alternation, most specific first: RE2 takes the leftmost match, then the first alternative.
        self._names = list(patterns)
        self._regex = compile_linear("|".join(f"(?P<{name}>{p})" for name, p in patterns.items()))
        self._marks = {name: replacement.replace("{name}", name) for name in self._names}

    def text(self, value: str) -> str:
        """`value` with every match marked; the very same string when nothing was marked."""
        if self._regex.search(value) is None:
            return value
        marked = self._regex.sub(self._mark, value)
        return value if marked == value else marked

    def _mark(self, match: Any) -> str:
        name = cast(str, match.lastgroup)
        found = cast(str, match.group(0))
        check = CHECKS.get(name)
        if check is not None and not check(found):
            return found
        if name == "password":  # the name and the sign stay: `token=[redacted:password]`
            cut = min(i for i in (found.find(":"), found.find("=")) if i >= 0) + 1
            value = found[cut:].lstrip(" \t")
            quote = value[0] if value[:1] in ("'", '"') else ""
            return found[: len(found) - len(value)] + quote + self._marks[name] + quote
        return self._marks[name]

    def value(self, value: Any) -> Any:
        """`value` with every string inside redacted; the very same object when nothing changed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            source = cast(dict[str, Any], value)
            changed = {k: self.value(v) for k, v in source.items()}
            return source if all(changed[k] is v for k, v in source.items()) else changed
        if isinstance(value, list):
            return _each(cast(list[Any], value), self.value)
        return value

    def _part(self, part: Any) -> Any:
        """One content part: its text, and an embedded resource's text; binary data is not text."""
        if not isinstance(part, dict):
            return part
        item: dict[str, Any] = cast(dict[str, Any], part)
        changed = item
        if isinstance(item.get("text"), str):
            text = self.text(item["text"])
            if text is not item["text"]:
                changed = {**changed, "text": text}
        if isinstance(item.get("resource"), dict):
            resource = self._part(item["resource"])
            if resource is not item["resource"]:
                changed = {**changed, "resource": resource}
        return changed

    def _parts(self, parts: Any) -> Any:
        return _each(cast(list[Any], parts), self._part) if isinstance(parts, list) else parts

    def _messages(self, messages: Any) -> Any:
        return _each(cast(list[Any], messages), self._message) if isinstance(messages, list) else messages

    def _message(self, message: Any) -> Any:
        if not isinstance(message, dict):
            return message
        entry: dict[str, Any] = cast(dict[str, Any], message)
        if "content" not in entry:
            return entry
        content = self._part(entry["content"])
        return entry if content is entry["content"] else {**entry, "content": content}

    def result(self, result: JsonObject) -> JsonObject | None:
        """The result with its readable parts redacted; None when nothing was found."""
        changed = dict(result)
        cleaners: list[tuple[str, Callable[[Any], Any]]] = [
            ("content", self._parts),
            ("contents", self._parts),
            ("structuredContent", self.value),
            ("messages", self._messages),
        ]
        for key, clean in cleaners:
            if key in result:
                changed[key] = clean(result[key])
        return None if all(changed[k] is result[k] for k in result) else changed


def _each(items: list[Any], clean: Callable[[Any], Any]) -> list[Any]:
    """`clean` applied to every item; the very same list when no item changed."""
    redone = [clean(item) for item in items]
    return items if all(a is b for a, b in zip(redone, items, strict=True)) else redone


class RedactPlugin:
    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    async def after_tool_call(self, hook: Hook) -> JsonObject | None:
        return self._redactor.result(hook.payload)

    async def after_prompt_get(self, hook: Hook) -> JsonObject | None:
        return self._redactor.result(hook.payload)

    async def after_resource_read(self, hook: Hook) -> JsonObject | None:
        return self._redactor.result(hook.payload)


def factory(config: PluginConfig) -> RedactPlugin:
    settings = dict(config.settings)
    chosen = [n for n in PATTERNS if n not in OFF_BY_DEFAULT]
    if "patterns" in settings:
        chosen = [n.strip() for n in settings.pop("patterns").split(",") if n.strip()]
        unknown = [n for n in chosen if n not in PATTERNS]
        if unknown or not chosen:
            raise ConfigProblem("patterns", f"unknown pattern(s) {unknown}; the names are {', '.join(PATTERNS)}")
    patterns = {n: PATTERNS[n] for n in PATTERNS if n in chosen}
    replacement = settings.pop("replacement", "[redacted:{name}]")
    for key in list(settings):
        group, sep, name = key.partition("__")
        if group != "extra" or not sep or not name.isidentifier() or name in PATTERNS:
            raise ConfigProblem(key, "unknown setting; use PATTERNS, REPLACEMENT or EXTRA__<NAME>")
        try:
            compile_linear(settings[key])
        except LinearPatternError as error:
            raise ConfigProblem(key, f"not a pattern RE2 can run ({error})") from None
        patterns[name] = f"(?:{settings[key]})"
    return RedactPlugin(Redactor(patterns, replacement))
