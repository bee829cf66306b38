"""ament_pep257, as every ament_python package runs it, with the settings in setup.cfg ([pep257])."""
from __future__ import annotations

import configparser

import pytest
from ament_pep257.main import main

from conftest import REPO

PATHS = ("mot_ros", "test", "scripts", "launch", "setup.py")


def settings() -> list:
    """``--convention`` and ``--add-ignore`` arguments from setup.cfg's [pep257] section."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    section = cfg["pep257"]
    return ["--convention", section["convention"], "--add-ignore",
            *[c.strip() for c in section["add-ignore"].split(",") if c.strip()]]


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    rc = main(argv=[*settings(), "--", *PATHS])
    assert rc == 0, "Found code style errors / warnings (listed on stderr above)"
