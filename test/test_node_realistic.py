"""The node on real pedestrian video with the COCO YOLOv8n (needs ../shared/data; skips otherwise)."""
from __future__ import annotations

from collections import Counter

import cv2
import pytest

from conftest import COCO_MODEL, SHARED_DATA, needs_shared
from ros_harness import Harness

VIDEO = SHARED_DATA / "videos" / "people-walking.mp4"
START, COUNT = 1000, 50  # one person walking through the scene


@needs_shared
@pytest.mark.slow
def test_person_id_persists_on_real_video(started_tracker, spinner) -> None:  # type: ignore[no-untyped-def]
    cap = cv2.VideoCapture(str(VIDEO))
    cap.set(cv2.CAP_PROP_POS_FRAMES, START)
    frames = [cap.read()[1] for _ in range(COUNT)]
    cap.release()
    assert all(f is not None for f in frames)
    started_tracker("tracker_real", model=str(COCO_MODEL), classes=["person"], imgsz=640, embedder_size=128)
    h = Harness(name="harness_real")
    spinner.add(h)
    try:
        assert h.wait_connected()
        ids: Counter = Counter()
        with_person = 0
        for i, f in enumerate(frames):
            msg = h.send_and_wait(f, i, timeout=60.0)
            assert msg is not None, f"frame {START + i} unanswered"
            assert all(d.results[0].hypothesis.class_id == "0" for d in msg.detections)
            if msg.detections:
                with_person += 1
            ids.update(d.id for d in msg.detections)
    finally:
        spinner.remove(h)
        h.destroy_node()
    assert with_person >= COUNT * 0.6, f"a person was tracked on only {with_person}/{COUNT} frames"
    main_id, n = ids.most_common(1)[0]
    assert n >= with_person * 0.9, f"the person changed ID: {dict(ids)}"
    assert len(ids) <= 2, f"too many IDs for one walking person: {dict(ids)}"
