"""The tracking core: Kalman filter, matching, camera motion, track life cycle and our deepsort's stages."""
from __future__ import annotations

from types import SimpleNamespace
from typing import List, Optional, Sequence

import cv2
import numpy as np
import pytest
from deep_sort_realtime.deep_sort.kalman_filter import KalmanFilter as ReferenceKF

from mot_ros.core.config import Config
from mot_ros.core.tracking.cmc import CameraMotion, auto_downscale, plausible
from mot_ros.core.tracking.deepsort import STAGES_OFF, DeepSortTracker
from mot_ros.core.tracking.kalman import KalmanFilter, ltwh_to_measurement
from mot_ros.core.tracking.matching import (covered_fraction, fuse_score, fused_cost, iou_distance, iou_matrix,
                                            linear_assignment, min_cost_matching, normalize)
from mot_ros.core.tracking.track import SampleBank, Track, TrackState
from mot_ros.core.types import Detections

PLAIN = dict(low_conf_threshold=0.35, **STAGES_OFF)


def _dets(boxes: Sequence[Sequence[float]], scores: Optional[Sequence[float]] = None) -> Detections:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Detections(boxes, np.full(len(boxes), 0.9) if scores is None else scores, np.zeros(len(boxes)))


def _feats(n: int, which: Optional[Sequence[int]] = None, dim: int = 8) -> np.ndarray:
    return np.eye(dim, dtype=np.float32)[list(range(n)) if which is None else list(which)]


# -- Kalman ---------------------------------------------------------------------
def test_kalman_xyah_matches_deep_sort_realtime() -> None:
    """Predict is bit-identical (new float32 states included); update and gating agree to rounding."""
    rng = np.random.default_rng(0)
    ref, kf = ReferenceKF(), KalmanFilter("xyah")
    ltwh = np.abs(rng.normal(100, 30, (5, 4))).astype(np.float32) + 10
    z = ltwh_to_measurement(ltwh, "xyah")
    mean, cov = kf.initiate(z)
    refs = [ref.initiate(zi) for zi in z]
    for i, (m, c) in enumerate(refs):
        np.testing.assert_array_equal(mean[i], m)
        np.testing.assert_array_equal(cov[i], c)
    fresh = np.ones(5, bool)
    for step in range(4):
        mean, cov = kf.predict(mean, cov, fresh)
        refs = [ref.predict(m, c) for m, c in refs]
        fresh[:] = False
        for i, (m, c) in enumerate(refs):
            if step == 0:  # from the same state: bit-identical
                np.testing.assert_array_equal(mean[i], m)
                np.testing.assert_array_equal(cov[i], c)
            np.testing.assert_allclose(mean[i], m, rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(cov[i], c, rtol=1e-9, atol=1e-9)
        zz = z + rng.normal(0, 2, z.shape).astype(np.float32)
        gd = kf.gating_distance(mean, cov, zz)
        for i, (m, c) in enumerate(refs):
            np.testing.assert_allclose(gd[i], ref.gating_distance(m, c, zz), rtol=1e-9)
        mean, cov = kf.update(mean, cov, zz)
        refs = [ref.update(m, c, zi) for (m, c), zi in zip(refs, zz)]
        for i, (m, c) in enumerate(refs):
            np.testing.assert_allclose(mean[i], m, rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(cov[i], c, rtol=1e-9, atol=1e-9)


def test_kalman_xywh_matches_ultralytics() -> None:
    from ultralytics.trackers.utils.kalman_filter import KalmanFilterXYWH

    ref, kf = KalmanFilterXYWH(), KalmanFilter("xywh")
    z = np.array([[100.0, 50.0, 30.0, 80.0], [300.0, 200.0, 60.0, 40.0]])
    mean, cov = kf.initiate(z)
    refs = [ref.initiate(zi) for zi in z]
    mean, cov = kf.predict(mean, cov)
    refs = [ref.predict(m, c) for m, c in refs]
    mean, cov = kf.update(mean, cov, z + 3)
    refs = [ref.update(m, c, zi + 3) for (m, c), zi in zip(refs, z)]
    for i, (m, c) in enumerate(refs):
        np.testing.assert_allclose(mean[i], m, rtol=1e-9)
        np.testing.assert_allclose(cov[i], c, rtol=1e-9)
    np.testing.assert_allclose(kf.to_ltwh(mean[:, :4] * 0 + z)[0], [85, 10, 30, 80])


def test_nsa_scales_measurement_noise_by_confidence() -> None:
    from ultralytics.trackers.utils.kalman_filter import KalmanFilterXYWH

    kf = KalmanFilter("xywh", nsa=True)
    mean, cov = kf.initiate(np.array([[100.0, 50.0, 30.0, 80.0]]))
    for conf in (0.3, 0.9, 0.99):
        _, s = kf.project(mean, cov, np.array([conf]))
        _, s_ref = KalmanFilterXYWH().project(mean[0], cov[0], conf)
        np.testing.assert_allclose(s[0], s_ref, rtol=1e-12)
    # a confident detection pulls the state further than a weak one
    z = np.array([[110.0, 50.0, 30.0, 80.0]])
    strong = kf.update(mean, cov, z, np.array([0.95]))[0][0, 0]
    weak = kf.update(mean, cov, z, np.array([0.2]))[0][0, 0]
    plain = KalmanFilter("xywh").update(mean, cov, z, np.array([0.95]))[0][0, 0]
    assert 100 < weak < strong < 110 and plain < strong


def test_warp_matches_ultralytics_multi_gmc_and_moves_xyah() -> None:
    from ultralytics.trackers.utils.stracks import multi_gmc

    a = np.deg2rad(3.0)
    h = np.array([[1.02 * np.cos(a), -1.02 * np.sin(a), 12.0], [1.02 * np.sin(a), 1.02 * np.cos(a), -7.0]])
    kf = KalmanFilter("xywh")
    mean, cov = kf.predict(*kf.initiate(np.array([[100.0, 50.0, 30.0, 80.0], [10.0, 20.0, 5.0, 9.0]])))
    tracks = [SimpleNamespace(mean=mean[i].copy(), covariance=cov[i].copy(), angle=None) for i in range(2)]
    multi_gmc(tracks, h)
    wm, wc = kf.warp(mean, cov, h)
    for i, t in enumerate(tracks):
        np.testing.assert_allclose(wm[i], t.mean, rtol=1e-6)
        np.testing.assert_allclose(wc[i], t.covariance, rtol=1e-6)
    kf = KalmanFilter("xyah")
    mean, cov = kf.initiate(np.array([[100.0, 50.0, 0.5, 80.0]]))
    shift = np.array([[1.0, 0.0, 12.0], [0.0, 1.0, -7.0]])
    wm, wc = kf.warp(mean, cov, shift)
    np.testing.assert_allclose(wm[0, :4], [112.0, 43.0, 0.5, 80.0])
    np.testing.assert_allclose(wc, cov)
    with pytest.raises(ValueError, match="2x3"):
        kf.warp(mean, cov, np.eye(3))


# -- matching -------------------------------------------------------------------
def test_iou_and_costs() -> None:
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 120]], np.float32)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    iou = iou_matrix(a, b)
    np.testing.assert_allclose(iou[0], [50 / 150, 1.0, 0.0])
    np.testing.assert_allclose(iou[1], 0.0)
    ltwh_a = np.c_[a[:, :2], a[:, 2:] - a[:, :2]]
    ltwh_b = np.c_[b[:, :2], b[:, 2:] - b[:, :2]]
    np.testing.assert_allclose(iou_distance(ltwh_a.astype(np.float64), ltwh_b), 1 - iou)
    np.testing.assert_allclose(fuse_score(np.array([[0.2, 0.6]]), np.array([0.5, 1.0])), [[0.6, 0.6]])
    # BoT-SORT: appearance only for overlapping (IoU distance <= 0.5) and similar (cos/2 <= 0.25) pairs
    iou_d = np.array([[0.3, 0.3, 0.8]])
    cos = np.array([[0.2, 0.9, 0.0]])
    np.testing.assert_allclose(fused_cost(iou_d, cos, 0.5, 0.25), [[0.1, 0.3, 0.8]])
    n = normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(n, [[0.6, 0.8], [0.0, 0.0]])


