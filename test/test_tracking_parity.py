"""Our deepsort with its modern stages off makes deep-sort-realtime's decisions: same IDs, matches and boxes.

The reference is the library driven through its public API, as its tutorial does: ``DeepSort(...,
embedder=None)`` and ``update_tracks(raw_detections, embeds=...)``. Its tracks are turned into published
tracks the way our adapter always did (confirmed tracks; ``n_init`` 1 publishes a new track at once).
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np
import pytest
from deep_sort_realtime.deep_sort.track import TrackState
from deep_sort_realtime.deepsort_tracker import DeepSort

from mot_ros.core.config import Config
from mot_ros.core.synthetic import DetectionRow, churning_detections
from mot_ros.core.tracking.deepsort import STAGES_OFF, DeepSortTracker
from mot_ros.core.types import Detections, TrackedObject

PARITY = dict(conf_threshold=0.25, low_conf_threshold=0.25, **STAGES_OFF)


def to_inputs(rows: List[DetectionRow]) -> Tuple[Detections, np.ndarray, np.ndarray]:
    """Our Detections and embeddings, and the float32 ltwh boxes both trackers see."""
    ltwh = np.array([r[0] for r in rows], np.float32).reshape(-1, 4)
    xyxy = np.concatenate([ltwh[:, :2], ltwh[:, :2] + ltwh[:, 2:]], axis=1)
    det = Detections(xyxy, [r[1] for r in rows], [r[2] for r in rows])
    # the boxes as our tracker derives them from xyxy (float32), handed to the reference as well
    ltwh = np.concatenate([det.xyxy[:, :2], det.xyxy[:, 2:] - det.xyxy[:, :2]], axis=1)
    emb = np.array([r[3] for r in rows], np.float32).reshape(len(rows), 8)
    return det, emb, ltwh


def reference_publish(ds: DeepSort, cfg: Config, det: Detections, ltwh: np.ndarray,
                      emb: np.ndarray) -> List[TrackedObject]:
    """One frame through deep-sort-realtime's public API, published as our adapter always did."""
    raw = [(ltwh[i].tolist(), float(det.scores[i]), int(det.classes[i])) for i in range(len(det))]
    tracks = ds.update_tracks(raw, embeds=list(emb))
    out = []
    for tr in tracks:
        if tr.is_tentative() and tr.hits >= cfg.n_init:
            # the library checks n_init only on the next hit; n_init=1 publishes at once (public attributes only)
            tr.state = TrackState.Confirmed
            ds.tracker.metric.samples.setdefault(tr.track_id, []).extend(tr.features)
            tr.features = tr.features[-1:]
        if not tr.is_confirmed():
            continue
        matched = tr.time_since_update == 0
        if not matched and not cfg.publish_coasting:
            continue
        box = tr.to_ltrb(orig=matched and cfg.box_source == "detection")
        if not matched and (box[2] <= box[0] or box[3] <= box[1]):
            continue  # our publishing rule: a coasting prediction shrunk to nothing is not a box
        det_index = -1
        if matched:
            hit = np.flatnonzero((ltwh == tr.original_ltwh).all(axis=1))
            det_index = int(hit[0])
        out.append(TrackedObject(int(tr.track_id), int(tr.det_class), float(det.scores[det_index]) if matched
                                 else -1.0, tuple(box.tolist()), matched, tr.age, tr.time_since_update, det_index))
    return out


def assert_same(ours: List[TrackedObject], ref: List[TrackedObject], frame: int) -> None:
    key = [(o.track_id, o.class_id, o.matched, o.age, o.time_since_update, o.det_index) for o in ours]
    assert key == [(o.track_id, o.class_id, o.matched, o.age, o.time_since_update, o.det_index) for o in ref], \
        f"frame {frame}"
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a.xyxy, b.xyxy, rtol=1e-9, atol=1e-6, err_msg=f"frame {frame}")
        if b.matched:
            assert a.score == b.score


