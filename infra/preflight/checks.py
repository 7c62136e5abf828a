"""The offline checks of a deployment, each against a real counterpart's own definition.

- `worker_index`: the Python worker Azure runs (`azure-functions-runtime` from PyPI) indexes the app
  exactly as it does at start: imports `function_app.py`, finds the app, and registers every
  function through its own registry, which refuses bad bindings, parameters and return types. The
  routes it indexed are then checked for ambiguity (infra/funchost/routes.py).
- `schema`: host.json and azure.yaml against the official JSON schemas vendored in `schemas/`.

Each returns a list of problems, every one naming the file and what to fix; [] means it passed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.exceptions
import jsonschema.validators
import referencing
import referencing.exceptions
import yaml

from infra.funchost.routes import ambiguities
from infra.package import installed
from infra.processes import ROOT

SCHEMAS = Path(__file__).parent / "schemas"
WORKER = "azure-functions-runtime==1.3.0"
WORKER_CACHE = ROOT / ".local" / "preflight" / "worker-1.3.0"
_INDEXER = Path(__file__).parent / "worker_index.py"


def _no_remote(uri: str) -> referencing.Resource[Any]:
    raise referencing.exceptions.NoSuchResource(ref=uri)  # offline: a remote $ref the file needs is an error


def schema(document: Path, schema_file: str) -> list[str]:
    """Problems of `document` (JSON or YAML) against a vendored schema."""
    text = document.read_text()
    try:
        data = yaml.safe_load(text) if document.suffix in (".yaml", ".yml") else json.loads(text)
    except (ValueError, yaml.YAMLError) as error:
        return [f"{document.name}: not valid {document.suffix.lstrip('.').upper()}: {error}"]
    rules = json.loads((SCHEMAS / schema_file).read_text())
    validator_class = jsonschema.validators.validator_for(rules)
    validator = validator_class(rules, registry=referencing.Registry(retrieve=_no_remote))
    problems: list[str] = []
    for error in validator.iter_errors(data):
        # A oneOf/anyOf failure (host.json's schema is oneOf v1 or v2) says little: name the
        # deepest, most relevant reason inside it, as jsonschema's best_match picks it.
        reason = jsonschema.exceptions.best_match([error]) or error
        while reason.context:
            reason = jsonschema.exceptions.best_match(reason.context) or reason
            if not reason.context:
                break
        where = "/".join(str(part) for part in reason.absolute_path) or "(top level)"
        problems.append(f"{document.name}: {where}: {reason.message[:300]} (schema {schema_file})")
    return problems


def worker_index(app_dir: Path = ROOT) -> tuple[list[dict[str, Any]], list[str]]:
    """(the functions the real worker indexed, problems): indexing errors, or routes that overlap."""
    worker = installed(WORKER_CACHE, ["--no-deps", WORKER, "azurefunctions-extensions-base==1.2.0"])
    argv = [sys.executable, str(_INDEXER), str(worker), str(app_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=app_dir, timeout=120, check=False)
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
        return [], [f"function_app.py: the Functions Python worker could not index it: {lines[-1] if lines else '?'}"]
    functions: list[dict[str, Any]] = json.loads(done.stdout)
    routes = [
        (f["name"], f["route"], frozenset(m.upper() for m in f["methods"]) if f["methods"] else None)
        for f in functions
        if f["trigger"] == "httpTrigger"
    ]
    problems = [f"function_app.py: routes one request could reach either way: {clash}" for clash in ambiguities(routes)]
    return functions, problems
