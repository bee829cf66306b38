"""The vectorised deep-sort-realtime tracker behind the ``deepsort`` name (until the tracking package's own).

``DeepSortTracker`` drives :class:`mot_ros.core.recovery.RecoveringTracker`
(deep-sort-realtime's decisions, vectorised, plus an occlusion-recovery IoU
stage) with appearance features computed by our own embedders
(``mot_ros.core.embedders``). Each tracker instance owns its ID counter, so two
trackers in one process never share IDs. Build trackers through
:func:`mot_ros.core.tracking.make_tracker`.
"""
from __future__ import annotations

import logging
from typing import List, Optional

import numpy as np
from deep_sort_realtime.deep_sort.track import TrackState

from .config import Config
from .tracking.base import TrackerBase
from .types import Detections, TrackedObject

log = logging.getLogger(__name__)


class DeepSortTracker(TrackerBase):
    """DeepSORT: Kalman prediction, appearance cascade, IoU fallback, occlusion recovery.

    Detections scored below ``conf_threshold`` are ignored (this tracker has no
    low-score stage).

    Args:
        config: Uses conf_threshold, max_age, n_init, max_cosine_distance, max_iou_distance,
            nn_budget, gating_only_position, publish_coasting, box_source.
        first_id: The first track ID.
    """

    name = "deepsort"

    def __init__(self, config: Config, first_id: int = 1) -> None:
        from .fast_deepsort import SampleBank
        from .recovery import RecoveringTracker

        super().__init__(config, first_id)
        # FastTracker makes deep-sort-realtime's decisions (same IDs and matches) with vectorised
        # Kalman, gating and appearance distances
        metric = SampleBank(config.max_cosine_distance, config.nn_budget or None)
        # RecoveringTracker = FastTracker + an IoU stage that lets lost tracks take back their object
        self._t = RecoveringTracker(metric, max_iou_distance=config.max_iou_distance, max_age=config.max_age,
                                    n_init=config.n_init, gating_only_position=config.gating_only_position)
        self._t._next_id = self.ids.next_id
        self.apply_config(config)

    @property
    def needs_appearance(self) -> bool:
        """Always: the cascade matches on appearance."""
        return True

    def apply_config(self, config: Config) -> None:
        """Gates, ages and output settings apply to the live tracks."""
        super().apply_config(config)
        t = self._t
        t.max_age, t.n_init, t.max_iou_distance = config.max_age, config.n_init, config.max_iou_distance
        t.gating_only_position = config.gating_only_position
        t.metric.matching_threshold = config.max_cosine_distance
        t.metric.budget = config.nn_budget or None
        for tr in t.tracks:  # deep_sort stores these per track; keep live tracks consistent
            tr._max_age, tr._n_init = config.max_age, config.n_init
        self._publish_coasting = config.publish_coasting
        self._use_kalman_box = config.box_source == "kalman"

    @property
    def num_tracks(self) -> int:
        """Tracks alive (tentative and confirmed)."""
        return len(self._t.tracks)

    @property
    def next_id(self) -> int:
        """The ID the next new track will get."""
        return int(self._t._next_id)

    def reset(self) -> None:
        """Drop all tracks and appearance samples; IDs keep counting up."""
        self._t.tracks = []
        self._t.metric.samples = {}

    def update(self, detections: Detections, embeddings: Optional[np.ndarray] = None,
               frame: Optional[np.ndarray] = None) -> List[TrackedObject]:
        """Advance one frame; ``embeddings`` holds one unit vector per detection."""
        if embeddings is None or len(embeddings) != len(detections):
            raise ValueError(f"update: expected one embedding per detection ({len(detections)}), "
                             f"got {'none' if embeddings is None else len(embeddings)}")
        xyxy = detections.xyxy
        keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1]) & (detections.scores >= self.config.conf_threshold)
        kept = np.flatnonzero(keep)
        ltwh = np.concatenate([xyxy[keep, :2], xyxy[keep, 2:] - xyxy[keep, :2]], axis=1)
        self._t.predict()
        self._t.update_arrays(ltwh, detections.scores[keep], detections.classes[keep].tolist(),
                              np.asarray(embeddings, np.float32)[keep])
        out: List[TrackedObject] = []
        for tr in self._t.tracks:
            if tr.is_tentative() and tr.hits >= tr._n_init:
                # deep_sort checks n_init only on the next hit; n_init=1 means "publish at once"
                tr.state = TrackState.Confirmed
                self._t.metric.samples.setdefault(tr.track_id, []).extend(tr.features)
                tr.features = tr.features[-1:]
            if not tr.is_confirmed():
                continue
            matched = tr.time_since_update == 0
            if not matched and not self._publish_coasting:
                continue
            det_index = -1
            if matched and tr.original_ltwh is not None:  # the matched detection's box, copied by update_arrays
                hit = np.flatnonzero((ltwh == tr.original_ltwh).all(axis=1))
                det_index = int(kept[hit[0]]) if len(hit) else -1
            box = tr.to_ltrb(orig=matched and not self._use_kalman_box)
            out.append(TrackedObject(
                track_id=int(tr.track_id), class_id=int(tr.det_class) if tr.det_class is not None else -1,
                score=float(tr.det_conf) if tr.det_conf is not None else float(getattr(tr, "_last_conf", 0.0)),
                xyxy=tuple(box.tolist()), matched=matched, age=int(tr.age),
                time_since_update=int(tr.time_since_update), det_index=det_index))
            if matched:
                tr._last_conf = tr.det_conf
        return out


def make_tracker(config: Config, first_id: int = 1) -> TrackerBase:
    """Deprecated alias of :func:`mot_ros.core.tracking.make_tracker` (kept for callers not yet moved)."""
    from .tracking import make_tracker as _make

    return _make(config, first_id)
