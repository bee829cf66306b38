"""The parameter schema: defaults, validation, params files, overrides (no ROS)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mot_ros.core.config import (FIELDS, Config, build_config, check_value, load_params_file, markdown_table,
                                 parse_override)

REPO = Path(__file__).resolve().parents[1]


def test_defaults_match_the_issue() -> None:
    c = Config()
    assert (c.model, c.device, c.conf_threshold, c.max_age, c.n_init) == ("yolov8n.pt", "auto", 0.6, 30, 2)
    # the development-set sweep's choices (docs/tracking.md)
    assert (c.low_conf_threshold, c.cmc, c.association, c.appearance_features, c.kalman_state) == (
        0.1, "sparse_flow", "cascade", "ema", "xyah")
    assert (c.nsa_kalman, c.fuse_score, c.recovery, c.confirm_first_frame) == (False, False, True, True)
    assert (c.box_source, c.publish_coasting, c.nn_budget) == ("detection", False, 30)
    assert (c.max_cosine_distance, c.max_iou_distance, c.embedder, c.embedder_gpu) == (0.2, 0.8, "histogram", True)
    assert c.classes == ()


def test_every_field_documented() -> None:
    for f in FIELDS:
        assert len(f.metadata["description"]) > 15, f.name
    table = markdown_table()
    for f in FIELDS:
        assert f"`{f.name}`" in table


@pytest.mark.parametrize("name,value,fragment", [
    ("conf_threshold", 1.5, "[0.0, 1.0]"),
    ("conf_threshold", "high", "expected a number"),
    ("max_age", 2.5, "expected an integer"),
    ("max_age", 0, "[1, 100000]"),
    ("imgsz", 100, "multiple of 32"),
    ("device", "gpu", "auto, cpu, cuda or cuda:N"),
    ("embedder", "resnet", "mobilenet"),
    ("box_source", "mean", "detection"),
    ("classes", "person", "list of names"),
    ("classes", [-1], "non-negative"),
    ("half", "yes", "bool"),
    ("model", "", "weights file"),
])
def test_invalid_values_are_refused_with_reason(name: str, value: object, fragment: str) -> None:
    with pytest.raises(ValueError) as e:
        check_value(name, value)
    assert name in str(e.value) and fragment in str(e.value)


def test_osnet_needs_a_model_path() -> None:
    with pytest.raises(ValueError, match="embedder_model"):
        Config(embedder="osnet")


def test_classes_accept_names_and_indices() -> None:
    assert Config(classes=["person", 2]).classes == ("person", "2")


def test_presets_load() -> None:
    for name in ("tracker", "traffic", "people"):
        build_config([REPO / "config" / f"{name}.yaml"])
    t = build_config([REPO / "config" / "traffic.yaml"])
    assert (t.max_age, t.n_init, t.max_cosine_distance, t.nn_budget) == (90, 2, 0.4, 50)
    assert "car" in t.classes


def test_tracker_yaml_equals_defaults() -> None:
    assert build_config([REPO / "config" / "tracker.yaml"]) == Config()


def test_params_file_errors_name_file_and_key(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("tracker_node:\n  ros__parameters:\n    max_agee: 3\n")
    with pytest.raises(ValueError, match=r"p\.yaml.*unknown parameter 'max_agee'"):
        load_params_file(p)
    p.write_text("/**:\n  ros__parameters:\n    max_age: -3\n")
    with pytest.raises(ValueError, match=r"p\.yaml.*max_age"):
        load_params_file(p)
    p.write_text("/**: [\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_params_file(p)
    with pytest.raises(ValueError, match="does not exist"):
        load_params_file(tmp_path / "missing.yaml")


def test_params_file_sections(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("/robot/tracker_node:\n  ros__parameters:\n    max_age: 7\nother_node:\n  ros__parameters:\n"
                 "    whatever: 1\n")
    assert load_params_file(p) == {"max_age": 7}


def test_overrides() -> None:
    assert parse_override("classes=[person, car]") == ("classes", ("person", "car"))
    assert parse_override("conf_threshold=0.5") == ("conf_threshold", 0.5)
    assert parse_override("model=123.onnx") == ("model", "123.onnx")
    with pytest.raises(ValueError, match="key=value"):
        parse_override("conf_threshold")
    with pytest.raises(ValueError, match="unknown parameter"):
        parse_override("nope=1")
    c = build_config(overrides=["max_age=5"])
    assert c.max_age == 5


def test_replace_validates() -> None:
    c = Config()
    assert c.replace(max_age=10).max_age == 10
    with pytest.raises(ValueError):
        c.replace(max_age=-1)
    with pytest.raises(ValueError, match="unknown parameter"):
        c.replace(foo=1)