def test_linear_assignment_and_deepsort_order() -> None:
    cost = np.array([[0.1, 0.9, 0.5], [0.2, 0.15, 0.95]])
    m, ur, uc = linear_assignment(cost, 0.4)
    assert m == [(0, 0), (1, 1)] and ur == [] and uc == [2]
    m, ur, uc = linear_assignment(cost, 0.12)
    assert m == [(0, 0)] and ur == [1] and uc == [1, 2]
    assert linear_assignment(np.zeros((0, 3)), 0.5) == ([], [], [0, 1, 2])
    # DeepSORT's order: unassigned detections first, then the rejected assignments
    m, ut, ud = min_cost_matching(cost.copy(), 0.12, [7, 8], [20, 21, 22])
    assert m == [(7, 20)] and ut == [8] and ud[-1] == 21 and sorted(ud) == [21, 22]


# -- appearance -----------------------------------------------------------------
def test_sample_bank_budget_and_repeats() -> None:
    bank = SampleBank()
    a, b = np.eye(3, dtype=np.float32)[:2]
    for f in (a, a, a, b, b):
        bank.append(f, 4)
    assert len(bank) == 4  # five appended, the oldest dropped
    assert bank.rows().shape == (2, 3)  # repeats stored once
    np.testing.assert_allclose(bank.nearest(np.array([[0, 1, 0]], np.float32)), [0.0])
    for _ in range(4):
        bank.append(b, 4)
    assert bank.rows().shape == (1, 3)  # a's last sample aged out by b's repeats
    with pytest.raises(ValueError, match="expected 3 dimensions"):
        bank.append(np.ones(5, np.float32), 4)


def test_track_life_cycle_and_ema() -> None:
    f = _feats(3)
    t = Track(1, np.zeros(8), np.eye(8), np.ones(4, np.float32), 0.9, 0, 0, f[0], "ema", 0.5)
    assert t.is_tentative and t.hits == 1 and t.age == 1
    t.predicted()
    t.matched(np.ones(4, np.float32), 0.8, 2, 3, f[1], n_init=2)
    assert t.is_confirmed and t.class_id == 2 and t.det_index == 3 and t.score == pytest.approx(0.8)
    np.testing.assert_allclose(t.ema, (f[0] + f[1]) / np.sqrt(2), rtol=1e-6)  # 0.5 old + 0.5 new, renormalised
    np.testing.assert_allclose(t.appearance_distance(f), [1 - 1 / np.sqrt(2)] * 2 + [1.0], rtol=1e-6)
    for _ in range(3):
        t.predicted()
        t.missed(max_age=3)
    assert t.is_confirmed
    t.predicted()
    t.missed(max_age=3)
    assert t.state == TrackState.DELETED
    tentative = Track(2, np.zeros(8), np.eye(8), np.ones(4, np.float32), 0.9, 0, 0, None)
    tentative.predicted()
    tentative.missed(max_age=30)
    assert tentative.is_deleted


