"""Image decoding without cv_bridge, including property-based fuzzing (no ROS)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mot_ros.core.image_codec import (MAX_PIXELS, SUPPORTED_ENCODINGS, FrameError, decode_compressed, decode_raw,
                                      encode_bgr8, encode_raw)

RNG = np.random.default_rng(0)
IMG = RNG.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)


@pytest.mark.parametrize("enc", ["bgr8", "rgb8", "bgra8", "rgba8"])
def test_colour_encodings_round_trip(enc: str) -> None:
    h, w, e, step, data = encode_raw(IMG, enc)
    assert np.array_equal(decode_raw(w, h, e, step, data), IMG)


def test_mono8_and_16bit() -> None:
    gray = cv2.cvtColor(IMG, cv2.COLOR_BGR2GRAY)
    out = decode_raw(53, 37, "mono8", 53, gray.tobytes())
    assert out.shape == (37, 53, 3) and np.array_equal(out[:, :, 1], gray)
    g16 = gray.astype(np.uint16) * 256
    assert np.array_equal(decode_raw(53, 37, "mono16", 106, g16.tobytes())[:, :, 0], gray)
    assert np.array_equal(decode_raw(53, 37, "16UC1", 106, g16.byteswap().tobytes(), is_bigendian=1)[:, :, 0], gray)


def test_padded_step() -> None:
    padded = np.zeros((37, 53 * 3 + 7), np.uint8)
    padded[:, :53 * 3] = IMG.reshape(37, -1)
    assert np.array_equal(decode_raw(53, 37, "bgr8", 53 * 3 + 7, padded.tobytes()), IMG)


# pixel pairs share their colour, so 4:2:2 chroma subsampling loses nothing but rounding
PAIRS = np.repeat(RNG.integers(16, 240, size=(24, 20, 3), dtype=np.uint8), 2, axis=1)


@pytest.mark.parametrize("names,to_yuv,from_yuv", [
    (("yuv422", "uyvy"), cv2.COLOR_BGR2YUV_UYVY, cv2.COLOR_YUV2BGR_UYVY),
    (("yuv422_yuy2", "yuyv"), cv2.COLOR_BGR2YUV_YUY2, cv2.COLOR_YUV2BGR_YUY2),
])
@pytest.mark.parametrize("pad", [0, 6])
def test_yuv422_round_trip_against_opencv(names: tuple, to_yuv: int, from_yuv: int, pad: int) -> None:
    """BGR -> packed 4:2:2 by OpenCV -> our decoder equals OpenCV's own decoding and (nearly) the original."""
    h, w = PAIRS.shape[:2]
    packed = cv2.cvtColor(PAIRS, to_yuv)
    assert packed.shape == (h, w, 2)
    rows = np.zeros((h, w * 2 + pad), np.uint8)
    rows[:, :w * 2] = packed.reshape(h, -1)
    expected = cv2.cvtColor(packed, from_yuv)
    for name in names:
        out = decode_raw(w, h, name, w * 2 + pad, rows.tobytes())
        assert out.shape == (h, w, 3) and out.dtype == np.uint8
        assert np.array_equal(out, expected), f"{name}: differs from OpenCV's conversion"
        assert np.abs(out.astype(int) - PAIRS).max() <= 6, f"{name}: colours do not survive the round trip"
    with pytest.raises(FrameError, match="even width"):
        decode_raw(w - 1, h, names[0], w * 2, bytes(w * 2 * h))


def test_uyvy_and_yuyv_byte_orders_differ() -> None:
    """The same bytes read as UYVY and as YUYV give different colours: the two names must not be mixed up."""
    packed = cv2.cvtColor(PAIRS, cv2.COLOR_BGR2YUV_UYVY)
    h, w = PAIRS.shape[:2]
    wrong = decode_raw(w, h, "yuyv", w * 2, packed.tobytes())
    assert np.abs(wrong.astype(int) - PAIRS).max() > 40


@pytest.mark.parametrize("enc,order", [("bgr16", slice(None)), ("rgb16", slice(None, None, -1))])
@pytest.mark.parametrize("bigendian", [0, 1])
def test_16bit_colour_keeps_upper_byte_and_channel_order(enc: str, order: slice, bigendian: int) -> None:
    img16 = IMG[:, :, order].astype(np.uint16) * 256 + 77  # lower byte is noise that must be dropped
    data = (img16.byteswap() if bigendian else img16).tobytes()
    assert np.array_equal(decode_raw(53, 37, enc, 53 * 6, data, is_bigendian=bigendian), IMG)


