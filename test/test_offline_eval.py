"""Evaluation (TrackEval metrics on MOTChallenge files): reference numbers, perfect results, preprocessing."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA, needs_shared
from mot_ros.core.evaluation import evaluate_arrays, evaluate_files, prepare_sequence
from mot_ros.core.mot_format import load_rows, write_rows
from mot_ros.tools.mot_track import main

TUD = SHARED_DATA / "mot" / "TUD-Campus"
REFERENCE = SHARED_DATA / "mot" / "reference" / "TUD-Campus.mmtracking-tracker.txt"


def _gt(n_frames: int = 20, n_ids: int = 4, mot17: bool = False) -> np.ndarray:
    """Boxes moving right; MOT15 layout (10 columns) or MOT17 layout (9 columns, class 1)."""
    rows = []
    for f in range(1, n_frames + 1):
        for i in range(1, n_ids + 1):
            box = [10.0 + 5 * f, 30.0 * i, 20.0, 40.0]
            rows.append([f, i, *box, 1, 1, 1.0] if mot17 else [f, i, *box, 1, -1, -1, -1])
    return np.array(rows, float)


def _as_results(gt: np.ndarray) -> np.ndarray:
    res = np.full((len(gt), 10), -1.0)
    res[:, :6] = gt[:, :6]
    res[:, 6] = 1.0
    return res


@needs_shared
def test_reference_numbers_reproduced(capsys: pytest.CaptureFixture) -> None:
    r = evaluate_files(TUD / "gt" / "gt.txt", REFERENCE)
    s = r.summary
    assert round(s["HOTA"], 3) == 0.391
    assert round(s["MOTA"], 3) == 0.526
    assert round(s["IDF1"], 3) == 0.558
    assert (s["IDSW"], s["FP"], s["FN"]) == (7, 13, 150)
    # and through the CLI
    assert main(["eval", str(TUD / "gt" / "gt.txt"), str(REFERENCE)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"TUD-Campus\s+0\.391\s+0\.526\s+0\.558\s+7\s+13\s+150", out), out


@pytest.mark.parametrize("mot17", [False, True])
def test_perfect_results_score_one(tmp_path: Path, mot17: bool) -> None:
    gt = _gt(mot17=mot17)
    s = evaluate_arrays(gt, _as_results(gt), 20).summary
    assert s["HOTA"] == pytest.approx(1.0) and s["MOTA"] == pytest.approx(1.0) and s["IDF1"] == pytest.approx(1.0)
    assert (s["IDSW"], s["FP"], s["FN"]) == (0, 0, 0)
    # via files, with IDs renumbered (only consistency matters)
    res = _as_results(gt)
    res[:, 1] += 100
    g, r = tmp_path / "gt.txt", tmp_path / "res.txt"
    write_rows(g, gt)
    write_rows(r, res)
    assert evaluate_files(g, r).summary["IDF1"] == pytest.approx(1.0)


def test_swapped_ids_and_misses_are_counted() -> None:
    gt = _gt(n_frames=10, n_ids=2)
    res = _as_results(gt)
    res[(res[:, 0] > 5), 1] = 3 - res[(res[:, 0] > 5), 1]  # IDs 1 and 2 swap after frame 5
    res = res[~((res[:, 0] == 10) & (res[:, 1] == 1))]  # one miss
    s = evaluate_arrays(gt, res, 10).summary
    assert s["IDSW"] == 2 and s["FN"] == 1 and s["FP"] == 0
    assert s["IDF1"] < 1.0 and s["HOTA"] < 1.0


def test_conf_zero_and_non_pedestrian_rows_ignored() -> None:
    gt = _gt(n_frames=5, n_ids=2, mot17=True)
    extra = gt[gt[:, 1] == 1].copy()
    extra[:, 1] = 9
    extra[:, 3] += 200  # elsewhere
    extra[:, 7] = 3  # a car: not evaluated
    zero = gt[gt[:, 1] == 2].copy()
    zero[:, 1] = 10
    zero[:, 3] += 400
    zero[:, 6] = 0  # conf 0: ignored
    full = np.concatenate([gt, extra, zero])
    s = evaluate_arrays(full, _as_results(gt), 5).summary
    assert (s["FN"], s["FP"], s["GT_IDs"]) == (0, 0, 2)


def test_distractor_matches_removed_like_trackeval(tmp_path: Path) -> None:
    """A result box on a distractor (class 8) gt box is dropped, not an FP; compared with TrackEval's own loader."""
    trackeval = pytest.importorskip("trackeval")
    rng = np.random.default_rng(3)
    gt = _gt(n_frames=12, n_ids=3, mot17=True)
    distractor = gt[gt[:, 1] == 3].copy()
    distractor[:, 1] = 7
    distractor[:, 3] += 150
    distractor[:, 7] = 8
    gt = np.concatenate([gt, distractor])
    res = _as_results(gt)
    res[:, 2:4] += rng.normal(0, 2, size=(len(res), 2))
    res[res[:, 0] > 6, 1] += 20  # fragment identities half way
    ours = evaluate_arrays(gt, res, 12, name="SYN").summary
    assert ours["FP"] == 0  # the distractor boxes were removed
    # TrackEval end to end on the same files
    seq = tmp_path / "gt" / "SYN"
    (seq / "gt").mkdir(parents=True)
    write_gt = lambda p, a: p.write_text("".join(",".join(f"{v:g}" for v in r) + "\n" for r in a))  # noqa: E731
    write_gt(seq / "gt" / "gt.txt", gt)
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=SYN\nseqLength=12\n")
    (tmp_path / "seqmap.txt").write_text("name\nSYN\n")
    (tmp_path / "trk" / "t" / "data").mkdir(parents=True)
    write_rows(tmp_path / "trk" / "t" / "data" / "SYN.txt", res)
    ds = trackeval.datasets.MotChallenge2DBox({
        "GT_FOLDER": str(tmp_path / "gt"), "TRACKERS_FOLDER": str(tmp_path / "trk"), "SEQMAP_FILE":
        str(tmp_path / "seqmap.txt"), "SKIP_SPLIT_FOL": True, "TRACKERS_TO_EVAL": ["t"], "PRINT_CONFIG": False,
        "GT_LOC_FORMAT": "{gt_folder}/{seq}/gt/gt.txt", "BENCHMARK": "MOT17"})
    raw = ds.get_raw_seq_data("t", "SYN")
    data = ds.get_preprocessed_seq_data(raw, "pedestrian")
    mine = prepare_sequence(gt, res, 12, name="SYN")
    assert mine["num_tracker_dets"] == data["num_tracker_dets"]
    assert mine["num_gt_dets"] == data["num_gt_dets"]
    ref = trackeval.metrics.HOTA().eval_sequence(data)
    assert ours["HOTA"] == pytest.approx(float(np.mean(ref["HOTA"])), abs=1e-6)


def test_eval_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gt = tmp_path / "gt.txt"
    write_rows(gt, _gt(n_frames=3, n_ids=1))
    bad = tmp_path / "bad.txt"
    bad.write_text("1,1,10,10,5\n")
    assert main(["eval", str(gt), str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.txt" in err[0] and "line 1" in err[0] and "columns" in err[0]
    assert main(["eval", str(gt)]) == 2
    assert "pairs" in capsys.readouterr().err
    assert main(["eval", str(gt), str(tmp_path / "missing.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.txt" in err[0] and "Traceback" not in err[0]


def test_load_rows_validates(tmp_path: Path) -> None:
    p = tmp_path / "r.txt"
    p.write_text("1,1,1,1,2,2,1\n0,1,1,1,2,2,1\n")
    with pytest.raises(ValueError, match=r"line 2: expected an integer frame number >= 1"):
        load_rows(p)
    p.write_text("")
    assert load_rows(p).shape == (0, 6)