def test_track_long_term_average() -> None:
    """The slow average moves with long_term_alpha and counts only for a track unmatched long enough."""
    f = _feats(2)
    t = Track(1, np.zeros(8), np.eye(8), np.ones(4, np.float32), 0.9, 0, 0, f[0], "ema", 0.5, long_term_alpha=0.9)
    t.matched(np.ones(4, np.float32), 0.9, 0, 0, f[1], n_init=1)
    np.testing.assert_allclose(t.long_term, normalize((0.9 * f[0] + 0.1 * f[1])[None])[0], rtol=1e-6)
    near_old = 1.0 - float(t.long_term[0])  # distance from f[0] to the slow average
    assert near_old < 0.01 and t.appearance_distance(f[:1])[0] == pytest.approx(1 - 1 / np.sqrt(2), rel=1e-6)
    for _ in range(3):
        t.predicted()
    assert t.time_since_update == 3
    assert t.appearance_distance(f[:1], long_term_after=3)[0] == pytest.approx(1 - 1 / np.sqrt(2), rel=1e-6)
    assert t.appearance_distance(f[:1], long_term_after=2)[0] == pytest.approx(near_old, abs=1e-6)
    assert Track(2, np.zeros(8), np.eye(8), np.ones(4, np.float32), 0.9, 0, 0, f[0], "ema").long_term is None


# -- camera motion ----------------------------------------------------------------
def _texture(h: int = 480, w: int = 640, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    for _ in range(60):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(5, 40)), y + int(rng.integers(5, 40))),
                      tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
    return img


@pytest.mark.parametrize("method, dx, dy", [("sparse_flow", 14, -9), ("orb", 14, -9),
                                            ("ecc", 6, -4)])  # ECC is a local search: small shifts only
def test_cmc_recovers_a_synthetic_shift(method: str, dx: int, dy: int) -> None:
    world = _texture(560, 760)
    first = world[40:520, 40:680]
    second = world[40 - dy:520 - dy, 40 - dx:680 - dx]  # the camera moved: content shifts by (+dx, +dy)
    cmc = CameraMotion(method, downscale=2)
    np.testing.assert_array_equal(cmc.apply(first), np.eye(2, 3))  # first frame: identity, frame stored
    h = cmc.apply(second)
    np.testing.assert_allclose(h[:, :2], np.eye(2), atol=0.02)
    np.testing.assert_allclose(h[:, 2], [dx, dy], atol=1.5)


