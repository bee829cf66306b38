"""``mot_track mot`` and ``mot_track compare`` on a tiny synthetic MOTChallenge sequence."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mot_ros.core.mot_format import load_rows, read_detections, read_seqinfo, write_sequence
from mot_ros.core.synthetic import crossing_scene
from mot_ros.tools.mot_track import main

from conftest import assert_ids_follow_truth

W, H, N = 320, 240, 14
SCENES = list(crossing_scene(W, H, N))


@pytest.fixture(scope="module")
def sequence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MOTChallenge-layout sequence with gt (MOT15 layout) and public detections from the gt boxes."""
    frames, gt, det = [], [], []
    for i, f in enumerate(SCENES, 1):
        frames.append(f.image)
        for o in f.objects:
            x1, y1, x2, y2 = o.box()
            gt.append((i, o.obj_id, x1, y1, x2 - x1, y2 - y1, 1, -1, -1, -1))
            det.append((i, -1, x1 + 1, y1 - 1, x2 - x1, y2 - y1, 0.9))
    d = tmp_path_factory.mktemp("mot") / "SYN-01"
    write_sequence(d, frames, gt, frame_rate=10, det_rows=det)
    return d


def _last_line(out: str) -> str:
    return out.strip().splitlines()[-1]


def test_mot_with_model(sequence: Path, shapes_model: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "res" / "SYN-01.txt"
    assert main(["mot", str(sequence), "-o", str(out), "--model", shapes_model, "--quiet", "--eval"]) == 0
    text = capsys.readouterr().out
    m = re.fullmatch(r"frames=(\d+) ms_per_frame=(\d+\.\d)", _last_line(text))
    assert m and int(m.group(1)) == N and float(m.group(2)) > 0
    rows = load_rows(out, min_columns=10)
    assert rows.shape[1] == 10 and rows[:, 0].max() <= N
    assert_ids_follow_truth(rows, SCENES, min_frames=N // 2)  # one ID per shape, exactly three IDs
    assert "HOTA" in text and "SYN-01" in text


def test_mot_with_public_detections(sequence: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """No detector at all: detections from det.txt, appearance from the images; near-perfect tracking."""
    out = tmp_path / "pub.txt"
    rc = main(["mot", str(sequence), "-o", str(out), "--detections", str(sequence / "det" / "det.txt"),
               "--det-threshold", "0.5", "--set", "n_init=1", "--set", "embedder=histogram", "--quiet", "--eval"])
    assert rc == 0
    text = capsys.readouterr().out
    assert _last_line(text).startswith(f"frames={N} ms_per_frame=")
    from mot_ros.core.evaluation import evaluate_files

    s = evaluate_files(sequence / "gt" / "gt.txt", out).summary
    assert s["IDSW"] == 0 and s["IDF1"] > 0.95 and s["FP"] == 0
    assert_ids_follow_truth(load_rows(out, min_columns=10), SCENES, min_frames=N - 1)  # n_init=1: every frame


def test_det_threshold_filters(sequence: Path) -> None:
    info = read_seqinfo(sequence)
    assert sum(len(d) for d in read_detections(info.det_path).values()) == 3 * N
    assert read_detections(info.det_path, threshold=0.95) == {}


def test_compare_tiny_sequence(sequence: Path, shapes_model: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture) -> None:
    md, js = tmp_path / "cmp.md", tmp_path / "cmp.json"
    trackers = ["deepsort", "deepsort_realtime", "bytetrack", "botsort"]
    rc = main(["compare", str(sequence), "--model", shapes_model, "--markdown", str(md), "--json", str(js),
               "--trackers", ",".join(trackers), "--quiet", "--set", "embedder=histogram"])
    assert rc == 0
    out = capsys.readouterr().out
    for label in ("deepsort (configured)", "deepsort_realtime", "bytetrack", "botsort"):
        assert label in out
    doc = json.loads(js.read_text())
    assert [s["system"] for s in doc["systems"]] == trackers
    assert doc["detector"]["ms_per_frame"] > 0 and doc["detections"] == "detector"
    for s in doc["systems"]:
        assert set(s["metrics"]) >= {"HOTA", "MOTA", "IDF1", "IDSW", "FP", "FN"}
        assert s["ms_per_frame"] > 0 and s["frames"] == N
    ours = doc["systems"][0]["metrics"]
    assert ours["IDF1"] > 0.5  # three well separated shapes: the detector and tracker do their job
    table = md.read_text().splitlines()
    assert table[0].startswith("| tracker | HOTA | MOTA | IDF1 | IDSW | FP | FN | ms/frame |") and len(table) == 6


def test_compare_on_given_detections(sequence: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--detections: no detector at all; every tracker sees the same rows. Unknown names: the list of valid ones."""
    js = tmp_path / "cmp.json"
    rc = main(["compare", str(sequence), "--detections", str(sequence / "det" / "det.txt"), "--json", str(js),
               "--trackers", "bytetrack,deepsort_realtime", "--quiet", "--set", "embedder=histogram"])
    assert rc == 0
    doc = json.loads(js.read_text())
    assert doc["detections"].endswith("det.txt") and doc["detector"]["ms_per_frame"] == 0
    assert [s["system"] for s in doc["systems"]] == ["bytetrack", "deepsort_realtime"]
    assert all(s["metrics"]["IDF1"] > 0.9 for s in doc["systems"])  # exact boxes: both keep the three IDs
    capsys.readouterr()
    assert main(["compare", str(sequence), "--detections", str(sequence / "det" / "det.txt"),
                 "--trackers", "bytetrack,sort9", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--trackers: expected names from ['deepsort'" in err and "'sort9'" in err
