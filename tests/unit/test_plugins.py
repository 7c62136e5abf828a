"""The plugin chain on its own: settings, loading, order, modes, timeouts and error isolation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest

from shared.call_record import PluginEvent
from shared.errors import ConfigError, PluginRefused, PluginWithheld
from shared.mcp.jsonrpc import Message, Notification, Request, Response
from shared.plugins.api import Caller, ConfigProblem, Hook, JsonObject, PluginConfig, Refuse
from shared.plugins.chain import LoadedPlugin, PluginChain
from shared.plugins.loader import build
from shared.plugins.settings import load_plugin_settings

pytestmark = pytest.mark.anyio
SERVERS = {"github": object(), "jira": object()}
CALLER = Caller("t1:u1", "t1", "Ada", frozenset({"Hub.User"}))


def settings(**env: str) -> dict[str, str]:
    return {f"MCPHUB_PLUGIN_{k}": v for k, v in env.items()}


def test_plugins_are_read_from_the_environment_sorted_by_priority_then_name() -> None:
    env = settings(B__MODULE="schema", A__MODULE="redact", A__PRIORITY="5", C__MODULE="deny", C__PRIORITY="5")
    env["MCPHUB_PLUGIN_B__SERVERS"] = "github, jira"
    env["MCPHUB_PLUGIN_C__CONFIG__R1__PATTERN"] = "x"
    found = load_plugin_settings(env, SERVERS)
    assert [(p.name, p.priority) for p in found] == [("a", 5), ("c", 5), ("b", 100)]
    assert found[2].servers == ["github", "jira"]
    assert found[1].config == {"r1__pattern": "x"}
    assert (found[0].mode, found[0].timeout) == ("enforce", 5.0)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MCPHUB_PLUGIN_PII__PRIORITY": "1"}, "MCPHUB_PLUGIN_PII__MODULE is required"),
        ({"MCPHUB_PLUGIN_PII__MODULE": "redact", "MCPHUB_PLUGIN_PII__MODE": "loud"}, "MCPHUB_PLUGIN_PII__MODE:"),
        ({"MCPHUB_PLUGIN_PII__MODULE": "redact", "MCPHUB_PLUGIN_PII__TIMEOUT": "0"}, "MCPHUB_PLUGIN_PII__TIMEOUT:"),
        (
            {"MCPHUB_PLUGIN_PII__MODULE": "redact", "MCPHUB_PLUGIN_PII__COLOUR": "red"},
            "MCPHUB_PLUGIN_PII__COLOUR: unknown",
        ),
        (
            {"MCPHUB_PLUGIN_PII__MODULE": "redact", "MCPHUB_PLUGIN_PII__SERVERS": "gitlab"},
            "MCPHUB_PLUGIN_PII__SERVERS: no server",
        ),
        ({"MCPHUB_PLUGIN_PII": "redact"}, "MCPHUB_PLUGIN_PII: expected MCPHUB_PLUGIN_<NAME>__<FIELD>"),
        ({"MCPHUB_PLUGIN_P__II__MODULE": "redact", "MCPHUB_PLUGIN_p__II__MODULE": "redact"}, "use one spelling"),
    ],
)
def test_a_bad_plugin_setting_stops_the_hub_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("<", "\\<")):
        load_plugin_settings(env, SERVERS)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MODULE": "no_such_builtin"}, "MCPHUB_PLUGIN_X__MODULE: 'no_such_builtin' is no built-in"),
        ({"MODULE": "no.such.module:factory"}, "MCPHUB_PLUGIN_X__MODULE: cannot import 'no.such.module'"),
        ({"MODULE": "json:nothing_here"}, "MCPHUB_PLUGIN_X__MODULE: 'json:nothing_here' is not a callable factory"),
        ({"MODULE": "builtins:repr"}, "MCPHUB_PLUGIN_X__MODULE: the plugin has none of the hooks"),
        ({"MODULE": "json:JSONDecoder"}, "MCPHUB_PLUGIN_X__MODULE: the factory raised TypeError"),
        (
            {"MODULE": "schema", "CONFIG__STRICT": "yes"},
            "MCPHUB_PLUGIN_X__CONFIG__STRICT: the schema plugin takes no settings",
        ),
        (
            {"MODULE": "deny", "CONFIG__R__PATTERN": "(a)\\1"},
            "MCPHUB_PLUGIN_X__CONFIG__R__PATTERN: not a pattern RE2 can run",
        ),
        ({"MODULE": "deny", "CONFIG__R__SERVER": "github"}, "MCPHUB_PLUGIN_X__CONFIG__R__TOOL: a rule without PATTERN"),
        ({"MODULE": "deny", "CONFIG__R__COLOUR": "x"}, "MCPHUB_PLUGIN_X__CONFIG__R__COLOUR: unknown rule field"),
        (
            {"MODULE": "redact", "CONFIG__PATTERNS": "email,shoe_size"},
            "MCPHUB_PLUGIN_X__CONFIG__PATTERNS: unknown pattern",
        ),
        (
            {"MODULE": "redact", "CONFIG__EXTRA__TICKET": "(?<=x)y"},
            "MCPHUB_PLUGIN_X__CONFIG__EXTRA__TICKET: not a pattern",
        ),
    ],
)
def test_a_plugin_that_cannot_be_built_stops_the_hub_naming_the_variable(env: dict[str, str], named: str) -> None:
    (plugin,) = load_plugin_settings({f"MCPHUB_PLUGIN_X__{k}": v for k, v in env.items()}, SERVERS)
    with pytest.raises(ConfigError, match=named.replace("(", "\\(").replace(")", "\\)")):
        build(plugin)


def test_a_factory_is_found_by_module_and_name_and_gets_its_config() -> None:
    env = settings(MINE__MODULE="tests.unit.test_plugins:recording_factory", MINE__SERVERS="jira")
    env["MCPHUB_PLUGIN_MINE__CONFIG__GREETING"] = "hello"
    (plugin,) = load_plugin_settings(env, SERVERS)
    built = build(plugin)
    assert isinstance(built, Recording)
    assert built.config == PluginConfig("mine", frozenset({"jira"}), {"greeting": "hello"})


def test_a_disabled_plugin_is_checked_but_not_loaded() -> None:
    env = settings(OFF__MODULE="schema", OFF__MODE="disabled")
    chain = PluginChain.load(load_plugin_settings(env, SERVERS), report=lambda e: None, clock=lambda: 0.0)
    assert chain.names == []
    env["MCPHUB_PLUGIN_OFF__MODULE"] = "nonsense"
    with pytest.raises(ConfigError, match="MCPHUB_PLUGIN_OFF__MODULE"):
        PluginChain.load(load_plugin_settings(env, SERVERS), report=lambda e: None, clock=lambda: 0.0)


class Recording:
    """A plugin that records what it saw and does what it is told."""

    def __init__(self, config: PluginConfig, action: str = "pass", seen: list[str] | None = None) -> None:
        self.config, self.action = config, action
        self.seen = seen if seen is not None else []

    async def before_tool_call(self, hook: Hook) -> JsonObject | None:
        self.seen.append(f"{self.config.name}:before:{hook.payload.get('arguments')}")
        if self.action == "refuse":
            raise Refuse(f"{self.config.name} says no")
        if self.action == "raise":
            raise RuntimeError("secret-looking payload text the log must not carry")
        if self.action == "hang":
            await asyncio.Event().wait()
        if self.action == "nonsense":
            return "not an object"  # type: ignore[return-value] - what a careless plugin returns
        if self.action == "modify":
            return {**hook.payload, "arguments": {**hook.payload.get("arguments", {}), self.config.name: True}}
        return None

    async def after_tool_call(self, hook: Hook) -> JsonObject | None:
        self.seen.append(f"{self.config.name}:after")
        if self.action == "refuse":
            raise Refuse(f"{self.config.name} refuses the answer")
        return None


def recording_factory(config: PluginConfig) -> Recording:
    return Recording(config)


def chain(*plugins: tuple[str, str, str], timeout: float = 5.0) -> tuple[PluginChain, list[PluginEvent], list[str]]:
    """(name, mode, action) each, in this order."""
    events: list[PluginEvent] = []
    seen: list[str] = []
    loaded = [
        LoadedPlugin.of_object(name, mode, timeout, frozenset(), Recording(PluginConfig(name), action, seen))
        for name, mode, action in plugins
    ]
    return PluginChain(loaded, report=events.append, clock=lambda: 1000.0), events, seen


CALL = Request(7, "tools/call", {"name": "create_issue", "arguments": {"title": "x"}})


async def run_before(plugins: PluginChain, server: str = "github") -> Request:
    before, _ = plugins.around("tools/call", server)
    return await plugins.before(before, CALLER, server, CALL, None)


async def test_before_hooks_run_in_order_each_seeing_the_last_ones_changes() -> None:
    plugins, events, seen = chain(("a", "enforce", "modify"), ("b", "enforce", "modify"), ("c", "enforce", "pass"))
    sent = await run_before(plugins)
    assert sent.params["arguments"] == {"title": "x", "a": True, "b": True}
    assert seen == [
        "a:before:{'title': 'x'}",
        "b:before:{'title': 'x', 'a': True}",
        "c:before:{'title': 'x', 'a': True, 'b': True}",
    ]
    assert [(e.plugin, e.outcome) for e in events] == [("a", "modified"), ("b", "modified")]


async def test_an_enforcing_refusal_stops_the_chain_and_is_reported() -> None:
    plugins, events, seen = chain(("a", "enforce", "refuse"), ("b", "enforce", "pass"))
    with pytest.raises(PluginRefused, match="a says no") as refused:
        await run_before(plugins)
    assert refused.value.plugin == "a"
    assert refused.value.code == -32602
    assert seen == ["a:before:{'title': 'x'}"]
    (event,) = events
    assert (event.plugin, event.point, event.outcome, event.name, event.user) == (
        "a",
        "before_tool_call",
        "refused",
        "create_issue",
        "t1:u1",
    )


async def test_a_permissive_refusal_is_reported_and_the_request_goes_on() -> None:
    plugins, events, _ = chain(("a", "permissive", "refuse"), ("b", "enforce", "modify"))
    sent = await run_before(plugins)
    assert sent.params["arguments"] == {"title": "x", "b": True}
    assert [(e.plugin, e.outcome, e.message) for e in events] == [
        ("a", "would_refuse", "a says no"),
        ("b", "modified", ""),
    ]


@pytest.mark.parametrize(("action", "why"), [("raise", "raised RuntimeError"), ("nonsense", "returned str")])
async def test_a_failing_plugin_refuses_in_enforce_mode_and_is_passed_over_in_permissive(action: str, why: str) -> None:
    plugins, events, _ = chain(("a", "enforce", action))
    with pytest.raises(PluginWithheld, match=f"plugin 'a' {why}") as failed:
        await run_before(plugins)
    assert failed.value.code == -32603
    assert "secret-looking" not in failed.value.message
    assert [(e.outcome, e.message) for e in events] == [
        ("failed", why if action == "raise" else f"{why}, not a JSON object")
    ]
    plugins, events, _ = chain(("a", "permissive", action), ("b", "enforce", "modify"))
    assert (await run_before(plugins)).params["arguments"] == {"title": "x", "b": True}
    assert [e.outcome for e in events] == ["failed", "modified"]


async def test_a_plugin_that_does_not_answer_in_time_is_timed_out_not_waited_for() -> None:
    plugins, events, _ = chain(("slow", "enforce", "hang"), timeout=0.05)
    with pytest.raises(PluginWithheld, match=r"did not answer within 0.05 s \(MCPHUB_PLUGIN_SLOW__TIMEOUT\)"):
        await asyncio.wait_for(run_before(plugins), 5)
    assert [e.outcome for e in events] == ["timeout"]
    plugins, events, _ = chain(("slow", "permissive", "hang"), timeout=0.05)
    assert (await asyncio.wait_for(run_before(plugins), 5)) is CALL
    assert [e.outcome for e in events] == ["timeout"]


async def test_plugins_run_only_for_their_servers() -> None:
    events: list[PluginEvent] = []
    only_jira = LoadedPlugin.of_object("j", "enforce", 5.0, frozenset({"jira"}), Recording(PluginConfig("j"), "refuse"))
    plugins = PluginChain([only_jira], report=events.append, clock=lambda: 0.0)
    assert (await run_before(plugins, "github")) is CALL
    with pytest.raises(PluginRefused):
        await run_before(plugins, "jira")


async def test_after_hooks_see_only_the_answer_to_the_call_not_notifications() -> None:
    plugins, events, seen = chain(("a", "enforce", "refuse"))

    async def upstream() -> AsyncGenerator[Message]:
        yield Notification("notifications/progress", {"progress": 1})
        yield Response(7, {"content": []})

    _, after = plugins.around("tools/call", "github")
    stream = plugins.after(after, CALLER, "github", CALL, upstream())
    got: list[Message] = [await anext(stream)]
    with pytest.raises(PluginWithheld, match="a refuses the answer"):
        got.append(await anext(stream))
    assert [type(m).__name__ for m in got] == ["Notification"]
    assert seen == ["a:after"]
    assert events[0].point == "after_tool_call"


def test_a_factory_may_name_the_setting_it_rejects() -> None:
    problem = ConfigProblem("rule1__pattern", "bad")
    assert (problem.key, problem.message) == ("rule1__pattern", "bad")


def test_a_plugin_is_found_by_its_entry_point_in_an_installed_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installed distribution, as pip leaves one: a dist-info with entry_points.txt on sys.path.
    root = tmp_path
    info = root / "acme_guard-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-guard\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mcphub.plugins]\nacme = tests.unit.test_plugins:recording_factory\n")
    monkeypatch.syspath_prepend(str(root))
    (plugin,) = load_plugin_settings(settings(GUARD__MODULE="acme"), SERVERS)
    assert isinstance(build(plugin), Recording)
    (missing,) = load_plugin_settings(settings(GUARD__MODULE="acme_other"), SERVERS)
    with pytest.raises(ConfigError, match=r"no entry point of group 'mcphub\.plugins'"):
        build(missing)


def test_the_running_configuration_lists_plugins_in_order_with_secret_looking_settings_masked() -> None:
    from shared.hub.running_config import MASK, running_config

    env = settings(EXT__MODULE="deny", EXT__PRIORITY="1", PII__MODULE="redact")
    env |= {"MCPHUB_PLUGIN_EXT__CONFIG__API_KEY": "s3cr3t", "MCPHUB_PLUGIN_EXT__CONFIG__R__PATTERN": "x"}
    shown = running_config({}, {}, [], load_plugin_settings(env, SERVERS))["plugins"]
    assert [p["name"] for p in shown] == ["ext", "pii"]
    assert shown[0]["config"] == {"api_key": MASK, "r__pattern": "x"}
    assert "s3cr3t" not in str(shown)
