"""ament_flake8, as every ament_python package runs it, with the configuration in setup.cfg ([flake8])."""
from __future__ import annotations

import pytest
from ament_flake8.main import main_with_errors

from conftest import REPO

PATHS = ("mot_ros", "test", "scripts", "launch", "setup.py")


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    rc, errors = main_with_errors(argv=["--config", "setup.cfg", *PATHS])
    assert rc == 0, f"Found {len(errors)} code style errors / warnings:\n" + "\n".join(errors)