def test_cmc_finds_the_background_behind_contrasted_people() -> None:
    """A faint background behind twelve high-contrast "people" (dark, with bright bands) that the detector boxed.

    Sparse flow takes the strongest corners first and drops those on detections; what is left must still be
    enough background to follow a pan. With the 100 corners of stop 14 none was left and the warp was the
    identity.
    """
    rng = np.random.default_rng(3)
    world = cv2.resize(rng.integers(100, 156, (70, 95, 3), dtype=np.uint8), (760, 560),
                       interpolation=cv2.INTER_NEAREST)  # faint blocks: corners weaker than the people's
    boxes = []
    for k in range(12):
        x, y = 50 + (k % 9) * 76, 100 + 150 * (k // 9) + 30 * (k % 3)
        world[y:y + 140, x:x + 50] = 20
        for j in range(3):
            world[y + 20 + 40 * j:y + 30 + 40 * j, x + 8:x + 42] = 230
        boxes.append([x - 40, y - 40, x + 10, y + 100])  # in the first view's pixels
    cmc = CameraMotion("sparse_flow", downscale=2)
    dx, dy = 6, -4
    first = np.array(boxes, np.float64)
    cmc.apply(world[40:520, 40:680], first)
    assert cmc.background_points >= 12, cmc.background_points
    h = cmc.apply(world[40 - dy:520 - dy, 40 - dx:680 - dx], first + [dx, dy, dx, dy])
    np.testing.assert_allclose(h[:, 2], [dx, dy], atol=0.5)


def test_implausible_estimates_are_refused() -> None:
    """A zoom, a roll or a jump no camera makes between two frames is not a warp (the identity is used)."""
    def similarity(scale: float, degrees: float, tx: float = 0.0) -> np.ndarray:
        c, s = scale * np.cos(np.radians(degrees)), scale * np.sin(np.radians(degrees))
        return np.array([[c, -s, tx], [s, c, 0.0]])

    assert plausible(similarity(1.02, 1.0, 30.0), 640, 480)
    assert plausible(similarity(1.0, -4.5), 640, 480)
    assert not plausible(similarity(1.0, 13.8), 640, 480)  # the roll fitted to 14 corners on a static camera
    assert not plausible(similarity(1.0, -6.0), 640, 480)
    assert not plausible(similarity(1.3, 0.0), 640, 480)
    assert not plausible(similarity(1.0, 0.0, 200.0), 640, 480)


def test_cmc_first_frame_none_size_change_and_method_change() -> None:
    img = _texture()
    cmc = CameraMotion("sparse_flow", downscale=0)
    assert cmc.apply(None).tolist() == np.eye(2, 3).tolist()
    assert cmc.apply(np.zeros((0, 0, 3), np.uint8)).tolist() == np.eye(2, 3).tolist()
    cmc.apply(img)
    shifted = np.roll(img, 6, axis=1)
    assert cmc.apply(None).tolist() == np.eye(2, 3).tolist()  # a missing frame keeps the previous one
    assert abs(cmc.apply(shifted)[0, 2] - 6) < 1.0
    assert cmc.apply(cv2.resize(img, (320, 240))).tolist() == np.eye(2, 3).tolist()  # new size: restart
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    cmc.configure("ecc", 2)  # a new method restarts (GMC cannot switch)
    assert cmc.apply(grey).tolist() == np.eye(2, 3).tolist()
    assert abs(cmc.apply(np.roll(grey, 6, axis=1))[0, 2] - 6) < 1.0
    assert CameraMotion("none").apply(img).tolist() == np.eye(2, 3).tolist()
    assert auto_downscale(1920) == 6 and auto_downscale(640) == 2 and auto_downscale(100) == 1
    with pytest.raises(ValueError, match="cmc"):
        CameraMotion("sift")


# -- our deepsort -------------------------------------------------------------------
def _run(tracker: DeepSortTracker, frames: List[List[List[float]]], scores=None, feats=None, images=None):
    out = []
    for i, boxes in enumerate(frames):
        d = _dets(boxes, None if scores is None else scores[i])
        e = _feats(len(boxes)) if feats is None else feats[i]
        out.append(tracker.update(d, e, None if images is None else images[i]))
    return out


def test_det_index_points_at_the_matched_detection() -> None:
    t = DeepSortTracker(Config(n_init=1, **PLAIN))
    rng = np.random.default_rng(3)
    base = np.array([[10, 10, 50, 90], [200, 40, 240, 120], [400, 300, 450, 400]], np.float32)
    first = None
    for f in range(10):
        order = rng.permutation(3)
        boxes = base[order] + f * 2
        out = t.update(_dets(boxes), _feats(3, order))
        assert len(out) == 3
        for o in out:
            assert o.matched and 0 <= o.det_index < 3
            np.testing.assert_allclose(o.xyxy, boxes[o.det_index], atol=3)
        ids = {o.track_id: int(order[o.det_index]) for o in out}
        first = first or ids
        assert ids == first and sorted(ids) == [1, 2, 3]  # each object keeps its ID whatever its list position


def test_first_id_reset_and_next_id() -> None:
    t = DeepSortTracker(Config(n_init=1, **PLAIN), first_id=41)
    out = t.update(_dets([[0, 0, 10, 20], [50, 50, 60, 70]]), _feats(2))
    assert sorted(o.track_id for o in out) == [41, 42] and t.next_id == 43 and t.num_tracks == 2
    t.reset()
    assert t.num_tracks == 0
    out = t.update(_dets([[0, 0, 10, 20]]), _feats(1))
    assert [o.track_id for o in out] == [43]  # IDs keep counting after a reset
    with pytest.raises(ValueError, match="first_id"):
        DeepSortTracker(Config(), first_id=0)


def test_bad_embeddings_are_refused() -> None:
    t = DeepSortTracker(Config(**PLAIN))
    with pytest.raises(ValueError, match="expected one embedding per detection \\(2\\), got None"):
        t.update(_dets([[0, 0, 10, 20], [50, 50, 60, 70]]), None)
    with pytest.raises(ValueError, match="got 1"):
        t.update(_dets([[0, 0, 10, 20], [50, 50, 60, 70]]), _feats(1))
    fused_iou_only = DeepSortTracker(Config(**{**PLAIN, "association": "fused", "appearance_threshold": 0.0}))
    assert not fused_iou_only.needs_appearance and not fused_iou_only.needs_frame
    assert fused_iou_only.update(_dets([[0, 0, 10, 20]]), None) == []
    assert DeepSortTracker(Config(**{**PLAIN, "cmc": "orb"})).needs_frame


def test_low_conf_threshold_refused_above_conf_threshold() -> None:
    with pytest.raises(ValueError, match=r"low_conf_threshold: expected a value <= conf_threshold \(0.3\), got 0.5"):
        Config(conf_threshold=0.3, low_conf_threshold=0.5)


def _fading(scores_mid: float) -> tuple:
    """One object walking right; its score drops to ``scores_mid`` for frames 5-9 (partly occluded)."""
    frames = [[[100.0 + 6 * f, 50.0, 140.0 + 6 * f, 150.0]] for f in range(15)]
    scores = [[0.9] if not 5 <= f < 10 else [scores_mid] for f in range(15)]
    return frames, scores


def test_second_association_keeps_the_track_on_low_scores() -> None:
    frames, scores = _fading(0.2)
    on_cfg = Config(n_init=2, max_age=2, conf_threshold=0.5, **{**PLAIN, "low_conf_threshold": 0.1})
    on = _run(DeepSortTracker(on_cfg), frames, scores)
    assert [[(o.track_id, o.matched) for o in f] for f in on[1:]] == [[(1, True)]] * 14
    assert on[7][0].det_index == 0 and on[7][0].score == pytest.approx(0.2)
    # stage off (floor = threshold): the low detections are ignored, the track is lost and a new ID follows
    off = _run(DeepSortTracker(on_cfg.replace(low_conf_threshold=0.5)), frames, scores)
    assert all(not f for f in off[5:10]) and off[-1][0].track_id != 1
    # low detections never start tracks
    t = DeepSortTracker(Config(n_init=1, conf_threshold=0.5, **{**PLAIN, "low_conf_threshold": 0.1}))
    assert t.update(_dets([[0, 0, 10, 20]], [0.3]), _feats(1)) == [] and t.num_tracks == 0


def test_stages_track_a_simple_scene() -> None:
    """Every stage combination tracks two crossing objects of different looks without an ID switch."""
    frames = [[[100.0 + 8 * f, 100.0, 140.0 + 8 * f, 200.0], [400.0 - 8 * f, 110.0, 440.0 - 8 * f, 210.0]]
              for f in range(40)]
    feats = [_feats(2) for _ in frames]
    for kw in (dict(association="fused"), dict(appearance_features="ema"), dict(kalman_state="xywh"),
               dict(nsa_kalman=True), dict(fuse_score=True), dict(recovery=True),
               dict(association="fused", kalman_state="xywh", appearance_features="ema", nsa_kalman=True,
                    fuse_score=True, recovery=True, low_conf_threshold=0.1)):
        t = DeepSortTracker(Config(n_init=2, **{**PLAIN, **kw}))
        out = _run(t, frames, feats=feats)
        for f, o in enumerate(out[1:], 1):
            got = {x.track_id: x.det_index for x in o}
            assert got == {1: 0, 2: 1}, (kw, f, got)


def test_fused_association_uses_appearance_only_when_boxes_overlap() -> None:
    """Two objects swap places between frames: IoU alone would swap IDs; the fused cost keeps them."""
    cfg = Config(n_init=1, max_iou_distance=0.9, **{**PLAIN, "association": "fused"})
    t = DeepSortTracker(cfg)
    a, b = [100.0, 100.0, 140.0, 200.0], [110.0, 100.0, 150.0, 200.0]  # heavily overlapping
    t.update(_dets([a, b]), _feats(2))
    out = t.update(_dets([b, a]), _feats(2, [1, 0]))  # positions swapped, looks follow the objects
    assert {o.track_id: o.det_index for o in out} == {1: 1, 2: 0}


def _occlusion_run(recovery: bool) -> List[List[int]]:
    """One object walks right; hidden for 5 frames; comes back looking different (e.g. turned around)."""
    t = DeepSortTracker(Config(n_init=2, max_age=30, max_cosine_distance=0.2, nn_budget=100,
                               **{**PLAIN, "recovery": recovery}))
    seen = []
    for f in range(20):
        x = 100.0 + 4 * f
        if 8 <= f < 13:
            seen.append([o.track_id for o in t.update(_dets([]), _feats(0))])
            continue
        look = _feats(1, [0 if f < 8 else 5])  # orthogonal: appearance cannot match
        seen.append([o.track_id for o in t.update(_dets([[x, 50.0, x + 40, 150.0]]), look)])
    return seen


def test_recovery_lost_track_takes_back_its_object() -> None:
    plain, recovering = _occlusion_run(False), _occlusion_run(True)
    assert plain[7] == recovering[7] == [1]
    assert plain[-1] != [1]  # DeepSORT gives the returning object a new ID
    assert recovering[13:] == [[1]] * 7  # the recovery stage keeps ID 1, at once on reappearance


def test_recovery_changes_nothing_when_nothing_is_lost() -> None:
    rng = np.random.default_rng(0)
    pos, vel = rng.uniform(0, 500, (6, 2)), rng.uniform(-3, 3, (6, 2))
    a = DeepSortTracker(Config(n_init=3, **PLAIN))
    b = DeepSortTracker(Config(n_init=3, **{**PLAIN, "recovery": True}))
    for f in range(40):
        boxes = [[*(p + f * v), *(p + f * v + [30.0, 60.0])] for p, v in zip(pos, vel)]
        ra, rb = a.update(_dets(boxes), _feats(6)), b.update(_dets(boxes), _feats(6))
        assert [(o.track_id, o.det_index) for o in ra] == [(o.track_id, o.det_index) for o in rb]
    assert b.recovered == 0


def test_recovery_never_takes_a_confirmed_match() -> None:
    """A lost track overlapping an object that a live track already matched does not steal it."""
    t = DeepSortTracker(Config(n_init=2, **{**PLAIN, "recovery": True}))
    two = _feats(2)
    for _ in range(4):
        t.update(_dets([[100, 50, 140, 150], [300, 50, 340, 150]]), two)
    for _ in range(3):
        t.update(_dets([[100, 50, 140, 150]]), two[:1])
    out = t.update(_dets([[100, 50, 140, 150], [300, 50, 340, 150]]), two)
    assert sorted(o.track_id for o in out) == [1, 2]


def test_cmc_keeps_ids_through_a_camera_jump() -> None:
    """The camera pans 60 px in one frame: with GMC the tracks follow, without it they are lost."""
    world = _texture(600, 1000, seed=4)
    objs = [[300.0, 200.0], [500.0, 260.0], [650.0, 180.0]]

    def frame(cam_x: int) -> tuple:
        img = world[60:540, cam_x:cam_x + 640].copy()
        boxes = [[x - cam_x, y, x - cam_x + 30, y + 70] for x, y in objs]
        for b in boxes:
            cv2.rectangle(img, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), (0, 0, 255), -1)
        return img, boxes

    def run(cmc: str) -> List[set]:
        t = DeepSortTracker(Config(n_init=2, max_iou_distance=0.7, **{**PLAIN, "cmc": cmc}))
        ids = []
        for cam_x in (100, 100, 100, 100, 160, 160, 160):
            img, boxes = frame(cam_x)
            # appearance cannot help: all objects look alike to a colour-blind embedder
            ids.append({o.track_id for o in t.update(_dets(boxes), np.tile(_feats(1), (3, 1)), img)})
        return ids

    on, off = run("sparse_flow"), run("none")
    assert on[3] == on[-1] == {1, 2, 3}
    assert off[3] == {1, 2, 3} and off[-1] != {1, 2, 3}


