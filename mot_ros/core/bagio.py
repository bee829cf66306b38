"""rosbag2 input and output with the ``rosbags`` library (no ROS installation needed).

* :func:`make_typestore` returns a Jazzy typestore with the vision_msgs
  messages registered. Their definitions come from the installed package
  (``share/vision_msgs/msg/*.msg`` under an ament prefix or the venv), else from
  this repository's ``interfaces/vision_msgs``, else from the copies embedded
  here (vision_msgs 4.1.1, the same text). Connections written with it carry
  the full message definition (``ros2msg``) and the RIHS01 type hash, so
  ``ros2 bag play`` and ``ros2 bag info`` accept the bags.
* :class:`ImageBag` reads the Image or CompressedImage messages of one topic
  from an mcap or sqlite3 bag, in log-time order.
* :class:`BagOutput` writes Detection2DArray, LabelInfo and annotated images.
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import yaml

from .image_codec import FrameError, encode_bgr8, image_to_bgr
from .types import TrackedObject

log = logging.getLogger(__name__)

PathLike = Union[str, Path]
IMAGE_TYPES: Tuple[str, ...] = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
STORAGE_FORMATS: Tuple[str, ...] = ("mcap", "sqlite3")
BAG_VERSION = 9
"""rosbag2 metadata version written: 9 is Jazzy's (QoS profiles as a YAML list)."""

VISION_MSGS: Dict[str, str] = {
    # vision_msgs 4.1.1 (Humble/Jazzy); used only when no installed definition is found.
    "Point2D": "float64 x\nfloat64 y\n",
    "Pose2D": "vision_msgs/Point2D position\nfloat64 theta\n",
    "BoundingBox2D": "vision_msgs/Pose2D center\nfloat64 size_x\nfloat64 size_y\n",
    "ObjectHypothesis": "string class_id\nfloat64 score\n",
    "ObjectHypothesisWithPose": "ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose\n",
    "Detection2D": "std_msgs/Header header\nObjectHypothesisWithPose[] results\nBoundingBox2D bbox\nstring id\n",
    "Detection2DArray": "std_msgs/Header header\nDetection2D[] detections\n",
    "VisionClass": "uint16 UNLABELED = 65535\nuint16 class_id\nstring class_name\n",
    "LabelInfo": "std_msgs/Header header\nVisionClass[] class_map\nfloat32 threshold\n",
}
"""Message definitions registered in the typestore (names without the ``vision_msgs/msg/`` prefix)."""


class BagError(ValueError):
    """A bag cannot be read or written; the message names the bag (and the topic)."""


def _msg_dir_candidates() -> List[Path]:
    out: List[Path] = []
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        out.append(Path(prefix) / "share" / "vision_msgs" / "msg")
    out.append(Path(sys.prefix) / "share" / "vision_msgs" / "msg")
    out.append(Path(__file__).resolve().parents[2] / "interfaces" / "vision_msgs" / "msg")
    return out


def vision_msgs_definitions() -> Tuple[Dict[str, str], str]:
    """The vision_msgs ``.msg`` texts we register, and where they came from.

    Returns:
        (name -> definition text, source directory or ``embedded``).
    """
    for d in _msg_dir_candidates():
        if all((d / f"{n}.msg").is_file() for n in VISION_MSGS):
            return {n: (d / f"{n}.msg").read_text() for n in VISION_MSGS}, str(d)
    return dict(VISION_MSGS), "embedded"


def make_typestore() -> Any:
    """A new ROS 2 Jazzy typestore with vision_msgs registered.

    Each call returns its own store: callers that register more types (e.g. the 3D messages) pass
    their store to :class:`ImageBag`, :class:`BagOutput` and :func:`read_topic`.
    """
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    defs, source = vision_msgs_definitions()
    types: Dict[str, Any] = {}
    for name, text in defs.items():
        types.update(get_types_from_msg(text, f"vision_msgs/msg/{name}"))
    store.register(types)
    log.debug("vision_msgs definitions from %s", source)
    return store


