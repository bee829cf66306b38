"""Shared fixtures: ROS isolation, the shapes model, and spinning nodes over real DDS."""
from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List

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

TRACKER_DEFAULTS = dict(device="cpu", imgsz=320, embedder_size=64)
"""Parameters of every test tracker unless a test overrides them: small and fast on a CPU."""

ROS_FIXTURES = {"ros", "spinner", "started_tracker"}


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """Mark every test that uses rclpy (through the ``ros`` fixture) with ``ros``."""
    for item in items:
        if ROS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.ros)


@pytest.fixture(scope="session")
def shapes_model() -> str:
    """Path of the committed synthetic-shapes detector."""
    if not SHAPES_MODEL.is_file():
        pytest.fail(f"{SHAPES_MODEL} is missing; run scripts/train_shapes_detector.py")
    return str(SHAPES_MODEL)


@pytest.fixture(scope="module")
def ros() -> Iterator[None]:
    """Initialise rclpy for the module and shut it down afterwards."""
    import rclpy

    rclpy.init()
    try:
        yield
    finally:
        rclpy.try_shutdown()


class Spinner(BackgroundSpinner):
    """Nodes spun in a background thread with 4 callback threads (see mot_ros/ros/spinning.py)."""


@pytest.fixture
def spinner(ros: None) -> Iterator[Spinner]:
    s = Spinner()
    try:
        yield s
    finally:
        s.stop()


def start_tracker(model: str, name: str = "tracker_node", namespace: str = "", **params: Any):  # type: ignore
    """Create a TrackerNode with ``TRACKER_DEFAULTS`` and ``params``, configure and activate it.

    The one place where tests start an in-process tracker; stop it with ``ros_harness.teardown``.
    """
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from mot_ros.ros.tracker_node import TrackerNode

    values = {"model": model, **TRACKER_DEFAULTS, **params}
    node = TrackerNode(name, namespace=namespace or None,
                       parameter_overrides=[Parameter(k, value=v) for k, v in values.items()])
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS, f"{name}: configure failed"
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS, f"{name}: activate failed"
    return node


@pytest.fixture
def started_tracker(spinner: Spinner, shapes_model: str) -> Iterator[Callable[..., Any]]:
    """Start active TrackerNodes spinning on ``spinner`` (call it with a name and parameters); torn down after."""
    from ros_harness import teardown

    nodes: List[Any] = []

    def start(name: str = "tracker_node", **params: Any) -> Any:
        node = start_tracker(params.pop("model", shapes_model), name, **params)
        nodes.append(node)
        spinner.add(node)
        return node

    try:
        yield start
    finally:
        for node in nodes:
            teardown(spinner, node)


def wait_for(pred: Callable[[], bool], timeout: float = 10.0, period: float = 0.02) -> bool:
    """Poll ``pred`` until true or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(period)
    return bool(pred())


def _iou(a: Any, b: Any) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def assert_ids_follow_truth(rows: Any, scenes: Any, min_frames: int, min_iou: float = 0.5) -> dict:
    """Check tracker output against a synthetic scene's ground truth, exactly.

    Args:
        rows: MOTChallenge rows (frame from 1, id, left, top, width, height, ...).
        scenes: The ``SceneFrame`` list (frame ``i`` is ``scenes[i - 1]``).
        min_frames: Each true object must carry its ID on at least this many frames.
        min_iou: A row belongs to the true object it overlaps most, if at least this much.

    Every row must lie on a true object (no phantom tracks), each object must keep one ID for the
    whole sequence, different objects different IDs, and there are exactly as many IDs as objects.
    A tracker that hands out a new ID every frame, or swaps IDs at the crossing, fails here.

    Returns:
        true object ID -> the track ID it carried.
    """
    import numpy as np

    rows = np.asarray(rows, float)
    ids_of: dict = {}
    frames_of: dict = {}
    for r in rows:
        frame, tid = int(r[0]), int(r[1])
        assert 1 <= frame <= len(scenes), f"row for frame {frame}, the scene has {len(scenes)} frames"
        box = (r[2], r[3], r[2] + r[4], r[3] + r[5])
        objects = scenes[frame - 1].objects
        best = max(objects, key=lambda o: _iou(o.box(), box))
        assert _iou(best.box(), box) >= min_iou, f"frame {frame}: track {tid} at {box} lies on no true object"
        ids_of.setdefault(best.obj_id, set()).add(tid)
        frames_of.setdefault(best.obj_id, set()).add(frame)
    truth = {o.obj_id for s in scenes for o in s.objects}
    assert set(ids_of) == truth, f"objects never tracked: {sorted(truth - set(ids_of))}"
    for obj, ids in ids_of.items():
        assert len(ids) == 1, f"object {obj} carried several IDs: {sorted(ids)}"
        assert len(frames_of[obj]) >= min_frames, f"object {obj} tracked on only {len(frames_of[obj])} frames"
    mapping = {obj: next(iter(ids)) for obj, ids in ids_of.items()}
    assert len(set(mapping.values())) == len(mapping), f"two objects share an ID: {mapping}"
    assert len(set(rows[:, 1].astype(int))) == len(truth), "more IDs than objects"
    for f in set(rows[:, 0].astype(int)):
        per_frame = rows[rows[:, 0] == f, 1]
        assert len(per_frame) == len(set(per_frame)), f"frame {f}: an ID twice"
    return mapping
