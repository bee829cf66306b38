"""colcon builds mot_ros the way a robot does, and tracker_node runs from the install space over DDS.

A temporary workspace holds a copy of the checkout (``src/mot_ros``) and of ``interfaces/vision_msgs``
(``src/vision_msgs``, without the repository's ``COLCON_IGNORE``: on a robot vision_msgs comes from
apt). ``colcon build --merge-install`` builds both. The venv plays the role of ``/opt/ros/jazzy``:
it is the underlay. ``tracker_node`` then starts from ``install/lib/mot_ros`` in the environment that
``install/setup.sh`` gives, in a working directory outside the checkout.
"""
from __future__ import annotations

import os
import runpy
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from mot_ros.core.synthetic import crossing_scene
from mot_ros.ros.command import tracker_node_command

from conftest import REPO
from ros_harness import Harness

pytestmark = pytest.mark.slow

VENV = Path(sys.prefix)
COLCON = Path(sys.executable).parent / "colcon"
PY_SITE = Path(sysconfig.get_paths()["purelib"]).relative_to(VENV)  # lib/python3.X/site-packages
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "install", "log", "out", "runs", "interfaces", "test",
                                     "__pycache__", "*.egg-info", ".pytest_cache", ".hypothesis", "*.pyc")
BUILD_TIMEOUT_S = 900
KEPT_ENV = ("HOME", "USER", "LANG", "TMPDIR", "ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "YOLO_OFFLINE",
            "RCUTILS_LOGGING_BUFFERED_STREAM")
"""What the test keeps of its own environment: DDS isolation and offline settings, nothing of the venv."""


def console_scripts() -> List[str]:
    """Return the executable names of setup.py's entry points, read as colcon reads setup.py."""
    setup_args = runpy.run_path(str(REPO / "scripts" / "ament_dev_prefix.py"))["setup_arguments"]()
    return [s.split("=", 1)[0].strip() for s in setup_args["entry_points"]["console_scripts"]]


def underlay_env() -> Dict[str, str]:
    """A clean environment with only the venv as the ROS underlay (as after sourcing /opt/ros/jazzy)."""
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    env.update(PATH=f"{VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin", AMENT_PREFIX_PATH=str(VENV),
               CMAKE_PREFIX_PATH=str(VENV), PYTHONWARNINGS="ignore")
    return env


