"""A frame that reaches the node twice, through the two subscriptions of a QoS switch, is processed once."""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

from mot_ros.ros.conversions import bgr_to_image
from mot_ros.ros.qos import SampleMemory


def test_sample_memory_recognises_repeats_and_forgets_old_ones() -> None:
    mem = SampleMemory(3)
    assert not mem.repeat(100, 1) and not mem.repeat(101, 2)
    assert mem.repeat(100, 1)  # the same sample again (another subscription)
    assert not mem.repeat(100, 2) and not mem.repeat(101, 1)  # another identity: the pair counts
    assert len(mem) == 4 - 1  # bounded: the oldest is forgotten
    assert not mem.repeat(100, 1)  # (100, 1) fell out of the memory: new again
    assert not mem.repeat(None, None) and not mem.repeat(None, None)  # no identity: never a repeat


def test_frame_seen_before_the_switch_and_again_after_is_processed_once(started_tracker) -> None:  # type: ignore
    """The duplicate that a clean-clone run once counted (96 received of 95 sent).

    A frame arrived through the old subscription just before a switch and through the new one just after it. The
    node then remembered only the samples that arrived while both subscriptions lived, so it took the second copy
    for a new frame.
    """
    node = started_tracker("tracker_dedupe", namespace="dedupe")
    msg = bgr_to_image(np.zeros((48, 64, 3), np.uint8), None)
    assert isinstance(msg, Image)
    info = {"source_timestamp": 1_795_679_215_832_558_410, "publication_sequence_number": 41}
    base = node.stats.received
    node._on_image(msg, info)  # noqa: SLF001  (as the old subscription delivers it, before the switch)
    node._on_image(msg, dict(info))  # noqa: SLF001  (the same sample through the new subscription)
    assert node.stats.received - base == 1
    node._on_image(msg, {**info, "publication_sequence_number": 42})  # noqa: SLF001  (the next frame)
    assert node.stats.received - base == 2