def test_confirm_first_frame_reports_objects_in_view_at_once() -> None:
    """Tracks born on the first frame (and the first after a reset) are confirmed at once (ByteTrack's rule)."""
    boxes = [[10, 10, 50, 90], [200, 10, 240, 90]]
    on = DeepSortTracker(Config(n_init=3, **{**PLAIN, "confirm_first_frame": True}))
    off = DeepSortTracker(Config(n_init=3, **PLAIN))
    assert sorted(o.det_index for o in on.update(_dets(boxes), _feats(2))) == [0, 1]
    assert off.update(_dets(boxes), _feats(2)) == []
    late = [[400, 10, 440, 90]]  # a later newcomer waits n_init frames as usual
    for f in range(3):
        out = on.update(_dets(boxes + late), _feats(3))
        assert sorted(o.det_index for o in out) == ([0, 1] if f < 2 else [0, 1, 2])
    on.reset()
    ids = {o.track_id for o in on.update(_dets(late), _feats(1))}
    assert len(ids) == 1 and min(ids) > 3  # confirmed at once after the reset, and IDs keep counting up


def test_duplicate_box_of_a_tracked_object_starts_no_track() -> None:
    """A partial box inside a tracked object's full box (a detector duplicate) starts no track unless disabled."""
    full, part = [100, 100, 160, 160], [100, 120, 160, 160]  # IoU 0.67: the lower part of the same object
    other = [300, 100, 360, 160]  # a real newcomer, far away
    for dup, expect_new in ((0.6, 1), (1.0, 2)):
        t = DeepSortTracker(Config(n_init=1, **{**PLAIN, "duplicate_iou": dup}))
        t.update(_dets([full]), _feats(1))
        ids = {o.track_id for o in t.update(_dets([full, part, other]), _feats(3))}
        assert len(ids) == 1 + expect_new, (dup, ids)  # the tracked object, plus the newcomer (and the duplicate)
        assert 1 in ids