def storage_format(path: PathLike) -> str:
    """``mcap`` or ``sqlite3`` for a bag directory (from metadata.yaml) or a single storage file.

    Raises:
        BagError: Not a bag.
    """
    p = Path(path)
    if p.is_file():
        if p.suffix == ".mcap":
            return "mcap"
        if p.suffix == ".db3":
            return "sqlite3"
        raise BagError(f"bag {str(p)!r}: expected a rosbag2 directory, an .mcap or a .db3 file, got a "
                       f"{p.suffix or 'suffix-less'} file")
    meta = p / "metadata.yaml"
    if not p.is_dir():
        raise BagError(f"bag {str(p)!r}: expected a rosbag2 directory (with metadata.yaml), but it does not exist")
    if not meta.is_file():
        files = sorted(p.glob("*.mcap")) + sorted(p.glob("*.db3"))
        if files:
            return storage_format(files[0])
        raise BagError(f"bag {str(p)!r}: expected a rosbag2 directory with metadata.yaml, found none")
    try:
        info = (yaml.safe_load(meta.read_text()) or {}).get("rosbag2_bagfile_information", {})
    except yaml.YAMLError as exc:
        raise BagError(f"bag {str(p)!r}: metadata.yaml is not valid YAML: {exc}") from None
    ident = str(info.get("storage_identifier", ""))
    if ident not in STORAGE_FORMATS:
        raise BagError(f"bag {str(p)!r}: expected storage_identifier mcap or sqlite3 in metadata.yaml, "
                       f"got {ident!r}")
    return ident


@dataclass
class BagFrame:
    """One image message of the input topic.

    Attributes:
        index: 0-based position in the topic.
        log_time_ns: The bag's receive (log) time in nanoseconds.
        header: The message's std_msgs/Header (a rosbags object).
        image: The decoded BGR uint8 image, or None when it could not be decoded.
        error: Why ``image`` is None.
        msgtype: ``sensor_msgs/msg/Image`` or ``sensor_msgs/msg/CompressedImage``.
        raw: The serialized (CDR) message as stored.
    """

    index: int
    log_time_ns: int
    header: Any
    image: Optional[np.ndarray]
    error: str
    msgtype: str
    raw: bytes

    @property
    def stamp_sec(self) -> float:
        """Header stamp in seconds (0.0 when unset)."""
        return self.header.stamp.sec + self.header.stamp.nanosec * 1e-9


