"""Plain data types shared by the ROS-free core."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np


@dataclass
class Detections:
    """Detector output for one frame, in input-image pixels.

    Attributes:
        xyxy: (N, 4) float32 boxes as x1, y1, x2, y2.
        scores: (N,) float32 confidences in [0, 1].
        classes: (N,) int64 class indices.
    """

    xyxy: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.classes = np.asarray(self.classes, dtype=np.int64).reshape(-1)
        n = len(self.xyxy)
        if len(self.scores) != n or len(self.classes) != n:
            raise ValueError(f"Detections: expected {n} scores and classes for {n} boxes, "
                             f"got {len(self.scores)} scores and {len(self.classes)} classes")

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> "Detections":
        """No detections."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def subset(self, mask: np.ndarray) -> "Detections":
        """Detections selected by a boolean mask or an index array."""
        return Detections(self.xyxy[mask], self.scores[mask], self.classes[mask])


@dataclass
class TrackedObject:
    """One confirmed track as published for a frame.

    Attributes:
        track_id: Tracker-assigned ID; unique for the tracker's lifetime.
        class_id: Class index of the last matched detection.
        score: Confidence of the last matched detection.
        xyxy: Box in input-image pixels (see ``box_source``).
        matched: True when a detection was matched to the track this frame;
            False when the track is coasting on its Kalman prediction.
        age: Frames since the track was created.
        time_since_update: Frames since the last matched detection.
        det_index: Index into this frame's detections of the matched detection, or -1
            while the track coasts.
    """

    track_id: int
    class_id: int
    score: float
    xyxy: Tuple[float, float, float, float]
    matched: bool = True
    age: int = 0
    time_since_update: int = 0
    det_index: int = -1


@dataclass
class FrameResult:
    """Everything the pipeline produced for one frame."""

    tracks: List[TrackedObject]
    detections: Detections
    timings_ms: Dict[str, float] = field(default_factory=dict)
    reset: bool = False
    """True when the tracker was reset before this frame (time jumped back)."""
