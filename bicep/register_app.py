"""Register (or bring up to date) the hub's Entra app: run it as often as you like.

    python bicep/register_app.py [--endpoint <front door host>] [--name MCPHub] [--rotate-secret]

What it leaves behind, whatever was there before:
- the app `--name` (created once; found again by its display name), Application ID URI
  `api://<client id>`, access tokens v2, and (with `--endpoint`, once the infrastructure exists)
  the web redirect `https://<endpoint>/oauth/callback` beside any it had;
- the delegated scope `MCP.Access`, the app roles `Hub.Admin`, `Hub.Operator`, `Hub.User`, `Hub.AllTenants`, and
  Visual Studio Code pre-authorized for the scope (its direct Entra sign-in);
- its service principal (enterprise application), where roles are assigned to users and groups;
- a client secret named `mcphub`: made only when the app has none (or with `--rotate-secret`),
  always *added* (`--append`), so a re-run never replaces the secret already in Key Vault.

It prints the `azd env set` line to run. Every call goes through the Azure CLI (`az`, signed in as
someone who may register apps); Graph calls go through `az rest`. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

GRAPH = "https://graph.microsoft.com/v1.0"
VS_CODE = "aebc6443-996d-45c2-90f0-388ff96faa56"  # Visual Studio Code's client ID (Microsoft)
SCOPE = "MCP.Access"
ROLES = {
    "Hub.Admin": "Administers the hub: configuration, audit, routing.",
    "Hub.Operator": "Operates the hub: health, usage, routing state.",
    "Hub.User": "Uses the MCP servers the hub offers.",
    "Hub.AllTenants": "With Hub.Operator or Hub.Admin on a multi-tenant hub: sees every tenant, not only its own.",
}
SECRET_NAME = "mcphub"


class AzureCli:
    def __init__(self, az: str = "az") -> None:
        self._az = az

    def __call__(self, *args: str) -> Any:
        """Run `az <args> -o json`; the parsed output (None when it printed nothing)."""
        done = subprocess.run([self._az, *args, "--output", "json"], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"az {' '.join(args[:3])} failed:\n{done.stderr.strip()}")
        return json.loads(done.stdout) if done.stdout.strip() else None

    def graph(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        args = ["rest", "--method", method, "--uri", f"{GRAPH}{path}"]
        if body is None:
            return self(*args)
        with tempfile.TemporaryDirectory(prefix="register-app-") as folder:
            file = Path(folder) / "body.json"
            file.write_text(json.dumps(body))
            return self(*args, "--headers", "Content-Type=application/json", "--body", f"@{file}")


def register(az: AzureCli, *, name: str, endpoint: str | None, rotate_secret: bool) -> dict[str, str]:
    found = az("ad", "app", "list", "--display-name", name, "--query", "[].{appId: appId, id: id}")
    if len(found) > 1:
        raise SystemExit(f"{len(found)} apps are named {name!r}: pass --name of the one to use, or delete the others")
    if found:
        app_id, object_id = found[0]["appId"], found[0]["id"]
    else:
        created = az("ad", "app", "create", "--display-name", name, "--sign-in-audience", "AzureADMyOrg")
        app_id, object_id = created["appId"], created["id"]
    current = az.graph("GET", f"/applications/{object_id}")
    scope_id = _existing_id(current.get("api", {}).get("oauth2PermissionScopes", []), "value", SCOPE)
    scope = {
        "id": scope_id,
        "value": SCOPE,
        "type": "User",
        "isEnabled": True,
        "adminConsentDisplayName": "Use the MCP hub",
        "adminConsentDescription": "Lets the app call the MCP hub as the signed-in user.",
        "userConsentDisplayName": "Use the MCP hub",
        "userConsentDescription": "Lets the app call the MCP hub as you.",
    }
    roles = [
        {
            "id": _existing_id(current.get("appRoles", []), "value", role),
            "value": role,
            "displayName": role,
            "description": description,
            "allowedMemberTypes": ["User"],
            "isEnabled": True,
        }
        for role, description in ROLES.items()
    ]
    update: dict[str, Any] = {
        "identifierUris": [f"api://{app_id}"],
        "api": {"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": [scope]},
        "appRoles": roles,
    }
    if endpoint:  # known once the infrastructure exists: the second run adds it, keeping any others
        redirects = list(current.get("web", {}).get("redirectUris", []))
        callback = f"https://{endpoint}/oauth/callback"
        update["web"] = {"redirectUris": [*redirects, callback] if callback not in redirects else redirects}
    # The scope must exist before an app can be pre-authorized for it: two updates, in this order.
    az.graph("PATCH", f"/applications/{object_id}", update)
    preauthorized = [{"appId": VS_CODE, "delegatedPermissionIds": [scope_id]}]
    az.graph("PATCH", f"/applications/{object_id}", {"api": {"preAuthorizedApplications": preauthorized}})
    if not az("ad", "sp", "list", "--filter", f"appId eq '{app_id}'", "--query", "[].id"):
        az("ad", "sp", "create", "--id", app_id)
    secrets = az("ad", "app", "credential", "list", "--id", app_id, "--query", f"[?displayName=='{SECRET_NAME}'].keyId")
    result = {"clientId": app_id, "appIdUri": f"api://{app_id}"}
    if rotate_secret or not secrets:
        reset = az(
            "ad", "app", "credential", "reset",
            "--id", app_id, "--display-name", SECRET_NAME, "--append", "--years", "1",
        )  # fmt: skip
        result["clientSecret"] = reset["password"]
    return result


def _existing_id(items: Sequence[dict[str, Any]], key: str, value: str) -> str:
    """The ID an entry already has (so a re-run changes nothing), or a new one."""
    return next((str(item["id"]) for item in items if item.get(key) == value), str(uuid.uuid4()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--endpoint", help="the Front Door endpoint host, once deployed (azd env get-value frontDoorEndpoint)"
    )
    parser.add_argument("--name", default="MCPHub", help="the app's display name")
    parser.add_argument("--rotate-secret", action="store_true", help="add a new client secret even if one exists")
    parser.add_argument("--az", default="az", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    result = register(AzureCli(args.az), name=args.name, endpoint=args.endpoint, rotate_secret=args.rotate_secret)
    line = f"azd env set MCPHUB_CLIENT_ID={result['clientId']}"
    if "clientSecret" in result:
        line += f" MCPHUB_CLIENT_SECRET={result['clientSecret']}"
        print("A new client secret was added (the old ones stay valid until you remove them).", file=sys.stderr)  # noqa: T201 - for the operator
    else:
        print("The app already has its client secret: keep the one in your azd environment.", file=sys.stderr)  # noqa: T201 - for the operator
    print(line)  # noqa: T201 - the command the operator runs next
    return 0


if __name__ == "__main__":
    sys.exit(main())
