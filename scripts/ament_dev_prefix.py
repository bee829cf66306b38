"""Register the development checkout of mot_ros in the venv's ament index (run by scripts/bootstrap.sh).

``pip install -e .`` installs the Python package but none of setup.py's ``data_files``, and
``ament_index_python`` reads only ``AMENT_PREFIX_PATH``. The venv is already an ament prefix (the
ROS wheels install ``share/<pkg>`` and the index there), so this script

1. mirrors every ``data_files`` entry of setup.py into the prefix as a symlink to the checkout
   (``share/mot_ros/...`` and the index marker ``share/ament_index/resource_index/packages/mot_ros``),
   so edits in the checkout are seen at once, as with the editable install;
2. links each console script into ``lib/mot_ros/`` (where ``ros2 run`` and launch_ros look);
3. writes ``mot_ros_ament_prefix.pth`` into site-packages, which appends the venv to
   ``AMENT_PREFIX_PATH`` when the interpreter starts (a prefix already listed is left alone).

Usage: ``python scripts/ament_dev_prefix.py [--prefix PREFIX]`` (default: this interpreter's prefix).
"""
from __future__ import annotations

import argparse
import os
import runpy
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Any, Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "mot_ros"
PTH_NAME = "mot_ros_ament_prefix.pth"
PTH_LINE = ("import os, sys; _mot_ros_app = os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep); "
            "sys.prefix in _mot_ros_app or os.environ.__setitem__('AMENT_PREFIX_PATH', "
            "os.pathsep.join([p for p in _mot_ros_app if p] + [sys.prefix]))\n")
"""One line: append this interpreter's prefix to AMENT_PREFIX_PATH unless it is listed already."""


def setup_arguments(repo: Path = REPO) -> Dict[str, Any]:
    """The keyword arguments of setup.py's ``setup()`` call, captured without running setuptools."""
    import setuptools

    captured: Dict[str, Any] = {}
    real_setup = setuptools.setup
    setuptools.setup = lambda **kw: captured.update(kw)  # type: ignore[assignment]
    cwd = os.getcwd()
    try:
        os.chdir(repo)  # setup.py globs relative to its directory
        runpy.run_path(str(repo / "setup.py"), run_name="__main__")
    finally:
        os.chdir(cwd)
        setuptools.setup = real_setup
    if not captured:
        raise ValueError(f"{repo / 'setup.py'}: expected a setup() call, found none")
    return captured


def planned_links(repo: Path = REPO) -> List[Tuple[str, Path]]:
    """(path relative to the prefix, target) of every data file and executable link."""
    kw = setup_arguments(repo)
    links: List[Tuple[str, Path]] = []
    for dest, files in kw.get("data_files", []):
        for f in files:
            src = repo / f
            if not src.is_file():
                raise ValueError(f"setup.py data_files: expected the file {src}; it does not exist")
            links.append((f"{dest}/{Path(f).name}", src))
    for spec in kw.get("entry_points", {}).get("console_scripts", []):
        name = spec.split("=", 1)[0].strip()
        links.append((f"lib/{PACKAGE}/{name}", Path("../../bin") / name))
    return links


def install(prefix: Path, repo: Path = REPO, site_packages: Path | None = None) -> List[Path]:
    """Create the links and the .pth under ``prefix``; remove stale ones; return what was written."""
    for stale in (prefix / "share" / PACKAGE, prefix / "lib" / PACKAGE):
        if stale.is_symlink() or stale.is_file():
            stale.unlink()
        elif stale.is_dir():
            shutil.rmtree(stale)
    written = []
    for rel, target in planned_links(repo):
        path = prefix / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(target)
        written.append(path)
    site = site_packages or Path(sysconfig.get_paths(vars={"base": str(prefix), "platbase": str(prefix)})["purelib"])
    if site.is_dir():
        (site / PTH_NAME).write_text(PTH_LINE)
        written.append(site / PTH_NAME)
    return written


def main(argv: List[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prefix", type=Path, default=Path(sys.prefix), help="ament prefix (default: this venv)")
    args = ap.parse_args(argv)
    try:
        written = install(args.prefix.resolve())
    except ValueError as exc:
        sys.stderr.write(f"ament_dev_prefix: {exc}\n")
        return 1
    sys.stdout.write(f"ament_dev_prefix: {len(written)} entries under {args.prefix}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
