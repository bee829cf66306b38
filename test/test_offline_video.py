"""``mot_track video``: a synthetic video in, an annotated video and a tracks file out."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mot_ros.core.mot_format import load_rows
from mot_ros.core.synthetic import crossing_scene
from mot_ros.tools.mot_track import main, open_video_writer

from conftest import assert_ids_follow_truth

W, H, N, FPS = 320, 240, 12, 10.0
SCENES = list(crossing_scene(W, H, N))


@pytest.fixture(scope="module")
def synthetic_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "in.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    assert writer.isOpened()
    for f in SCENES:
        writer.write(f.image)
    writer.release()
    return path


def _probe(path: Path) -> tuple:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    out = (n, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
           cap.get(cv2.CAP_PROP_FPS))
    cap.release()
    return out


def test_video_round_trip(synthetic_video: Path, shapes_model: str, tmp_path: Path,
                          capsys: pytest.CaptureFixture) -> None:
    out, tracks = tmp_path / "out" / "annotated.mp4", tmp_path / "tracks.txt"
    rc = main(["video", str(synthetic_video), "-o", str(out), "--tracks", str(tracks), "--model", shapes_model,
               "--quiet"])
    assert rc == 0
    assert _probe(out) == (N, W, H, FPS)
    rows = load_rows(tracks, min_columns=10)
    assert rows.shape[1] == 10 and len(rows) > 0
    assert rows[:, 0].min() >= 1 and rows[:, 0].max() <= N
    assert np.all(rows[:, 1] >= 1) and np.all(rows[:, 4:6] > 0) and np.all(rows[:, 7:] == -1)
    # the three shapes (two of which cross) keep one ID each, nothing else is tracked
    assert_ids_follow_truth(rows, SCENES, min_frames=N // 2)
    summary = capsys.readouterr().out
    assert f"frames={N}" in summary and "unique_ids=" in summary and str(out) in summary and str(tracks) in summary


def test_video_progress_bar_on_request(synthetic_video: Path, shapes_model: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    assert main(["video", str(synthetic_video), "-o", str(tmp_path / "o.mp4"), "--model", shapes_model,
                 "--progress", "--set", "embedder=histogram"]) == 0
    err = capsys.readouterr().err
    assert f"{N}/{N}" in err and "frame/s" in err and "100%" in err  # tqdm: count, rate, percentage


def test_writer_falls_back_to_xvid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture) -> None:
    real = cv2.VideoWriter_fourcc

    def no_mp4v(*cc: str) -> int:
        return -2 if "".join(cc) == "mp4v" else real(*cc)  # an invalid fourcc: the writer will not open

    monkeypatch.setattr(cv2, "VideoWriter_fourcc", no_mp4v)
    writer, path, cc = open_video_writer(tmp_path / "o.mp4", 10.0, (64, 48))
    writer.release()
    if cc == "mp4v":  # this OpenCV build opened the invalid fourcc anyway; nothing to test
        pytest.skip("OpenCV accepted an invalid fourcc")
    assert cc == "XVID" and path.suffix == ".avi"
    assert "XVID" in capsys.readouterr().err
