"""Shared fixtures: ROS isolation, the shapes model, and spinning nodes over real DDS."""
from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

# Isolate every test session on its own DDS domain, on this host only, before rclpy loads.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 200)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("RCUTILS_LOGGING_BUFFERED_STREAM", "0")

from mot_ros.ros.spinning import BackgroundSpinner  # noqa: E402  (after the ROS environment)

REPO = Path(__file__).resolve().parents[1]
SHAPES_MODEL = Path(os.environ.get("MOT_ROS_SHAPES_MODEL", REPO / "models" / "shapes_yolov8n.pt"))
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
COCO_MODEL = SHARED_DATA / "models" / "yolov8n_coco_int8.onnx"
OSNET_MODEL = SHARED_DATA / "models" / "osnet_x0_25_msmt17.onnx"

needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")


@pytest.fixture(scope="session")
def shapes_model() -> str:
    """Path of the committed synthetic-shapes detector."""
    if not SHAPES_MODEL.is_file():
        pytest.fail(f"{SHAPES_MODEL} is missing; run scripts/train_shapes_detector.py")
    return str(SHAPES_MODEL)


@pytest.fixture(scope="module")
def ros() -> Iterator[None]:
    """rclpy initialised for the module, shut down afterwards."""
    import rclpy

    rclpy.init()
    try:
        yield
    finally:
        rclpy.try_shutdown()


class Spinner(BackgroundSpinner):
    """A MultiThreadedExecutor spinning nodes in a background thread."""


@pytest.fixture
def spinner(ros: None) -> Iterator[Spinner]:
    s = Spinner()
    try:
        yield s
    finally:
        s.stop()


def wait_for(pred: Callable[[], bool], timeout: float = 10.0, period: float = 0.02) -> bool:
    """Poll ``pred`` until true or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(period)
    return bool(pred())
