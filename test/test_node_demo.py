"""``mot_demo`` (the README's main job) end to end on a short input: tracker_node as a process, over DDS."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from mot_ros.core.mot_format import load_rows
from mot_ros.core.synthetic import crossing_scene

from conftest import REPO, assert_ids_follow_truth

W, H, N, FPS = 320, 240, 12, 10.0
SCENES = list(crossing_scene(W, H, N))


@pytest.mark.slow
def test_mot_demo_on_a_short_video(tmp_path: Path, shapes_model: str) -> None:
    video = tmp_path / "short.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    assert writer.isOpened()
    for s in SCENES:
        writer.write(s.image)
    writer.release()
    exe = Path(sys.executable).parent / "mot_demo"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "mot_ros.tools.demo"]
    out = tmp_path / "out"
    p = subprocess.run([*cmd, "--input", str(video), "--model", shapes_model, "--output-dir", str(out),
                        "--set", "imgsz:=320", "--set", "embedder_size:=64", "--set", "device:=cpu"],
                       capture_output=True, text=True, timeout=300, cwd=REPO,
                       env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert f"tracked {N} frames through tracker_node over DDS" in p.stdout, p.stdout
    assert "3 unique track IDs" in p.stdout, p.stdout
    cap = cv2.VideoCapture(str(out / "demo_annotated.mp4"))
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n += 1
        assert frame.shape == (H, W, 3)
    cap.release()
    assert n == N, f"annotated video has {n} frames, the input {N}"
    rows = load_rows(out / "demo_tracks.txt", min_columns=10)
    assert_ids_follow_truth(rows, SCENES, min_frames=N // 2)  # the three shapes, one ID each, nothing else