@pytest.mark.parametrize("args,fragment", [
    ((0, 10, "bgr8", 0, b""), "positive image size"),
    ((10, 10, "32FC1", 40, bytes(400)), "unsupported encoding '32FC1'"),
    ((10, 10, "bgr8", 20, bytes(200)), "shorter than one row"),
    ((10, 10, "bgr8", 30, bytes(299)), "does not match"),
    ((100000, 100000, "bgr8", 300000, b""), "at most"),
])
def test_bad_frames_are_rejected_with_reason(args: tuple, fragment: str) -> None:
    with pytest.raises(FrameError, match=fragment):
        decode_raw(*args)


def test_compressed() -> None:
    jpg = cv2.imencode(".jpg", IMG)[1].tobytes()
    png = cv2.imencode(".png", IMG)[1].tobytes()
    assert decode_compressed("jpeg", jpg).shape == IMG.shape
    assert np.array_equal(decode_compressed("png", png), IMG)
    assert np.array_equal(decode_compressed("rgb8; png compressed bgr8", png), IMG)
    with pytest.raises(FrameError, match="no data"):
        decode_compressed("jpeg", b"")
    with pytest.raises(FrameError, match="could not be decoded"):
        decode_compressed("jpeg", jpg[:20])
    with pytest.raises(FrameError, match="unsupported compressed format"):
        decode_compressed("h264", jpg)


def test_encode_bgr8_checks_shape() -> None:
    assert encode_bgr8(IMG)[:4] == (37, 53, "bgr8", 159)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        encode_bgr8(IMG[:, :, 0])


@settings(max_examples=300, deadline=None)
@given(width=st.integers(-2, 70), height=st.integers(-2, 70),
       encoding=st.sampled_from(list(SUPPORTED_ENCODINGS) + ["32FC1", "64FC1", "bayer_rggb8", "", "BGR8", "16SC1"]),
       step_extra=st.integers(-5, 9), length_delta=st.sampled_from([0, 0, 0, -1, 1, -7, 13]),
       bigendian=st.integers(0, 1))
def test_fuzz_raw(width: int, height: int, encoding: str, step_extra: int, length_delta: int,
                  bigendian: int) -> None:
    """Any header/data combination converts to (h, w, 3) uint8 or raises FrameError."""
    bpp = {"mono16": 2, "16UC1": 2, "bgr16": 6, "rgb16": 6, "bgra8": 4, "rgba8": 4, "8UC4": 4, "mono8": 1,
           "8UC1": 1, "yuv422": 2, "uyvy": 2, "yuyv": 2, "yuv422_yuy2": 2}.get(encoding, 3)
    step = max(0, width * bpp + step_extra)
    n = max(0, step * max(height, 0) + length_delta)
    data = bytes(RNG.integers(0, 256, size=n, dtype=np.uint8))
    try:
        out = decode_raw(width, height, encoding, step, data, bigendian)
    except FrameError as exc:
        assert str(exc)
        return
    assert out.shape == (height, width, 3) and out.dtype == np.uint8


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2048), fmt=st.sampled_from(["jpeg", "png", "", "rgb8; jpeg compressed bgr8"]))
def test_fuzz_compressed_garbage(data: bytes, fmt: str) -> None:
    try:
        out = decode_compressed(fmt, data)
    except FrameError:
        return
    assert out.ndim == 3 and out.shape[2] == 3


@settings(max_examples=50, deadline=None)
@given(cut=st.integers(1, 400))
def test_fuzz_truncated_jpeg(cut: int) -> None:
    jpg = cv2.imencode(".jpg", IMG)[1].tobytes()
    try:
        out = decode_compressed("jpeg", jpg[:cut])
    except FrameError:
        return
    assert out.shape[2] == 3


def test_max_pixels_guard_before_allocation() -> None:
    side = int(MAX_PIXELS ** 0.5) + 1
    with pytest.raises(FrameError, match="at most"):
        decode_raw(side, side, "bgr8", side * 3, b"")
