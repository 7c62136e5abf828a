"""The caller's address comes from a source the caller cannot forge."""

from __future__ import annotations

import logging

import pytest

from shared.identity.client_address import client_address, warn_if_untrusted

FDID = "7f3c2a1e-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("headers", "front_door_id", "expected"),
    [
        ({"x-forwarded-for": "203.0.113.9"}, None, "10.0.0.4"),
        ({"x-forwarded-for": "203.0.113.9"}, FDID, "10.0.0.4"),
        ({"x-azure-clientip": "198.51.100.7"}, None, "10.0.0.4"),
        ({"x-azure-clientip": "198.51.100.7"}, FDID, "10.0.0.4"),
        ({"x-azure-fdid": "other", "x-azure-clientip": "198.51.100.7"}, FDID, "10.0.0.4"),
        ({"x-azure-fdid": FDID, "x-azure-clientip": "198.51.100.7"}, FDID, "198.51.100.7"),
        ({"x-azure-fdid": FDID, "x-azure-clientip": " 2001:db8::1 "}, FDID, "2001:db8::1"),
        ({"x-azure-fdid": FDID, "x-azure-clientip": "198.51.100.7, 1.2.3.4"}, FDID, "10.0.0.4"),
        ({"x-azure-fdid": FDID, "x-azure-clientip": "not-an-ip"}, FDID, "10.0.0.4"),
    ],
)
def test_only_this_front_doors_client_ip_is_believed(
    headers: dict[str, str], front_door_id: str | None, expected: str
) -> None:
    assert client_address(headers, "10.0.0.4", front_door_id=front_door_id) == expected


def test_on_azure_without_a_front_door_id_the_start_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mcphub"):
        assert warn_if_untrusted(None, {"WEBSITE_INSTANCE_ID": "abc"})
    assert "MCPHUB_FRONT_DOOR_ID is not set" in caplog.text
    assert not warn_if_untrusted(FDID, {"WEBSITE_INSTANCE_ID": "abc"})
    assert not warn_if_untrusted(None, {})