def sourced_env(install: Path) -> Dict[str, str]:
    """``underlay_env()`` after ``. install/setup.sh``, as a robot's shell has it."""
    out = subprocess.run(["sh", "-c", '. "$1/setup.sh" && env -0', "sh", str(install)], env=underlay_env(),
                         capture_output=True, check=True, timeout=60).stdout
    env = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    # The ROS wheels' bootstrapper (a .pth) would re-exec Python with the venv's libraries added to
    # LD_LIBRARY_PATH in arbitrary order; add them after the install space's and skip the re-exec.
    site = VENV / PY_SITE
    libs = [str(VENV / "lib")] + sorted(str(p) for p in site.glob("ros_*.libs"))
    env["LD_LIBRARY_PATH"] = os.pathsep.join([p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
                                             + libs)
    env["_ROS_WHEELS_BOOTSTRAP_COMPLETE"] = "1"
    env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(install / "share" / "mot_ros" / "config" / "fastdds_large_images.xml")
    return env


@pytest.fixture(scope="module")
def install_space(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Build the workspace once for this module; yield its install space.

    The workspace is temporary unless ``MOT_ROS_COLCON_WS`` names a directory to keep between runs
    (colcon then rebuilds vision_msgs only when it changed; mot_ros is always copied and built afresh).
    """
    assert COLCON.is_file(), f"{COLCON} is missing: run scripts/bootstrap.sh (requirements.txt lists colcon)"
    keep = os.environ.get("MOT_ROS_COLCON_WS")
    ws = Path(keep).resolve() if keep else tmp_path_factory.mktemp("colcon_ws")
    src, install = ws / "src", ws / "install"
    for stale in (src / "mot_ros", src / "vision_msgs", ws / "build" / "mot_ros", install / PY_SITE / "mot_ros",
                  install / "share" / "mot_ros", install / "lib" / "mot_ros"):
        shutil.rmtree(stale, ignore_errors=True)
    shutil.copytree(REPO, src / "mot_ros", ignore=COPY_IGNORE)
    shutil.copytree(REPO / "interfaces" / "vision_msgs", src / "vision_msgs")
    (src / "vision_msgs" / "COLCON_IGNORE").unlink()
    # The default build type, as in the README's colcon command: the quickest to compile (vision_msgs' generated
    # C/C++ takes most of the time).
    cmd = [str(COLCON), "--log-base", str(ws / "log"), "build", "--merge-install", "--base-paths", str(src),
           "--build-base", str(ws / "build"), "--install-base", str(install), "--event-handlers", "console_direct-",
           "--cmake-args", f"-DPython3_EXECUTABLE={sys.executable}", "-DBUILD_TESTING=OFF"]
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=ws, env=underlay_env(), capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    output = f"{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
    assert p.returncode == 0, f"colcon build failed after {time.monotonic() - t0:.0f} s:\n{output}"
    for pkg in ("vision_msgs", "mot_ros"):
        assert f"Finished <<< {pkg}" in p.stdout, output
    yield install
    if not keep:
        shutil.rmtree(ws, ignore_errors=True)


def test_install_space_layout(install_space: Path) -> None:
    share = install_space / "share" / "mot_ros"
    for exe in console_scripts():
        path = install_space / "lib" / "mot_ros" / exe
        assert path.is_file() and os.access(path, os.X_OK), f"{path} missing or not executable"
    for rel in ("package.xml", "launch/tracker.launch.py", "config/tracker.yaml", "config/fastdds_large_images.xml",
                "models/shapes_yolov8n.pt", "models/mobilenetv2_int8.xml", "models/mobilenetv2_int8.bin",
                "data/demo_shapes.mp4"):
        assert (share / rel).is_file(), f"share/mot_ros/{rel} is not installed"
    index = install_space / "share" / "ament_index" / "resource_index" / "packages"
    assert (index / "mot_ros").is_file() and (index / "vision_msgs").is_file()
    assert (install_space / PY_SITE / "mot_ros" / "ros" / "tracker_node.py").is_file()
    assert (install_space / "setup.sh").is_file()


def test_install_space_environment_resolves_to_the_install_space(install_space: Path, tmp_path: Path) -> None:
    """With setup.sh's environment, Python imports and the ament index point into the install space."""
    code = ("import mot_ros, vision_msgs.msg; from mot_ros.core.resources import share_dir; "
            "from mot_ros.ros.command import tracker_node_executable; "
            "print(mot_ros.__file__); print(vision_msgs.msg.__file__); print(share_dir()); "
            "print(tracker_node_executable())")
    p = subprocess.run([sys.executable, "-c", code], env=sourced_env(install_space), cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = p.stdout.split()
    root = str(install_space.resolve())
    assert all(line.startswith(root) for line in lines), f"expected everything under {root}, got {lines}"
    assert lines[2] == str(install_space / "share" / "mot_ros")
    assert lines[3] == str(install_space / "lib" / "mot_ros" / "tracker_node")


def test_tracker_node_from_install_space_over_dds(install_space: Path, spinner, tmp_path: Path) -> None:
    exe = install_space / "lib" / "mot_ros" / "tracker_node"
    model = install_space / "share" / "mot_ros" / "models" / "shapes_yolov8n.pt"
    cmd = tracker_node_command({"model": str(model), "device": "cpu", "imgsz": 320, "embedder_size": 64},
                               executable=str(exe))
    log = tmp_path / "tracker_node.log"
    proc = subprocess.Popen(cmd, env=sourced_env(install_space), cwd=tmp_path, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    h = Harness(name="harness_colcon")
    spinner.add(h)
    code = None
    try:
        assert h.wait_connected(120.0), "tracker_node from the install space never subscribed:\n" + log.read_text()
        ids = []
        for i, s in enumerate(list(crossing_scene(320, 240, n_frames=60))[:6]):
            msg = h.send_and_wait(s.image, i, timeout=30.0)
            assert msg is not None, f"frame {i} unanswered:\n" + log.read_text()
            assert {d.results[0].hypothesis.class_id for d in msg.detections} <= {"0", "1", "2"}
            ids.append({d.id for d in msg.detections})
        assert len(ids[-1]) == 3 and ids[-1] == ids[-2], f"expected the 3 shapes with stable IDs, got {ids}"
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        root = str(install_space.resolve())
        assert f"{root}/lib/libvision_msgs__rosidl_typesupport_c.so" in maps, \
            "the node did not load vision_msgs' type support from the install space"
    finally:
        spinner.remove(h)
        h.destroy_node()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=30)
    text = log.read_text()
    assert code == 0, f"exit code {code}:\n{text}"
    assert "Traceback" not in text
