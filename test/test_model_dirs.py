"""Run-time model reloads are confined to the read-only ``model_dirs`` (a .pt file is a pickle that runs code)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

from mot_ros.ros.params import allowed_model_dirs, check_model_path
from mot_ros.ros.tracker_node import TrackerNode


def test_default_dirs_are_those_of_the_start_up_models(tmp_path: Path) -> None:
    values = {"model_dirs": [], "model": str(tmp_path / "a" / "m.pt"), "embedder_model": str(tmp_path / "b/x.onnx")}
    assert allowed_model_dirs(values) == ((tmp_path / "a").resolve(), (tmp_path / "b").resolve())
    values["model_dirs"] = [str(tmp_path / "c")]
    assert allowed_model_dirs(values) == ((tmp_path / "c").resolve(),)


def test_paths_outside_are_refused_with_the_reason(tmp_path: Path) -> None:
    allowed = ((tmp_path / "ok").resolve(),)
    (tmp_path / "ok").mkdir()
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "x.pt").write_bytes(b"")
    (tmp_path / "ok" / "link.pt").symlink_to(tmp_path / "evil" / "x.pt")
    check_model_path("model", str(tmp_path / "ok" / "m.pt"), allowed)
    check_model_path("embedder_model", str(tmp_path / "ok" / "sub" / "e.onnx"), allowed)
    check_model_path("embedder_model", "", allowed)  # no file: nothing is loaded
    check_model_path("conf_threshold", 0.5, allowed)  # not a path parameter
    for bad in (tmp_path / "evil" / "x.pt", tmp_path / "ok" / ".." / "evil" / "x.pt", tmp_path / "ok" / "link.pt",
                tmp_path / "okay.pt"):
        with pytest.raises(ValueError, match="model: expected a file inside the model_dirs") as err:
            check_model_path("model", str(bad), allowed)
        assert str(bad) in str(err.value) and "SROS2" in str(err.value)


def test_node_refuses_a_model_outside_model_dirs_and_reloads_inside(ros: None, shapes_model: str,
                                                                    tmp_path: Path) -> None:
    inside, outside = tmp_path / "models", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    start_model = inside / "start.pt"
    shutil.copy(shapes_model, start_model)
    shutil.copy(shapes_model, inside / "other.pt")
    shutil.copy(shapes_model, outside / "evil.pt")
    node = TrackerNode("tracker_model_dirs", parameter_overrides=[
        Parameter("model", value=str(start_model)), Parameter("device", value="cpu"),
        Parameter("embedder", value="histogram")])
    try:
        assert node.model_dirs == (inside.resolve(),)
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        detector = node.pipeline.detector
        for name, value in (("model", outside / "evil.pt"), ("embedder_model", outside / "evil.pt"),
                            ("model", inside / ".." / "elsewhere" / "evil.pt")):
            r = node.set_parameters([Parameter(name, value=str(value))])[0]
            assert not r.successful and "model_dirs" in r.reason and str(value) in r.reason, r.reason
        assert node.pipeline.detector is detector and node.config.model == str(start_model)
        r = node.set_parameters([Parameter("model_dirs", value=[str(outside)])])[0]
        assert not r.successful, "model_dirs must be read-only"
        r = node.set_parameters([Parameter("model", value=str(inside / "other.pt"))])[0]
        assert r.successful, r.reason
        assert node.pipeline.detector is not detector and node.config.model == str(inside / "other.pt")
    finally:
        node.trigger_cleanup()
        node.destroy_node()


def test_model_dirs_parameter_widens_the_allowed_set(ros: None, shapes_model: str, tmp_path: Path) -> None:
    shutil.copy(shapes_model, tmp_path / "m.pt")
    node = TrackerNode("tracker_model_dirs2", parameter_overrides=[
        Parameter("model", value=shapes_model), Parameter("model_dirs", value=[str(tmp_path)])])
    try:
        assert node.model_dirs == (tmp_path.resolve(),)
        r = node.set_parameters([Parameter("model", value=shapes_model)])[0]
        assert not r.successful and "model_dirs" in r.reason  # the start-up dir is not implied once set
        assert node.set_parameters([Parameter("model", value=str(tmp_path / "m.pt"))])[0].successful
    finally:
        node.destroy_node()
