"""``bytetrack`` and ``botsort``: ultralytics' own ``BYTETracker`` and ``BOTSORT`` classes, wrapped.

The classes are used as ``model.track()`` uses them: built from an args
namespace (here from our schema instead of ``bytetrack.yaml`` /
``botsort.yaml``) and updated with a results-like object (``conf``, ``xyxy``,
``xywh``, ``cls``, boolean indexing) and the BGR image. Their output rows are
``[x1, y1, x2, y2, track_id, score, cls, idx]`` where ``idx`` indexes the
detections given, so ``det_index`` comes straight from the library. Their
track IDs are mapped to this instance's with
:class:`~mot_ros.core.tracking.base.IdMap`, so that a new instance (a switch
of tracker, a rebuild) continues the ID sequence.

Parameter mapping (schema -> ultralytics): conf_threshold -> track_high_thresh,
low_conf_threshold -> track_low_thresh, max_age -> track_buffer,
ul_new_track_threshold -> new_track_thresh, ul_match_threshold ->
match_thresh, ul_fuse_score -> fuse_score, ul_gmc_method -> gmc_method,
ul_proximity_threshold -> proximity_thresh, ul_appearance_threshold ->
appearance_thresh, ul_with_reid -> with_reid (with ``model: auto``: the
features passed to ``update`` are our embeddings, so no re-ID model is loaded).
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, List, Optional

import numpy as np

from ..config import Config
from ..types import Detections, TrackedObject
from .base import TrackerBase

FRAME_RATE = 30
"""ultralytics' trackers were built with ``frame_rate=30``: ``track_buffer`` (max_age) counts frames."""


class _Boxes:
    """The results-like object ultralytics' trackers read (numpy ``Boxes`` after ``.cpu().numpy()``)."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray) -> None:
        self.xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
        self.conf = np.asarray(conf, np.float32).reshape(-1)
        self.cls = np.asarray(cls, np.float32).reshape(-1)
        xy = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2
        self.xywh = np.concatenate([xy, self.xyxy[:, 2:] - self.xyxy[:, :2]], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index: Any) -> "_Boxes":
        return _Boxes(self.xyxy[index], self.conf[index], self.cls[index])


def tracker_args(config: Config, botsort: bool) -> SimpleNamespace:
    """Build the args namespace of ``bytetrack.yaml`` / ``botsort.yaml`` from our schema."""
    args = SimpleNamespace(
        tracker_type="botsort" if botsort else "bytetrack",
        track_high_thresh=float(config.conf_threshold),
        track_low_thresh=float(min(config.low_conf_threshold, config.conf_threshold)),
        new_track_thresh=float(config.ul_new_track_threshold),
        track_buffer=int(config.max_age),
        match_thresh=float(config.ul_match_threshold),
        fuse_score=bool(config.ul_fuse_score),
    )
    if botsort:
        args.gmc_method = config.ul_gmc_method
        args.proximity_thresh = float(config.ul_proximity_threshold)
        args.appearance_thresh = float(config.ul_appearance_threshold)
        args.with_reid = bool(config.ul_with_reid)
        args.model = "auto"  # features come with update(); never load a re-ID model
    return args


class _UltralyticsTracker(TrackerBase):
    """Common wrapper of ``BYTETracker`` / ``BOTSORT``."""

    _botsort = False

    def __init__(self, config: Config, first_id: int = 1) -> None:
        super().__init__(config, first_id)
        self._t = self._build(config)
        self._last_conf: dict = {}

    def _build(self, config: Config) -> Any:
        if self._botsort:
            from ultralytics.trackers.bot_sort import BOTSORT

            return BOTSORT(tracker_args(config, True))
        from ultralytics.trackers.byte_tracker import BYTETracker

        return BYTETracker(tracker_args(config, False))

    def apply_config(self, config: Config) -> None:
        """Thresholds and max_age apply at once (the library reads its args every frame)."""
        super().apply_config(config)
        new = tracker_args(config, self._botsort)
        for k, v in vars(new).items():
            if k not in ("gmc_method", "with_reid", "model"):  # those need a rebuild (registry)
                setattr(self._t.args, k, v)
        self._t.max_frames_lost = new.track_buffer
        if self._botsort:
            self._t.proximity_thresh = new.proximity_thresh
            self._t.appearance_thresh = new.appearance_thresh

    @property
    def num_tracks(self) -> int:
        """Tracked (including unconfirmed) and lost tracks."""
        return len(self._t.tracked_stracks) + len(self._t.lost_stracks)

    def reset(self) -> None:
        """Drop every track; the library's IDs restart, ours keep counting up."""
        self._t.reset()
        self.ids.forget()
        self._last_conf.clear()

    def update(self, detections: Detections, embeddings: Optional[np.ndarray] = None,
               frame: Optional[np.ndarray] = None) -> List[TrackedObject]:
        """Advance one frame (``frame`` feeds GMC; ``embeddings`` feed re-ID when it is on)."""
        boxes = _Boxes(detections.xyxy, detections.scores, detections.classes)
        feats = None
        if self.needs_appearance:
            if embeddings is None or len(embeddings) != len(detections):
                raise ValueError(f"update: expected one embedding per detection ({len(detections)}), "
                                 f"got {'none' if embeddings is None else len(embeddings)}")
            feats = np.asarray(embeddings, np.float32)
        rows = self._t.update(boxes, frame, feats)
        out: List[TrackedObject] = []
        use_det_box = self.config.box_source == "detection"
        frame_id = self._t.frame_id
        alive = set()
        for r in rows:
            lib_id, idx = int(r[4]), int(r[7])
            alive.add(lib_id)
            box = detections.xyxy[idx] if use_det_box else r[:4]
            self._last_conf[lib_id] = float(r[5])
            out.append(TrackedObject(track_id=self.ids.get(lib_id), class_id=int(r[6]), score=float(r[5]),
                                     xyxy=tuple(float(v) for v in box), matched=True, det_index=idx))
        by_id = {t.track_id: t for t in self._t.tracked_stracks}
        for o, r in zip(out, rows):
            t = by_id.get(int(r[4]))
            if t is not None:
                o.age = int(frame_id - t.start_frame)
        for t in self._t.lost_stracks:
            alive.add(int(t.track_id))
            if self.config.publish_coasting and t.is_activated:
                out.append(TrackedObject(
                    track_id=self.ids.get(int(t.track_id)), class_id=int(t.cls),
                    score=self._last_conf.get(int(t.track_id), float(t.score)),
                    xyxy=tuple(float(v) for v in t.xyxy), matched=False, age=int(frame_id - t.start_frame),
                    time_since_update=int(frame_id - t.end_frame), det_index=-1))
        unconfirmed = {int(t.track_id) for t in self._t.tracked_stracks}
        self.ids.forget(keep=alive | unconfirmed)
        self._last_conf = {k: v for k, v in self._last_conf.items() if k in alive}
        return out


class ByteTrackTracker(_UltralyticsTracker):
    """ultralytics' ``BYTETracker``: IoU association of high-, then low-score detections; no appearance."""

    name = "bytetrack"


class BotSortTracker(_UltralyticsTracker):
    """ultralytics' ``BOTSORT``: ByteTrack plus GMC camera-motion compensation and optional re-ID."""

    name = "botsort"
    _botsort = True

    @property
    def needs_appearance(self) -> bool:
        """With ul_with_reid only."""
        return bool(self.config.ul_with_reid)

    @property
    def needs_frame(self) -> bool:
        """GMC estimates the camera motion from the frames."""
        return self.config.ul_gmc_method != "none"