def _hidden_then_back(lost_size_gate: bool, back_feature: int = 0, cmc: str = "none", gap: int = 5,
                      step: float = 4.0, pan: int = 60, occluder: bool = False) -> List[List[int]]:
    """A walker seen whole, then only as shrinking low-score boxes (legs hidden), then not at all, then whole again.

    With ``cmc`` on, the camera jumps ``pan`` px right during the gap (the frames are a panning textured world).
    With ``occluder``, the partial boxes score high and the box of somebody in front covers most of each.
    Returns the published IDs of the last three frames.
    """
    world = _texture(600, 1100, seed=7)
    stages = {**PLAIN, "low_conf_threshold": 0.1, "recovery": True, "cmc": cmc, "lost_size_gate": lost_size_gate}
    cfg = Config(n_init=2, conf_threshold=0.6, **stages)
    t = DeepSortTracker(cfg)
    feats = _feats(2)
    frame_no, cam_x = 0, 200

    def update(height: Optional[float], score: float, feature: int, front: bool = False) -> List[int]:
        nonlocal frame_no
        x = 300.0 + step * frame_no - cam_x  # the walker's left edge in the image
        boxes = [] if height is None else [[x, 100.0, x + 50.0, 100.0 + height]]
        if front:
            boxes.append([x - 10.0, 120.0, x + 60.0, 330.0])
        img = world[60:540, cam_x:cam_x + 640].copy()
        frame_no += 1
        out = t.update(_dets(boxes, ([score] + [0.9] * (len(boxes) - 1)) if boxes else []),
                       feats[[feature, 1][:len(boxes)]],
                       img if cmc != "none" else None)
        return [o.track_id for o in out if o.det_index == 0]

    for _ in range(5):
        update(150.0, 0.9, 0)
    for h in (130.0, 110.0, 90.0, 70.0, 55.0):  # partial boxes: by the second association, or high behind somebody
        update(h, 0.8 if occluder else 0.3, 0, occluder)
    for g in range(gap):
        cam_x += pan if (cmc != "none" and g == 0) else 0
        update(None, 0.0, 0)
    return [update(150.0, 0.9, back_feature) for _ in range(3)]


def test_lost_size_gate_gives_a_walker_back_their_id_after_partial_boxes() -> None:
    """Partial boxes shrink the track and drag it up; the last full view, moved on at its velocity, still gates."""
    for gap in (2, 5, 10):
        assert _hidden_then_back(True, gap=gap, step=8.0) == [[1]] * 3, gap
        assert _hidden_then_back(False, gap=gap, step=8.0)[-1] not in ([1], []), gap  # DeepSORT's gate: a new ID


def test_lost_size_gate_still_needs_the_appearance() -> None:
    """Only the motion gate widens: somebody who looks different gets a new ID."""
    assert _hidden_then_back(True, back_feature=1)[-1] not in ([1], [])


def test_lost_size_gate_follows_the_camera() -> None:
    """The last full view is warped by camera motion like the track: a 60 px pan during the gap keeps the ID."""
    assert _hidden_then_back(True, cmc="sparse_flow", step=0.0, gap=2) == [[1]] * 3
    assert _hidden_then_back(False, cmc="sparse_flow", step=0.0, gap=2)[-1] not in ([1], [])


def test_lost_size_gate_ignores_views_that_another_box_covers() -> None:
    """High-score partial boxes behind somebody in front are not full views: the walker still gets their ID back."""
    assert _hidden_then_back(True, occluder=True) == [[1]] * 3
    assert _hidden_then_back(False, occluder=True)[-1] not in ([1], [])


