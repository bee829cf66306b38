"""The per-frame pipeline: detect, embed, associate; plus drawing. ROS-free.

The node and the offline tool both drive :class:`Pipeline`, so a frame gives
the same tracks whichever runs it.
"""
from __future__ import annotations

import collections
import logging
import statistics
import threading
import time
from typing import Deque, Dict, Optional

import numpy as np

from .config import RELOAD_FIELDS, Config
from .detector import DETECTOR_FIELDS, YoloDetector
from .drawing import Trails, draw_tracks
from .embedders import Embedder, embedder_device, make_embedder
from .tracking import TrackerBase, make_tracker, needs_rebuild
from .types import Detections, FrameResult

log = logging.getLogger(__name__)

TIME_JUMP_BACK_SEC = 1.0
"""A stamp this much older than the previous one resets the tracker (e.g. a looping bag)."""

FRAME_PERIOD_WINDOW = 30
"""The frame period the tracker is told is the median gap between the stamps of this many last frames."""


def detection_floor(config: Config) -> float:
    """Return the detector's confidence threshold for ``config``: min(conf_threshold, low_conf_threshold)."""
    return float(min(config.conf_threshold, config.low_conf_threshold))


class Pipeline:
    """Detector + embedder + tracker with one config.

    Args:
        config: The validated parameters.
        detector: Optional pre-built detector (e.g. shared, or None to build from ``config.model``).
        load_detector: False for runs that bring their own detections (public MOT detections).
        embedder: Optional pre-built embedder (else one is built from the ``embedder*`` parameters).
        first_id: The first track ID.

    Raises:
        ModelError: When the model, device or embedder cannot be loaded.
        ValueError: When ``classes`` names a class the model does not have.
    """

    def __init__(self, config: Config, detector: Optional[YoloDetector] = None, load_detector: bool = True,
                 embedder: Optional[Embedder] = None, first_id: int = 1) -> None:
        self.config = config
        self._lock = threading.RLock()
        self.detector: Optional[YoloDetector] = detector
        if self.detector is None and load_detector:
            self.detector = YoloDetector.from_config(config)
        self.device = self.detector.device if self.detector is not None else "cpu"
        self.names: Dict[int, str] = dict(self.detector.names) if self.detector is not None else {}
        self._class_idx = self.detector.class_indices(config.classes) if self.detector is not None else None
        self.embedder: Embedder = embedder if embedder is not None else make_embedder(
            config.embedder, embedder_device(self.device, config.embedder_gpu), config.embedder_model,
            config.embedder_size, config.half, backend=config.backend, int8=config.embedder_int8)
        self.tracker: TrackerBase = make_tracker(config, first_id)
        """The tracker (read-only for callers: switch it with ``apply_config(config.replace(tracker=...))``)."""
        self.trails = Trails(config.trail_length)
        self._last_stamp: Optional[float] = None
        self._gaps: Deque[float] = collections.deque(maxlen=FRAME_PERIOD_WINDOW)
        self.frames = 0
        self.resets = 0

    # -- configuration --------------------------------------------------------
    def apply_config(self, new: Config) -> None:
        """Switch to ``new``; reloads the model or embedder only when their fields changed.

        New components are built before anything is swapped, so a failed reload
        leaves the pipeline exactly as it was.

        Raises:
            ModelError, ValueError: The change was refused; nothing changed.
        """
        old = self.config
        changed = {k for k in RELOAD_FIELDS | {"classes"} if getattr(old, k) != getattr(new, k)}
        detector = self.detector
        if detector is not None and changed & DETECTOR_FIELDS:
            detector = YoloDetector.from_config(new)
        class_idx = detector.class_indices(new.classes) if detector is not None else None
        embedder = self.embedder
        device = detector.device if detector is not None else "cpu"
        if changed & {"embedder", "embedder_model", "embedder_gpu", "embedder_size", "embedder_int8", "device", "half",
                      "backend"}:
            embedder = make_embedder(new.embedder, embedder_device(device, new.embedder_gpu), new.embedder_model,
                                     new.embedder_size, new.half, backend=new.backend, int8=new.embedder_int8)
        with self._lock:
            # built under the lock: its first ID is the live tracker's next one, so IDs keep counting up
            rebuilt = needs_rebuild(old, new)
            try:
                tracker = make_tracker(new, first_id=self.tracker.next_id) if rebuilt else self.tracker
            except Exception:
                if detector is not self.detector and detector is not None:
                    detector.close()
                if embedder is not self.embedder:
                    embedder.close()
                raise
            if rebuilt:
                log.info("tracker %s -> %s: tracks restart at ID %d", old.tracker, new.tracker, tracker.next_id)
                self.trails.clear()
            if detector is not self.detector and self.detector is not None:
                self.detector.close()
            if embedder is not self.embedder:
                self.embedder.close()
            if embedder is not self.embedder and tracker is self.tracker and tracker.needs_appearance:
                # stored appearance samples come from the old embedder (other size and space): restart
                # the tracks; IDs keep counting up (a tracker without appearance keeps its tracks)
                log.warning("embedder changed: resetting the tracks (new IDs follow)")
                tracker.reset()
                self.trails.clear()
            self.detector, self.embedder, self.tracker = detector, embedder, tracker
            self.device = device
            self.names = dict(detector.names) if detector is not None else self.names
            self._class_idx = class_idx
            self.tracker.apply_config(new)
            self.trails.length = new.trail_length
            self.config = new

    @property
    def frame_period(self) -> Optional[float]:
        """Median gap in seconds between the stamps of the last frames processed; None before two stamped frames."""
        return statistics.median(self._gaps) if self._gaps else None

    @property
    def lost_track_frames(self) -> Optional[int]:
        """Frames a lost track survives now (deepsort: max_age, or max_age_s at the measured rate); None if unknown."""
        value = getattr(self.tracker, "max_age", None)
        return value if isinstance(value, int) else None

    @property
    def tracker_name(self) -> str:
        """Registry name of the running tracker."""
        return self.config.tracker

    @property
    def num_tracks(self) -> int:
        """Tracks alive in the running tracker."""
        return self.tracker.num_tracks

    @property
    def next_id(self) -> int:
        """The ID the next new track will get (IDs are never reused)."""
        return self.tracker.next_id

    @property
    def detection_floor(self) -> float:
        """The detector's confidence threshold: min(conf_threshold, low_conf_threshold).

        Trackers with a low-score stage use detections in [low_conf_threshold, conf_threshold); the others
        ignore them.
        """
        return detection_floor(self.config)

    def reset(self) -> None:
        """Drop all tracks and trails (IDs keep counting up)."""
        with self._lock:
            self.tracker.reset()
            self.trails.clear()
            self._last_stamp = None
            self._gaps.clear()

    def close(self) -> None:
        """Release the models."""
        with self._lock:
            if self.detector is not None:
                self.detector.close()
            self.embedder.close()

    # -- per frame --------------------------------------------------------------
    def detect(self, frame: np.ndarray) -> Detections:
        """Run the detector at :attr:`detection_floor` with the current settings."""
        if self.detector is None:
            raise ValueError("detect: this pipeline was built without a detector; pass detections to process()")
        c = self.config
        return self.detector.detect(frame, c.imgsz, self.detection_floor, c.iou_threshold, c.max_det,
                                    self._class_idx)

    def process(self, frame: np.ndarray, stamp: Optional[float] = None,
                detections: Optional[Detections] = None) -> FrameResult:
        """Track one BGR frame.

        Args:
            frame: (H, W, 3) uint8 BGR image.
            stamp: Capture time in seconds, or None/0 when unknown. A stamp more
                than ``TIME_JUMP_BACK_SEC`` older than the last resets the tracker.
            detections: Use these instead of running the detector (e.g. cached at
                :attr:`detection_floor`; rows below it are the tracker's to ignore).

        The embedder runs only when the tracker uses appearance
        (``needs_appearance``); the frame goes to the tracker when it asks
        for it (``needs_frame``).
        """
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame: expected an (H, W, 3) uint8 BGR image, got shape {frame.shape} "
                             f"dtype {frame.dtype}")
        with self._lock:
            reset = False
            if stamp:
                if self._last_stamp is not None and stamp < self._last_stamp - TIME_JUMP_BACK_SEC:
                    log.warning("time jumped back %.3f s (%.3f -> %.3f); resetting the tracker",
                                self._last_stamp - stamp, self._last_stamp, stamp)
                    self.tracker.reset()
                    self.trails.clear()
                    self.resets += 1
                    reset = True
                if reset or self._last_stamp is None:
                    self._last_stamp = stamp
                    self._gaps.clear()
                else:  # small reorderings are tracked normally; only big jumps back reset
                    if stamp > self._last_stamp:
                        self._gaps.append(stamp - self._last_stamp)
                    self._last_stamp = max(stamp, self._last_stamp)
            timings: Dict[str, float] = {}
            t0 = time.perf_counter()
            tracker = self.tracker
            tracker.set_frame_period(self.frame_period)
            if detections is None:
                if tracker.needs_frame:
                    tracker.prefetch(frame)  # camera motion runs on a worker thread while the detector runs
                detections = self.detect(frame)
            elif self._class_idx is not None:
                detections = detections.subset(np.isin(detections.classes, self._class_idx))
            t1 = time.perf_counter()
            feats = self._embed(frame, detections) if tracker.needs_appearance else None
            t2 = time.perf_counter()
            tracks = tracker.update(detections, feats, frame if tracker.needs_frame else None)
            t3 = time.perf_counter()
            self.trails.update(tracks)
            self.frames += 1
            timings.update(detect=(t1 - t0) * 1e3, associate=(t3 - t2) * 1e3)
            if feats is not None:
                timings["embed"] = (t2 - t1) * 1e3
            return FrameResult(tracks, detections, timings, reset)

    def _embed(self, frame: np.ndarray, detections: Detections) -> np.ndarray:
        """Embed the detections the tracker reads (``appearance_mask``); the other rows are zeros."""
        mask = self.tracker.appearance_mask(detections)
        if mask is None or bool(np.all(mask)):
            return self.embedder.embed(frame, detections.xyxy)
        mask = np.asarray(mask, bool)
        part = np.asarray(self.embedder.embed(frame, detections.xyxy[mask]), np.float32)
        feats = np.zeros((len(detections), part.shape[1] if part.ndim == 2 else 0), np.float32)
        feats[mask] = part
        return feats

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        """Draw ``result`` on a copy of ``frame``."""
        c = self.config
        return draw_tracks(frame, result.tracks, self.names, self.trails if c.draw_trails else None,
                           c.draw_confidence, c.line_thickness, c.font_scale)

    def class_map(self) -> Dict[int, str]:
        """Class index to name for the classes in use (all when ``classes`` is empty)."""
        if self._class_idx is None:
            return dict(self.names)
        return {i: self.names[i] for i in self._class_idx}
