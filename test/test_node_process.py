"""tracker_node as its own process, as `ros2 run` starts it: exit codes, signals, cross-process DDS."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from mot_ros.core.synthetic import crossing_scene
from mot_ros.ros.command import tracker_node_command

from conftest import REPO
from ros_harness import Harness

EXE = Path(sys.executable).parent / "tracker_node"


def start(*params: str, log: Path) -> subprocess.Popen:
    cmd = tracker_node_command(dict(p.split(":=", 1) for p in params), executable=str(EXE))
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=REPO)


def test_entry_point_is_installed() -> None:
    assert EXE.is_file(), "run scripts/bootstrap.sh: .venv/bin/tracker_node is missing"


def test_missing_model_exits_nonzero_with_reason(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    p = start("model:=yolov8n.pt", "device:=cpu", log=log)
    assert p.wait(timeout=120) != 0
    text = log.read_text()
    assert "model" in text and "yolov8n.pt" in text and "not found" in text and "never downloads" in text
    assert "Traceback" not in text


def test_cuda_without_gpu_is_refused(tmp_path: Path, shapes_model: str) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    log = tmp_path / "log.txt"
    p = start(f"model:={shapes_model}", "device:=cuda", log=log)
    assert p.wait(timeout=120) != 0
    assert "no CUDA GPU is available" in log.read_text()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_tracks_across_processes_and_exits_cleanly_on_signal(ros: None, spinner, shapes_model: str,
                                                             tmp_path: Path, sig: int) -> None:
    log = tmp_path / "log.txt"
    p = start(f"model:={shapes_model}", "device:=cpu", "imgsz:=320", "embedder_size:=64", log=log)
    h = Harness(name=f"harness_proc_{sig}")
    spinner.add(h)
    try:
        assert h.wait_connected(90.0), "tracker_node process never subscribed:\n" + log.read_text()
        frames = list(crossing_scene(640, 480, n_frames=60))[:8]
        ids: List[set] = []
        for i, s in enumerate(frames):
            msg = h.send_and_wait(s.image, i, timeout=30.0)
            assert msg is not None, f"frame {i} unanswered:\n" + log.read_text()
            ids.append({d.id for d in msg.detections})
        assert len(ids[-1]) == 3 and ids[-1] == ids[-2]
    finally:
        spinner.remove(h)
        h.destroy_node()
        p.send_signal(sig)
        code = p.wait(timeout=30)
    text = log.read_text()
    assert code == 0, f"exit code {code}:\n{text}"
    assert "Traceback" not in text and "terminate called" not in text


_RACE = """
import sys
import rclpy
from mot_ros.ros import tracker_node

class Racing(tracker_node.SingleThreadedExecutor):
    def spin(self):
        if sys.argv[1] == "signal":
            rclpy.shutdown()  # what the SIGINT/SIGTERM handler does, just before the next wait set is built
        raise RuntimeError("failed to initialize wait set: the given context is not valid")

tracker_node.SingleThreadedExecutor = Racing
sys.exit(tracker_node.main(["--ros-args", "-p", "autostart:=false"]))
"""


@pytest.mark.parametrize("case, code", [("signal", 0), ("fault", 1)])
def test_signal_racing_the_executor_exits_cleanly(tmp_path: Path, case: str, code: int) -> None:
    """A signal that shuts the context down between two waits is a clean exit; the same error otherwise is not."""
    r = subprocess.run([sys.executable, "-c", _RACE, case], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == code, r.stdout + r.stderr
    assert ("Traceback" in r.stderr) is (case == "fault"), r.stderr
