"""tracker_node in 3D over real DDS (issue 10).

A synthetic RGB-D scene with exact ground truth through the real shapes
detector, and the faults of the depth inputs.
"""
from __future__ import annotations

import threading
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest
from nav_msgs.msg import Odometry
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from vision_msgs.msg import Detection3DArray
from visualization_msgs.msg import Marker, MarkerArray

from mot_ros.core.depth3d import CameraModel, encode_depth
from mot_ros.core.depth_synthetic import RGBDFrame, default_camera, rgbd_scene
from mot_ros.core.drawing import id_color
from mot_ros.core.synthetic import SHAPE_CLASSES

from conftest import wait_for
from ros_harness import Harness, box_iou, det_boxes

pytestmark = pytest.mark.slow

Key = Tuple[int, int]


def _key(index: int) -> Key:
    return 1000 + index // 10, (index % 10) * 100_000_000


class RGBDHarness(Harness):
    """The image harness plus depth and camera_info publishers and the 3D outputs' recorders."""

    def __init__(self, name: str = "rgbd_harness", markers: bool = False, odometry: bool = True) -> None:
        super().__init__(name)
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_depth = self.create_publisher(Image, "depth", qos)
        self.pub_info = self.create_publisher(CameraInfo, "camera_info", qos)
        self.det3d: Dict[Key, Detection3DArray] = {}
        self.odom: Dict[Key, List[Odometry]] = {}
        self.markers: List[MarkerArray] = []
        self.lock3 = threading.Lock()
        self.create_subscription(Detection3DArray, "detections_3d", self._on_3d, 50)
        if odometry:
            self.create_subscription(Odometry, "tracks_3d", self._on_odom, 200)
        if markers:
            self.create_subscription(MarkerArray, "markers", self.markers.append, 50)

    def _on_3d(self, msg: Detection3DArray) -> None:
        with self.lock3:
            self.det3d[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = msg

    def _on_odom(self, msg: Odometry) -> None:
        with self.lock3:
            self.odom.setdefault((msg.header.stamp.sec, msg.header.stamp.nanosec), []).append(msg)

    def send_info(self, cam: CameraModel, index: int) -> None:
        msg = CameraInfo(width=cam.width, height=cam.height, distortion_model="plumb_bob")
        msg.k = [cam.fx, 0.0, cam.cx, 0.0, cam.fy, cam.cy, 0.0, 0.0, 1.0]
        msg.header.stamp.sec, msg.header.stamp.nanosec = _key(index)
        msg.header.frame_id = "camera_optical"
        self.pub_info.publish(msg)

    def send_depth(self, depth: np.ndarray, index: int, encoding: str = "16UC1", stamp_shift: float = 0.0,
                   raw_encoding: Optional[str] = None) -> None:
        h, w, enc, step, data = encode_depth(depth, encoding)
        msg = Image(height=h, width=w, encoding=raw_encoding or enc, step=step, is_bigendian=0)
        msg.data = data
        sec, nsec = _key(index)
        t = sec + nsec * 1e-9 + stamp_shift
        msg.header.stamp.sec, msg.header.stamp.nanosec = int(t), int(round((t - int(t)) * 1e9))
        msg.header.frame_id = "camera_optical"
        self.pub_depth.publish(msg)

    def result_3d(self, key: Key, timeout: float = 10.0) -> Optional[Detection3DArray]:
        wait_for(lambda: key in self.det3d, timeout)
        with self.lock3:
            return self.det3d.get(key)

    def wait_depth_connected(self) -> bool:
        return wait_for(lambda: self.pub_depth.get_subscription_count() > 0
                        and self.pub_info.get_subscription_count() > 0, 10.0)

    def diag(self) -> Dict[str, str]:
        with self.lock:
            if not self.diagnostics:
                return {}
            return {kv.key: kv.value for st in self.diagnostics[-1].status for kv in st.values}


def _truth_of_tracks(msg, fr: RGBDFrame) -> Dict[str, int]:  # type: ignore[no-untyped-def]
    """2D track ID -> ground-truth object ID (by box IoU > 0.5)."""
    out = {}
    for tid, _, box in det_boxes(msg):
        best = max(fr.shapes, key=lambda s: box_iou(box, s.box()))
        if box_iou(box, best.box()) > 0.5:
            out[tid] = best.obj_id
    return out


def _run(h: RGBDHarness, frames: List[RGBDFrame], cam: CameraModel, encoding: str,
         depth_for=None, shift_for=None, info: bool = True, start: int = 0):  # type: ignore[no-untyped-def]
    """Send every frame (depth, camera_info, then colour) and collect (2D, 3D) results per frame.

    Frame ``i`` of ``frames`` goes out with index (and stamp) ``start + i``.
    """
    out = []
    for i, fr in enumerate(frames, start):
        depth = fr.depth if depth_for is None else depth_for(i, fr)
        if depth is not None:
            h.send_depth(depth, i, encoding, stamp_shift=shift_for(i) if shift_for else 0.0)
        if info:
            h.send_info(cam, i)
        msg2 = h.send_and_wait(fr.image, i)
        assert msg2 is not None, f"frame {i}: no 2D detections (a valid frame was lost)"
        msg3 = h.result_3d(_key(i))
        assert msg3 is not None, f"frame {i}: no detections_3d message"
        assert msg3.header == msg2.header, f"frame {i}: the 3D header must be the colour image's"
        out.append((msg2, msg3))
    return out


@pytest.mark.parametrize("encoding,depth_size", [("16UC1", (320, 240)), ("32FC1", (424, 240))])
def test_synthetic_rgbd_accuracy_and_ids_over_dds(started_tracker, spinner, encoding: str,
                                                  depth_size: Tuple[int, int]) -> None:  # type: ignore
    cam = default_camera()
    frames = list(rgbd_scene(depth_size=depth_size, n_frames=30))
    node = started_tracker(use_depth=True, depth_sync_slop=0.0, depth_extent_default=0.2)
    h = RGBDHarness()
    spinner.add(h)
    try:
        assert h.wait_connected() and h.wait_depth_connected()
        results = _run(h, frames, cam, encoding)
        pos_err: Dict[int, List[float]] = {}
        vel_err: Dict[int, List[float]] = {}
        dist: Dict[int, float] = {}
        for i, ((m2, m3), fr) in enumerate(zip(results, frames)):
            ids2 = {d.id for d in m2.detections}
            ids3 = {d.id for d in m3.detections}
            assert ids3 <= ids2, f"frame {i}: 3D IDs {ids3} are not 2D IDs {ids2}"
            if i >= 3:
                assert ids3 == ids2, f"frame {i}: every 2D track has valid depth here; 3D {ids3} vs 2D {ids2}"
            truth = {o.obj_id: o for o in fr.objects}
            tmap = _truth_of_tracks(m2, fr)
            for d in m3.detections:
                assert d.results[0].hypothesis.class_id in {str(c) for c in range(len(SHAPE_CLASSES))}
                gt = truth[tmap[d.id]]
                p = d.bbox.center.position
                err = np.linalg.norm(np.array([p.x, p.y, p.z]) - gt.position)
                dist.setdefault(gt.obj_id, float(np.linalg.norm(gt.position)))
                pos_err.setdefault(gt.obj_id, []).append(err / np.linalg.norm(gt.position))
                assert d.bbox.size.x > 0 and d.bbox.size.y > 0 and d.bbox.size.z == pytest.approx(0.2)
            if i >= 10:
                for od in h.odom.get(_key(i), []):
                    tid = od.child_frame_id.removeprefix("track_")
                    assert tid in ids3
                    gt = truth[tmap[tid]]
                    v = od.twist.twist.linear
                    vel_err.setdefault(gt.obj_id, []).append(
                        float(np.linalg.norm(np.array([v.x, v.y, v.z]) - gt.velocity)))
        assert sorted(pos_err) == [1, 2, 3, 4, 5, 6]
        assert min(dist.values()) < 1.5 and max(dist.values()) > 7.0
        med = {k: float(np.median(v)) for k, v in pos_err.items()}
        assert all(m <= 0.03 for m in med.values()), med
        vmed = {k: float(np.median(v)) for k, v in vel_err.items()}
        assert set(vmed) >= {5, 6} and all(m <= 0.2 for m in vmed.values()), vmed
        print(f"\n{encoding} {depth_size}: position error (fraction of distance) {med}; velocity error {vmed}")
        assert node.stats is not None
    finally:
        spinner.remove(h)
        h.destroy_node()


def test_depth_faults_over_dds(started_tracker, spinner) -> None:  # type: ignore[no-untyped-def]
    cam = default_camera()
    frames = list(rgbd_scene(n_frames=34))
    started_tracker(use_depth=True, depth_sync_slop=0.01, depth_max_missed=3, diagnostics_period=0.2)
    h = RGBDHarness()
    spinner.add(h)
    blind_obj = 2  # object whose depth is all 0 / NaN inside its box for the whole run

    def depth_for(i: int, fr: RGBDFrame) -> Optional[np.ndarray]:
        if 10 <= i < 16:
            return None  # depth missing: 2D continues, 3D coasts for 3 frames, then expires
        d = fr.depth.copy()
        s = next(s for s in fr.shapes if s.obj_id == blind_obj)
        x1, y1, x2, y2 = (int(v) for v in np.array(s.box()) / 2.0)  # depth is 320x240
        d[max(y1, 0):y2 + 1, max(x1, 0):x2 + 1] = 0.0 if i % 2 else np.nan
        return d

    def shift_for(i: int) -> float:
        return 0.05 if 22 <= i < 25 else 0.0  # outside the 0.01 s slop: unpaired

    try:
        assert h.wait_connected() and h.wait_depth_connected()
        results = _run(h, frames[:30], cam, "16UC1", depth_for, shift_for)
        blind_ids = set()
        for i, ((m2, m3), fr) in enumerate(zip(results, frames)):
            tmap = _truth_of_tracks(m2, fr)
            blind_ids |= {t for t, o in tmap.items() if o == blind_obj}
            ids3 = {d.id for d in m3.detections}
            assert not ids3 & blind_ids, f"frame {i}: the track without valid depth must have no 3D"
            for d in m3.detections:
                p = d.bbox.center.position
                assert p.z > 0.5, f"frame {i}: a 3D object at {p} (never at the origin)"
            if i >= 4 and len(m2.detections) >= 5:
                if i < 10 or 16 <= i < 22 or i >= 26:
                    assert len(ids3) == len(m2.detections) - 1, f"frame {i}: all but the blind track in 3D"
                elif 10 <= i <= 12:
                    assert len(ids3) == len(m2.detections) - 1, f"frame {i}: 3D coasts while depth is missing"
                elif 14 <= i < 16:
                    assert ids3 == set(), f"frame {i}: 3D expired after depth_max_missed frames without depth"
        assert blind_ids, "the blind object was never tracked in 2D"
        # wrong encoding: a clear error, counted; the node keeps going
        fr = frames[30]
        h.send_depth(fr.depth, 30, "16UC1", raw_encoding="rgb8")
        h.send_info(cam, 30)
        assert h.send_and_wait(fr.image, 30) is not None and h.result_3d(_key(30)) is not None
        assert wait_for(lambda: int(h.diag().get("depth_frames_bad", "0")) >= 1
                        and int(h.diag().get("frames_processed", "0")) >= 31, 5.0), h.diag()
        d = h.diag()
        assert "16UC1" in d["depth_last_error"] and "'rgb8'" in d["depth_last_error"]
        assert int(d["colour_frames_without_depth"]) >= 6 + 3  # missing depth and stamps outside the slop
        assert int(d["depth_frames_unpaired"]) >= 3  # the shifted depth frames never paired
        assert int(d["tracks_without_valid_depth"]) >= 25
        assert int(d["tracks_without_3d"]) >= 25  # the blind track, every frame
        assert int(d["tracks_3d_expired"]) >= 4
        assert d["camera_info"] == "received"
        assert int(d["frames_processed"]) >= 31 and int(d["frames_failed"]) == 0
    finally:
        spinner.remove(h)
        h.destroy_node()


def test_no_camera_info_warns_and_stays_2d(started_tracker, spinner, capfd) -> None:  # type: ignore
    frames = list(rgbd_scene(n_frames=6))
    started_tracker(use_depth=True, diagnostics_period=0.2)
    h = RGBDHarness()
    spinner.add(h)
    try:
        assert h.wait_connected() and h.wait_depth_connected()
        results = _run(h, frames, default_camera(), "32FC1", info=False)
        assert any(len(m2.detections) for m2, _ in results[2:]), "2D tracking must go on"
        assert all(len(m3.detections) == 0 for _, m3 in results)
        assert wait_for(lambda: int(h.diag().get("frames_without_camera_info", "0")) >= 6, 5.0), h.diag()
        assert h.diag()["camera_info"] == "missing"
        err = capfd.readouterr().err
        assert "no camera_info received on /camera_info" in err, err[-2000:]
    finally:
        spinner.remove(h)
        h.destroy_node()


def test_markers_only_while_subscribed_with_id_colours(started_tracker, spinner) -> None:  # type: ignore
    cam = default_camera()
    frames = list(rgbd_scene(n_frames=8))
    node = started_tracker(use_depth=True)
    h = RGBDHarness(odometry=False)
    spinner.add(h)
    try:
        assert h.wait_connected() and h.wait_depth_connected()
        _run(h, frames[:3], cam, "16UC1")
        assert h.markers == []  # nobody subscribed: nothing published
        h.create_subscription(MarkerArray, "markers", h.markers.append, 50)
        assert wait_for(lambda: node._depth is not None and node._depth._pub_markers.get_subscription_count() > 0)
        results = _run(h, frames[3:8], cam, "16UC1", start=3)
        # the first arrays may go out before the subscription has matched on both sides
        assert wait_for(lambda: len(h.markers) >= 1 and h.markers[-1].markers[0].header.stamp.sec == _key(7)[0]
                        and h.markers[-1].markers[0].header.stamp.nanosec == _key(7)[1], 5.0), len(h.markers)
        last = h.markers[-1].markers
        assert last[0].action == Marker.DELETEALL  # no ghosts of tracks that vanished
        ids2 = {int(d.id) for d in results[-1][0].detections}
        cubes = [m for m in last if m.ns == "mot_boxes"]
        assert {m.id for m in cubes} == ids2 and all(m.type == Marker.CUBE for m in cubes)
        for m in cubes:
            b, g, r = id_color(m.id)
            assert (round(m.color.r * 255), round(m.color.g * 255), round(m.color.b * 255)) == (r, g, b)
        labels = {m.text for m in last if m.ns == "mot_labels"}
        assert all(any(t.startswith(f"{c} #") for c in SHAPE_CLASSES) for t in labels) and len(labels) == len(ids2)
        arrows = [m for m in last if m.ns == "mot_velocity"]
        assert arrows and all(len(m.points) == 2 for m in arrows)  # objects 5 and 6 move at 1 m/s
    finally:
        spinner.remove(h)
        h.destroy_node()


def test_slop_at_run_time_read_only_use_depth_and_reactivation(started_tracker, spinner) -> None:  # type: ignore
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    cam = default_camera()
    frames = list(rgbd_scene(n_frames=12))
    node = started_tracker(use_depth=True, depth_sync_slop=0.0)
    h = RGBDHarness()
    spinner.add(h)
    try:
        assert h.wait_connected() and h.wait_depth_connected()
        shifted = _run(h, frames[:4], cam, "16UC1", shift_for=lambda i: 0.03)
        assert all(len(m3.detections) == 0 for _, m3 in shifted)  # 30 ms apart, exact pairing only
        assert node.set_parameters([Parameter("depth_sync_slop", value=0.05)])[0].successful
        paired = _run(h, frames[4:8], cam, "16UC1", shift_for=lambda i: 0.03, start=4)
        assert len(paired[-1][1].detections) >= 5  # now within the slop: 3D for every track
        refused = node.set_parameters([Parameter("use_depth", value=False)])[0]
        assert not refused.successful
        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert node._depth is None  # subscriptions and publishers of the 3D stage are gone
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert h.wait_connected() and h.wait_depth_connected()
        again = _run(h, frames[8:12], cam, "16UC1", start=8)
        assert len(again[-1][1].detections) >= 5  # 3D resumes after re-activation
    finally:
        spinner.remove(h)
        h.destroy_node()
