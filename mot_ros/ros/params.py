"""Declare the schema's parameters on a node, with descriptors and ranges."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence, Tuple

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.node import Node
from rclpy.parameter import Parameter

from ..core.config import FIELDS, Config

_TYPES = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
          float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
ARRAY_CONSTRAINTS = {"model_dirs": "A list of directory paths; empty means the directories of the start-up "
                                   "model and embedder_model."}
RELOADABLE_PATHS = ("model", "embedder_model")
"""Parameters whose run-time changes load a file, checked against ``model_dirs``."""


def descriptor(f: dataclasses.Field) -> ParameterDescriptor:
    """ROS descriptor for one schema field: type, description, range, read-only flag."""
    m = f.metadata
    desc = m["description"]
    if m["choices"]:
        desc += f" One of: {', '.join(m['choices'])}."
    if m["reload"]:
        desc += " Changing it reloads the model; a failed reload is refused and the old value kept."
    d = ParameterDescriptor(name=f.name, description=desc, read_only=bool(m["read_only"]))
    if isinstance(f.default, tuple):
        # class names or indices: accept a string or an integer list from YAML / the CLI
        d.type = ParameterType.PARAMETER_STRING_ARRAY
        d.dynamic_typing = True
        d.additional_constraints = ARRAY_CONSTRAINTS.get(
            f.name, "A list of class names or non-negative class indices; empty means all.")
        return d
    d.type = _TYPES[type(f.default)]
    rng = m["range"]
    if rng is not None and isinstance(f.default, int) and not isinstance(f.default, bool):
        d.integer_range = [IntegerRange(from_value=int(rng[0]), to_value=int(rng[1]), step=int(m["step"] or 0))]
    elif rng is not None and isinstance(f.default, float):
        d.floating_point_range = [FloatingPointRange(from_value=float(rng[0]), to_value=float(rng[1]), step=0.0)]
    if m["choices"]:
        d.additional_constraints = "One of: " + ", ".join(m["choices"])
    return d


def declare_parameters(node: Node) -> None:
    """Declare every schema parameter with its default and descriptor."""
    for f in FIELDS:
        default: Any = f.default
        if isinstance(default, tuple):
            # Unset means all classes; dynamic typing lets YAML give names or indices.
            node.declare_parameter(f.name, None, descriptor(f))
            continue
        node.declare_parameter(f.name, default, descriptor(f))


def param_value(p: Parameter) -> Any:
    """A parameter's Python value, with arrays as lists and an unset array as empty."""
    if p.type_ == Parameter.Type.NOT_SET or p.value is None:
        return []
    v = p.value
    if isinstance(v, (list, tuple)) or type(v).__name__ == "array":
        return list(v)
    return v


def read_values(node: Node) -> Dict[str, Any]:
    """Current parameter values of all schema fields."""
    return {f.name: param_value(node.get_parameter(f.name)) for f in FIELDS}


def config_from_node(node: Node) -> Config:
    """Validated Config from the node's parameters (raises ValueError naming the parameter)."""
    return Config(**read_values(node))


def allowed_model_dirs(values: Mapping[str, Any]) -> Tuple[Path, ...]:
    """``model_dirs``, or when empty the directories of the start-up ``model`` and ``embedder_model`` (resolved)."""
    dirs = list(values.get("model_dirs") or ())
    if not dirs:
        dirs = [str(Path(str(values[n])).parent) for n in RELOADABLE_PATHS if values.get(n)]
    return tuple(Path(d).expanduser().resolve() for d in dirs)


def check_model_path(name: str, value: Any, allowed: Sequence[Path]) -> None:
    """Refuse a run-time ``model`` / ``embedder_model`` outside ``allowed`` (symlinks resolved).

    Raises:
        ValueError: The path is outside; the message names the parameter, the path and the directories.
    """
    if name not in RELOADABLE_PATHS or not value:
        return
    path = Path(str(value)).expanduser().resolve()
    if any(path == d or d in path.parents for d in allowed):
        return
    raise ValueError(f"{name}: expected a file inside the model_dirs {[str(d) for d in allowed]} for a run-time "
                     f"change, got {str(value)!r} (resolves to {str(path)!r}); model_dirs is read-only and set at "
                     f"start-up. Model files can run code when loaded (a .pt file is a pickle), and without SROS2 "
                     f"any participant on the ROS domain can set parameters.")
