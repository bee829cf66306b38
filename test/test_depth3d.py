"""ROS-free tests of the 3D stage.

Depth decoding, robust box depth, back-projection, the 3D filter, the stamp
synchroniser, and a synthetic RGB-D scene with exact ground truth.
"""
from __future__ import annotations

import math
from typing import Dict, List, Tuple

import numpy as np
import pytest

from mot_ros.core.config import Config
from mot_ros.core.depth3d import (CameraModel, Depth3DParams, DepthError, Tracker3D, box_depth, decode_depth,
                                  encode_depth, parse_extents)
from mot_ros.core.depth_synthetic import Object3DTruth, default_camera, rgbd_scene
from mot_ros.core.sync import StampSync
from mot_ros.core.types import TrackedObject

P = Depth3DParams(extent_default=0.2)


# -- decoding ---------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_depth_round_trip(encoding: str) -> None:
    d = np.array([[1.0, 2.5, np.nan], [0.25, 7.999, 12.0]], np.float32)
    h, w, enc, step, data = encode_depth(d, encoding)
    out = decode_depth(w, h, enc, step, data)
    assert out.shape == (2, 3) and out.dtype == np.float32
    assert np.isnan(out[0, 2])  # 16UC1's 0 (no return) becomes NaN
    np.testing.assert_allclose(out[np.isfinite(d)], d[np.isfinite(d)], atol=0.0006)


def test_depth_16uc1_is_millimetres_big_endian_and_padded_rows() -> None:
    mm = np.array([[1000, 0], [2500, 65535]], dtype=">u2")
    step = 6  # two pixels plus 2 bytes of padding per row
    rows = [mm[r].tobytes() + b"\0\0" for r in range(2)]
    out = decode_depth(2, 2, "16UC1", step, b"".join(rows), is_bigendian=1)
    np.testing.assert_allclose(out[0, 0], 1.0)
    assert np.isnan(out[0, 1])
    np.testing.assert_allclose(out[1], [2.5, 65.535], rtol=1e-6)


@pytest.mark.parametrize("encoding", ["rgb8", "mono8", "32FC3", ""])
def test_wrong_depth_encoding_is_a_clear_error(encoding: str) -> None:
    with pytest.raises(DepthError, match=r"16UC1.*32FC1.*got '" + encoding + "'"):
        decode_depth(2, 2, encoding, 6, bytes(12))


def test_depth_size_mismatch_is_a_clear_error() -> None:
    with pytest.raises(DepthError, match="expected 8 bytes"):
        decode_depth(2, 2, "16UC1", 4, bytes(7))
    with pytest.raises(DepthError, match="step >= 8"):
        decode_depth(2, 2, "32FC1", 4, bytes(8))


def test_camera_model_checks_and_scaling() -> None:
    with pytest.raises(DepthError, match="fx > 0"):
        CameraModel.from_k([0.0] * 9, 640, 480)
    with pytest.raises(DepthError, match="9 values"):
        CameraModel.from_k([1.0] * 4, 640, 480)
    cam = CameraModel.from_k([500.0, 0, 319.5, 0, 500.0, 239.5, 0, 0, 1], 640, 480)
    half = cam.scaled_to(320, 240)
    assert half.fx == 250.0 and half.cx == pytest.approx(159.5) and half.cy == pytest.approx(119.5)
    p = np.array([0.4, -0.3, 2.0])
    u, v = cam.project(p)
    np.testing.assert_allclose(cam.back_project(u, v, 2.0), p)


def test_parse_extents() -> None:
    assert parse_extents(["person=0.4", " 2 = 4.5"]) == {"person": 0.4, "2": 4.5}
    for bad in ("person", "person=x", "=1", "car=-1"):
        with pytest.raises(ValueError, match="depth_extents"):
            parse_extents([bad])
    with pytest.raises(ValueError, match="depth_min < depth_max"):
        Config(depth_min=3.0, depth_max=2.0)
    assert Depth3DParams.from_config(Config(depth_extents=("person=0.5",))).extents == {"person": 0.5}


