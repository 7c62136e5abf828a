"""Secrets at rest: AES-256-GCM with a key ring, so keys can be rotated without a migration.

`MCPHUB_VAULT_KEYS` holds comma-separated base64 keys of 32 bytes, the first one active (on
Azure, an app setting that is a Key Vault reference). Sealed values name their key, so after
adding a new key in front, old values still open and are re-sealed on their next write.
Each value is bound to a context (whose it is, what it is): a value copied to another user's
record does not open there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.errors import ConfigError

_VERSION = "v1"


class SealError(Exception):
    """A sealed value cannot be opened: unknown key, wrong context, or tampered."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"mcphub-vault-key\0" + key).hexdigest()[:12]


def parse_keys(value: str) -> list[bytes]:
    keys: list[bytes] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            key = base64.b64decode(part, validate=True)
        except ValueError:
            raise ConfigError("MCPHUB_VAULT_KEYS: each key must be base64") from None
        if len(key) != 32:
            raise ConfigError("MCPHUB_VAULT_KEYS: each key must be 32 bytes (base64 of 32 random bytes)")
        keys.append(key)
    if not keys:
        raise ConfigError("MCPHUB_VAULT_KEYS: no key given")
    return keys


class Sealer:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a Sealer needs at least one key")
        self._active = key_id(keys[0])
        self._keys = {key_id(key): AESGCM(key) for key in keys}
        self._raw = {key_id(key): bytes(key) for key in keys}

    def derived_key(self, purpose: str, kid: str | None = None) -> tuple[str, bytes] | None:
        """A key for `purpose` (e.g. MACs of the audit trail) derived from vault key `kid` (default:
        the active one), with that key's ID; None when the ring no longer holds `kid`."""
        kid = kid or self._active
        raw = self._raw.get(kid)
        if raw is None:
            return None
        return kid, hmac.new(raw, b"mcphub-derive\0" + purpose.encode(), hashlib.sha256).digest()

    def seal(self, plaintext: bytes, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._active].encrypt(nonce, plaintext, context.encode())
        return f"{_VERSION}.{self._active}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, *, context: str) -> bytes:
        try:
            version, kid, payload = sealed.split(".", 2)
            raw = base64.urlsafe_b64decode(payload)
        except ValueError:
            raise SealError("not a sealed value") from None
        cipher = self._keys.get(kid)
        if version != _VERSION or cipher is None:
            raise SealError("sealed with a key this hub does not have (MCPHUB_VAULT_KEYS)")
        try:
            return cipher.decrypt(raw[:12], raw[12:], context.encode())
        except InvalidTag:
            raise SealError("sealed value does not open: tampered, or sealed for another context") from None

    def open_object(self, sealed: str, *, context: str) -> dict[str, Any]:
        """A sealed JSON object; SealError when it does not open, ValueError when it is not an object."""
        value: object = json.loads(self.open(sealed, context=context))
        if not isinstance(value, dict):
            raise ValueError("the sealed value is not a JSON object")
        return cast(dict[str, Any], value)

    def is_current(self, sealed: str) -> bool:
        """False when the value was sealed with an older key and should be sealed again."""
        return sealed.split(".", 2)[1:2] == [self._active]


def read_or_create_key_file(path: Path) -> str:
    """The keys in `path` (one per line or comma-separated); a new file with one random key if missing.

    For local development: on Azure the keys come from Key Vault through MCPHUB_VAULT_KEYS.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    return ",".join(line.strip() for line in path.read_text().splitlines() if line.strip())