def _turned_while_hidden(distinct: float, other: str = "distinct", gap: int = 4, back: float = 40.0) -> List[int]:
    """Return the IDs published for a walker seen again after turning while hidden.

    The walker (100 px tall) goes right at 10 px a frame, is hidden for ``gap`` frames, turns, and is seen again
    ``back`` px left of where they vanished: beyond the Kalman gate of the track's prediction, which went on to the
    right. Somebody else stands still far away all along; ``other``: how much they look like the walker (distinct,
    close or same).
    """
    t = DeepSortTracker(Config(n_init=2, **{**PLAIN, "distinct_appearance": distinct}))
    e = np.eye(8, dtype=np.float32)
    walker, seen_again = e[0], normalize((e[0] + 0.2 * e[3])[None])[0]  # cosine distance 0.02 between the two
    look = {"distinct": e[1], "close": normalize((e[0] + 0.1 * e[4])[None])[0], "same": seen_again}[other]
    still = [500.0, 300.0, 540.0, 400.0]
    for f in range(6):
        x = 100.0 + 10.0 * f
        t.update(_dets([[x, 100.0, x + 40.0, 200.0], still]), np.stack([walker, look]))
    for _ in range(gap):
        t.update(_dets([still]), look[None])
    x = 150.0 - back
    out = t.update(_dets([[x, 100.0, x + 40.0, 200.0], still]), np.stack([seen_again, look]))
    return [o.track_id for o in out if o.det_index == 0]


def test_distinct_appearance_keeps_the_id_of_a_walker_who_turned_while_hidden() -> None:
    """Outside the Kalman gate, an unambiguous close look still matches; DeepSORT's gate alone gives a new ID."""
    assert _turned_while_hidden(0.1) == [1]
    assert _turned_while_hidden(0.0) != [1]


def test_distinct_appearance_refuses_an_ambiguous_look() -> None:
    """Somebody else looking (almost) the same makes the look ambiguous: the gate stays closed."""
    assert _turned_while_hidden(0.1, other="close") != [1]
    assert _turned_while_hidden(0.1, other="same") != [1]


def test_distinct_appearance_stays_near_the_prediction() -> None:
    """Only near the prediction (the track's height times sqrt(frames lost): 224 px here), and only for lost tracks."""
    assert _turned_while_hidden(0.1, back=150.0) == [1]  # 200 px from the prediction
    assert _turned_while_hidden(0.1, back=250.0) != [1]  # 300 px
    assert _turned_while_hidden(0.1, gap=0) != [1]  # missed for one frame only: DeepSORT's IoU stage decides


def test_covered_fraction() -> None:
    boxes = [[0, 0, 10, 10], [5, 0, 15, 10], [0, 0, 20, 20], [100, 100, 110, 110]]
    np.testing.assert_allclose(covered_fraction(boxes), [1.0, 1.0, 0.25, 0.0])
    assert covered_fraction(boxes[:1]).tolist() == [0.0]


def test_coasting_never_publishes_an_inverted_box() -> None:
    """A coasting prediction whose size shrinks through zero is not published as an inverted box.

    Partial boxes gave the track a negative size velocity; it is still alive and takes its object back.
    """
    t = DeepSortTracker(Config(n_init=2, publish_coasting=True))
    f = _feats(1)
    for _ in range(5):
        t.update(_dets([[100, 100, 150, 250]], [0.9]), f)
    for h in (130, 110, 90, 70, 55):  # the second association shrinks the track
        t.update(_dets([[100, 100, 150, 100 + h]], [0.3]), f)
    published = []
    for _ in range(12):
        published += t.update(_dets([]), f[:0])
    assert published, "the track coasts for a few frames first"
    assert all(o.xyxy[2] > o.xyxy[0] and o.xyxy[3] > o.xyxy[1] for o in published), [o.xyxy for o in published]
    assert t.num_tracks == 1
    assert [o.track_id for o in t.update(_dets([[100, 100, 150, 250]], [0.9]), f)] == [1]


def _hidden_after_a_changed_look(long_term_alpha: float, gap: int = 12, after: int = 10) -> List[int]:
    """Return the IDs published for a walker seen again, looking as before, after a long occlusion.

    The walker (look A) goes right at 10 px a frame for 20 frames; for the last 10 before vanishing their box also
    shows the person passing in front of them (a look mostly B, 0.68 from A: matched by IoU), which pulls the EMA
    0.33 from A, beyond the 0.2 gate. Hidden for ``gap`` frames, they come back on their path looking like A.
    """
    cfg = Config(n_init=2, **{**PLAIN, "appearance_features": "ema", "long_term_alpha": long_term_alpha,
                              "long_term_after": after})
    t = DeepSortTracker(cfg)
    e = np.eye(8, dtype=np.float32)
    mixed = normalize((e[0] + 3.0 * e[1])[None])[0]
    box = lambda f: [[100.0 + 10.0 * f, 100.0, 140.0 + 10.0 * f, 200.0]]  # noqa: E731
    for f in range(30):
        out = t.update(_dets(box(f)), (e[0] if f < 20 else mixed)[None])
        assert [o.track_id for o in out] == ([1] if f else [])
    for f in range(30, 30 + gap):
        t.update(_dets([]), np.zeros((0, 8), np.float32))
    out = t.update(_dets(box(30 + gap)), e[:1])
    return [o.track_id for o in out if o.det_index == 0]