# -- robust depth in a box ---------------------------------------------------------------
def test_box_depth_ignores_invalid_values_and_background() -> None:
    d = np.full((100, 100), 9.0, np.float32)  # background wall
    d[30:70, 30:70] = 2.0  # the object fills the central part of the box (20..80)
    d[40:45, 40:60] = 0.0  # no return
    d[50:52, 40:60] = np.nan
    d[55:57, 40:60] = 0.05  # below depth_min
    d[60:62, 40:60] = 50.0  # beyond depth_max
    s = box_depth(d, (20, 20, 80, 80), (100, 100), P)
    assert s is not None and s.depth == pytest.approx(2.0)
    assert s.valid < s.total


def test_box_depth_none_when_all_invalid() -> None:
    d = np.zeros((50, 50), np.float32)
    assert box_depth(d, (10, 10, 40, 40), (50, 50), P) is None
    d[:] = np.nan
    assert box_depth(d, (10, 10, 40, 40), (50, 50), P) is None
    assert box_depth(d, (200, 200, 300, 300), (50, 50), P) is None  # outside the image


def test_box_depth_scales_the_box_into_a_different_depth_resolution() -> None:
    # colour 640x480, depth 160x240 (other aspect): the object at colour (300..340, 100..140)
    d = np.full((240, 160), 8.0, np.float32)
    d[50:70, 75:85] = 3.0
    s = box_depth(d, (300, 100, 340, 140), (640, 480), P)
    assert s is not None and s.depth == pytest.approx(3.0)
    # the same box without scaling would land on the wall
    assert box_depth(d, (300, 100, 340, 140), (160, 240), P) is None or \
        box_depth(d, (300, 100, 340, 140), (160, 240), P).depth != pytest.approx(3.0)  # type: ignore[union-attr]


# -- synchroniser ------------------------------------------------------------------------
def test_sync_exact_and_nearest_within_slop() -> None:
    s: StampSync[str] = StampSync(0.02, queue_size=5)
    s.add(1.00, "a")
    assert s.take(1.00) == "a"
    s.add(2.015, "far")
    s.add(2.005, "near")
    assert s.take(2.0) == "near"  # nearest first, even when added later
    assert s.take(2.1) is None  # 2.015 is outside the slop of 2.1 and too old for any later frame
    assert s.counts.paired == 2 and s.counts.unpaired_primary == 1 and s.counts.unpaired_secondary == 1
    assert len(s) == 0


def test_sync_outside_slop_is_counted_and_queue_is_bounded() -> None:
    s: StampSync[int] = StampSync(0.0, queue_size=3)
    for i in range(6):
        s.add(10.0 + i, i)
    assert len(s) == 3 and s.counts.unpaired_secondary == 3  # overflow drops the oldest, counted
    assert s.take(13.0005) is None  # exact only
    assert s.take(14.0) == 4
    assert s.counts.unpaired_primary == 1
    with pytest.raises(ValueError, match="depth_sync_slop"):
        StampSync(-1.0)


def test_sync_keeps_a_future_depth_frame_for_its_colour_frame() -> None:
    s: StampSync[str] = StampSync(0.01)
    s.add(5.1, "later")
    assert s.take(5.0) is None  # colour 5.0 has no depth, but 5.1's depth waits for colour 5.1
    assert s.take(5.1) == "later"


# -- the 3D tracker ------------------------------------------------------------------------
CAM = CameraModel(500.0, 500.0, 319.5, 239.5, 640, 480)


def _plane(z: float, shape: Tuple[int, int] = (480, 640)) -> np.ndarray:
    return np.full(shape, z, np.float32)


def _track(tid: int, box: Tuple[float, float, float, float], cls: int = 0) -> TrackedObject:
    return TrackedObject(tid, cls, 0.9, box)


