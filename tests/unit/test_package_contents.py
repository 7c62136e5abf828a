"""What `make package` lets into the zip azd would upload (infra/package.py), and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.package import files, problems
from infra.processes import ROOT

APP = ["host.json", "function_app.py", "requirements.txt", "functions/mcp_http.py", "shared/hub/service.py"]


def test_the_projects_package_holds_the_app_and_nothing_else() -> None:
    names = files(ROOT)
    assert problems(names) == []
    assert {name.split("/")[0] for name in names} <= {
        "host.json",
        "function_app.py",
        "requirements.txt",
        "functions",
        "shared",
        ".funcignore",
    }


@pytest.mark.parametrize(
    ("leak", "why"),
    [
        (".local/vault.key", "local state"),
        ("node_modules/azurite/package.json", "node tooling"),
        ("tests/unit/test_x.py", "tests"),
        ("local.settings.json", "secrets"),
        ("certs/hub.pem", "a key or certificate"),
        ("infra/funchost/host.py", "local infrastructure"),
    ],
)
def test_a_package_with_anything_it_must_not_ship_is_refused(leak: str, why: str) -> None:
    found = problems([*APP, leak])
    assert len(found) >= 1
    assert found[0].startswith(f"{leak}: ")
    assert why in found[0]


def test_a_package_without_the_app_is_refused() -> None:
    assert problems(APP[1:]) == ["host.json: missing, the app cannot start without it"]


def test_funcignore_rules_are_read_as_gitignore_rules(tmp_path: Path) -> None:
    for name in ["function_app.py", "shared/a.py", "shared/__pycache__/a.pyc", ".local/k", "docs/x.md"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / ".funcignore").write_text(".local/\n__pycache__/\n*.md\n")
    assert files(tmp_path) == [".funcignore", "function_app.py", "shared/a.py"]