class ImageBag:
    """Reads the images of one topic from a rosbag2 bag (mcap or sqlite3).

    Args:
        path: Bag directory, or a single .mcap / .db3 file.
        topic: The Image or CompressedImage topic.
        typestore: The typestore to deserialize with; default a new :func:`make_typestore`.

    Raises:
        BagError: Missing or unreadable bag, topic absent (the message lists
            the image topics there are), or a topic of another type.
    """

    def __init__(self, path: PathLike, topic: str, typestore: Optional[Any] = None) -> None:
        from rosbags.rosbag2 import Reader

        self.path = Path(path)
        self.format = storage_format(self.path)
        self.typestore = typestore if typestore is not None else make_typestore()
        try:
            self._reader = Reader(self.path)
            self._reader.open()
        except Exception as exc:  # rosbags raises its own error types, sqlite3 and mcap errors
            raise BagError(f"bag {str(self.path)!r}: cannot be opened as a rosbag2 bag "
                           f"({type(exc).__name__}: {exc})") from None
        topics = self._reader.topics
        self.topic = topic if topic.startswith("/") or topic in topics else "/" + topic
        if self.topic not in topics:
            images = sorted(t for t, i in topics.items() if i.msgtype in IMAGE_TYPES)
            self.close()
            raise BagError(f"bag {str(self.path)!r}: topic {topic!r} not found; image topics in the bag: "
                           f"{images or 'none'} (all topics: {sorted(topics)})")
        info = topics[self.topic]
        if info.msgtype not in IMAGE_TYPES:
            self.close()
            raise BagError(f"bag {str(self.path)!r}: topic {topic!r} holds {info.msgtype}; expected "
                           f"sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage")
        self.msgtype = str(info.msgtype)
        self.connections = list(info.connections)
        self.count = int(info.msgcount)
        self.qos = [q for c in self.connections for q in getattr(c.ext, "offered_qos_profiles", [])][:1]

    @property
    def all_connections(self) -> list:
        """Every connection of the bag (for copying topics)."""
        return list(self._reader.connections)

    def frames(self, decode: bool = True) -> Iterator[BagFrame]:
        """Yield the topic's messages in log-time order, decoded to BGR when ``decode``."""
        for i, (conn, t, raw) in enumerate(self._reader.messages(connections=self.connections)):
            msg = self.typestore.deserialize_cdr(raw, conn.msgtype)
            img, err = None, ""
            if decode:
                try:
                    img = image_to_bgr(msg)
                except FrameError as exc:
                    err = str(exc)
            yield BagFrame(i, int(t), msg.header, img, err, conn.msgtype, bytes(raw))

    def messages(self, connections: Sequence[Any] = ()) -> Iterator[Tuple[Any, int, bytes]]:
        """Raw ``(connection, log time ns, data)`` of the given connections (all when empty)."""
        yield from self._reader.messages(connections=list(connections) or self._reader.connections)

    def close(self) -> None:
        """Close the bag."""
        if getattr(self, "_reader", None) is not None and self._reader.is_open:
            self._reader.close()

    def __enter__(self) -> "ImageBag":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reliable_qos(depth: int = 10) -> Any:
    """A RELIABLE, VOLATILE, KEEP_LAST profile for topics we write (``ros2 bag play`` offers it)."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    never = QosTime(0x7FFFFFFF, 0xFFFFFFFF)
    return Qos(QosHistory.KEEP_LAST, depth, QosReliability.RELIABLE, QosDurability.VOLATILE, never, never,
               QosLiveliness.AUTOMATIC, never, False)


def latched_qos() -> Any:
    """RELIABLE + TRANSIENT_LOCAL, depth 1 (for label_info)."""
    q = reliable_qos(1)
    from rosbags.interfaces import QosDurability

    return q._replace(durability=QosDurability.TRANSIENT_LOCAL)


class BagOutput:
    """Writes a new rosbag2 bag with the typestore of :func:`make_typestore`.

    Args:
        path: Bag directory to create; it must not exist.
        fmt: ``mcap`` or ``sqlite3``.
        typestore: The typestore to serialize with; default a new :func:`make_typestore`.

    Raises:
        BagError: The path exists or cannot be created, or an unknown format.
    """

    def __init__(self, path: PathLike, fmt: str = "mcap", typestore: Optional[Any] = None) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        if fmt not in STORAGE_FORMATS:
            raise BagError(f"--format: expected one of {list(STORAGE_FORMATS)}, got {fmt!r}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"output bag {str(self.path)!r}: already exists; expected a new path (rosbag2 "
                           f"bags are directories and are never overwritten)")
        self.format = fmt
        self.typestore = typestore if typestore is not None else make_typestore()
        plugin = StoragePlugin.MCAP if fmt == "mcap" else StoragePlugin.SQLITE3
        self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=plugin)
        try:
            self._writer.open()
        except Exception as exc:
            raise BagError(f"output bag {str(self.path)!r}: cannot be created ({exc})") from None
        self._conns: Dict[str, Any] = {}
        self.counts: Dict[str, int] = {}

    def add_topic(self, topic: str, msgtype: str, qos: Optional[Sequence[Any]] = None,
                  msgdef: Optional[str] = None, digest: Optional[str] = None) -> None:
        """Register ``topic``; the definition and hash come from the typestore unless given."""
        self._conns[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self.typestore, msgdef=msgdef, rihs01=digest,
            offered_qos_profiles=list(qos) if qos is not None else [reliable_qos()])
        self.counts[topic] = 0

    def write(self, topic: str, log_time_ns: int, msg: Any) -> None:
        """Serialize ``msg`` (a rosbags message object) to CDR and write it."""
        conn = self._conns[topic]
        self._writer.write(conn, int(log_time_ns), self.typestore.serialize_cdr(msg, conn.msgtype))
        self.counts[topic] += 1

    def write_raw(self, topic: str, log_time_ns: int, data: bytes) -> None:
        """Write already-serialized CDR data."""
        self._writer.write(self._conns[topic], int(log_time_ns), data)
        self.counts[topic] += 1

    def close(self) -> None:
        """Finish the bag (writes metadata.yaml)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None  # type: ignore[assignment]

    def abort(self) -> None:
        """Stop without finishing (after an error)."""
        if self._writer is not None:
            self._writer.abort()
            self._writer = None  # type: ignore[assignment]

    def __enter__(self) -> "BagOutput":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# -- message construction (rosbags objects) -------------------------------------------------

def header(store: Any, sec: int, nanosec: int, frame_id: str) -> Any:
    """A std_msgs/Header."""
    T = store.types
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=int(sec), nanosec=int(nanosec)),
                                    frame_id=str(frame_id))


