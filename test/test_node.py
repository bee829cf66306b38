"""tracker_node over real DDS with the real (small, committed) detector.

A fixture publisher sends synthetic frames of known moving shapes (two of
which cross) and the tests check what the node publishes.
"""
from __future__ import annotations

import time
from typing import Dict, List

import numpy as np
import pytest
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import LabelInfo

from mot_ros.core.synthetic import SHAPE_CLASSES, crossing_scene
from mot_ros.ros.tracker_node import TrackerNode

from conftest import wait_for
from ros_harness import Harness, box_iou, det_boxes, label_info_subscriber, teardown

FRAMES = list(crossing_scene(640, 480, n_frames=60))


def make_node(model: str, name: str = "tracker_node", **params: object) -> TrackerNode:
    overrides = [Parameter("model", value=model), Parameter("device", value="cpu"),
                 Parameter("imgsz", value=320), Parameter("embedder_size", value=64)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    return TrackerNode(name, parameter_overrides=overrides)


@pytest.fixture(scope="module")
def tracker(ros: None, shapes_model: str):  # type: ignore[no-untyped-def]
    node = make_node(shapes_model)
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    yield node
    node.trigger_deactivate()
    node.trigger_cleanup()
    node.destroy_node()


@pytest.fixture
def harness(tracker: TrackerNode, spinner):  # type: ignore[no-untyped-def]
    h = Harness()
    spinner.add(tracker)
    spinner.add(h)
    assert h.wait_connected(), "tracker did not subscribe to image"
    assert wait_for(lambda: tracker._sub_reliability == ReliabilityPolicy.RELIABLE, 5.0), "auto QoS did not match"
    tracker.pipeline.reset()
    yield h
    spinner.remove(tracker)
    spinner.remove(h)
    h.destroy_node()


def test_ids_persist_through_crossing_and_headers_are_kept(harness: Harness, tracker: TrackerNode) -> None:
    ids: Dict[int, List[str]] = {1: [], 2: [], 3: []}
    for i, scene in enumerate(FRAMES):
        msg = harness.send_and_wait(scene.image, i)
        assert msg is not None, f"no detections message for frame {i}"
        assert msg.header.frame_id == "camera_optical"
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1000 + i // 10, (i % 10) * 100_000_000)
        dets = det_boxes(msg)
        for d in msg.detections:
            assert d.header == msg.header
        if i < 3:
            continue  # tracks are confirmed after n_init (2) detections
        assert len(dets) >= 2, f"frame {i}: expected the visible shapes, got {len(dets)}"
        for obj in scene.objects:
            if any(box_iou(obj.box(), o.box()) > 0.05 for o in scene.objects if o is not obj):
                continue  # overlapping the other shape: the match by IoU is ambiguous
            best = max(dets, key=lambda d: box_iou(d[2], obj.box()), default=None)
            if best is not None and box_iou(best[2], obj.box()) > 0.5:
                assert best[1] == str(obj.cls), f"frame {i}: wrong class for object {obj.obj_id}"
                ids[obj.obj_id].append(best[0])
    for obj_id, seen in ids.items():
        assert len(seen) >= 30, f"object {obj_id} matched on only {len(seen)} frames"
        assert len(set(seen)) == 1, f"object {obj_id} changed ID: {sorted(set(seen))}"
    assert len({seen[0] for seen in ids.values()}) == 3, "objects must have distinct IDs"


def test_boxes_in_input_pixels_at_any_resolution(harness: Harness, tracker: TrackerNode) -> None:
    for k, (w, h) in enumerate(((1280, 720), (480, 640))):
        tracker.pipeline.reset()
        scenes = list(crossing_scene(w, h, n_frames=60))[:6]
        for i, scene in enumerate(scenes):
            msg = harness.send_and_wait(scene.image, 100 + 10 * k + i)
            assert msg is not None
        dets = det_boxes(msg)
        for obj in scenes[-1].objects:
            assert max(box_iou(d[2], obj.box()) for d in dets) > 0.6, f"{w}x{h}: box of object {obj.obj_id} is off"


@pytest.mark.parametrize("encoding", ["rgb8", "bgra8", "rgba8", "mono8"])
def test_input_encodings(harness: Harness, tracker: TrackerNode, encoding: str) -> None:
    tracker.pipeline.reset()
    for i in range(4):
        msg = harness.send_and_wait(FRAMES[10 + i].image, 200 + i, encoding=encoding)
        assert msg is not None
    assert len(msg.detections) >= 2, f"{encoding}: expected the shapes to be tracked"


def test_annotated_image_only_with_subscriber(harness: Harness, tracker: TrackerNode) -> None:
    draws = lambda: len(tracker.stats.stage_ms.get("draw", ()))  # noqa: E731
    before = draws()
    for i in range(3):
        assert harness.send_and_wait(FRAMES[i].image, 300 + i) is not None
    assert draws() == before, "drew the annotated image with nobody subscribed"
    harness.subscribe_annotated()
    assert wait_for(lambda: tracker._pub_img.get_subscription_count() > 0)
    for i in range(3, 8):
        key = harness.send(FRAMES[i].image, 300 + i)
        assert harness.result(key) is not None
    assert wait_for(lambda: len(harness.annotated) >= 5)
    img = harness.annotated[-1]
    assert (img.encoding, img.width, img.height, img.header.frame_id) == ("bgr8", 640, 480, "camera_optical")
    assert (img.header.stamp.sec, img.header.stamp.nanosec) == key
    raw = np.frombuffer(img.data, np.uint8).reshape(480, 640, 3)
    assert not np.array_equal(raw, FRAMES[7].image), "annotations missing"
    harness.unsubscribe_annotated()


def test_late_subscriber_gets_label_info(harness: Harness, tracker: TrackerNode) -> None:
    store: List[LabelInfo] = []
    label_info_subscriber(harness, store)
    assert wait_for(lambda: len(store) > 0), "label_info is not latched"
    info = store[0]
    assert {(c.class_id, c.class_name) for c in info.class_map} == set(enumerate(SHAPE_CLASSES))
    assert info.threshold == pytest.approx(0.35)


def test_parameter_changes_take_effect_and_bad_ones_are_refused(harness: Harness, tracker: TrackerNode) -> None:
    try:
        r = tracker.set_parameters([Parameter("classes", value=["circle"])])[0]
        assert r.successful, r.reason
        msg = None
        for i in range(6):
            msg = harness.send_and_wait(FRAMES[20 + i].image, 400 + i)
        assert msg is not None and len(msg.detections) >= 1
        assert {d.results[0].hypothesis.class_id for d in msg.detections} == {"0"}
        r = tracker.set_parameters([Parameter("conf_threshold", value=0.999)])[0]
        assert r.successful
        msg = harness.send_and_wait(FRAMES[27].image, 427)
        assert msg is not None and len(msg.detections) == 0
        for name, value, fragment in [("conf_threshold", 1.5, "range"), ("classes", ["unicorn"], "unicorn"),
                                      ("model", "/nonexistent/model.pt", "not found"),
                                      ("embedder", "resnet", "mobilenet"), ("max_age", "long", "type"),
                                      ("device", "gpu0", "cuda:N"), ("compressed", True, "read-only")]:
            r = tracker.set_parameters([Parameter(name, value=value)])[0]
            assert not r.successful, f"{name}={value!r} was accepted"
            assert fragment.lower() in r.reason.lower(), r.reason
        assert tracker.config.classes == ("circle",) and tracker.config.conf_threshold == pytest.approx(0.999)
        assert tracker.get_parameter("conf_threshold").value == pytest.approx(0.999)
    finally:
        assert tracker.set_parameters([Parameter("classes", value=[]),
                                       Parameter("conf_threshold", value=0.35)])[0].successful


def test_bad_frames_are_survived_and_counted(harness: Harness, tracker: TrackerNode) -> None:
    bad_before = tracker.stats.bad
    good = FRAMES[5].image
    bad = [Image(width=640, height=480, encoding="bgr8", step=100, data=bytes(100 * 480)),
           Image(width=640, height=480, encoding="bgr8", step=1920, data=bytes(1000)),
           Image(width=640, height=480, encoding="32FC1", step=2560, data=bytes(2560 * 480)),
           Image(width=0, height=0, encoding="bgr8", step=0, data=b""),
           Image(width=64, height=48, encoding="weird", step=192, data=bytes(192 * 48))]
    for m in bad:
        harness.send_raw(m)
        time.sleep(0.05)
    assert wait_for(lambda: tracker.stats.bad - bad_before == len(bad))
    assert harness.send_and_wait(good, 500) is not None, "node stopped answering after bad frames"
    assert wait_for(lambda: any(kv.key == "frames_bad" and int(kv.value) >= len(bad)
                                for d in harness.diagnostics for s in d.status for kv in s.values), 5.0)


def test_diagnostics_content(harness: Harness, tracker: TrackerNode) -> None:
    for i in range(3):
        harness.send_and_wait(FRAMES[i].image, 600 + i)
    assert wait_for(lambda: len(harness.diagnostics) >= 2, 5.0)
    keys = {kv.key for s in harness.diagnostics[-1].status for kv in s.values}
    for k in ("input_hz", "processed_hz", "frames_dropped", "frames_bad", "latency_p50_ms", "latency_p95_ms",
              "detect_ms", "associate_ms", "active_tracks", "device"):
        assert k in keys, k


def test_lifecycle_transitions(harness: Harness, tracker: TrackerNode) -> None:
    assert tracker.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert tracker._sub is None and tracker._worker is None
    key = harness.send(FRAMES[0].image, 700)
    time.sleep(0.5)
    assert key not in harness.detections, "published while inactive"
    assert tracker.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert tracker.pipeline is None
    assert tracker.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert tracker.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert harness.wait_connected()
    assert harness.send_and_wait(FRAMES[1].image, 701) is not None


def test_newest_frame_wins_and_drops_are_counted(harness: Harness, tracker: TrackerNode) -> None:
    s = tracker.stats
    gid = bytes(harness.get_publishers_info_by_topic("/image")[0].endpoint_gid)
    assert wait_for(lambda: tracker._publisher_gids == {gid}, 5.0)  # the node counts gaps per publisher
    base = dict(received=s.received, lost=s.lost, processed=s.processed, dropped=s.dropped, bad=s.bad)
    delta = lambda k: getattr(s, k) - base[k]  # noqa: E731
    keys = []
    for i in range(30):  # ~100 Hz: far faster than processing on this CPU
        keys.append(harness.send(FRAMES[i % 60].image, 800 + i))
        time.sleep(0.01)
    assert harness.result(keys[-1], 30.0) is not None, "the newest frame must be processed"
    assert wait_for(lambda: delta("received") + delta("lost") == 30), \
        f"received {delta('received')} + lost in transport {delta('lost')} != 30 sent"
    assert wait_for(lambda: delta("processed") + delta("dropped") == delta("received"))
    assert delta("dropped") + delta("lost") > 0, "stale frames should be dropped, not queued"
    assert sum(k in harness.detections for k in keys) == delta("processed")


def test_auto_qos_matches_best_effort_and_reliable_publishers(ros: None, spinner, shapes_model: str) -> None:
    node = make_node(shapes_model, name="tracker_qos")
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    spinner.add(node)
    try:
        for rel in (ReliabilityPolicy.BEST_EFFORT, ReliabilityPolicy.RELIABLE):
            h = Harness(name=f"harness_{rel.name.lower()}", reliability=rel)
            spinner.add(h)
            assert h.wait_connected()
            assert wait_for(lambda: node._sub_reliability == rel, 5.0), f"auto QoS did not match {rel.name}"
            got = sum(h.send_and_wait(FRAMES[i].image, 900 + i, frame_id="x", encoding="bgr8") is not None
                      for i in range(5))
            assert got == 5, f"{rel.name} publisher: {got}/5 frames answered"
            spinner.remove(h)
            h.destroy_node()
    finally:
        teardown(spinner, node)


def test_compressed_input(ros: None, spinner, shapes_model: str) -> None:
    node = make_node(shapes_model, name="tracker_cmp", compressed=True)
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    h = Harness(name="harness_cmp", compressed=True)
    spinner.add(node)
    spinner.add(h)
    try:
        assert h.wait_connected()
        for i in range(5):
            msg = h.send_and_wait(FRAMES[30 + i].image, 950 + i, jpeg=True)
            assert msg is not None
        assert len(msg.detections) >= 2
    finally:
        teardown(spinner, node, h)


def test_missing_model_fails_configure(ros: None) -> None:
    node = make_node("/nonexistent/yolov8n.pt", name="tracker_nomodel")
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert node.pipeline is None
    finally:
        node.destroy_node()


def test_warns_when_publishers_exist_but_nothing_arrives(ros: None, spinner, shapes_model: str,
                                                         capfd: pytest.CaptureFixture) -> None:
    """A forced RELIABLE subscription never hears a BEST_EFFORT camera: the node must say so."""
    node = make_node(shapes_model, name="tracker_mismatch", qos_reliability="reliable", no_input_warn_sec=0.5)
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    h = Harness(name="harness_mismatch", reliability=ReliabilityPolicy.BEST_EFFORT)
    spinner.add(node)
    spinner.add(h)
    try:
        assert wait_for(lambda: node.count_publishers("/image") == 1, 5.0)
        for i in range(3):
            h.send(FRAMES[i].image, 1100 + i)
        time.sleep(2.5)
        assert node.stats.received == 0
        err = capfd.readouterr().err
        assert "/image has 1 publisher(s) (reliability ['BEST_EFFORT']) but no frame arrived" in err, err[-2000:]
        assert "this subscription is RELIABLE" in err
    finally:
        teardown(spinner, node, h)


def test_reload_parameters_swap_safely(harness: Harness, tracker: TrackerNode, shapes_model: str,
                                       tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    copy = tmp_path / "copy.pt"
    shutil.copy(shapes_model, copy)
    old_detector = tracker.pipeline.detector
    r = tracker.set_parameters([Parameter("model", value=str(copy)), Parameter("embedder", value="histogram")])
    assert all(x.successful for x in r), [x.reason for x in r]
    assert tracker.pipeline.detector is not old_detector and tracker.pipeline.embedder.name == "histogram"
    msg = None
    for i in range(4):
        msg = harness.send_and_wait(FRAMES[i].image, 1200 + i)
    assert msg is not None and len(msg.detections) >= 2, "tracking must continue on the reloaded model"
    r = tracker.set_parameters([Parameter("model", value=shapes_model), Parameter("embedder", value="mobilenet")])
    assert all(x.successful for x in r)
