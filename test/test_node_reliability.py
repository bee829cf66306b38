"""The node under hostile input over real DDS: fuzzed frames, failing stages, security of parameters."""
from __future__ import annotations

import random
from pathlib import Path

import cv2
import pytest
from rclpy.parameter import Parameter
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from mot_ros.core.image_codec import FrameError, decode_compressed, decode_raw
from mot_ros.core.synthetic import crossing_scene
from mot_ros.ros.tracker_node import TrackerNode

from conftest import start_tracker, wait_for
from ros_harness import Harness, subscription_reliabilities

FRAMES = list(crossing_scene(320, 240, n_frames=60))[:10]
ENCODINGS = ["bgr8", "rgb8", "mono8", "mono16", "16UC1", "32FC1", "64FC1", "bgra8", "yuv422", "bayer_rggb8", "",
             "8UC3", "rgb16", "16SC1"]


def random_image(rng: random.Random) -> Image:
    w, h = rng.choice([0, 1, 3, 17, 64, 70000]), rng.choice([0, 1, 2, 9, 48, 70000])
    enc = rng.choice(ENCODINGS)
    step = max(0, w * rng.choice([1, 2, 3, 4, 8]) + rng.choice([0, 0, -1, 5]))
    n = rng.choice([0, step * h if step * h < 1_000_000 else 10, max(0, step * h - 3) % 1_000_000, 7])
    return Image(width=w, height=h, encoding=enc, step=step, is_bigendian=rng.choice([0, 1]),
                 data=bytes(rng.getrandbits(8) for _ in range(min(n, 20000))) if n <= 20000 else bytes(n))


def is_valid(msg) -> bool:  # type: ignore[no-untyped-def]
    try:
        if isinstance(msg, CompressedImage):
            decode_compressed(msg.format, bytes(msg.data))
        else:
            decode_raw(msg.width, msg.height, msg.encoding, msg.step, bytes(msg.data), msg.is_bigendian)
        return True
    except FrameError:
        return False


@pytest.fixture(scope="module")
def node(ros: None, shapes_model: str):  # type: ignore[no-untyped-def]
    n = start_tracker(shapes_model, "tracker_rel", embedder="histogram", max_consecutive_failures=3,
                      diagnostics_period=0.2, qos_depth=100)
    yield n
    n.trigger_deactivate()
    n.trigger_cleanup()
    n.destroy_node()


@pytest.fixture
def harness(node: TrackerNode, spinner):  # type: ignore[no-untyped-def]
    h = Harness(name="harness_rel")
    spinner.add(node)
    spinner.add(h)
    assert h.wait_connected()
    assert wait_for(lambda: node.input_reliability == ReliabilityPolicy.RELIABLE, 5.0)
    # and the QoS switch is over (the old subscription gone), so that sequence gaps count as lost frames
    assert wait_for(lambda: subscription_reliabilities(h, "/image", "tracker_rel") == [ReliabilityPolicy.RELIABLE])
    yield h
    spinner.remove(node)
    spinner.remove(h)
    h.destroy_node()


def test_burst_of_fuzzed_frames_then_valid_frames_answered(node: TrackerNode, harness: Harness) -> None:
    rng = random.Random(1234)
    msgs = [random_image(rng) for _ in range(120)]
    gid = bytes(harness.get_publishers_info_by_topic("/image")[0].endpoint_gid)
    assert wait_for(lambda: node.input_publisher_gids == {gid}, 5.0)
    s = node.stats
    # a valid frame opens the burst: the node learns this publisher's sequence number, so that a frame lost
    # in the burst shows as a gap (the first frames of a publisher have nothing to compare with)
    assert harness.send_and_wait(FRAMES[0].image, 48) is not None
    rx_before, lost_before = s.received, s.lost
    bad_before, proc_before, drop_before = s.bad, s.processed, s.dropped
    for m in msgs:  # as fast as the publisher can: a burst
        harness.send_raw(m)
    # a valid frame closes the burst: once it is answered, any frame lost on the way shows as a sequence gap
    assert harness.send_and_wait(FRAMES[0].image, 49) is not None, "valid frame unanswered after the burst"
    sent = len(msgs) + 1
    assert wait_for(lambda: (s.received - rx_before) + (s.lost - lost_before) == sent, 20), \
        f"of {sent} frames sent, {s.received - rx_before} were received and {s.lost - lost_before} counted lost"
    received = s.received - rx_before
    assert sum(is_valid(m) for m in msgs) < len(msgs)
    # each frame was rejected (bad), processed, or superseded (dropped): none is lost silently
    assert wait_for(lambda: (s.bad - bad_before) + (s.processed - proc_before) + (s.dropped - drop_before) ==
                    received, 30)
    for i, f in enumerate(FRAMES[1:4]):
        assert harness.send_and_wait(f.image, 50 + i) is not None, "valid frames unanswered after the burst"


