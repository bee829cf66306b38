"""3D offline: read depth and camera_info from a rosbag2 bag and build detections_3d (rosbags, no rclpy).

``mot_track bag --depth-topic D --camera-info-topic C`` uses :class:`Bag3D`: depth
frames are read in log-time order a little ahead of each colour frame, paired
by stamp with the same synchroniser and 3D tracker as the node, and written as
vision_msgs/Detection3DArray on ``<prefix>/detections_3d``.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..core.depth3d import CameraModel, Depth3DParams, DepthError, Object3D, Tracker3D, decode_depth
from ..core.sync import StampSync
from ..core.types import TrackedObject

log = logging.getLogger(__name__)

LOOKAHEAD_NS = 500_000_000
"""Depth messages logged up to this long after a colour frame are read before it is processed."""
MIN_QUEUE = 64
"""Depth frames held at least (offline, the look-ahead may hold more than the node's queue)."""

VISION_MSGS_3D: Dict[str, str] = {
    "BoundingBox3D": "geometry_msgs/Pose center\ngeometry_msgs/Vector3 size\n",
    "Detection3D": "std_msgs/Header header\nObjectHypothesisWithPose[] results\nBoundingBox3D bbox\nstring id\n",
    "Detection3DArray": "std_msgs/Header header\nDetection3D[] detections\n",
}
"""vision_msgs 4.1.1 3D definitions registered in the bag typestore."""


def register_3d_types(store: Any) -> None:
    """Add the vision_msgs 3D messages to a rosbags typestore (no-op when present)."""
    from rosbags.typesys import get_types_from_msg

    types: Dict[str, Any] = {}
    for name, text in VISION_MSGS_3D.items():
        if f"vision_msgs/msg/{name}" not in store.types:
            types.update(get_types_from_msg(text, f"vision_msgs/msg/{name}"))
    if types:
        store.register(types)


def _stamp(header: Any) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def detections_3d_msg(store: Any, hdr: Any, objects: Sequence[Object3D]) -> Any:
    """vision_msgs/Detection3DArray with the same fields as the node's (``ros.depth_io.detections_3d_msg``)."""
    T = store.types
    dets = []
    for o in objects:
        cov = np.diag([0.0, 0.0, 0.0, 1e6, 1e6, 1e6])
        cov[:3, :3] = o.covariance[:3, :3]
        pose = T["geometry_msgs/msg/Pose"](
            position=T["geometry_msgs/msg/Point"](x=float(o.position[0]), y=float(o.position[1]),
                                                  z=float(o.position[2])),
            orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0))
        hyp = T["vision_msgs/msg/ObjectHypothesisWithPose"](
            hypothesis=T["vision_msgs/msg/ObjectHypothesis"](class_id=str(o.class_id), score=float(o.score)),
            pose=T["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=cov.reshape(-1)))
        size = T["geometry_msgs/msg/Vector3"](x=float(o.size[0]), y=float(o.size[1]), z=float(o.size[2]))
        bbox = T["vision_msgs/msg/BoundingBox3D"](center=pose, size=size)
        dets.append(T["vision_msgs/msg/Detection3D"](header=hdr, results=[hyp], bbox=bbox, id=str(o.track_id)))
    return T["vision_msgs/msg/Detection3DArray"](header=hdr, detections=dets)


class Bag3D:
    """The 3D stage of ``mot_track bag``.

    Args:
        bag: The open ``bagio.ImageBag`` of the colour topic.
        depth_topic: Depth Image topic (16UC1 or 32FC1) in the same bag.
        info_topic: CameraInfo topic in the same bag.
        config: The parameters (``depth_*``).
        names: Class index to name (per-class depth extents).

    Raises:
        bagio.BagError: A topic is missing or of the wrong type (the message lists the bag's topics).
    """

    def __init__(self, bag: Any, depth_topic: str, info_topic: str, config: Any, names: Dict[int, str]) -> None:
        from ..core import bagio

        self.store = bag.typestore  # reads the depth and camera_info messages
        self.out_store = self.store  # builds detections_3d (see use_store)
        register_3d_types(self.store)
        topics = {c.topic: c for c in bag.all_connections}
        conns = []
        for topic, want in ((depth_topic, "sensor_msgs/msg/Image"), (info_topic, "sensor_msgs/msg/CameraInfo")):
            name = topic if topic in topics else "/" + topic.lstrip("/")
            if name not in topics:
                raise bagio.BagError(f"bag {str(bag.path)!r}: topic {topic!r} not found; topics: {sorted(topics)}")
            if topics[name].msgtype != want:
                raise bagio.BagError(f"bag {str(bag.path)!r}: topic {topic!r} holds {topics[name].msgtype}; "
                                     f"expected {want}")
            conns += [c for c in bag.all_connections if c.topic == name]
        self.depth_topic = next(c.topic for c in conns if c.msgtype == "sensor_msgs/msg/Image")
        self._messages: Iterator[Tuple[Any, int, bytes]] = bag.messages(conns)
        self._pending: Optional[Tuple[Any, int, bytes]] = None
        self.sync: StampSync[Any] = StampSync(config.depth_sync_slop, max(config.depth_queue_size, MIN_QUEUE))
        self.tracker = Tracker3D(Depth3DParams.from_config(config), names)
        self.camera: Optional[CameraModel] = None
        self.counts = dict(depth_bad=0, frames_without_camera_info=0, tracks_without_depth=0, objects=0)
        self._warned: set = set()

    def use_store(self, store: Any) -> None:
        """Build the output messages with ``store`` (the output bag's typestore), adding the 3D types to it."""
        register_3d_types(store)
        self.out_store = store

    def _advance(self, until_ns: int) -> None:
        """Read depth and camera_info messages logged up to ``until_ns``."""
        while True:
            item = self._pending or next(self._messages, None)
            self._pending = None
            if item is None:
                return
            conn, t, raw = item
            if t > until_ns:
                self._pending = item
                return
            msg = self.store.deserialize_cdr(raw, conn.msgtype)
            if conn.msgtype == "sensor_msgs/msg/CameraInfo":
                try:
                    self.camera = CameraModel.from_k(list(msg.k), msg.width, msg.height)
                except DepthError as exc:
                    self._warn_once("info", f"{conn.topic}: {exc}")
            else:
                self.sync.add(_stamp(msg.header), msg)

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(text)

    def process(self, log_time_ns: int, header: Any, tracks: Sequence[TrackedObject],
                colour_size: Tuple[int, int]) -> Any:
        """Build the Detection3DArray (rosbags object) of one colour frame."""
        self._advance(log_time_ns + LOOKAHEAD_NS)
        stamp = _stamp(header)
        msg = self.sync.take(stamp)
        depth = None
        if msg is not None:
            try:
                depth = decode_depth(msg.width, msg.height, msg.encoding, msg.step, msg.data, msg.is_bigendian)
            except DepthError as exc:
                self.counts["depth_bad"] += 1
                self._warn_once("bad", f"{self.depth_topic}: {exc}")
        if self.camera is None:
            self.counts["frames_without_camera_info"] += 1
        frame = self.tracker.update(tracks, depth, self.camera, colour_size, stamp or None)
        self.counts["tracks_without_depth"] += frame.no_depth
        self.counts["objects"] += len(frame.objects)
        return detections_3d_msg(self.out_store, header, frame.objects)

    def summary(self) -> str:
        """One line of counts for the tool's output."""
        c, s = self.counts, self.sync.counts
        return (f"3d_objects={c['objects']} depth_paired={s.paired} colour_without_depth={s.unpaired_primary} "
                f"depth_unpaired={s.unpaired_secondary} depth_bad={c['depth_bad']} "
                f"frames_without_camera_info={c['frames_without_camera_info']} "
                f"tracks_without_valid_depth={c['tracks_without_depth']}")


def write_rgbd_bag(path: Any, frames: Sequence[Any], camera: CameraModel, encoding: str = "16UC1",
                   topics: Tuple[str, str, str] = ("/camera/color/image_raw", "/camera/depth/image_raw",
                                                   "/camera/color/camera_info"),
                   fmt: str = "mcap", frame_id: str = "camera_color_optical_frame") -> List[str]:
    """Write ``depth_synthetic.RGBDFrame``s as colour, depth and camera_info topics (a test input)."""
    from ..core.depth3d import encode_depth
    from ..core.image_codec import encode_bgr8
    from ..core import bagio

    with bagio.BagOutput(path, fmt) as out:
        T = out.typestore.types
        out.add_topic(topics[0], "sensor_msgs/msg/Image")
        out.add_topic(topics[1], "sensor_msgs/msg/Image")
        out.add_topic(topics[2], "sensor_msgs/msg/CameraInfo")
        for fr in frames:
            ns = int(round(fr.stamp * 1e9))
            hdr = bagio.header(out.typestore, ns // 1_000_000_000, ns % 1_000_000_000, frame_id)
            h, w, enc, step, data = encode_bgr8(fr.image)
            out.write(topics[0], ns, T["sensor_msgs/msg/Image"](
                header=hdr, height=h, width=w, encoding=enc, is_bigendian=0, step=step,
                data=np.frombuffer(data, np.uint8)))
            h, w, enc, step, data = encode_depth(fr.depth, encoding)
            out.write(topics[1], ns + 1_000_000, T["sensor_msgs/msg/Image"](
                header=hdr, height=h, width=w, encoding=enc, is_bigendian=0, step=step,
                data=np.frombuffer(data, np.uint8)))
            k = np.array([camera.fx, 0, camera.cx, 0, camera.fy, camera.cy, 0, 0, 1], np.float64)
            info = T["sensor_msgs/msg/CameraInfo"](
                header=hdr, height=camera.height, width=camera.width, distortion_model="plumb_bob",
                d=np.zeros(5), k=k, r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
                roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                          do_rectify=False))
            out.write(topics[2], ns, info)
    return list(topics)
