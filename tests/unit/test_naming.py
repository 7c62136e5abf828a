from __future__ import annotations

import re

from shared.upstreams import naming


def test_plain_names_are_prefixed_with_the_namespace_and_split_back() -> None:
    exposed = naming.exposed_name("github", "create_issue")
    assert exposed == "github__create_issue"
    assert naming.split_name(exposed) == ("github", "create_issue")
    assert naming.is_verbatim("github", "create_issue")


def test_names_clients_would_reject_become_safe_and_short() -> None:
    for original in ("do.something/weird name", "x" * 100, "ünïcode"):
        exposed = naming.exposed_name("srv", original)
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", exposed), exposed
        assert not naming.is_verbatim("srv", original)


def test_distinct_names_that_sanitise_alike_stay_distinct() -> None:
    assert naming.exposed_name("s", "a.b") != naming.exposed_name("s", "a_b")


def test_resource_uris_map_back_to_server_and_original_uri() -> None:
    exposed = naming.exposed_uri("notes", "note://{name}")
    assert exposed == "mcphub://notes/note://{name}"
    assert naming.split_uri(exposed) == ("notes", "note://{name}")
    assert naming.split_uri("file:///etc/passwd") is None