def test_fuzzed_frames_one_at_a_time_are_counted_exactly(node: TrackerNode, harness: Harness) -> None:
    """Each fuzzed frame, sent alone, is counted bad exactly when the decoder refuses it, else processed."""
    rng = random.Random(4321)
    msgs = [random_image(rng) for _ in range(40)]
    s = node.stats
    bad_before, proc_before, failed_before = s.bad, s.processed, s.failed
    for k, m in enumerate(msgs, 1):
        harness.send_raw(m)
        assert wait_for(lambda: (s.bad - bad_before) + (s.processed - proc_before) + (s.failed - failed_before) == k,
                        20), f"fuzzed frame {k} ({m.width}x{m.height} {m.encoding!r}) was not handled"
    n_bad = sum(not is_valid(m) for m in msgs)
    assert 0 < n_bad < len(msgs)
    assert (s.bad - bad_before, s.processed - proc_before, s.failed - failed_before) == (n_bad, len(msgs) - n_bad, 0)


def test_compressed_garbage_is_counted(started_tracker, spinner) -> None:  # type: ignore[no-untyped-def]
    n = started_tracker("tracker_rel_cmp", namespace="relcmp", compressed=True, embedder="histogram", qos_depth=50)
    h = Harness(name="harness_rel_cmp", compressed=True, ns="relcmp")
    spinner.add(h)
    try:
        assert h.wait_connected()
        jpg = cv2.imencode(".jpg", FRAMES[0].image)[1].tobytes()
        garbage = [b"", b"\xff\xd8\xff", jpg[:len(jpg) // 3], bytes(range(256)), b"GIF89a" + bytes(50),
                   jpg[:20]]
        s = n.stats
        for k, g in enumerate(garbage, 1):  # one at a time, each counted before the next
            m = CompressedImage(format="jpeg")
            m.data = g
            h.pub_cmp.publish(m)
            assert wait_for(lambda: s.bad + s.processed == k, 20), f"garbage {k} was neither rejected nor processed"
        # exactly the ones the decoder refuses are counted bad (a truncated jpeg may still decode, partly grey)
        expected_bad = sum(not is_valid(CompressedImage(format="jpeg", data=g)) for g in garbage)
        assert expected_bad >= 4
        assert (s.bad, s.processed) == (expected_bad, len(garbage) - expected_bad)
        assert h.send_and_wait(FRAMES[1].image, 70, jpeg=True) is not None
    finally:
        spinner.remove(h)
        h.destroy_node()


def test_failing_stage_is_counted_then_error_then_recovers(node: TrackerNode, harness: Harness) -> None:
    """Fault injection: the tracker raises for 4 frames (the detector stays real)."""
    tracker = node.pipeline.tracker
    real_update = tracker.update
    failures = {"left": 4}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("injected tracker fault")
        return real_update(*args, **kwargs)

    failed_before = node.stats.failed
    tracker.update = flaky  # type: ignore[method-assign]
    try:
        for i in range(4):
            harness.send(FRAMES[i].image, 100 + i)
            assert wait_for(lambda: node.stats.failed - failed_before == i + 1, 20)
        assert node.stats.consecutive_failures >= 3
        assert wait_for(lambda: any(s.level == b"\x02" or s.level == 2 for d in harness.diagnostics[-3:]
                                    for s in d.status), 5.0), "diagnostics should report ERROR"
        assert harness.send_and_wait(FRAMES[5].image, 105) is not None
        assert node.stats.consecutive_failures == 0
    finally:
        tracker.update = real_update  # type: ignore[method-assign]


def test_parameter_strings_are_never_evaluated(node: TrackerNode, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for value in (f"__import__('os').system('touch {marker}')", f"$(touch {marker})", f"`touch {marker}`"):
        r = node.set_parameters([Parameter("model", value=value)])[0]
        assert not r.successful and ("not found" in r.reason or "model_dirs" in r.reason)
        r = node.set_parameters([Parameter("classes", value=[value])])[0]
        assert not r.successful
    assert not marker.exists()
    assert node.config.model == node.get_parameter("model").value and Path(node.config.model).is_file()
