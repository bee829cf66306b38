"""The lost-track recovery stage (mot_ros.core.recovery) against plain DeepSORT (FastTracker)."""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from mot_ros.core.fast_deepsort import FastTracker, SampleBank
from mot_ros.core.recovery import RecoveringTracker, kalman_iou_cost


def _tracker(cls: type, n_init: int = 2) -> FastTracker:
    return cls(SampleBank(0.2, 100), max_iou_distance=0.7, max_age=30, n_init=n_init)


def _step(t: FastTracker, boxes: List[List[float]], feats: Optional[np.ndarray] = None) -> List[str]:
    ltwh = np.array(boxes, np.float32).reshape(-1, 4)
    if feats is None:
        feats = np.tile(np.eye(8, dtype=np.float32)[0], (len(ltwh), 1))
    t.predict()
    t.update_arrays(ltwh, np.ones(len(ltwh)), [0] * len(ltwh), feats)
    return [tr.track_id for tr in t.tracks if tr.is_confirmed() and tr.time_since_update == 0]


def _occlusion_run(cls: type) -> List[List[str]]:
    """One object walks right; hidden for 5 frames; comes back looking different (e.g. turned around)."""
    t = _tracker(cls)
    seen = []
    for f in range(20):
        x = 100.0 + 4 * f
        if 8 <= f < 13:
            seen.append(_step(t, []))
            continue
        look = np.eye(8, dtype=np.float32)[0 if f < 8 else 5][None]  # orthogonal: appearance cannot match
        seen.append(_step(t, [[x, 50.0, 40.0, 100.0]], look))
    return seen


def test_lost_track_takes_back_its_object() -> None:
    plain, recovering = _occlusion_run(FastTracker), _occlusion_run(RecoveringTracker)
    assert plain[7] == recovering[7] == ["1"]
    assert plain[-1] != ["1"]  # DeepSORT gives the returning object a new ID
    assert recovering[13:] == [["1"]] * 7  # the recovery stage keeps ID 1, at once on reappearance


def test_identical_to_deepsort_when_nothing_is_lost() -> None:
    rng = np.random.default_rng(0)
    a, b = _tracker(FastTracker, n_init=3), _tracker(RecoveringTracker, n_init=3)
    pos = rng.uniform(0, 500, size=(6, 2))
    vel = rng.uniform(-3, 3, size=(6, 2))
    feats = np.eye(8, dtype=np.float32)[:6]
    for f in range(40):
        boxes = [[*(p + f * v), 30.0, 60.0] for p, v in zip(pos, vel)]
        assert _step(a, boxes, feats) == _step(b, boxes, feats)
    assert b.recovered == 0


def test_confirmed_matches_are_never_taken() -> None:
    """A lost track overlapping an object that a live track already matched does not steal it."""
    t = _tracker(RecoveringTracker)
    look_a, look_b = np.eye(8, dtype=np.float32)[[0]], np.eye(8, dtype=np.float32)[[1]]
    for _ in range(4):  # A at x=100 and B at x=300
        _step(t, [[100, 50, 40, 100], [300, 50, 40, 100]], np.concatenate([look_a, look_b]))
    for _ in range(3):  # B disappears
        _step(t, [[100, 50, 40, 100]], look_a)
    ids = _step(t, [[100, 50, 40, 100], [300, 50, 40, 100]], np.concatenate([look_a, look_b]))
    assert sorted(ids) == ["1", "2"]


def test_kalman_iou_cost_any_age() -> None:
    t = _tracker(RecoveringTracker)
    for _ in range(3):
        _step(t, [[10, 10, 20, 40]])
    cost = kalman_iou_cost(t.tracks, np.array([[10, 10, 20, 40], [100, 100, 20, 40]], np.float32))
    assert cost[0, 0] < 0.05 and cost[0, 1] == 1.0
    assert kalman_iou_cost([], np.zeros((0, 4))).shape == (0, 0)
