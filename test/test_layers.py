"""Imports run one way: core (ROS-free) <- ros <- tools. Read from the source with ast, never imported."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Tuple

from conftest import REPO

ROS_PACKAGES = {"rclpy", "rcl_interfaces", "rosidl_runtime_py", "sensor_msgs", "std_msgs", "vision_msgs",
                "geometry_msgs", "diagnostic_msgs", "builtin_interfaces", "lifecycle_msgs", "rosgraph_msgs",
                "visualization_msgs", "nav_msgs", "std_srvs", "launch", "launch_ros"}
"""Modules that need a ROS installation (rclpy or generated message types); ``rosbags`` is pure Python."""


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = REPO) -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative imports resolved."""
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:  # from . import x
                for alias in node.names:
                    yield node.lineno, f"{mod}.{alias.name}"
            else:
                yield node.lineno, mod


def violations(layer: str, forbidden_own: Tuple[str, ...], forbid_ros: bool, root: Path = REPO) -> List[str]:
    """Imports of modules under ``mot_ros/<layer>`` that break the layering, as ``file:line imports module``."""
    out = []
    for path in sorted((root / "mot_ros" / layer).rglob("*.py")):
        for line, mod in imports(path, root):
            top = mod.split(".")[0]
            if forbid_ros and top in ROS_PACKAGES:
                out.append(f"{path.relative_to(root)}:{line} imports {mod}")
            if any(mod == f"mot_ros.{o}" or mod.startswith(f"mot_ros.{o}.") for o in forbidden_own):
                out.append(f"{path.relative_to(root)}:{line} imports {mod}")
    return out


def test_core_imports_neither_ros_nor_the_upper_layers() -> None:
    assert violations("core", ("ros", "tools"), forbid_ros=True) == []


def test_ros_does_not_import_tools() -> None:
    assert violations("ros", ("tools",), forbid_ros=False) == []


def test_the_checker_finds_planted_violations(tmp_path: Path) -> None:
    """The checker can fail: relative, absolute and function-level imports in a fake tree are all found."""
    core = tmp_path / "mot_ros" / "core" / "tracking"
    core.mkdir(parents=True)
    (tmp_path / "mot_ros" / "ros").mkdir()
    (core / "probe.py").write_text("from ...tools.bagio import x\nfrom .kalman import K\n\n\ndef f():\n"
                                   "    import rclpy.node\n    from ..types import T\n")
    (tmp_path / "mot_ros" / "ros" / "node.py").write_text("from .. import tools\nfrom ..core import config\n")
    assert violations("core", ("ros", "tools"), forbid_ros=True, root=tmp_path) == [
        "mot_ros/core/tracking/probe.py:1 imports mot_ros.tools.bagio",
        "mot_ros/core/tracking/probe.py:6 imports rclpy.node"]
    assert violations("ros", ("tools",), forbid_ros=False, root=tmp_path) == [
        "mot_ros/ros/node.py:1 imports mot_ros.tools"]
