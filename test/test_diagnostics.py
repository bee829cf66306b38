"""The node's frame counters (thread-safe) and the /diagnostics message built from them."""
from __future__ import annotations

import threading

from builtin_interfaces.msg import Time

from mot_ros.ros.diagnostics import Stats, diagnostics_msg

N_THREADS, N_EACH = 8, 2000


def test_counters_are_exact_under_concurrent_updates() -> None:
    s = Stats()
    start = threading.Barrier(N_THREADS)

    def hammer(k: int) -> None:
        start.wait()
        for i in range(N_EACH):
            s.record_received()
            s.record_dropped()
            if (i + k) % 2:
                s.record_failure(RuntimeError("x"))
            else:
                s.record_success({"detect": 1.0})
            s.record_lost(2)

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = N_THREADS * N_EACH
    assert (s.received, s.dropped, s.lost) == (total, total, 2 * total)
    assert s.failed + s.processed == total and s.failed == total // 2
    assert s.last_error == "RuntimeError: x"


def test_success_resets_the_failure_run_and_keeps_timings() -> None:
    s = Stats(window=3)
    for _ in range(4):
        s.record_failure(ValueError("bad"))
    assert s.consecutive_failures == 4
    for ms in (1.0, 2.0, 3.0, 4.0):
        s.record_success({"detect": ms}, latency_ms=10.0)
    assert s.consecutive_failures == 0 and s.failed == 4 and s.processed == 4
    assert s.stage_ms["detect"] == [2.0, 3.0, 4.0]  # the window keeps the newest
    stage = s.stage_ms
    stage["detect"].append(99.0)  # a copy: callers cannot change the counters
    assert s.stage_ms["detect"] == [2.0, 3.0, 4.0]
    snap = s.snapshot()
    assert snap["latency_p50"] == 10.0 and snap["stages"]["detect"] == 3.0


def _level(s: Stats, max_failures: int = 3) -> int:
    msg = diagnostics_msg(s.snapshot(), name="tracker_node", stamp=Time(sec=1), input_topic="/image",
                          max_consecutive_failures=max_failures, active_tracks=2, device="cpu",
                          input_reliability="RELIABLE", lost_track_frames=75)
    (status,) = msg.status
    values = {kv.key: kv.value for kv in status.values}
    assert values["active_tracks"] == "2" and values["input_reliability"] == "RELIABLE"
    assert values["lost_track_frames"] == "75"
    return int.from_bytes(status.level, "little") if isinstance(status.level, bytes) else int(status.level)


def test_diagnostics_levels() -> None:
    s = Stats()
    assert _level(s) == 1  # WARN: no frame received yet
    s.record_received()
    s.record_success({})
    assert _level(s) == 0  # OK
    for _ in range(3):
        s.record_failure(RuntimeError("boom"))
    assert _level(s) == 2  # ERROR after max_consecutive_failures in a row
    s.record_success({})
    assert _level(s) == 0
