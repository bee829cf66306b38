"""The 3D part of the tracker node: depth and camera_info in; detections_3d, tracks_3d and markers out.

The node calls :class:`DepthIO` from its worker after publishing each frame's 2D
detections, so the 2D path never waits for depth. The algorithm lives in
:mod:`mot_ros.core.depth3d` and :mod:`mot_ros.core.sync`; this module only
converts messages and owns the subscriptions and publishers.

Outputs (relative names):
- ``detections_3d`` (vision_msgs/Detection3DArray): one per processed colour frame, also when empty;
  header = the colour image's header; ``id`` = the 2D track ID; ``results[0]`` = class and score, and its
  ``pose`` = the filtered position with its covariance; ``bbox`` = centre and size in metres.
- ``tracks_3d`` (nav_msgs/Odometry, only while subscribed): one message per 3D track and frame with
  ``child_frame_id`` = ``track_<id>``, the position and velocity (in the optical frame's axes) and their
  covariances. vision_msgs has no velocity field, so this topic carries it.
- ``markers`` (visualization_msgs/MarkerArray, only while subscribed): DELETEALL, then per track a cube,
  a ``class #id`` label and a velocity arrow in the annotated image's colour of that ID.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, PoseWithCovariance, Vector3
from nav_msgs.msg import Odometry
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import ColorRGBA, Header
from vision_msgs.msg import (BoundingBox3D, Detection3D, Detection3DArray,
                             ObjectHypothesisWithPose)
from visualization_msgs.msg import Marker, MarkerArray

from ..core.config import Config
from ..core.depth3d import DEPTH_ENCODINGS, CameraModel, Depth3DParams, DepthError, Object3D, Tracker3D, \
    decode_depth
from ..core.drawing import id_color
from ..core.sync import StampSync
from ..core.types import TrackedObject
from .qos import input_qos, wanted_reliability

UNKNOWN_VARIANCE = 1e6
"""Variance reported for the unmeasured parts (orientation, angular velocity) of a covariance."""
MARKER_LIFETIME_SEC = 2
"""Markers vanish on their own this long after the last message (e.g. when the node stops)."""
MIN_ARROW_SPEED = 0.05
"""Velocity arrows are drawn from this speed (m/s) on."""


# -- conversions ------------------------------------------------------------------
def stamp_sec(header: Header) -> float:
    """Header stamp in seconds (0.0 when unset)."""
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def camera_from_info(msg: CameraInfo) -> CameraModel:
    """Intrinsics of a camera_info message (raises DepthError when K cannot project)."""
    return CameraModel.from_k(list(msg.k), msg.width, msg.height)


def depth_from_image(msg: Image) -> np.ndarray:
    """Depth in metres of a 16UC1/32FC1 Image (raises DepthError naming the expected encodings)."""
    return decode_depth(msg.width, msg.height, msg.encoding, msg.step, msg.data, msg.is_bigendian)


_UNKNOWN_6x6 = np.diag([0.0, 0.0, 0.0] + [UNKNOWN_VARIANCE] * 3)


def _pose_cov(cov3: np.ndarray) -> np.ndarray:
    c = _UNKNOWN_6x6.copy()
    c[:3, :3] = cov3
    return c.reshape(-1)


def _set_pose(p: PoseWithCovariance, o: Object3D) -> None:
    """Position and position covariance of ``o`` (orientation stays identity: axis-aligned boxes)."""
    pos = p.pose.position
    pos.x, pos.y, pos.z = float(o.position[0]), float(o.position[1]), float(o.position[2])
    p.covariance = _pose_cov(o.covariance[:3, :3])


def _rgba(track_id: int, alpha: float) -> ColorRGBA:
    b, g, r = id_color(track_id)
    return ColorRGBA(r=r / 255.0, g=g / 255.0, b=b / 255.0, a=alpha)


class Messages3D:
    """Builds the 3D output messages, reusing each track's message objects from frame to frame.

    Constructing rclpy messages dominates the stage's cost (a Marker builds about ten
    sub-messages), and publishing serialises synchronously, so a track's objects are
    updated in place instead; those of tracks absent from a frame are dropped, so the
    pool holds only current tracks.
    """

    def __init__(self) -> None:
        self._pools: Dict[str, Dict[int, Any]] = {"det": {}, "odom": {}, "cube": {}, "text": {}, "arrow": {}}

    def _take(self, kind: str, track_id: int, make: Any, used: Dict[str, Dict[int, Any]]) -> Any:
        m = self._pools[kind].get(track_id)
        if m is None:
            m = make()
        used.setdefault(kind, {})[track_id] = m
        return m

    def _keep(self, used: Dict[str, Dict[int, Any]], kinds: Sequence[str]) -> None:
        for k in kinds:
            self._pools[k] = used.get(k, {})

    def detections(self, header: Header, objects: Sequence[Object3D]) -> Detection3DArray:
        """One Detection3D per 3D object: ``id`` = track ID, class index as ``class_id``, box in metres."""
        used: Dict[str, Dict[int, Any]] = {}
        dets = []
        for o in objects:
            d = self._take("det", o.track_id, lambda: _new_detection(o.track_id), used)
            d.header = header
            hyp = d.results[0]
            hyp.hypothesis.class_id = str(o.class_id)
            hyp.hypothesis.score = float(o.score)
            _set_pose(hyp.pose, o)
            size = d.bbox.size
            size.x, size.y, size.z = float(o.size[0]), float(o.size[1]), float(o.size[2])
            dets.append(d)
        self._keep(used, ("det",))
        out = Detection3DArray(header=header)
        out.detections = dets
        return out

    def odometry(self, header: Header, objects: Sequence[Object3D]) -> List[Odometry]:
        """nav_msgs/Odometry per 3D object: position, velocity and their covariances."""
        used: Dict[str, Dict[int, Any]] = {}
        out = []
        for o in objects:
            m = self._take("odom", o.track_id, lambda: Odometry(child_frame_id=f"track_{o.track_id}"), used)
            m.header = header
            _set_pose(m.pose, o)
            # The child frame has the optical frame's orientation (identity), so its axes are the optical axes.
            v = m.twist.twist.linear
            v.x, v.y, v.z = float(o.velocity[0]), float(o.velocity[1]), float(o.velocity[2])
            m.twist.covariance = _pose_cov(o.covariance[3:, 3:])
            out.append(m)
        self._keep(used, ("odom",))
        return out

    def markers(self, header: Header, objects: Sequence[Object3D], names: Mapping[int, str]) -> MarkerArray:
        """DELETEALL first (no ghosts of vanished tracks), then a cube, a label and a velocity arrow per track."""
        used: Dict[str, Dict[int, Any]] = {}
        markers = [Marker(header=header, action=Marker.DELETEALL)]
        for o in objects:
            tid = o.track_id
            x, y, z = float(o.position[0]), float(o.position[1]), float(o.position[2])
            cube = self._take("cube", tid, lambda: _new_marker("mot_boxes", tid, Marker.CUBE), used)
            cube.header = header
            p = cube.pose.position
            p.x, p.y, p.z = x, y, z
            cube.color.a = 0.5 if o.measured else 0.25
            sc = cube.scale
            sc.x, sc.y, sc.z = (max(float(v), 0.01) for v in o.size)
            text = self._take("text", tid, lambda: _new_marker("mot_labels", tid, Marker.TEXT_VIEW_FACING), used)
            text.header = header
            text.text = f"{names.get(o.class_id, str(o.class_id))} #{tid}"
            p = text.pose.position
            p.x, p.y, p.z = x, y - float(o.size[1]) / 2.0 - 0.1, z  # above the box: y points down
            markers += [cube, text]
            if float(np.linalg.norm(o.velocity)) >= MIN_ARROW_SPEED:
                arrow = self._take("arrow", tid, lambda: _new_marker("mot_velocity", tid, Marker.ARROW), used)
                arrow.header = header
                a, b = arrow.points
                a.x, a.y, a.z = x, y, z
                end = o.position + o.velocity  # where the object will be in one second
                b.x, b.y, b.z = float(end[0]), float(end[1]), float(end[2])
                markers.append(arrow)
        self._keep(used, ("cube", "text", "arrow"))
        return MarkerArray(markers=markers)


def _new_detection(track_id: int) -> Detection3D:
    d = Detection3D(id=str(track_id))
    hyp = ObjectHypothesisWithPose()
    d.results = [hyp]
    d.bbox = BoundingBox3D(center=hyp.pose.pose)  # the same pose object: one update sets both
    return d


def _new_marker(ns: str, track_id: int, kind: int) -> Marker:
    m = Marker(ns=ns, id=track_id, type=kind, action=Marker.ADD, lifetime=Duration(sec=MARKER_LIFETIME_SEC),
               color=_rgba(track_id, 1.0))
    if kind == Marker.TEXT_VIEW_FACING:
        m.scale.z = 0.2
    elif kind == Marker.ARROW:
        m.points = [Point(), Point()]
        m.scale = Vector3(x=0.03, y=0.06, z=0.08)
    return m


def detections_3d_msg(header: Header, objects: Sequence[Object3D]) -> Detection3DArray:
    """Detection3DArray of ``objects`` (fresh messages; the node reuses them through :class:`Messages3D`)."""
    return Messages3D().detections(header, objects)


def odometry_msgs(header: Header, objects: Sequence[Object3D]) -> List[Odometry]:
    """Odometry per object (fresh messages)."""
    return Messages3D().odometry(header, objects)


def markers_msg(header: Header, objects: Sequence[Object3D], names: Mapping[int, str]) -> MarkerArray:
    """Build the MarkerArray of ``objects`` (fresh messages)."""
    return Messages3D().markers(header, objects, names)


# -- the node's 3D stage ------------------------------------------------------------------
class DepthIO:
    """Subscriptions, synchroniser, 3D states and publishers of the 3D stage of one node.

    Args:
        node: The tracker node (a LifecycleNode).
        config: Its parameters (``use_depth`` is true).
        names: Class index to name (labels and per-class depth extents).
    """

    def __init__(self, node: Any, config: Config, names: Mapping[int, str]) -> None:
        self.node = node
        self.config = config
        self.names = dict(names)
        self.sync: StampSync[Image] = StampSync(config.depth_sync_slop, config.depth_queue_size)
        self.tracker = Tracker3D(Depth3DParams.from_config(config), self.names)
        self.camera: Optional[CameraModel] = None
        self._lock = threading.Lock()
        self.counts: Dict[str, int] = dict(depth_received=0, depth_bad=0, errors=0, frames_3d=0,
                                           frames_without_depth=0,
                                           frames_without_camera_info=0, tracks_without_depth=0,
                                           tracks_without_3d=0, tracks_3d_expired=0)
        self.last_error = ""
        self._ms: Deque[float] = deque(maxlen=300)
        self._sub_depth = self._sub_info = None
        self._depth_reliability: Optional[ReliabilityPolicy] = None
        self._pub_det = self._pub_odom = self._pub_markers = None
        self._markers_shown = False
        self._messages = Messages3D()

    # -- set-up ------------------------------------------------------------------------
    def start(self) -> None:
        """Create the subscriptions and publishers (on activate)."""
        n = self.node
        self._pub_det = n.create_publisher(Detection3DArray, "detections_3d", 10)
        self._pub_odom = n.create_publisher(Odometry, "tracks_3d", 50)
        self._pub_markers = n.create_publisher(MarkerArray, "markers", 5)
        # camera_info is small: BEST_EFFORT receives from every publisher; keep the latest one.
        self._sub_info = n.create_subscription(CameraInfo, "camera_info", self._on_info,
                                               QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.match_qos()

    def match_qos(self) -> None:
        """(Re)create the depth subscription with the reliability of its publishers (``qos_reliability``)."""
        n = self.node
        rel = wanted_reliability(self.config.qos_reliability,
                                 n.get_publishers_info_by_topic(n.resolve_topic_name("depth")))
        if self._sub_depth is not None and rel == self._depth_reliability:
            return
        old = self._sub_depth
        self._sub_depth = n.create_subscription(Image, "depth", self._on_depth,
                                                input_qos(rel, self.config.depth_queue_size))
        self._depth_reliability = rel
        if old is not None:  # make before break; a duplicate depth frame is simply not paired twice
            n.destroy_subscription(old)

    def stop(self) -> None:
        """Remove the markers from rviz and destroy the subscriptions and publishers (on deactivate)."""
        n = self.node
        if self._pub_markers is not None and self._markers_shown:
            self._pub_markers.publish(MarkerArray(markers=[Marker(action=Marker.DELETEALL)]))
        for name in ("_sub_depth", "_sub_info"):
            sub = getattr(self, name)
            if sub is not None:
                n.destroy_subscription(sub)
                setattr(self, name, None)
        for name in ("_pub_det", "_pub_odom", "_pub_markers"):
            pub = getattr(self, name)
            if pub is not None:
                n.destroy_publisher(pub)
                setattr(self, name, None)
        self.sync.clear()
        self.tracker.reset()

    def apply_config(self, config: Config, names: Optional[Mapping[int, str]] = None) -> None:
        """Use new depth parameters from the next frame."""
        self.config = config
        if names is not None:
            self.names = dict(names)
            self.tracker.class_names = self.names
        self.sync.slop = config.depth_sync_slop
        self.tracker.params = Depth3DParams.from_config(config)

    # -- input -------------------------------------------------------------------------
    def _on_info(self, msg: CameraInfo) -> None:
        try:
            self.camera = camera_from_info(msg)
        except DepthError as exc:
            self.node.get_logger().warning(f"ignoring {self.node.resolve_topic_name('camera_info')}: {exc}",
                                           throttle_duration_sec=10.0)

    def _on_depth(self, msg: Image) -> None:
        self._count(depth_received=1)
        if msg.encoding not in DEPTH_ENCODINGS:
            # checked here, cheaply, so that a wrong topic is reported at once; the frame is not queued
            self._bad(f"depth encoding: expected one of {list(DEPTH_ENCODINGS)} (16UC1 in millimetres or 32FC1 "
                      f"in metres), got {msg.encoding!r}")
            return
        self.sync.add(stamp_sec(msg.header), msg)

    def _bad(self, reason: str) -> None:
        self._count(depth_bad=1)
        self.last_error = reason
        self.node.get_logger().error(f"depth frame on {self.node.resolve_topic_name('depth')} skipped: {reason}",
                                     throttle_duration_sec=5.0)

    def _count(self, **counts: int) -> None:
        with self._lock:
            for k, v in counts.items():
                self.counts[k] += v

    # -- per frame ---------------------------------------------------------------------
    def process(self, header: Header, tracks: Sequence[TrackedObject], colour_size: Tuple[int, int]) -> None:
        """Pair the colour frame with depth, update the 3D states and publish; called by the worker."""
        t0 = time.perf_counter()
        depth_msg = self.sync.take(stamp_sec(header))
        depth = None
        if depth_msg is not None:
            try:
                depth = depth_from_image(depth_msg)
            except DepthError as exc:
                self._bad(str(exc))
        else:
            self._count(frames_without_depth=1)
        camera = self.camera
        if camera is None:
            self._count(frames_without_camera_info=1)
            self.node.get_logger().warning(
                f"no camera_info received on {self.node.resolve_topic_name('camera_info')}: publishing 2D only "
                f"(detections_3d stays empty) until it arrives", throttle_duration_sec=10.0)
        frame = self.tracker.update(tracks, depth, camera, colour_size, stamp_sec(header) or None)
        self._count(frames_3d=1, tracks_without_depth=frame.no_depth, tracks_without_3d=frame.without_3d,
                    tracks_3d_expired=frame.expired)
        if self._pub_det is not None:
            self._pub_det.publish(self._messages.detections(header, frame.objects))
        if self._pub_odom is not None and self._pub_odom.get_subscription_count() > 0:
            for m in self._messages.odometry(header, frame.objects):
                self._pub_odom.publish(m)
        if self._pub_markers is not None and self._pub_markers.get_subscription_count() > 0:
            self._pub_markers.publish(self._messages.markers(header, frame.objects, self.names))
            self._markers_shown = True
        self._ms.append((time.perf_counter() - t0) * 1e3)

    def record_error(self, exc: Exception) -> None:
        """Count a failure of the 3D stage of one frame (its 2D outputs are already published)."""
        self._count(errors=1)
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.node.get_logger().error(f"3D stage failed for a frame: {self.last_error}", throttle_duration_sec=5.0)

    def diagnostic_status(self, name: str, hardware_id: str = "") -> DiagnosticStatus:
        """Build the 3D stage's /diagnostics entry: WARN while camera_info is missing or depth frames are bad."""
        values = self.diagnostic_values()
        level, message = DiagnosticStatus.OK, "3D tracking"
        if self.camera is None:
            level = DiagnosticStatus.WARN
            message = f"no camera_info on {self.node.resolve_topic_name('camera_info')}: 2D only"
        elif values["depth_frames_bad"] or self.counts["errors"]:
            level, message = DiagnosticStatus.WARN, f"bad depth frames: {self.last_error}"
        status = DiagnosticStatus(level=level, name=f"{name}: 3D", message=message, hardware_id=hardware_id)
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        return status

    def diagnostic_values(self) -> Dict[str, Any]:
        """Counters of the 3D stage for /diagnostics (keys prefixed ``depth_``/``3d_``)."""
        with self._lock:
            c = dict(self.counts)
        sc = self.sync.counts
        values: Dict[str, Any] = {
            "depth_frames_received": c["depth_received"], "depth_frames_bad": c["depth_bad"],
            "depth_frames_unpaired": sc.unpaired_secondary, "colour_frames_without_depth": sc.unpaired_primary,
            "frames_without_camera_info": c["frames_without_camera_info"],
            "tracks_without_valid_depth": c["tracks_without_depth"], "tracks_without_3d": c["tracks_without_3d"],
            "tracks_3d_expired": c["tracks_3d_expired"], "tracks_3d": len(self.tracker),
            "camera_info": "received" if self.camera is not None else "missing",
            "depth_reliability": self._depth_reliability.name if self._depth_reliability else "",
            "errors_3d": c["errors"],
        }
        if self._ms:
            values["depth3d_ms"] = f"{float(np.median(self._ms)):.2f}"
        if self.last_error:
            values["depth_last_error"] = self.last_error
        return values
