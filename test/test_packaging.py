"""Package layout, package.xml, setup.py, the ament index of the dev venv, and the README's promises."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_package_xml_format3_with_dependencies() -> None:
    root = ET.parse(REPO / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == "mot_ros"
    deps = {e.text for e in root if e.tag.endswith("depend")}
    for d in ("rclpy", "sensor_msgs", "std_msgs", "vision_msgs", "lifecycle_msgs", "diagnostic_msgs",
              "rosgraph_msgs", "launch_ros"):
        assert d in deps, d
    assert root.find("export/build_type").text == "ament_python"


def test_ament_python_layout() -> None:
    for p in ("setup.py", "setup.cfg", "resource/mot_ros", "mot_ros/__init__.py", "launch", "config", "test",
              "config/tracker.yaml", "config/traffic.yaml", "config/people.yaml", "config/fastdds_large_images.xml",
              "interfaces/vision_msgs/COLCON_IGNORE"):
        assert (REPO / p).exists(), p
    setup = (REPO / "setup.py").read_text()
    for s in ("share/ament_index/resource_index/packages", "launch/*.launch.py", "config/*.yaml",
              "tracker_node = mot_ros.ros.tracker_node:main", "mot_track = mot_ros.tools.mot_track:main"):
        assert s in setup, s
    assert "install_scripts=$base/lib/mot_ros" in (REPO / "setup.cfg").read_text()


def test_vision_msgs_fields_match_4_1_1() -> None:
    from vision_msgs.msg import (BoundingBox2D, Detection2D, Detection2DArray, LabelInfo, ObjectHypothesis,
                                 ObjectHypothesisWithPose, VisionClass)

    expect = {
        Detection2DArray: [("header", "std_msgs/Header"), ("detections", "sequence<vision_msgs/Detection2D>")],
        Detection2D: [("header", "std_msgs/Header"), ("results", "sequence<vision_msgs/ObjectHypothesisWithPose>"),
                      ("bbox", "vision_msgs/BoundingBox2D"), ("id", "string")],
        ObjectHypothesisWithPose: [("hypothesis", "vision_msgs/ObjectHypothesis"),
                                   ("pose", "geometry_msgs/PoseWithCovariance")],
        ObjectHypothesis: [("class_id", "string"), ("score", "double")],
        BoundingBox2D: [("center", "vision_msgs/Pose2D"), ("size_x", "double"), ("size_y", "double")],
        LabelInfo: [("header", "std_msgs/Header"), ("class_map", "sequence<vision_msgs/VisionClass>"),
                    ("threshold", "float")],
        VisionClass: [("class_id", "uint16"), ("class_name", "string")],
    }
    for cls, fields in expect.items():
        assert list(cls.get_fields_and_field_types().items()) == fields, cls.__name__
    assert VisionClass.UNLABELED == 65535


def test_readme_parameter_table_is_current() -> None:
    from mot_ros.core.config import markdown_table

    text = (REPO / "README.md").read_text()
    start = text.index("<!-- PARAMS-TABLE:BEGIN")
    body = text[text.index("\n", start) + 1:text.index("<!-- PARAMS-TABLE:END")].strip()
    assert body == markdown_table(), "README's parameter table is stale: regenerate with python -m mot_ros.core.config"


def test_readme_gives_the_two_commands_and_ci_calls_the_test_one() -> None:
    text = (REPO / "README.md").read_text()
    assert "make demo" in text and "make test" in text
    assert "make test" in (REPO / ".ci" / "run").read_text()


def _dev_prefix_module():  # type: ignore[no-untyped-def]
    import runpy

    return runpy.run_path(str(REPO / "scripts" / "ament_dev_prefix.py"), run_name="ament_dev_prefix")


def test_dev_venv_is_found_through_the_ament_index() -> None:
    """From .venv/bin/python, with no AMENT_PREFIX_PATH set, the index finds the checkout's data (bootstrap)."""
    import os
    import subprocess
    import sys

    code = ("import os; from ament_index_python.packages import get_package_share_directory as g; "
            "from mot_ros.core.resources import share_dir; print(os.environ['AMENT_PREFIX_PATH']); "
            "print(g('mot_ros')); print(share_dir())")
    env = {k: v for k, v in os.environ.items() if k != "AMENT_PREFIX_PATH"}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "run scripts/bootstrap.sh (it registers the venv on the ament index):\n" + p.stderr
    prefix, share, found = p.stdout.split()
    assert prefix == sys.prefix and share == found == os.path.join(sys.prefix, "share", "mot_ros")
    for rel in ("package.xml", "launch/tracker.launch.py", "config/tracker.yaml", "models/shapes_yolov8n.pt",
                "models/mobilenetv2_int8.xml", "models/mobilenetv2_int8.bin", "data/demo_shapes.mp4"):
        assert os.path.realpath(os.path.join(share, rel)) == str((REPO / rel).resolve()), rel
    assert os.path.realpath(os.path.join(sys.prefix, "lib", "mot_ros", "tracker_node")) == \
        os.path.realpath(os.path.join(sys.prefix, "bin", "tracker_node"))


