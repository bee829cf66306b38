"""Package layout, package.xml, setup.py and the launch file, checked without the launch package."""
from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAUNCH = REPO / "launch" / "tracker.launch.py"


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


def test_core_does_not_import_ros() -> None:
    for f in (REPO / "mot_ros" / "core").glob("*.py"):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for n in names:
                assert not n.split(".")[0] in ("rclpy", "sensor_msgs", "vision_msgs", "std_msgs"), f"{f.name}: {n}"


def _launch_arguments() -> dict:
    tree = ast.parse(LAUNCH.read_text())
    args = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DeclareLaunchArgument":
            name = node.args[0].value
            kw = {k.arg: k.value for k in node.keywords}
            args[name] = kw
    return args


def test_launch_file_arguments_have_descriptions() -> None:
    args = _launch_arguments()
    for name in ("namespace", "params_file", "image_topic", "model", "device", "compressed", "use_sim_time"):
        assert name in args, name
    for name, kw in args.items():
        assert "description" in kw, name
        desc = kw["description"]
        text = desc.value if isinstance(desc, ast.Constant) else ast.unparse(desc)  # implicit concatenation
        assert len(text) > 8, name


def test_launch_file_is_safe() -> None:
    src = LAUNCH.read_text()
    tree = ast.parse(src)
    calls = {getattr(n.func, "id", getattr(n.func, "attr", "")) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert not calls & {"eval", "exec", "system", "run", "Popen", "check_call", "check_output"}
    assert "pip" not in src and "ExecuteProcess" not in src
    assert "generate_launch_description" in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "tracker_node" in src and "FASTRTPS_DEFAULT_PROFILES_FILE" in src


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