def test_long_term_average_keeps_the_id_after_an_occluder_changed_the_recent_look() -> None:
    """The EMA alone gives a new ID; the slow average still holds the walker's look before the occlusion."""
    assert _hidden_after_a_changed_look(0.98) == [1]
    assert _hidden_after_a_changed_look(0.0) != [1]


def test_long_term_average_waits_long_term_after_frames() -> None:
    """A gap shorter than long_term_after leaves the decision to the EMA (crossings are short)."""
    assert _hidden_after_a_changed_look(0.98, gap=12, after=13) != [1]
    assert _hidden_after_a_changed_look(0.98, gap=12, after=12) == [1]


def _stopped_while_hidden(last_seen_gate: bool, other: str = "distinct", gap: int = 6, cmc: str = "none",
                          pan: int = 0) -> List[int]:
    """Return the IDs published for a walker seen again where they vanished, having stopped while hidden.

    The walker (100 px tall) goes right at 20 px a frame for 8 frames, is hidden for ``gap`` frames and stands
    where they vanished; the track's prediction went on to the right, past its Kalman gate. Somebody else stands
    still far away all along; ``other``: how much they look like the walker (distinct or close). With ``cmc`` on,
    the frames are a textured world and the camera moves ``pan`` px right during the gap (the image follows).
    """
    world = _texture(600, 1100, seed=3)
    t = DeepSortTracker(Config(n_init=2, **{**PLAIN, "last_seen_gate": last_seen_gate, "cmc": cmc}))
    e = np.eye(8, dtype=np.float32)
    walker, seen_again = e[0], normalize((e[0] + 0.2 * e[3])[None])[0]  # cosine distance 0.02 between the two
    look = {"distinct": e[1], "close": normalize((e[0] + 0.05 * e[4])[None])[0]}[other]
    cam_x = 200

    def update(walker_x: Optional[float], feature: np.ndarray) -> List[int]:
        still = [500.0 - cam_x + 200, 300.0, 540.0 - cam_x + 200, 400.0]
        boxes = ([] if walker_x is None else [[walker_x - cam_x + 200, 100.0, walker_x - cam_x + 240, 200.0]])
        img = world[60:540, cam_x:cam_x + 640].copy() if cmc != "none" else None
        out = t.update(_dets(boxes + [still]), np.stack(([feature] if boxes else []) + [look]), img)
        return [o.track_id for o in out if o.det_index == 0 and boxes]

    for f in range(8):
        update(100.0 + 20.0 * f, walker)
    for g in range(gap):
        cam_x += pan if g == 0 else 0
        update(None, walker)
    return update(240.0, seen_again)


def test_last_seen_gate_keeps_the_id_of_a_walker_who_stopped_while_hidden() -> None:
    """The prediction went on; the gate around where the track was last seen still matches the close look."""
    for gap in (2, 6, 12):
        assert _stopped_while_hidden(True, gap=gap) == [1], gap
        assert _stopped_while_hidden(False, gap=gap) != [1], gap  # DeepSORT's gate alone: a new (tentative) track


def test_last_seen_gate_refuses_an_ambiguous_look() -> None:
    """Somebody else looking almost the same (within 1.25x the distance) keeps the gate closed."""
    assert _stopped_while_hidden(True, other="close") != [1]


def test_last_seen_gate_follows_the_camera() -> None:
    """Where the track was last seen is warped by camera motion: a 100 px pan during the gap keeps the ID."""
    for gap in (2, 6):
        assert _stopped_while_hidden(True, cmc="sparse_flow", pan=100, gap=gap) == [1], gap
        assert _stopped_while_hidden(False, cmc="sparse_flow", pan=100, gap=gap) != [1], gap


def _stopped_behind_somebody(last_seen_gate: bool, lost_size_gate: bool = True, gap: int = 5) -> List[int]:
    """Return the IDs published for a walker seen whole again where they stopped behind somebody.

    The walker (150 px tall) goes right at 8 px a frame for 8 frames, stops, and is seen for 5 frames only as
    shrinking low-score boxes (their legs hidden), then not at all for ``gap`` frames, then whole again where they
    stopped. The partial boxes shrank the track, so neither its prediction nor its last match is near the whole box;
    its last full view, moved on at its velocity (``lost_size_gate``), has gone on to the right.
    """
    t = DeepSortTracker(Config(n_init=2, conf_threshold=0.6, **{
        **PLAIN, "low_conf_threshold": 0.1, "lost_size_gate": lost_size_gate, "last_seen_gate": last_seen_gate}))
    f = _feats(1)
    for i in range(8):
        x = 100.0 + 8.0 * i
        t.update(_dets([[x, 100.0, x + 50.0, 250.0]], [0.9]), f)
    for h in (130.0, 110.0, 90.0, 70.0, 55.0):
        t.update(_dets([[156.0, 100.0, 206.0, 100.0 + h]], [0.3]), f)
    for _ in range(gap):
        t.update(_dets([]), f[:0])
    out = t.update(_dets([[156.0, 100.0, 206.0, 250.0]], [0.9]), f)
    return [o.track_id for o in out]


def test_last_seen_gate_also_looks_where_the_last_full_view_was() -> None:
    """A walker who stopped while being hidden is back in full where their last full view was: the same ID.

    Without the last full view (``lost_size_gate`` off) only the shrunk last match is left, and it is too far in
    size until the covariance has grown for several frames.
    """
    for gap in (2, 3, 5):
        assert _stopped_behind_somebody(True, gap=gap) == [1], gap
        assert _stopped_behind_somebody(False, gap=gap) != [1], gap
        assert _stopped_behind_somebody(True, lost_size_gate=False, gap=gap) != [1], gap
