"""Secrets at rest: AES-GCM with a key ring and per-value context."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.sealing import Sealer, SealError, parse_keys, read_or_create_key_file

OLD, NEW = os.urandom(32), os.urandom(32)


def test_a_sealed_value_opens_with_the_same_context_and_hides_the_plaintext() -> None:
    sealer = Sealer([NEW])
    sealed = sealer.seal(b"ghp_secret", context="cred:t1:alice:github")
    assert "ghp_secret" not in sealed
    assert sealer.open(sealed, context="cred:t1:alice:github") == b"ghp_secret"


def test_a_value_copied_to_another_users_record_does_not_open() -> None:
    sealer = Sealer([NEW])
    sealed = sealer.seal(b"ghp_secret", context="cred:t1:alice:github")
    with pytest.raises(SealError):
        sealer.open(sealed, context="cred:t1:bob:github")


def test_a_tampered_value_does_not_open() -> None:
    sealer = Sealer([NEW])
    version, kid, payload = sealer.seal(b"x" * 40, context="c").split(".")
    flipped = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    with pytest.raises(SealError):
        sealer.open(f"{version}.{kid}.{flipped}", context="c")


def test_after_rotation_old_values_open_and_are_marked_for_resealing() -> None:
    sealed = Sealer([OLD]).seal(b"v", context="c")
    rotated = Sealer([NEW, OLD])
    assert rotated.open(sealed, context="c") == b"v"
    assert not rotated.is_current(sealed)
    assert rotated.is_current(rotated.seal(b"v", context="c"))


def test_a_value_sealed_with_a_removed_key_does_not_open() -> None:
    sealed = Sealer([OLD]).seal(b"v", context="c")
    with pytest.raises(SealError):
        Sealer([NEW]).open(sealed, context="c")


def test_vault_keys_setting_must_be_base64_of_32_bytes() -> None:
    good = base64.b64encode(NEW).decode()
    assert parse_keys(f"{good}, {base64.b64encode(OLD).decode()}") == [NEW, OLD]
    with pytest.raises(ConfigError, match="32 bytes"):
        parse_keys(base64.b64encode(b"short").decode())
    with pytest.raises(ConfigError, match="base64"):
        parse_keys("not base64!")


def test_a_missing_key_file_is_created_private_with_one_random_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "vault.key"
    first = read_or_create_key_file(path)
    assert len(parse_keys(first)) == 1
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_or_create_key_file(path) == first
    path.write_text(f"{base64.b64encode(NEW).decode()}\n{first}\n")
    assert parse_keys(read_or_create_key_file(path))[0] == NEW
