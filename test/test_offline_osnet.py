"""The OSNet person re-ID embedder on real pedestrians (TUD-Campus; needs ../shared/data, skips otherwise)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mot_ros.core.embedders import make_embedder
from mot_ros.core.evaluation import evaluate_files
from mot_ros.core.mot_format import load_rows
from mot_ros.tools.mot_track import main

from conftest import OSNET_MODEL, SHARED_DATA, needs_shared

TUD = SHARED_DATA / "mot" / "TUD-Campus"
PAIRS = [(1, 20), (1, 40), (30, 60), (10, 50)]  # frames far apart: people moved, turned, were occluded

pytestmark = needs_shared


def _people(gt: np.ndarray, frame: int):  # type: ignore[no-untyped-def]
    img = cv2.imread(str(TUD / "img1" / f"{frame:06d}.jpg"))
    assert img is not None, f"frame {frame} of {TUD} is unreadable"
    rows = gt[gt[:, 0] == frame]
    return img, np.c_[rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]].astype(np.float32), rows[:, 1].astype(int)


def test_osnet_embeddings_reidentify_people() -> None:
    emb = make_embedder("osnet", device="cpu", model_path=str(OSNET_MODEL))
    gt = load_rows(TUD / "gt" / "gt.txt", min_columns=10)
    hits = total = 0
    same, other = [], []
    for a, b in PAIRS:
        img_a, box_a, id_a = _people(gt, a)
        img_b, box_b, id_b = _people(gt, b)
        fa, fb = emb.embed(img_a, box_a), emb.embed(img_b, box_b)
        assert fa.shape == (len(box_a), emb.dim) and fa.dtype == np.float32 and emb.dim == 512
        assert np.allclose(np.linalg.norm(fa, axis=1), 1.0, atol=1e-4), "embeddings must be L2-normalised"
        dist = 1.0 - fa @ fb.T
        for i, person in enumerate(id_a):
            if person in id_b:
                total += 1
                hits += int(id_b[int(np.argmin(dist[i]))] == person)
            for j, q in enumerate(id_b):
                (same if q == person else other).append(dist[i, j])
    assert total >= 15
    assert hits / total >= 0.75, f"nearest neighbour is the same person for only {hits}/{total}"
    assert np.mean(same) + 0.15 < np.mean(other), (np.mean(same), np.mean(other))
    # batching does not change a crop's embedding
    img, boxes, _ = _people(gt, 1)
    one = emb.embed(img, boxes[2:3])
    assert np.allclose(one, emb.embed(img, boxes)[2:3], atol=1e-4)
    assert emb.embed(img, boxes[:0]).shape == (0, emb.dim)


@pytest.mark.slow
def test_osnet_tracks_people_better_than_imagenet_features(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """With the same public detections, person re-ID swaps fewer identities than MobileNet's ImageNet features.

    (The default colour histograms do about as well as OSNet here: docs/tracking.md, "Appearance per embedder".)
    """
    scores = {}
    for name in ("osnet", "mobilenet"):
        out = tmp_path / f"{name}.txt"
        rc = main(["mot", str(TUD), "-o", str(out), "--detections", str(TUD / "det" / "det.txt"), "--quiet",
                   "--set", f"embedder={name}", "--set", f"embedder_model={OSNET_MODEL}"])
        assert rc == 0, capsys.readouterr().err
        scores[name] = evaluate_files(TUD / "gt" / "gt.txt", out).summary
    osnet, imagenet = scores["osnet"], scores["mobilenet"]
    assert osnet["IDSW"] < imagenet["IDSW"], (osnet, imagenet)
    assert osnet["IDF1"] > imagenet["IDF1"] + 0.03, (osnet["IDF1"], imagenet["IDF1"])
