"""Bad inputs give one clear line on stderr naming the file, and a non-zero exit (no traceback)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import pytest

from mot_ros.core.mot_format import write_sequence
from mot_ros.core import bagio
from mot_ros.tools.mot_track import main

REPO = Path(__file__).resolve().parents[1]


def _fails(argv: List[str], capsys: pytest.CaptureFixture, *needles: str) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert len(err) == 1, err
    assert err[0].startswith(f"mot_track {argv[0]}: error:")
    assert "Traceback" not in err[0]
    for n in needles:
        assert n in err[0], (n, err[0])
    return err[0]


def test_missing_input_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = str(tmp_path / "nope.mp4")
    _fails(["video", missing, "-o", str(tmp_path / "o.mp4")], capsys, "nope.mp4", "no such file")
    _fails(["bag", str(tmp_path / "nobag"), "--topic", "/x", "-o", str(tmp_path / "o")], capsys, "nobag")
    _fails(["mot", str(tmp_path / "noseq"), "-o", str(tmp_path / "r.txt")], capsys, "noseq")
    _fails(["video", str(tmp_path), "-o", str(tmp_path / "o.mp4")], capsys, "directory")
    _fails(["mot", str(tmp_path / "noseq"), "-o", "r.txt", "--params", str(tmp_path / "p.yaml")], capsys, "noseq")


def test_unreadable_video(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    _fails(["video", str(bad), "-o", str(tmp_path / "o.mp4")], capsys, "broken.mp4", "cannot be read as a video")


def test_bag_without_the_topic(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = bagio.write_image_bag(tmp_path / "in", "/cam/image", [np.zeros((24, 32, 3), np.uint8)] * 2)
    line = _fails(["bag", str(src), "--topic", "/other", "-o", str(tmp_path / "o")], capsys, str(src), "/other",
                  "/cam/image")
    assert "not found" in line
    assert not (tmp_path / "o").exists()
    # an existing output bag is never overwritten
    (tmp_path / "exists").mkdir()
    _fails(["bag", str(src), "--topic", "/cam/image", "-o", str(tmp_path / "exists")], capsys, "exists",
           "already exists")
    _fails(["bag", str(src), "--topic", "/cam/image", "-o", str(tmp_path / "o3"), "--set",
            f"model={tmp_path / 'm.pt'}"], capsys, "m.pt")
    assert not (tmp_path / "o3").exists()
    not_a_bag = tmp_path / "x.txt"
    not_a_bag.write_text("hello")
    _fails(["bag", str(not_a_bag), "--topic", "/cam/image", "-o", str(tmp_path / "o2")], capsys, "x.txt")


def test_malformed_det_txt(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    seq = tmp_path / "SEQ"
    write_sequence(seq, [np.zeros((24, 32, 3), np.uint8)] * 3)
    det = tmp_path / "det.txt"
    det.write_text("1,-1,1,1,5,5,0.9\n2,-1,one,1,5,5,0.9\n")
    _fails(["mot", str(seq), "-o", str(tmp_path / "r.txt"), "--detections", str(det)], capsys, "det.txt", "line 2")
    det.write_text("1,-1,1,1,5\n")
    _fails(["mot", str(seq), "-o", str(tmp_path / "r.txt"), "--detections", str(det)], capsys, "det.txt",
           "at least 6 columns")
    det.write_text("9,-1,1,1,5,5,0.9\n")
    _fails(["mot", str(seq), "-o", str(tmp_path / "r.txt"), "--detections", str(det)], capsys, "det.txt",
           "frames 1..3")


def test_bad_parameters(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    seq = tmp_path / "SEQ"
    write_sequence(seq, [np.zeros((24, 32, 3), np.uint8)] * 2)
    _fails(["mot", str(seq), "-o", str(tmp_path / "r.txt"), "--set", "max_age=-3"], capsys, "max_age")
    _fails(["mot", str(seq), "-o", str(tmp_path / "r.txt"), "--set", "nonsense=1"], capsys, "nonsense")
    _fails(["mot", str(seq), "-o", str(tmp_path / "r.txt"), "--model", str(tmp_path / "missing.onnx")], capsys,
           "missing.onnx")


def test_console_script_reports_one_line(tmp_path: Path) -> None:
    """The installed entry point (or the module) behaves the same in a fresh process."""
    exe = REPO / ".venv" / "bin" / "mot_track"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "mot_ros.tools.mot_track"]
    p = subprocess.run([*cmd, "eval", str(tmp_path / "gt.txt"), str(tmp_path / "res.txt")], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [f"mot_track eval: error: ground truth {str(tmp_path / 'gt.txt')!r}: "
                                             f"no such file"]
