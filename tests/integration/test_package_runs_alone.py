"""The zip azd would upload starts on its own: unpacked, its packages installed as the platform does."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.package import checked, run
from infra.processes import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.timeout(600)  # the first run installs requirements.txt (cached by its hash afterwards)
def test_the_package_starts_alone_in_an_isolated_interpreter(tmp_path: Path) -> None:
    package, _, found = checked(ROOT, tmp_path / "mcphub.zip")
    assert found == []
    run(package, tmp_path)  # raises with the app's log when it does not answer
