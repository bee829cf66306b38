"""Frame counters and timings of the tracker node, and their /diagnostics message."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Deque, Dict, List, Mapping, Optional

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

STATS_WINDOW = 300
"""Number of recent frames over which latency and stage-time percentiles are computed."""
MIN_RATE_INTERVAL_SEC = 1e-6
"""Guard against division by zero when two snapshots come at the same instant."""


def _percentile(values: List[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


class Stats:
    """Counters and rolling timings reported on /diagnostics.

    Thread-safe: every change goes through a ``record_*`` method under one lock; the
    properties read a consistent value.
    """

    def __init__(self, window: int = STATS_WINDOW) -> None:
        self._lock = threading.Lock()
        self._received = self._processed = self._dropped = self._bad = self._failed = self._lost = 0
        self._consecutive_failures = 0
        self._last_error = ""
        self._window = window
        self._latency_ms: Deque[float] = deque(maxlen=window)
        self._stage_ms: Dict[str, Deque[float]] = {}
        self._rate_mark = (time.monotonic(), 0, 0)
        self._last_rx = time.monotonic()

    # -- changes --------------------------------------------------------------
    def record_received(self) -> None:
        """A frame arrived (also restarts the no-input clock)."""
        with self._lock:
            self._received += 1
            self._last_rx = time.monotonic()

    def record_lost(self, count: int) -> None:
        """``count`` frames were lost in transport (a gap in the publisher's sequence numbers)."""
        with self._lock:
            self._lost += count

    def record_dropped(self) -> None:
        """A frame was superseded by a newer one before it was processed."""
        with self._lock:
            self._dropped += 1

    def record_bad(self) -> None:
        """A frame could not be decoded."""
        with self._lock:
            self._bad += 1

    def record_failure(self, exc: BaseException) -> str:
        """A frame failed in processing; returns the error text that diagnostics report."""
        error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._failed += 1
            self._consecutive_failures += 1
            self._last_error = error
        return error

    def record_success(self, timings_ms: Mapping[str, float], latency_ms: Optional[float] = None) -> None:
        """A frame was processed and published, with its stage timings and stamp-to-publish latency."""
        with self._lock:
            self._processed += 1
            self._consecutive_failures = 0
            for stage, ms in timings_ms.items():
                self._add_timing(stage, ms)
            if latency_ms is not None:
                self._latency_ms.append(latency_ms)

    def record_timing(self, stage: str, ms: float) -> None:
        """One timing of a stage."""
        with self._lock:
            self._add_timing(stage, ms)

    def restart_input_clock(self) -> None:
        """Start counting silence on the input from now (on activation)."""
        with self._lock:
            self._last_rx = time.monotonic()

    def _add_timing(self, stage: str, ms: float) -> None:
        self._stage_ms.setdefault(stage, deque(maxlen=self._window)).append(ms)

    # -- reads ----------------------------------------------------------------
    @property
    def received(self) -> int:
        """Frames received."""
        return self._received

    @property
    def processed(self) -> int:
        """Frames processed and published."""
        return self._processed

    @property
    def dropped(self) -> int:
        """Frames superseded before processing."""
        return self._dropped

    @property
    def bad(self) -> int:
        """Frames that could not be decoded."""
        return self._bad

    @property
    def failed(self) -> int:
        """Frames that failed in processing."""
        return self._failed

    @property
    def lost(self) -> int:
        """Frames lost in transport."""
        return self._lost

    @property
    def consecutive_failures(self) -> int:
        """Failed frames since the last success."""
        return self._consecutive_failures

    @property
    def last_error(self) -> str:
        """Text of the last processing error ('' if none)."""
        return self._last_error

    @property
    def stage_ms(self) -> Dict[str, List[float]]:
        """A copy of the recent timings of each stage."""
        with self._lock:
            return {k: list(v) for k, v in self._stage_ms.items()}

    def seconds_since_input(self) -> float:
        """Seconds since the last frame arrived (or since activation)."""
        return time.monotonic() - self._last_rx

    def snapshot(self) -> Dict[str, Any]:
        """Counters, rates since the last snapshot, and timing percentiles."""
        with self._lock:
            now = time.monotonic()
            t0, rx0, pr0 = self._rate_mark
            dt = max(now - t0, MIN_RATE_INTERVAL_SEC)
            self._rate_mark = (now, self._received, self._processed)
            lat = list(self._latency_ms)
            stages = {k: float(np.median(v)) for k, v in self._stage_ms.items() if v}
            return dict(received=self._received, processed=self._processed, dropped=self._dropped, bad=self._bad,
                        lost=self._lost, failed=self._failed, consecutive_failures=self._consecutive_failures,
                        input_hz=(self._received - rx0) / dt, processed_hz=(self._processed - pr0) / dt,
                        latency_p50=_percentile(lat, 50), latency_p95=_percentile(lat, 95), stages=stages,
                        last_error=self._last_error)


def diagnostics_msg(snapshot: Mapping[str, Any], *, name: str, stamp: Time, input_topic: str,
                    max_consecutive_failures: int, active_tracks: int, device: str,
                    input_reliability: str, lost_track_frames: Optional[int] = None) -> DiagnosticArray:
    """The /diagnostics message for one :meth:`Stats.snapshot`.

    ERROR after ``max_consecutive_failures`` failed frames in a row, WARN while no frame has arrived,
    OK otherwise.
    """
    s = snapshot
    level, message = DiagnosticStatus.OK, "tracking"
    if s["consecutive_failures"] >= max_consecutive_failures:
        level = DiagnosticStatus.ERROR
        message = f"{s['consecutive_failures']} consecutive frames failed: {s['last_error']}"
    elif s["received"] == 0:
        level, message = DiagnosticStatus.WARN, f"no frames received on {input_topic}"
    values: Dict[str, Any] = {
        "input_hz": f"{s['input_hz']:.2f}", "processed_hz": f"{s['processed_hz']:.2f}",
        "frames_received": s["received"], "frames_processed": s["processed"],
        "frames_dropped": s["dropped"], "frames_bad": s["bad"], "frames_failed": s["failed"],
        "frames_lost_in_transport": s["lost"],
        "consecutive_failures": s["consecutive_failures"],
        "latency_p50_ms": f"{s['latency_p50']:.1f}", "latency_p95_ms": f"{s['latency_p95']:.1f}",
        "active_tracks": active_tracks,
        "device": device,
        "input_reliability": input_reliability,
    }
    if lost_track_frames is not None:  # deepsort: max_age, or max_age_s at the measured frame rate
        values["lost_track_frames"] = lost_track_frames
    for k, v in s["stages"].items():
        values[f"{k}_ms"] = f"{v:.2f}"
    if s["last_error"]:
        values["last_error"] = s["last_error"]
    status = DiagnosticStatus(level=level, name=f"{name}: tracking", message=message, hardware_id=device)
    status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
    arr = DiagnosticArray(status=[status])
    arr.header.stamp = stamp
    return arr
