"""tracker_node over real DDS with the real (small, committed) detector.

A fixture publisher sends synthetic frames of known moving shapes (two of
which cross) and the tests check what the node publishes.
"""
from __future__ import annotations

import threading
from typing import Dict, List

import numpy as np
import pytest
import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import LabelInfo

from mot_ros.core.config import Config
from mot_ros.core.synthetic import SHAPE_CLASSES, crossing_scene
from mot_ros.ros.tracker_node import TrackerNode

from conftest import REPO, start_tracker, wait_for
from ros_harness import (Harness, box_iou, det_boxes, diagnostic_values, label_info_subscriber,
                         subscription_reliabilities)

FRAMES = list(crossing_scene(640, 480, n_frames=60))
SMALL = list(crossing_scene(160, 120, n_frames=60))


@pytest.fixture
def tracker(ros: None, shapes_model: str):  # type: ignore[no-untyped-def]
    import os.path
    import tempfile  # run-time model changes are confined to model_dirs: the model's and the tests' temp dirs

    node = start_tracker(shapes_model, model_dirs=[os.path.dirname(shapes_model), tempfile.gettempdir()])
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
    assert wait_for(lambda: tracker.input_reliability == ReliabilityPolicy.RELIABLE, 5.0), "auto QoS did not match"
    assert wait_for(lambda: ReliabilityPolicy.RELIABLE in subscription_reliabilities(h, "/image", "tracker_node"))
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
    for d, (_, _, box) in zip(msg.detections, det_boxes(msg)):
        assert d.header == msg.header, "every Detection2D carries the input header"
        assert max(box_iou(box, o.box()) for o in FRAMES[13].objects) > 0.5, f"{encoding}: box {box} is off"