def test_back_projection_size_and_extent() -> None:
    t3 = Tracker3D(Depth3DParams(extent_default=0.2, extents={"person": 0.5}), {0: "person", 1: "cup"})
    box = (419.5, 189.5, 519.5, 289.5)  # centre (469.5, 239.5): 150 px right of the principal point
    f = t3.update([_track(1, box, 0), _track(2, (100, 100, 150, 150), 1)], _plane(4.0), CAM, (640, 480), 1.0)
    o = {x.track_id: x for x in f.objects}
    np.testing.assert_allclose(o[1].position, [150 * 4.0 / 500, 0.0, 4.0 + 0.25], atol=1e-6)
    np.testing.assert_allclose(o[1].size, [0.8, 0.8, 0.5], atol=1e-6)
    assert o[2].size[2] == pytest.approx(0.2)  # class without an entry: the default extent
    spread = Tracker3D(Depth3DParams(extent_from_spread=True))
    d = _plane(4.0)
    d[189:290, 419:520] = np.linspace(3.5, 4.5, 101)[None, :]
    obj = spread.update([_track(1, box)], d, CAM, (640, 480), 1.0).objects[0]
    assert 0.3 < obj.size[2] < 0.7


def test_coasting_then_expiry_and_never_at_origin() -> None:
    t3 = Tracker3D(Depth3DParams(max_missed=3, extent_default=0.0))
    box = (300.0, 200.0, 340.0, 280.0)
    for i in range(5):
        f = t3.update([_track(7, box)], _plane(2.0), CAM, (640, 480), 10.0 + i * 0.1)
    assert f.objects[0].measured
    last = f.objects[0].position.copy()
    for i in range(3):  # depth missing: keeps the last state, flagged as coasting
        f = t3.update([_track(7, box)], None, CAM, (640, 480), 10.5 + i * 0.1)
        assert len(f.objects) == 1 and not f.objects[0].measured and f.no_depth == 1
        assert f.objects[0].frames_without_depth == i + 1
        np.testing.assert_allclose(f.objects[0].position, last, atol=0.05)
    f = t3.update([_track(7, box)], None, CAM, (640, 480), 10.8)
    assert f.objects == [] and f.expired == 1 and f.without_3d == 1 and len(t3) == 0
    # a track whose depth is all invalid gets no 3D at all (never (0, 0, 0))
    f = t3.update([_track(8, box)], np.zeros((480, 640), np.float32), CAM, (640, 480), 10.9)
    assert f.objects == [] and f.no_depth == 1 and f.without_3d == 1
    f = t3.update([_track(8, box)], _plane(2.0), None, (640, 480), 11.0)  # no camera_info
    assert f.objects == [] and f.without_3d == 1


def test_states_of_vanished_tracks_expire_and_time_jump_resets() -> None:
    t3 = Tracker3D(Depth3DParams(max_missed=2))
    t3.update([_track(1, (10, 10, 50, 50))], _plane(3.0), CAM, (640, 480), 5.0)
    assert len(t3) == 1
    for i in range(3):
        t3.update([], _plane(3.0), CAM, (640, 480), 5.1 + 0.1 * i)
    assert len(t3) == 0
    t3.update([_track(2, (10, 10, 50, 50))], _plane(3.0), CAM, (640, 480), 9.0)
    t3.update([_track(2, (10, 10, 50, 50))], _plane(3.0), CAM, (640, 480), 2.0)  # bag looped
    assert t3.resets == 1 and len(t3) == 1


def test_velocity_of_a_point_moving_at_one_metre_per_second() -> None:
    t3 = Tracker3D(Depth3DParams(extent_default=0.0))
    rng = np.random.default_rng(0)
    for i in range(40):
        x, z = -1.0 + 1.0 * 0.1 * i, 3.0
        u = 500 * x / z + 319.5 + rng.normal(0, 1.0)
        f = t3.update([_track(1, (u - 20, 219.5, u + 20, 259.5))], _plane(z + rng.normal(0, 0.01)), CAM,
                      (640, 480), 100.0 + 0.1 * i)
    v = f.objects[0].velocity
    assert np.linalg.norm(v - [1.0, 0.0, 0.0]) < 0.2, v
    cov = f.objects[0].covariance
    assert cov.shape == (6, 6) and np.all(np.linalg.eigvalsh(cov) > 0)


