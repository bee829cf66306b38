"""The vectorised DeepSORT makes exactly deep-sort-realtime's decisions (IDs, states, matches)."""
from __future__ import annotations

import numpy as np
import pytest
from deep_sort_realtime.deep_sort import nn_matching
from deep_sort_realtime.deep_sort.detection import Detection
from deep_sort_realtime.deep_sort.tracker import Tracker as Reference

from mot_ros.core.config import Config
from mot_ros.core.fast_deepsort import FastTracker, SampleBank
from mot_ros.core.synthetic import churning_detections
from mot_ros.core.tracker import DeepSortTracker
from mot_ros.core.types import Detections


@pytest.mark.parametrize("seed, kw", [
    (0, {}),
    (1, dict(max_age=5, budget=3)),
    (2, dict(gating_only_position=True, budget=None)),
    (3, dict(n_init=1, max_age=60, threshold=0.4)),
    (4, dict(max_iou_distance=0.9, threshold=0.05)),
])
def test_same_decisions_as_deep_sort_realtime(seed: int, kw: dict) -> None:
    budget, threshold = kw.pop("budget", 10), kw.pop("threshold", 0.2)
    ref = Reference(nn_matching.NearestNeighborDistanceMetric("cosine", threshold, budget), **kw)
    fast = FastTracker(SampleBank(threshold, budget), **kw)
    for frame, rows in enumerate(churning_detections(seed, 45)):
        for t in (ref, fast):
            t.predict()
            t.update([Detection(b, c, e, class_name=k) for b, c, k, e in rows])
        a = [(t.track_id, t.state, t.hits, t.age, t.time_since_update, t.det_class, t.det_conf) for t in ref.tracks]
        b = [(t.track_id, t.state, t.hits, t.age, t.time_since_update, t.det_class, t.det_conf) for t in fast.tracks]
        assert a == b, f"frame {frame}"
        for x, y in zip(ref.tracks, fast.tracks):
            np.testing.assert_allclose(x.mean, y.mean, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(x.covariance, y.covariance, rtol=1e-9, atol=1e-9)
            if x.original_ltwh is not None:
                np.testing.assert_array_equal(x.original_ltwh, y.original_ltwh)
        assert sorted(ref.metric.samples) == sorted(fast.metric.samples)
        for k, v in ref.metric.samples.items():
            assert len(v) == len(fast.metric.samples[k])  # the budget counts the same samples
    assert ref._next_id == fast._next_id > 12


def test_sample_bank_budget_and_repeats() -> None:
    bank = SampleBank(0.2, budget=4)
    a, b = np.eye(3, dtype=np.float32)[:2]
    for f in (a, a, a, b, b):
        bank.add("1", f)
    assert len(bank.samples["1"]) == 4  # five appended, the oldest dropped
    assert bank.samples["1"].rows().shape == (2, 3)  # repeats stored once
    np.testing.assert_allclose(bank.nearest("1", np.array([[0, 1, 0]], np.float32)), [0.0])
    bank.samples["2"] = [a]  # a plain list, as code written for the reference metric does
    bank.add("2", b)
    assert bank.distance(np.array([a]), ["1", "2"]).shape == (2, 1)
    bank.retain(["2"])
    assert list(bank.samples) == ["2"]


def test_update_arrays_rejects_mismatched_lengths() -> None:
    t = FastTracker(SampleBank(0.2, 10))
    with pytest.raises(ValueError, match="expected 2 confidences"):
        t.update_arrays(np.zeros((2, 4), np.float32) + 1, np.ones(1), [0, 0], np.zeros((2, 4), np.float32))


class _ReferenceWithArrays(Reference):
    """deep-sort-realtime's Tracker fed as the adapter fed it before FastTracker."""

    def update_arrays(self, ltwh: np.ndarray, conf: np.ndarray, classes: list, feats: np.ndarray) -> None:
        self.update([Detection(b, float(c), f, class_name=k) for b, c, k, f in zip(ltwh, conf, classes, feats)])


def test_adapter_outputs_unchanged() -> None:
    """The legacy DeepSortTracker on FastTracker gives the outputs it gave on deep-sort-realtime's Tracker."""
    cfg = Config(n_init=2, max_age=10)
    fast, ref = DeepSortTracker(cfg), DeepSortTracker(cfg)
    fast._t = FastTracker(SampleBank(cfg.max_cosine_distance, cfg.nn_budget), max_iou_distance=cfg.max_iou_distance,
                          max_age=cfg.max_age, n_init=cfg.n_init)  # plain DeepSORT, whatever the adapter's default
    metric = nn_matching.NearestNeighborDistanceMetric("cosine", cfg.max_cosine_distance, cfg.nn_budget)
    ref._t = _ReferenceWithArrays(metric, max_iou_distance=cfg.max_iou_distance, max_age=cfg.max_age,
                                  n_init=cfg.n_init)
    for rows in churning_detections(7, 60):
        xyxy = np.array([[b[0], b[1], b[0] + b[2], b[1] + b[3]] for b, *_ in rows], np.float32).reshape(-1, 4)
        det = Detections(xyxy, [r[1] for r in rows], [r[2] for r in rows])
        emb = np.array([r[3] for r in rows], np.float32).reshape(len(rows), -1)
        out_f, out_r = fast.update(det, emb), ref.update(det, emb)
        key = [(o.track_id, o.class_id, o.matched) for o in out_r]
        assert [(o.track_id, o.class_id, o.matched) for o in out_f] == key
        for x, y in zip(out_f, out_r):
            np.testing.assert_allclose(x.xyxy, y.xyxy, atol=1e-6)
            assert x.score == y.score
