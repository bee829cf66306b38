"""Camera-motion compensation keeps IDs through a panning, shaking camera; without it they break.

A synthetic scene (``mot_ros.core.synthetic.dev_scene('pan_steady')``: six slow
shapes that stay in view while the camera window sweeps, bobs and shakes) at
8 fps, so the camera moves up to about 30 pixels between frames while the
shapes barely move. The real shapes
detector runs once per frame on the CPU; two pipelines, identical but for
``cmc``, track the same detections, and TrackEval scores both against the exact
ground truth.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import pytest

from mot_ros.core.config import Config
from mot_ros.core.detector import YoloDetector
from mot_ros.core.evaluation import evaluate_arrays
from mot_ros.core.mot_format import track_rows
from mot_ros.core.pipeline import Pipeline
from mot_ros.core.synthetic import dev_scene
from mot_ros.core.types import Detections

FPS, SECONDS = 8, 5.0


@pytest.fixture(scope="module")
def panning_run(shapes_model: str) -> Tuple[List[np.ndarray], np.ndarray, List[Detections]]:
    """Frames, ground truth and the detector's detections (at the default floor) of the panning scene."""
    floor = min(Config().conf_threshold, Config().low_conf_threshold)
    detector = YoloDetector(shapes_model, "cpu")
    frames, gt, dets = [], [], []
    for img, rows in dev_scene("pan_steady", seed=5).frames(FPS, SECONDS):
        frames.append(img)
        gt += rows
        dets.append(detector.detect(img, 640, floor))
    detector.close()
    return frames, np.array(gt, float), dets


def _track(cmc: str, shapes_model: str, run: Tuple[List[np.ndarray], np.ndarray, List[Detections]]
           ) -> Dict[str, float]:
    frames, gt, dets = run
    config = Config(model=shapes_model, device="cpu", cmc=cmc)
    pipeline = Pipeline(config, load_detector=False)
    rows: list = []
    try:
        for i, (img, d) in enumerate(zip(frames, dets), 1):
            rows += track_rows(i, pipeline.process(img, stamp=i / FPS, detections=d).tracks)
    finally:
        pipeline.close()
    return evaluate_arrays(gt, np.array(rows, float), len(frames), name=f"pan-cmc-{cmc}").summary


def test_ids_persist_with_cmc_and_break_without(shapes_model: str, panning_run) -> None:
    frames, gt, _ = panning_run
    n_ids = len(np.unique(gt[:, 1]))
    assert len(frames) == FPS * SECONDS and n_ids == 6
    on = _track("sparse_flow", shapes_model, panning_run)
    off = _track("none", shapes_model, panning_run)
    # with compensation: no identity switch, one ID per object
    assert on["IDSW"] <= 1, f"cmc on: {on}"
    assert on["IDs"] <= n_ids + 1, f"cmc on: {on['IDs']} IDs for {n_ids} objects"
    assert on["IDF1"] >= 0.9, f"cmc on: {on}"
    # without it the same detections break identities: many switches and new IDs
    assert off["IDSW"] >= 10, f"cmc off: {off}"
    assert off["IDs"] >= 2 * n_ids, f"cmc off: {off['IDs']} IDs for {n_ids} objects"
    assert off["IDF1"] <= on["IDF1"] - 0.3, f"IDF1 cmc off {off['IDF1']:.3f} vs on {on['IDF1']:.3f}"


def test_prefetched_camera_motion_equals_inline(shapes_model: str, panning_run) -> None:
    """The estimate started on the worker thread before detection gives the same warps and tracks as inline."""
    from mot_ros.core.tracking.deepsort import DeepSortTracker

    frames, _, dets = panning_run
    config = Config(model=shapes_model, device="cpu", embedder="histogram", cmc="sparse_flow")
    inline, ahead = DeepSortTracker(config), DeepSortTracker(config)
    rng = np.random.default_rng(0)
    moved = 0
    for img, d in zip(frames, dets):
        emb = rng.normal(size=(len(d), 8)).astype(np.float32)
        ahead.prefetch(img)
        a, b = inline.update(d, emb, img), ahead.update(d, emb, img)
        np.testing.assert_array_equal(inline.cmc.last, ahead.cmc.last)
        assert [(t.track_id, t.xyxy) for t in a] == [(t.track_id, t.xyxy) for t in b]
        moved += not np.allclose(inline.cmc.last, np.eye(2, 3))
    assert moved > len(frames) // 2  # the camera moved: the warps compared are real ones
    ahead.prefetch(frames[0])  # a prefetch never consumed: reset waits for it and forgets it
    ahead.reset()
    assert ahead.update(dets[0], rng.normal(size=(len(dets[0]), 8)).astype(np.float32), frames[0]) is not None
    np.testing.assert_array_equal(ahead.cmc.last, np.eye(2, 3))  # first frame after the reset
