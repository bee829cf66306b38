"""QoS profiles of the tracker node and the matching of the input subscription to its publishers."""
from __future__ import annotations

from collections import deque
from typing import Any, Deque, Iterable, Optional, Set, Tuple

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

DETECTIONS_DEPTH = 10
"""Queue depth of the detections publisher."""
ANNOTATED_DEPTH = 2
"""Queue depth of the annotated image publisher (large messages: keep few)."""
DIAGNOSTICS_DEPTH = 10
"""Queue depth of the /diagnostics publisher."""

LABEL_INFO_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                            reliability=ReliabilityPolicy.RELIABLE)
"""Latched: a subscriber that joins late still receives the class map."""

RELIABILITY_MODES = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}


def publisher_reliability(infos: Iterable) -> Optional[ReliabilityPolicy]:
    """RELIABLE when every publisher is reliable, BEST_EFFORT when any is not, None without publishers.

    Args:
        infos: ``TopicEndpointInfo`` of the publishers (``node.get_publishers_info_by_topic``).
    """
    infos = list(infos)
    if not infos:
        return None
    if all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE for i in infos):
        return ReliabilityPolicy.RELIABLE
    return ReliabilityPolicy.BEST_EFFORT


def wanted_reliability(mode: str, infos: Iterable) -> ReliabilityPolicy:
    """The input subscription's reliability for the ``qos_reliability`` parameter.

    Args:
        mode: ``reliable``, ``best_effort`` or ``auto``.
        infos: The input topic's publishers, used by ``auto``.
    """
    if mode in RELIABILITY_MODES:
        return RELIABILITY_MODES[mode]
    # auto: BEST_EFFORT receives from every publisher, but large frames from a RELIABLE
    # publisher arrive far more often over a RELIABLE subscription, so match when all are.
    return publisher_reliability(infos) or ReliabilityPolicy.BEST_EFFORT


def input_qos(reliability: ReliabilityPolicy, depth: int) -> QoSProfile:
    """The image subscription's QoS: keep the newest ``depth`` frames, sensor-data durability."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability,
                      durability=qos_profile_sensor_data.durability)


class SampleMemory:
    """The identities of the last ``size`` input samples: a frame that arrives twice is recognised.

    A QoS switch makes the new subscription before it drops the old one. A frame in flight at that moment can then
    arrive through both. It can arrive through the old one just before the switch and through the new one just
    after, so every sample is remembered, not only those that arrive during the switch.

    A sample's identity is its source timestamp and its publication sequence number (the same whichever
    subscription delivers it). A sample that carries neither is never taken for a repeat.
    """

    def __init__(self, size: int) -> None:
        self._order: Deque[Tuple[Any, Any]] = deque()
        self._seen: Set[Tuple[Any, Any]] = set()
        self.size = int(size)

    def repeat(self, source_timestamp: Any, sequence: Any) -> bool:
        """True when this sample was seen before; otherwise remember it and return False."""
        if source_timestamp is None and sequence is None:
            return False
        key = (source_timestamp, sequence)
        if key in self._seen:
            return True
        self._order.append(key)
        self._seen.add(key)
        if len(self._order) > self.size:
            self._seen.discard(self._order.popleft())
        return False

    def __len__(self) -> int:
        return len(self._order)
