"""A small, bounded stamp synchroniser (message_filters is not available from the registries). ROS-free.

The primary input (colour) is never held back: each colour frame asks for the
secondary item (depth) whose stamp is nearest to its own within ``slop``
seconds, and gets it or None at once. Secondary items wait in a bounded queue;
items that can no longer pair with a later colour frame, or that overflow the
queue, are dropped and counted as unpaired. Thread-safe: items are added from
a subscription callback and taken from the worker.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Deque, Generic, Optional, Tuple, TypeVar

T = TypeVar("T")


@dataclass
class SyncCounts:
    """Counters of a :class:`StampSync` since it was created."""

    paired: int = 0
    unpaired_primary: int = 0
    """Primary frames that found no secondary item within the slop."""
    unpaired_secondary: int = 0
    """Secondary items dropped without being paired (too old, or the queue overflowed)."""


class StampSync(Generic[T]):
    """Pairs primary frames with the nearest secondary item by stamp.

    Args:
        slop: Largest stamp difference (seconds) of a pair; 0 pairs exact stamps only.
        queue_size: Secondary items kept at most (per input).
    """

    def __init__(self, slop: float, queue_size: int = 10) -> None:
        if slop < 0:
            raise ValueError(f"depth_sync_slop: expected a value >= 0 seconds, got {slop}")
        if queue_size < 1:
            raise ValueError(f"queue_size: expected at least 1, got {queue_size}")
        self.slop = float(slop)
        self._queue: Deque[Tuple[float, T]] = deque()
        self._size = int(queue_size)
        self._lock = threading.Lock()
        self.counts = SyncCounts()

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)

    def add(self, stamp: float, item: T) -> None:
        """Queue a secondary item; the oldest is dropped (and counted) when the queue is full."""
        with self._lock:
            self._queue.append((float(stamp), item))
            if len(self._queue) > 1 and self._queue[-2][0] > stamp:  # out of order: keep the queue sorted
                self._queue = deque(sorted(self._queue, key=lambda p: p[0]))
            while len(self._queue) > self._size:
                self._queue.popleft()
                self.counts.unpaired_secondary += 1

    def take(self, stamp: float) -> Optional[T]:
        """Return (and remove) the secondary item nearest to ``stamp`` within the slop, or None; never waits.

        Items older than ``stamp - slop`` can pair with no later primary frame and are dropped.
        """
        with self._lock:
            best: Optional[int] = None
            best_dt = 0.0
            for i, (s, _) in enumerate(self._queue):
                dt = abs(s - stamp)
                if dt <= self.slop + 1e-9 and (best is None or dt < best_dt):
                    best, best_dt = i, dt
            item: Optional[Any] = None
            if best is not None:
                item = self._queue[best][1]
                del self._queue[best]
                self.counts.paired += 1
            else:
                self.counts.unpaired_primary += 1
            while self._queue and self._queue[0][0] < stamp - self.slop - 1e-9:
                self._queue.popleft()
                self.counts.unpaired_secondary += 1
            return item

    def clear(self) -> None:
        """Forget the queued items (they are not counted)."""
        with self._lock:
            self._queue.clear()