# -- synthetic RGB-D scene with exact ground truth -------------------------------------------
def run_scene(encoding: str, depth_size: Tuple[int, int], jitter_px: float = 1.5,
              n_frames: int = 30) -> Tuple[Dict[int, List[float]], Dict[int, List[float]], Dict[int, float]]:
    """Feed ground-truth boxes (with jitter, like a detector) through encode/decode and Tracker3D.

    Returns per object the relative position errors, the velocity errors (after 10 frames) and its distance.
    """
    cam = default_camera()
    rng = np.random.default_rng(5)
    t3 = Tracker3D(Depth3DParams(extent_default=0.2))
    pos_err: Dict[int, List[float]] = {}
    vel_err: Dict[int, List[float]] = {}
    dist: Dict[int, float] = {}
    for i, fr in enumerate(rgbd_scene(depth_size=depth_size, n_frames=n_frames)):
        h, w, enc, step, data = encode_depth(fr.depth, encoding)
        depth = decode_depth(w, h, enc, step, data)
        tracks = []
        for s in fr.shapes:
            x1, y1, x2, y2 = np.array(s.box()) + rng.normal(0, jitter_px, 4)
            tracks.append(TrackedObject(s.obj_id, s.cls, 0.9, (max(x1, 0), max(y1, 0), min(x2, 639), min(y2, 479))))
        out = t3.update(tracks, depth, cam, (640, 480), fr.stamp)
        truth = {o.obj_id: o for o in fr.objects}
        for o in out.objects:
            gt = truth[o.track_id]
            d = float(np.linalg.norm(gt.position))
            dist.setdefault(o.track_id, d)
            pos_err.setdefault(o.track_id, []).append(float(np.linalg.norm(o.position - gt.position)) / d)
            if i >= 10:
                vel_err.setdefault(o.track_id, []).append(float(np.linalg.norm(o.velocity - gt.velocity)))
    return pos_err, vel_err, dist


@pytest.mark.parametrize("encoding,depth_size", [("16UC1", (320, 240)), ("32FC1", (640, 480)),
                                                 ("16UC1", (848, 480)), ("32FC1", (424, 240))])
def test_synthetic_rgbd_scene_accuracy(encoding: str, depth_size: Tuple[int, int]) -> None:
    pos_err, vel_err, dist = run_scene(encoding, depth_size)
    assert len(pos_err) == 6
    assert min(dist.values()) < 1.5 and max(dist.values()) > 7.0  # the scene spans 1 to 8 m
    for oid, errs in pos_err.items():
        assert float(np.median(errs)) <= 0.03, (oid, dist[oid], np.median(errs))
    for oid in (5, 6):  # moving at 1 m/s sideways and towards the camera
        assert float(np.median(vel_err[oid])) <= 0.2, (oid, np.median(vel_err[oid]))
    for oid in (1, 2, 3, 4):  # static
        assert float(np.median(vel_err[oid])) <= 0.2, (oid, np.median(vel_err[oid]))


def test_synthetic_truth_is_consistent() -> None:
    """The renderer puts each object where its truth says: the front face's depth under its centre pixel."""
    cam = default_camera()
    fr = next(rgbd_scene(noise=0.0, holes=0.0, depth_size=(640, 480)))
    for o, s in zip(fr.objects, fr.shapes):
        assert fr.depth[int(round(s.y)), int(round(s.x))] == pytest.approx(o.front_depth(), abs=1e-5)
        x, y, z = o.position
        assert math.isclose(s.x, cam.fx * x / o.front_depth() + cam.cx, abs_tol=1e-6)
    obj = Object3DTruth(9, 0, (0.0, 0.0, 2.0), 0.3, 0.4)
    assert obj.front_depth() == pytest.approx(1.8)
