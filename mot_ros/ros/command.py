"""The one builder of the ``tracker_node`` command line (demo, benchmark, tests, install-space checks)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence

EXECUTABLE = "tracker_node"


def tracker_node_executable() -> str:
    """Path of ``tracker_node``, looked up as ``ros2 run`` would, then beside this interpreter, then on PATH.

    The ament prefix that holds mot_ros (``lib/mot_ros/tracker_node``) comes first, so an install
    space and the code that runs from it belong together.

    Raises:
        ValueError: No ``tracker_node`` was found.
    """
    try:
        from ament_index_python.packages import get_package_prefix

        exe = Path(get_package_prefix("mot_ros")) / "lib" / "mot_ros" / EXECUTABLE
        if exe.is_file():
            return str(exe)
    except (ImportError, LookupError, OSError, ValueError):
        pass
    exe = Path(sys.executable).parent / EXECUTABLE
    if exe.is_file():
        return str(exe)
    found = shutil.which(EXECUTABLE)
    if found:
        return found
    raise ValueError(f"{EXECUTABLE} not found: expected lib/mot_ros/{EXECUTABLE} of mot_ros's ament prefix, "
                     f"{exe}, or {EXECUTABLE} on PATH; run scripts/bootstrap.sh or source install/setup.sh")


def format_parameter(value: Any) -> str:
    """A parameter value as ``--ros-args -p NAME:=VALUE`` expects it (YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_parameter(v) for v in value) + "]"
    return str(value)


def tracker_node_command(params: Optional[Mapping[str, Any]] = None, params_files: Sequence[str] = (),
                         executable: Optional[str] = None) -> List[str]:
    """``[tracker_node, --ros-args, --params-file F..., -p NAME:=VALUE...]``.

    Args:
        params: Parameter values, formatted with :func:`format_parameter` (later files and
            parameters override earlier ones, as in ROS).
        params_files: ROS params files, applied before ``params``.
        executable: The executable; default :func:`tracker_node_executable`.
    """
    cmd = [executable or tracker_node_executable(), "--ros-args"]
    for f in params_files:
        cmd += ["--params-file", str(f)]
    for name, value in (params or {}).items():
        cmd += ["-p", f"{name}:={format_parameter(value)}"]
    return cmd
