"""Switching ``tracker`` at run time over real DDS, with the real shapes detector.

Frames of the synthetic crossing scene flow into tracker_node from a publisher
thread while the test switches deepsort -> bytetrack -> botsort through the
node's ``set_parameters`` service (another DDS participant, as ``ros2 param
set`` would). IDs must keep counting up across the switches and never be
reused; bad values are refused with the reason and leave the tracker running.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, List, Set, Tuple

import pytest
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter

from mot_ros.core.synthetic import crossing_scene

from conftest import wait_for
from ros_harness import Harness, det_boxes

FRAMES = list(crossing_scene(640, 480, n_frames=60))
SEGMENT_FRAMES = 12
"""Frames each tracker must track after its switch (sent after the switch was acknowledged)."""


def frame(i: int) -> Any:
    """Ping-pong through the scene, so that the motion stays continuous however long the test runs."""
    k = i % (2 * len(FRAMES))
    return FRAMES[k if k < len(FRAMES) else 2 * len(FRAMES) - 1 - k].image


@dataclass
class Sent:
    index: int
    t_sent: float
    t_result: float
    ids: Set[int]


class Flow:
    """A thread sending frame after frame (each once its result arrived), recording the IDs published."""

    def __init__(self, harness: Harness) -> None:
        self.h = harness
        self.log: List[Sent] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.error: List[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            t0 = time.monotonic()
            msg = self.h.send_and_wait(frame(i), i)
            if msg is None:
                self.error.append(f"no result for frame {i}")
                return
            with self.lock:
                self.log.append(Sent(i, t0, time.monotonic(), {int(d[0]) for d in det_boxes(msg)}))
            i += 1

    def sent_after(self, t: float) -> List[Sent]:
        with self.lock:
            return [s for s in self.log if s.t_sent > t]

    def received_before(self, t: float) -> List[Sent]:
        with self.lock:
            return [s for s in self.log if s.t_result < t]

    def between(self, t_start: float, t_end: float) -> List[Sent]:
        """Frames sent after ``t_start`` whose result came before ``t_end``: all on one tracker."""
        with self.lock:
            return [s for s in self.log if s.t_sent > t_start and s.t_result < t_end]


def set_params(client: Any, **values: Any) -> Tuple[bool, str, float, float]:
    """Call the node's set_parameters service; returns (successful, reason, request time, response time)."""
    req = SetParameters.Request()
    req.parameters = [Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]
    t_req = time.monotonic()
    fut = client.call_async(req)
    assert wait_for(fut.done, 30.0), f"set_parameters {values} timed out"
    res = fut.result().results[0]
    return bool(res.successful), str(res.reason), t_req, time.monotonic()


def ids_of(frames: List[Sent]) -> Set[int]:
    return set().union(*(s.ids for s in frames)) if frames else set()


@pytest.mark.slow
def test_tracker_switches_at_run_time_and_ids_keep_counting(started_tracker: Any, spinner: Any) -> None:
    node = started_tracker(tracker="deepsort", embedder="histogram")
    h = Harness("switch_harness")
    spinner.add(h)
    client = h.create_client(SetParameters, "/tracker_node/set_parameters")
    flow = Flow(h)
    try:
        assert h.wait_connected(), "tracker did not subscribe to image"
        assert client.wait_for_service(timeout_sec=10.0), "no set_parameters service"
        flow.thread.start()
        assert wait_for(lambda: len(flow.log) >= SEGMENT_FRAMES, 120.0), f"frames did not flow: {flow.error}"

        segments: List[Set[int]] = []
        t_prev_resp = 0.0
        for name in ("bytetrack", "botsort"):
            ok, reason, t_req, t_resp = set_params(client, tracker=name)
            assert ok, f"switch to {name} refused: {reason}"
            assert node.get_parameter("tracker").value == name
            segments.append(ids_of(flow.between(t_prev_resp, t_req)))
            t_prev_resp = t_resp
            assert wait_for(lambda: len(flow.sent_after(t_resp)) >= SEGMENT_FRAMES, 120.0), flow.error
        # refusals while botsort runs: the reason is given, nothing changes, the tracks go on
        before_refusals = time.monotonic()
        ok, reason, _, _ = set_params(client, tracker="sort9")
        assert not ok and "tracker" in reason and "expected one of" in reason and "botsort" in reason, reason
        ok, reason, _, _ = set_params(client, low_conf_threshold=0.9)
        assert not ok and "low_conf_threshold" in reason and "conf_threshold" in reason, reason
        t_after_refusals = time.monotonic()
        assert node.get_parameter("tracker").value == "botsort"
        assert node.get_parameter("low_conf_threshold").value == pytest.approx(node.config.low_conf_threshold)
        assert node.config.tracker == "botsort" and node.config.low_conf_threshold < 0.9
        assert wait_for(lambda: len(flow.sent_after(t_after_refusals)) >= 5, 120.0), flow.error
        segments.append(ids_of(flow.between(t_prev_resp, before_refusals)))
        after = flow.sent_after(t_after_refusals)[:5]
        last = flow.between(t_prev_resp, before_refusals)[-5:]
    finally:
        flow.stop.set()
        flow.thread.join(60.0)
        spinner.remove(h)
        h.destroy_node()
    assert not flow.error, flow.error

    for k, ids in enumerate(segments):
        assert ids, f"segment {k} ({['deepsort', 'bytetrack', 'botsort'][k]}) published no track"
    for k in (1, 2):
        assert min(segments[k]) > max(segments[k - 1]), \
            f"IDs after switch {k} {sorted(segments[k])} must all be above the earlier {sorted(segments[k - 1])}"
    # a refused change restarts nothing: the same objects keep the same IDs
    assert ids_of(after) and ids_of(after) <= ids_of(last), (sorted(ids_of(last)), sorted(ids_of(after)))
    assert node.stats.failed == 0, f"frames failed: {node.stats.last_error}"
