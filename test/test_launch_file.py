"""The launch file, checked as far as is possible without the launch package.

``launch``, ``launch_ros`` and ``launch_testing`` have no wheels, so ``ros2 launch`` cannot run
here (README, "Launch"). These tests read the file's source: it compiles, every argument has a
description, every argument is accounted for, and each parameter argument is a real schema
parameter with values the schema accepts.
"""
from __future__ import annotations

import ast
from typing import Any, Dict

import pytest

from mot_ros.core.config import FIELD_BY_NAME, check_value

from conftest import REPO

LAUNCH = REPO / "launch" / "tracker.launch.py"
ROS_PARAMETERS = {"use_sim_time": "bool"}
"""Parameters every ROS node has, outside our schema."""


def _tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text(), str(LAUNCH))


def _constant(name: str) -> Any:
    for node in _tree().body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{LAUNCH.name} defines no {name}")


def _arguments() -> Dict[str, Dict[str, ast.expr]]:
    args: Dict[str, Dict[str, ast.expr]] = {}
    for node in ast.walk(_tree()):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DeclareLaunchArgument":
            name = node.args[0].value
            assert name not in args, f"{name} is declared twice"
            args[name] = {k.arg: k.value for k in node.keywords}
    return args


def test_launch_file_compiles() -> None:
    compile(LAUNCH.read_text(), str(LAUNCH), "exec")


def test_every_argument_has_a_description() -> None:
    for name, kw in _arguments().items():
        assert "description" in kw, name
        desc = kw["description"]
        text = desc.value if isinstance(desc, ast.Constant) else ast.unparse(desc)
        assert len(text) > 8, name


def test_every_argument_is_accounted_for() -> None:
    params, remaps, own = _constant("PARAMETER_ARGUMENTS"), _constant("REMAP_ARGUMENTS"), _constant("LAUNCH_ARGUMENTS")
    declared = set(_arguments())
    listed = set(params) | set(remaps) | set(own)
    assert declared == listed, f"declared but not listed: {declared - listed}; listed but not declared: " \
                               f"{listed - declared}"
    assert {"namespace", "params_file", "image_topic", "model", "device", "compressed", "use_sim_time"} <= declared


@pytest.mark.parametrize("name", sorted(_constant("PARAMETER_ARGUMENTS")))
def test_parameter_argument_is_a_schema_parameter_with_valid_values(name: str) -> None:
    kind = _constant("PARAMETER_ARGUMENTS")[name]
    if name in ROS_PARAMETERS:
        assert kind == ROS_PARAMETERS[name]
    else:
        assert name in FIELD_BY_NAME, f"launch argument {name} sets no parameter of the schema"
        schema_kind = {bool: "bool", str: "string"}.get(type(FIELD_BY_NAME[name].default), "other")
        assert kind == schema_kind, f"{name}: the launch file passes a {kind}, the schema wants a {schema_kind}"
    kw = _arguments()[name]
    values = ast.literal_eval(kw["choices"]) if "choices" in kw else []
    values.append(ast.literal_eval(kw["default_value"]))
    for value in values:
        if value == "":
            continue  # empty keeps the params file's value
        if kind == "bool":
            assert value in ("true", "false"), f"{name}: {value!r}"
        elif name not in ROS_PARAMETERS:
            check_value(name, value)  # raises ValueError naming the parameter


def test_launch_file_is_safe() -> None:
    src = LAUNCH.read_text()
    tree = ast.parse(src)
    calls = {getattr(n.func, "id", getattr(n.func, "attr", "")) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert not calls & {"eval", "exec", "system", "run", "Popen", "check_call", "check_output"}
    assert "pip" not in src and "ExecuteProcess" not in src
    assert "generate_launch_description" in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "tracker_node" in src and "FASTRTPS_DEFAULT_PROFILES_FILE" in src