def test_ament_dev_prefix_mirrors_setup_py_data_files(tmp_path: Path) -> None:
    mod = _dev_prefix_module()
    site = tmp_path / "site"
    site.mkdir()
    mod["install"](tmp_path, REPO, site)
    (tmp_path / "share" / "mot_ros" / "stale.txt").write_text("")
    written = mod["install"](tmp_path, REPO, site)  # idempotent, and removes what setup.py no longer lists
    assert not (tmp_path / "share" / "mot_ros" / "stale.txt").exists()
    kw = mod["setup_arguments"](REPO)
    for dest, files in kw["data_files"]:
        for f in files:
            link = tmp_path / dest / Path(f).name
            assert link.is_symlink() and link.resolve() == (REPO / f).resolve(), link
    exes = [s.split("=")[0].strip() for s in kw["entry_points"]["console_scripts"]]
    assert sorted(p.name for p in (tmp_path / "lib" / "mot_ros").iterdir()) == sorted(exes)
    assert site / mod["PTH_NAME"] in written


def test_the_pth_line_appends_the_prefix_once() -> None:
    import os
    import subprocess
    import sys

    line = _dev_prefix_module()["PTH_LINE"]
    venv = "/fake/venv"
    code = f"import sys; sys.prefix = {venv!r}\n{line.strip()}\nimport os; print(os.environ['AMENT_PREFIX_PATH'])"
    for before, after in ((None, venv), ("/opt/ros/jazzy", f"/opt/ros/jazzy{os.pathsep}{venv}"),
                          (f"/x{os.pathsep}{venv}", f"/x{os.pathsep}{venv}")):
        env = {k: v for k, v in os.environ.items() if k != "AMENT_PREFIX_PATH"}
        if before is not None:
            env["AMENT_PREFIX_PATH"] = before
        out = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True,
                             timeout=60).stdout.strip()
        assert out == after, (before, out)


def test_share_dir_falls_back_to_the_checkout_outside_any_prefix(tmp_path: Path, monkeypatch) -> None:  # type: ignore
    from mot_ros.core import resources

    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))  # an ament prefix without mot_ros
    assert resources.share_dir() == REPO
    assert resources.share_path(resources.DEMO_VIDEO).is_file()
    monkeypatch.setattr(resources, "_source_tree", lambda: None)
    import pytest

    with pytest.raises(ValueError, match="share directory of mot_ros not found"):
        resources.share_dir()


def test_one_tracker_node_command_builder() -> None:
    from mot_ros.ros.command import tracker_node_command

    cmd = tracker_node_command({"model": "/m/a.pt", "compressed": True, "classes": ["person", 2], "imgsz": 320},
                               params_files=["p.yaml"], executable="/x/tracker_node")
    assert cmd == ["/x/tracker_node", "--ros-args", "--params-file", "p.yaml", "-p", "model:=/m/a.pt",
                   "-p", "compressed:=true", "-p", "classes:=[person, 2]", "-p", "imgsz:=320"]


def test_package_xml_declares_every_ros_package_the_code_imports() -> None:
    import ast

    ros_prefixes = ("rclpy", "rcl_interfaces", "ament_index_python", "builtin_interfaces", "launch")
    deps = {e.text for e in ET.parse(REPO / "package.xml").getroot() if e.tag.endswith("depend")}
    used = set()
    for path in list((REPO / "mot_ros").rglob("*.py")) + [REPO / "launch" / "tracker.launch.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                if top.endswith("_msgs") or top.endswith("_srvs") or top in ros_prefixes or top == "launch_ros":
                    used.add(top)
    assert used - deps == set(), f"imported but not in package.xml: {sorted(used - deps)}"
