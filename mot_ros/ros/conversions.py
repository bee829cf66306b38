"""Mapping between ROS messages and the core's arrays and dataclasses.

Decoding an image message is :func:`mot_ros.core.image_codec.image_to_bgr` (it also decodes rosbags messages).
"""
from __future__ import annotations

import array
from typing import Mapping, Optional, Sequence

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import (BoundingBox2D, Detection2D, Detection2DArray, LabelInfo, ObjectHypothesis,
                             ObjectHypothesisWithPose, VisionClass)

from ..core.image_codec import encode_bgr8, encode_raw
from ..core.types import TrackedObject


def bgr_to_image(image: np.ndarray, header: Optional[Header] = None, encoding: str = "bgr8") -> Image:
    """Build a sensor_msgs/Image from a BGR uint8 array (optionally re-encoded)."""
    h, w, enc, step, data = encode_bgr8(image) if encoding == "bgr8" else encode_raw(image, encoding)
    msg = Image(height=h, width=w, encoding=enc, is_bigendian=0, step=step)
    if header is not None:
        msg.header = header
    msg.data = array.array("B", data)
    return msg


def stamp_to_sec(header: Header) -> float:
    """Header stamp in seconds (0.0 when unset)."""
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def tracks_to_msg(header: Header, tracks: Sequence[TrackedObject]) -> Detection2DArray:
    """One Detection2D per track: ``id`` = track ID, class index as ``class_id``, box centre/size in pixels."""
    out = Detection2DArray(header=header)
    dets = []
    for t in tracks:
        x1, y1, x2, y2 = t.xyxy
        d = Detection2D(header=header, id=str(t.track_id))
        bbox = BoundingBox2D(size_x=float(x2 - x1), size_y=float(y2 - y1))
        bbox.center.position.x = float((x1 + x2) / 2.0)
        bbox.center.position.y = float((y1 + y2) / 2.0)
        d.bbox = bbox
        d.results = [ObjectHypothesisWithPose(hypothesis=ObjectHypothesis(class_id=str(t.class_id),
                                                                          score=float(t.score)))]
        dets.append(d)
    out.detections = dets
    return out


def label_info_msg(header: Header, class_map: Mapping[int, str], threshold: float) -> LabelInfo:
    """A LabelInfo with the classes in use and the confidence threshold."""
    return LabelInfo(header=header, threshold=float(threshold),
                     class_map=[VisionClass(class_id=int(k), class_name=str(v)) for k, v in sorted(class_map.items())])