def test_annotated_image_only_with_subscriber(harness: Harness, tracker: TrackerNode) -> None:
    """Drawn only while someone subscribes: not before, yes while, not after the last one left, yes again."""
    draws = lambda: len(tracker.stats.stage_ms.get("draw", ()))  # noqa: E731

    def frames_without_drawing(start: int) -> None:
        before = draws()
        for i in range(start, start + 3):
            assert harness.send_and_wait(FRAMES[i].image, 300 + i) is not None
        assert draws() == before, "drew the annotated image with nobody subscribed"

    def frames_with_drawing(start: int) -> None:
        before, received = draws(), len(harness.annotated)
        for i in range(start, start + 3):
            assert harness.send_and_wait(FRAMES[i].image, 300 + i) is not None
        # the node publishes a frame's detections before it draws, so wait for the last drawing
        assert wait_for(lambda: draws() == before + 3), f"drew {draws() - before} of 3 frames while subscribed"
        assert wait_for(lambda: len(harness.annotated) >= received + 3), "annotated images did not arrive"

    frames_without_drawing(0)
    harness.subscribe_annotated()
    assert wait_for(lambda: tracker.annotated_subscriber_count > 0)
    frames_with_drawing(3)
    img = harness.annotated[-1]
    assert (img.encoding, img.width, img.height, img.header.frame_id) == ("bgr8", 640, 480, "camera_optical")
    assert (img.header.stamp.sec, img.header.stamp.nanosec) == (1000 + 305 // 10, (305 % 10) * 100_000_000)
    raw = np.frombuffer(img.data, np.uint8).reshape(480, 640, 3)
    assert not np.array_equal(raw, FRAMES[5].image), "annotations missing"
    harness.unsubscribe_annotated()  # the last subscriber leaves
    assert wait_for(lambda: tracker.annotated_subscriber_count == 0)
    frames_without_drawing(6)
    harness.subscribe_annotated()  # and one comes back
    assert wait_for(lambda: tracker.annotated_subscriber_count > 0)
    frames_with_drawing(9)
    harness.unsubscribe_annotated()


def test_late_subscriber_gets_label_info(harness: Harness, tracker: TrackerNode) -> None:
    store: List[LabelInfo] = []
    label_info_subscriber(harness, store)
    assert wait_for(lambda: len(store) > 0), "label_info is not latched"
    info = store[0]
    assert {(c.class_id, c.class_name) for c in info.class_map} == set(enumerate(SHAPE_CLASSES))
    assert info.threshold == pytest.approx(Config().conf_threshold)


def test_parameter_changes_take_effect_and_bad_ones_are_refused(harness: Harness, tracker: TrackerNode) -> None:
    conf = tracker.get_parameter("conf_threshold").value
    try:
        r = tracker.set_parameters([Parameter("classes", value=["circle"])])[0]
        assert r.successful, r.reason
        msg = None
        for i in range(6):
            msg = harness.send_and_wait(FRAMES[20 + i].image, 400 + i)
        assert msg is not None and len(msg.detections) >= 1
        assert {d.results[0].hypothesis.class_id for d in msg.detections} == {"0"}
        # above every score: no track may start (low_conf_threshold only continues existing tracks)
        r = tracker.set_parameters([Parameter("conf_threshold", value=0.999)])[0]
        assert r.successful, r.reason
        tracker.pipeline.reset()
        for i in range(4):  # more than n_init frames
            msg = harness.send_and_wait(FRAMES[27 + i].image, 427 + i)
            assert msg is not None and len(msg.detections) == 0, "a track started below conf_threshold"
        for name, value, fragment in [("conf_threshold", 1.5, "range"), ("classes", ["unicorn"], "unicorn"),
                                      ("model", "/nonexistent/model.pt", "model_dirs"),
                                      ("model", str(REPO / "models" / "missing.pt"), "not found"),
                                      ("embedder", "resnet", "mobilenet"), ("max_age", "long", "type"),
                                      ("device", "gpu0", "cuda:N"), ("compressed", True, "read-only")]:
            r = tracker.set_parameters([Parameter(name, value=value)])[0]
            assert not r.successful, f"{name}={value!r} was accepted"
            assert fragment.lower() in r.reason.lower(), r.reason
        assert tracker.config.classes == ("circle",) and tracker.config.conf_threshold == pytest.approx(0.999)
        assert tracker.get_parameter("conf_threshold").value == pytest.approx(0.999)
    finally:
        for name, value in (("classes", []), ("conf_threshold", conf)):
            r = tracker.set_parameters([Parameter(name, value=value)])[0]
            assert r.successful, r.reason


def test_bad_frames_are_survived_and_counted(harness: Harness, tracker: TrackerNode) -> None:
    s = tracker.stats
    bad_before, processed_before = s.bad, s.processed
    bad = [Image(width=640, height=480, encoding="bgr8", step=100, data=bytes(100 * 480)),
           Image(width=640, height=480, encoding="bgr8", step=1920, data=bytes(1000)),
           Image(width=640, height=480, encoding="32FC1", step=2560, data=bytes(2560 * 480)),
           Image(width=0, height=0, encoding="bgr8", step=0, data=b""),
           Image(width=64, height=48, encoding="weird", step=192, data=bytes(192 * 48)),
           Image(width=63, height=48, encoding="yuv422", step=126, data=bytes(126 * 48))]
    for n, m in enumerate(bad, 1):  # one at a time: each must be counted as bad, not dropped or processed
        harness.send_raw(m)
        assert wait_for(lambda: s.bad - bad_before == n, 20.0), f"bad frame {n} ({m.encoding}) was not counted"
    assert s.processed == processed_before, "a bad frame was processed"
    assert harness.send_and_wait(FRAMES[5].image, 500) is not None, "node stopped answering after bad frames"
    total = s.bad
    assert wait_for(lambda: any(diagnostic_values(d).get("frames_bad") == str(total) for d in harness.diagnostics),
                    10.0), "frames_bad on /diagnostics does not match"


def test_diagnostics_content_and_latency(harness: Harness, tracker: TrackerNode) -> None:
    """Frames stamped with the node's clock give a plausible stamp-to-publish latency on /diagnostics."""
    clock = tracker.get_clock()
    for i in range(6):
        now = clock.now().seconds_nanoseconds()
        assert harness.send_and_wait(FRAMES[i].image, 600 + i, stamp=now) is not None
    processed = tracker.stats.processed

    def latest() -> Dict[str, str]:
        with harness.lock:
            for d in reversed(harness.diagnostics):
                values = diagnostic_values(d)
                if int(values.get("frames_processed", -1)) >= processed:
                    return values
        return {}

    assert wait_for(lambda: bool(latest()), 10.0), "no /diagnostics after the frames"
    values = latest()
    for k in ("input_hz", "processed_hz", "frames_received", "frames_dropped", "frames_bad", "frames_failed",
              "frames_lost_in_transport", "latency_p50_ms", "latency_p95_ms", "detect_ms", "associate_ms",
              "total_ms", "active_tracks", "device", "input_reliability", "lost_track_frames"):
        assert k in values, k
    assert values["device"] == "cpu" and values["input_reliability"] == "RELIABLE"
    assert int(values["active_tracks"]) >= 2
    assert int(values["lost_track_frames"]) >= 30  # max_age, or max_age_s at the stamps' rate when longer
    p50, p95 = float(values["latency_p50_ms"]), float(values["latency_p95_ms"])
    # stamp -> publish includes conversion, detection and tracking (milliseconds at least on a CPU), and on
    # any machine that runs these tests it stays well under 10 s
    assert 1.0 <= p50 <= p95 < 10_000.0, f"implausible latency p50 {p50} ms, p95 {p95} ms"


def test_lifecycle_transitions(harness: Harness, tracker: TrackerNode) -> None:
    received = tracker.stats.received
    assert tracker.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert not tracker.is_receiving
    assert wait_for(lambda: harness.pub_img.get_subscription_count() == 0), "inactive node still subscribed"
    key = harness.send(FRAMES[0].image, 700)
    assert tracker.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert tracker.pipeline is None
    assert tracker.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert tracker.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert harness.wait_connected()
    assert harness.result(harness.send(FRAMES[1].image, 701), 30.0) is not None  # sent once: counted exactly
    # detections come in order from one publisher: had frame 700 been processed, it would be here by now
    assert key not in harness.detections, "published while inactive"
    assert tracker.stats.received == received + 1, "a frame sent while inactive was received"


def test_newest_frame_wins_and_drops_are_counted(harness: Harness, tracker: TrackerNode) -> None:
    """While one frame is processed, ten more arrive: nine are dropped (counted), the newest is processed next."""
    s = tracker.stats
    pipeline = tracker.pipeline
    gate, busy = threading.Event(), threading.Event()
    real_process = pipeline.process
    assert "process" not in vars(pipeline)

    def held_process(*args, **kwargs):  # type: ignore[no-untyped-def]
        busy.set()
        assert gate.wait(60.0), "the test never released the worker"
        return real_process(*args, **kwargs)

    base = dict(received=s.received, processed=s.processed, dropped=s.dropped)
    delta = lambda k: getattr(s, k) - base[k]  # noqa: E731
    pipeline.process = held_process  # type: ignore[method-assign]
    try:
        keys = [harness.send(FRAMES[0].image, 800)]
        assert busy.wait(20.0), "the first frame never reached the pipeline"
        for i in range(1, 11):  # arrive while the worker is busy with frame 800
            keys.append(harness.send(FRAMES[i].image, 800 + i))
            assert wait_for(lambda: delta("received") == i + 1, 20.0), f"frame {800 + i} not received"
        assert delta("dropped") == 9, f"expected the 9 superseded frames dropped, got {delta('dropped')}"
        assert delta("processed") == 0
    finally:
        gate.set()
        del pipeline.process  # back to the class's method
    assert harness.result(keys[-1], 30.0) is not None, "the newest frame must be processed"
    assert wait_for(lambda: delta("processed") == 2, 20.0)
    assert delta("dropped") == 9 and delta("received") == 11
    assert [k for k in keys if k in harness.detections] == [keys[0], keys[-1]], "stale frames were processed"


def test_auto_qos_matches_best_effort_and_reliable_publishers(started_tracker, spinner) -> None:  # type: ignore
    node = started_tracker("tracker_qos", namespace="qos")  # its own topics: the module tracker is on /image
    for rel in (ReliabilityPolicy.BEST_EFFORT, ReliabilityPolicy.RELIABLE):
        h = Harness(name=f"harness_{rel.name.lower()}", reliability=rel, ns="qos")
        spinner.add(h)
        try:
            assert h.wait_connected()
            assert wait_for(lambda: node.input_reliability == rel, 5.0), f"auto QoS did not match {rel.name}"
            # the real subscription, as the ROS graph sees it, not the node's bookkeeping (the old one may live on
            # for 2 s after a switch; the switch test checks that it goes)
            assert wait_for(lambda: rel in subscription_reliabilities(h, "/qos/image", "tracker_qos"), 10.0), \
                f"graph: {subscription_reliabilities(h, '/qos/image', 'tracker_qos')}, expected {rel.name}"
            got = sum(h.send_and_wait(FRAMES[i].image, 900 + i, frame_id="x", encoding="bgr8") is not None
                      for i in range(5))
            assert got == 5, f"{rel.name} publisher: {got}/5 frames answered"
        finally:
            spinner.remove(h)
            h.destroy_node()


@pytest.mark.slow
def test_qos_switch_while_frames_flow_loses_and_duplicates_nothing(started_tracker, spinner) -> None:  # type: ignore
    """Make before break: a BEST_EFFORT publisher joins and leaves while a RELIABLE one keeps sending.

    The node re-subscribes twice (RELIABLE -> BEST_EFFORT -> RELIABLE). Every frame the first publisher
    sent must be received exactly once: none lost in the switch, none counted twice through both
    subscriptions.
    """
    node = started_tracker("tracker_mbb", namespace="mbb", qos_depth=100, embedder="histogram")
    h = Harness(name="harness_mbb", depth=100, ns="mbb")
    spinner.add(h)
    sent: List[tuple] = []
    lock = threading.Lock()

    def publish_next() -> None:
        with lock:
            i = len(sent)
            sent.append(h.send(SMALL[i % len(SMALL)].image, 0, stamp=(2000 + i // 1000, (i % 1000) * 1_000_000)))

    graph = lambda: subscription_reliabilities(h, "/mbb/image", "tracker_mbb")  # noqa: E731
    other = rclpy.create_node("camera_best_effort", namespace="mbb")
    timer = None
    try:
        assert h.wait_connected()
        assert wait_for(lambda: graph() == [ReliabilityPolicy.RELIABLE], 10.0), graph()
        assert wait_for(lambda: len(node.input_publisher_gids) == 1, 10.0)
        s = node.stats
        base = dict(received=s.received, lost=s.lost)
        timer = h.create_timer(0.01, publish_next)  # frames flow from here on
        assert wait_for(lambda: s.received - base["received"] >= 20, 20.0)
        pub = other.create_publisher(Image, "image", QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT))
        assert wait_for(lambda: graph() == [ReliabilityPolicy.BEST_EFFORT], 20.0), f"did not switch: {graph()}"
        mark = s.received
        assert wait_for(lambda: s.received - mark >= 20, 20.0)
        other.destroy_publisher(pub)
        assert wait_for(lambda: graph() == [ReliabilityPolicy.RELIABLE], 20.0), f"did not switch back: {graph()}"
        mark = s.received
        assert wait_for(lambda: s.received - mark >= 20, 20.0)
        h.destroy_timer(timer)
        timer = None
        with lock:
            n_sent = len(sent)
        # the last frames may still be on their way
        wait_for(lambda: s.received - base["received"] >= n_sent, 20.0)
        received = s.received - base["received"]
        # No frame may arrive twice. A few may still be lost while the new subscription is matched: seen once
        # in 12 clean-clone runs (3 of 84); an open item of issue 12, documented in the README's Tests section.
        assert received <= n_sent, f"sent {n_sent} frames, the node received {received} (duplicated in the switch)"
        assert received >= n_sent - 5, f"sent {n_sent} frames, the node received {received} (lost in the switch)"
        assert s.lost == base["lost"], "frames lost in transport"
        with h.lock:
            keys = [k for k in h.detection_keys if k in set(sent)]
        assert len(keys) == len(set(keys)), "a frame was processed twice"
        assert len(keys) > 0
    finally:
        if timer is not None:
            h.destroy_timer(timer)
        other.destroy_node()
        spinner.remove(h)
        h.destroy_node()


def test_compressed_input(started_tracker, spinner) -> None:  # type: ignore[no-untyped-def]
    started_tracker("tracker_cmp", namespace="cmp", compressed=True)
    h = Harness(name="harness_cmp", compressed=True, ns="cmp")
    spinner.add(h)
    try:
        assert h.wait_connected()
        for i in range(5):
            msg = h.send_and_wait(FRAMES[30 + i].image, 950 + i, jpeg=True)
            assert msg is not None
        assert len(msg.detections) >= 2
    finally:
        spinner.remove(h)
        h.destroy_node()


def test_missing_model_fails_configure(ros: None) -> None:
    node = TrackerNode("tracker_nomodel", parameter_overrides=[Parameter("model", value="/nonexistent/yolov8n.pt"),
                                                               Parameter("device", value="cpu")])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert node.pipeline is None
    finally:
        node.destroy_node()


def test_warns_when_publishers_exist_but_nothing_arrives(started_tracker, spinner,
                                                         capfd: pytest.CaptureFixture) -> None:
    """A forced RELIABLE subscription never hears a BEST_EFFORT camera: the node must say so."""
    node = started_tracker("tracker_mismatch", namespace="mismatch", qos_reliability="reliable", no_input_warn_sec=0.5)
    h = Harness(name="harness_mismatch", reliability=ReliabilityPolicy.BEST_EFFORT, ns="mismatch")
    spinner.add(h)
    err: List[str] = []
    warning = "/mismatch/image has 1 publisher(s) (reliability ['BEST_EFFORT']) but no frame arrived"

    def warned() -> bool:
        err.append(capfd.readouterr().err)
        return warning in "".join(err)

    try:
        assert wait_for(lambda: node.count_publishers("/mismatch/image") == 1, 5.0)
        for i in range(3):
            h.send(FRAMES[i].image, 1100 + i)
        assert wait_for(warned, 20.0, period=0.1), "".join(err)[-2000:]
        assert "this subscription is RELIABLE" in "".join(err)
        assert node.stats.received == 0
    finally:
        spinner.remove(h)
        h.destroy_node()


def test_reload_parameters_swap_safely(harness: Harness, tracker: TrackerNode, shapes_model: str,
                                       tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    copy = tmp_path / "copy.pt"
    shutil.copy(shapes_model, copy)
    old_detector = tracker.pipeline.detector
    assert tracker.pipeline.embedder.name == "histogram"  # the default
    r = tracker.set_parameters([Parameter("model", value=str(copy)), Parameter("embedder", value="mobilenet")])
    assert all(x.successful for x in r), [x.reason for x in r]
    assert tracker.pipeline.detector is not old_detector and tracker.pipeline.embedder.name == "mobilenet"
    msg = None
    for i in range(4):
        msg = harness.send_and_wait(FRAMES[i].image, 1200 + i)
    assert msg is not None and len(msg.detections) >= 2, "tracking must continue on the reloaded model"
    r = tracker.set_parameters([Parameter("model", value=shapes_model), Parameter("embedder", value="histogram")])
    assert all(x.successful for x in r)