@pytest.mark.parametrize("seed, kw", [
    (0, {}),
    (1, dict(max_age=5, nn_budget=3)),
    (2, dict(gating_only_position=True, nn_budget=0)),
    (3, dict(n_init=1, max_age=60, max_cosine_distance=0.4)),
    (4, dict(max_iou_distance=0.9, max_cosine_distance=0.05)),
    (5, dict(n_init=3, box_source="detection", publish_coasting=True)),
    (6, dict(n_init=1, nn_budget=2, publish_coasting=True)),
])
def test_same_decisions_as_deep_sort_realtime(seed: int, kw: dict) -> None:
    cfg = Config(**{**PARITY, **kw})
    ds = DeepSort(max_iou_distance=cfg.max_iou_distance, max_age=cfg.max_age, n_init=cfg.n_init,
                  max_cosine_distance=cfg.max_cosine_distance, nn_budget=cfg.nn_budget or None,
                  gating_only_position=cfg.gating_only_position, embedder=None)
    ours = DeepSortTracker(cfg)
    assert not ours.needs_frame and ours.needs_appearance
    published = max_ref_id = 0
    for frame, rows in enumerate(churning_detections(seed, 60)):
        det, emb, ltwh = to_inputs(rows)
        ref_out = reference_publish(ds, cfg, det, ltwh, emb)
        our_out = ours.update(det, emb)
        assert_same(our_out, ref_out, frame)
        published += len(our_out)
        # every track, tentative ones included, in the same state
        a = [(str(t.track_id), int(t.state), t.hits, t.age, t.time_since_update) for t in ours.tracks]
        b = [(t.track_id, int(t.state), t.hits, t.age, t.time_since_update) for t in ds.tracker.tracks]
        assert a == b, f"frame {frame}"
        max_ref_id = max([max_ref_id] + [int(t.track_id) for t in ds.tracker.tracks])
        for x, y in zip(ours.tracks, ds.tracker.tracks):
            np.testing.assert_allclose(x.mean, y.mean, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(x.covariance, y.covariance, rtol=1e-9, atol=1e-9)
        # the appearance banks count the same samples
        samples = ds.tracker.metric.samples
        assert sorted(samples) == sorted(str(t.track_id) for t in ours.tracks if t.is_confirmed)
        for t in ours.tracks:
            if t.is_confirmed:
                assert len(t.bank) == len(samples[str(t.track_id)])
    assert published > 100
    assert ours.next_id == max_ref_id + 1 > 12


def test_ids_keep_counting_like_the_library_across_many_frames() -> None:
    """A long run with heavy churn: the next ID of both trackers stays equal."""
    cfg = Config(**{**PARITY, "n_init": 2, "max_age": 10})
    ds = DeepSort(max_iou_distance=cfg.max_iou_distance, max_age=cfg.max_age, n_init=cfg.n_init,
                  max_cosine_distance=cfg.max_cosine_distance, nn_budget=cfg.nn_budget, embedder=None)
    ours = DeepSortTracker(cfg)
    for frame, rows in enumerate(churning_detections(11, 300, n_objects=20)):
        det, emb, ltwh = to_inputs(rows)
        assert_same(ours.update(det, emb), reference_publish(ds, cfg, det, ltwh, emb), frame)
    ids = [int(t.track_id) for t in ds.tracker.tracks]
    assert max(ids) < ours.next_id and ours.next_id > 40


def test_empty_frames_and_degenerate_boxes() -> None:
    """Empty frames and zero-size boxes (dropped by both) do not break parity; det_index skips the dropped box."""
    cfg = Config(**PARITY)
    ds = DeepSort(max_iou_distance=cfg.max_iou_distance, max_age=cfg.max_age, n_init=cfg.n_init,
                  max_cosine_distance=cfg.max_cosine_distance, nn_budget=cfg.nn_budget, embedder=None)
    ours = DeepSortTracker(cfg)
    for frame, rows in enumerate(churning_detections(21, 40)):
        if frame % 7 == 3:
            rows = []
        det, emb, ltwh = to_inputs(rows)
        assert_same(ours.update(det, emb), reference_publish(ds, cfg, det, ltwh, emb), frame)
    # a zero-width box first: ours skips it; its det_index points past it
    det = Detections([[5, 5, 5, 50], [100, 100, 140, 200]], [0.9, 0.9], [0, 0])
    emb = np.eye(2, 8, dtype=np.float32)
    ours2 = DeepSortTracker(Config(**{**PARITY, "n_init": 1}))
    out = ours2.update(det, emb)
    assert [o.det_index for o in out] == [1]
