"""ament_flake8, as every ament_python package runs it, with the configuration in setup.cfg ([flake8])."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO

PATHS = ("mot_ros", "test", "scripts", "launch", "setup.py")

# flake8 checks files in a multiprocessing pool. Forked from this pytest process after a node test has started DDS
# threads, the pool can hang; a fresh interpreter has no such threads.
RUN = ("import sys; from ament_flake8.main import main_with_errors; "
       "rc, errors = main_with_errors(argv=sys.argv[1:]); "
       "print('\\n'.join(errors)); sys.exit(rc)")


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8() -> None:
    proc = subprocess.run([sys.executable, "-c", RUN, "--config", "setup.cfg", *PATHS], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"ament_flake8 found code style errors / warnings:\n{proc.stdout}\n{proc.stderr}"