def detections_msg(store: Any, hdr: Any, tracks: Sequence[TrackedObject]) -> Any:
    """vision_msgs/Detection2DArray with the same fields as the node's (``conversions.tracks_to_msg``)."""
    T = store.types
    dets = []
    for t in tracks:
        x1, y1, x2, y2 = (float(v) for v in t.xyxy)
        pose = T["geometry_msgs/msg/PoseWithCovariance"](
            pose=T["geometry_msgs/msg/Pose"](position=T["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
                                             orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0,
                                                                                           w=1.0)),
            covariance=np.zeros(36, np.float64))
        hyp = T["vision_msgs/msg/ObjectHypothesisWithPose"](
            hypothesis=T["vision_msgs/msg/ObjectHypothesis"](class_id=str(t.class_id), score=float(t.score)),
            pose=pose)
        centre = T["vision_msgs/msg/Point2D"](x=(x1 + x2) / 2.0, y=(y1 + y2) / 2.0)
        center = T["vision_msgs/msg/Pose2D"](position=centre, theta=0.0)
        bbox = T["vision_msgs/msg/BoundingBox2D"](center=center, size_x=x2 - x1, size_y=y2 - y1)
        dets.append(T["vision_msgs/msg/Detection2D"](header=hdr, results=[hyp], bbox=bbox, id=str(t.track_id)))
    return T["vision_msgs/msg/Detection2DArray"](header=hdr, detections=dets)


def label_info_msg(store: Any, hdr: Any, class_map: Mapping[int, str], threshold: float) -> Any:
    """vision_msgs/LabelInfo with the classes in use."""
    T = store.types
    classes = [T["vision_msgs/msg/VisionClass"](class_id=int(k), class_name=str(v))
               for k, v in sorted(class_map.items())]
    return T["vision_msgs/msg/LabelInfo"](header=hdr, class_map=classes, threshold=float(threshold))


def image_msg(store: Any, hdr: Any, image: np.ndarray) -> Any:
    """sensor_msgs/Image (bgr8) of a BGR uint8 image."""
    h, w, enc, step, data = encode_bgr8(image)
    image_type = store.types["sensor_msgs/msg/Image"]
    return image_type(header=hdr, height=h, width=w, encoding=enc, is_bigendian=0, step=step,
                      data=np.frombuffer(data, np.uint8))


def compressed_msg(store: Any, hdr: Any, image: np.ndarray, fmt: str = "jpeg", quality: int = 90) -> Any:
    """sensor_msgs/CompressedImage (jpeg or png) of a BGR uint8 image."""
    import cv2

    ok, buf = cv2.imencode(".png" if fmt == "png" else ".jpg", image,
                           [] if fmt == "png" else [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"could not encode a {image.shape} image as {fmt}")
    return store.types["sensor_msgs/msg/CompressedImage"](header=hdr, format=fmt, data=buf.reshape(-1))


def read_topic(path: PathLike, topic: str, typestore: Optional[Any] = None) -> List[Tuple[int, Any]]:
    """All ``(log time ns, message)`` of ``topic`` in a bag (for tests and tools).

    Args:
        path: The bag.
        topic: The topic to read.
        typestore: The typestore to deserialize with; default a new :func:`make_typestore`.

    Raises:
        BagError: Missing bag or topic.
    """
    from rosbags.rosbag2 import Reader

    store = typestore if typestore is not None else make_typestore()
    p = Path(path)
    storage_format(p)
    with Reader(p) as reader:
        conns = [c for c in reader.connections if c.topic == topic]
        if not conns:
            raise BagError(f"bag {str(p)!r}: topic {topic!r} not found; topics: "
                           f"{sorted({c.topic for c in reader.connections})}")
        return [(int(t), store.deserialize_cdr(raw, c.msgtype)) for c, t, raw in reader.messages(connections=conns)]


def write_image_bag(path: PathLike, topic: str, frames: Sequence[np.ndarray], start_ns: int = 1_000_000_000_000,
                    period_ns: int = 100_000_000, fmt: str = "mcap", compressed: bool = False,
                    frame_id: str = "camera", stamp_offset_ns: int = 0) -> Path:
    """Write ``frames`` as an Image (or CompressedImage jpeg) topic: a test and demo input.

    Frame ``i`` gets log time ``start_ns + i * period_ns`` and the header stamp
    ``log time - stamp_offset_ns`` (a capture-to-record delay).
    """
    with BagOutput(path, fmt) as out:
        mtype = IMAGE_TYPES[1] if compressed else IMAGE_TYPES[0]
        out.add_topic(topic, mtype)
        for i, img in enumerate(frames):
            t = start_ns + i * period_ns
            s = t - stamp_offset_ns
            hdr = header(out.typestore, s // 1_000_000_000, s % 1_000_000_000, frame_id)
            msg = compressed_msg(out.typestore, hdr, img) if compressed else image_msg(out.typestore, hdr, img)
            out.write(topic, t, msg)
    return Path(path)
