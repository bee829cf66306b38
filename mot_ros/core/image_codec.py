"""Image decoding and encoding without cv_bridge.

The functions take the fields of ``sensor_msgs/Image`` and
``sensor_msgs/CompressedImage`` as plain values, so they are ROS-free and
testable; ``mot_ros.ros.conversions`` passes the message fields in.
Every rejected frame raises :class:`FrameError` with the reason.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple, Union

import cv2
import numpy as np

Buffer = Union[bytes, bytearray, memoryview, np.ndarray]

MAX_PIXELS = 8192 * 8192
"""Largest accepted frame (width * height); larger headers are rejected before any allocation."""

# encoding -> (channels, dtype)
_LAYOUT: Dict[str, Tuple[int, np.dtype]] = {
    "bgr8": (3, np.dtype(np.uint8)), "rgb8": (3, np.dtype(np.uint8)),
    "bgra8": (4, np.dtype(np.uint8)), "rgba8": (4, np.dtype(np.uint8)),
    "mono8": (1, np.dtype(np.uint8)), "8UC1": (1, np.dtype(np.uint8)), "8UC3": (3, np.dtype(np.uint8)),
    "8UC4": (4, np.dtype(np.uint8)),
    "mono16": (1, np.dtype(np.uint16)), "16UC1": (1, np.dtype(np.uint16)),
    "bgr16": (3, np.dtype(np.uint16)), "rgb16": (3, np.dtype(np.uint16)),
    "yuv422": (2, np.dtype(np.uint8)), "uyvy": (2, np.dtype(np.uint8)),
    "yuv422_yuy2": (2, np.dtype(np.uint8)), "yuyv": (2, np.dtype(np.uint8)),
}
SUPPORTED_ENCODINGS: Tuple[str, ...] = tuple(_LAYOUT)


class FrameError(ValueError):
    """A frame that cannot be converted; the message says why."""


def decode_raw(width: int, height: int, encoding: str, step: int, data: Buffer,
               is_bigendian: int = 0) -> np.ndarray:
    """Convert raw ``sensor_msgs/Image`` fields to a contiguous BGR uint8 array.

    Args:
        width: Image width in pixels.
        height: Image height in pixels.
        encoding: ROS encoding, one of ``SUPPORTED_ENCODINGS``.
        step: Row length in bytes (may include padding).
        data: The pixel bytes.
        is_bigendian: 1 when multi-byte pixels are big-endian.

    Returns:
        (height, width, 3) uint8 BGR image.

    Raises:
        FrameError: On an unsupported encoding, a zero or huge size, a step
            shorter than a row, or a data length that does not match.
    """
    if width <= 0 or height <= 0:
        raise FrameError(f"expected a positive image size, got {width}x{height}")
    if width * height > MAX_PIXELS:
        raise FrameError(f"expected at most {MAX_PIXELS} pixels, got {width}x{height}")
    layout = _LAYOUT.get(encoding)
    if layout is None:
        raise FrameError(f"unsupported encoding {encoding!r}; expected one of {list(SUPPORTED_ENCODINGS)}")
    channels, dtype = layout
    if channels == 2 and width % 2:
        raise FrameError(f"{encoding} packs two pixels per 4 bytes; expected an even width, got {width}")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise FrameError(f"step {step} is shorter than one row of {width} {encoding} pixels "
                         f"(expected at least {row_bytes})")
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1).view(np.uint8)
    if buf.size != step * height:
        raise FrameError(f"data length {buf.size} does not match step*height = {step}*{height} = {step * height}")
    rows = buf.reshape(height, step)[:, :row_bytes]
    img = rows.view(dtype.newbyteorder(">" if is_bigendian else "<")) if dtype.itemsize > 1 else rows
    img = img.reshape(height, width, channels)
    if dtype.itemsize > 1:
        img = (img.astype(np.uint16) >> 8).astype(np.uint8)
    if encoding in ("bgr8", "8UC3", "bgr16"):
        return np.ascontiguousarray(img)
    if encoding in ("rgb8", "rgb16"):
        return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2BGR)
    if encoding in ("bgra8", "8UC4"):
        return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGRA2BGR)
    if encoding == "rgba8":
        return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGBA2BGR)
    if encoding in ("yuv422", "uyvy"):
        return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_YUV2BGR_UYVY)
    if encoding in ("yuv422_yuy2", "yuyv"):
        return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_YUV2BGR_YUY2)
    return cv2.cvtColor(np.ascontiguousarray(img[:, :, 0]), cv2.COLOR_GRAY2BGR)


def decode_compressed(fmt: str, data: Buffer) -> np.ndarray:
    """Decode ``sensor_msgs/CompressedImage`` data (jpeg or png) to BGR uint8.

    Raises:
        FrameError: On empty or undecodable data, or an unsupported format.
    """
    f = fmt.lower()
    if f and not any(k in f for k in ("jpeg", "jpg", "png", "bgr8", "rgb8", "mono8")):
        raise FrameError(f"unsupported compressed format {fmt!r}; expected jpeg or png")
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1).view(np.uint8)
    if buf.size == 0:
        raise FrameError("compressed image has no data")
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise FrameError(f"compressed image ({buf.size} bytes, format {fmt!r}) could not be decoded as jpeg or png")
    # "rgb8; jpeg compressed bgr8" style strings name the *source* encoding; imdecode already yields BGR.
    return img


def encode_bgr8(image: np.ndarray) -> Tuple[int, int, str, int, bytes]:
    """Return ``(height, width, 'bgr8', step, data)`` for a BGR uint8 image."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR image, got shape {image.shape} dtype {image.dtype}")
    h, w = image.shape[:2]
    return h, w, "bgr8", w * 3, np.ascontiguousarray(image).tobytes()


def encode_raw(image: np.ndarray, encoding: str) -> Tuple[int, int, str, int, bytes]:
    """Encode a BGR uint8 image as ``encoding`` (bgr8, rgb8, bgra8, rgba8 or mono8); for tests and tools."""
    conv = {"bgr8": None, "rgb8": cv2.COLOR_BGR2RGB, "bgra8": cv2.COLOR_BGR2BGRA,
            "rgba8": cv2.COLOR_BGR2RGBA, "mono8": cv2.COLOR_BGR2GRAY}
    if encoding not in conv:
        raise ValueError(f"encoding: expected one of {list(conv)}, got {encoding!r}")
    out = image if conv[encoding] is None else cv2.cvtColor(image, conv[encoding])
    out = np.ascontiguousarray(out)
    h, w = out.shape[:2]
    return h, w, encoding, out.strides[0], out.tobytes()


def image_to_bgr(msg: Any) -> np.ndarray:
    """Decode a sensor_msgs/Image or CompressedImage to BGR uint8 (raises FrameError on a bad frame).

    Any object with the message's fields works: an rclpy message or a rosbags one.
    """
    if hasattr(msg, "format") and not hasattr(msg, "encoding"):
        return decode_compressed(msg.format, msg.data)
    return decode_raw(msg.width, msg.height, msg.encoding, msg.step, msg.data, msg.is_bigendian)
