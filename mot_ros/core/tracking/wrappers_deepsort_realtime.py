"""``deepsort_realtime``: the deep-sort-realtime library itself, driven as its tutorial drives it.

Public API only: ``DeepSort(max_age, n_init, max_cosine_distance, nn_budget,
embedder=None, ...)`` and ``update_tracks(raw_detections, embeds=...,
others=...)``, fed our embeddings. Each detection's index travels through
``others`` and comes back from ``track.get_det_supplementary()``. The
library's own track IDs (strings restarting at 1 after a reset) are mapped to
this instance's IDs with :class:`~mot_ros.core.tracking.base.IdMap`.
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..config import Config
from ..types import Detections, TrackedObject
from .base import TrackerBase


def _deepsort(config: Config) -> Any:
    """Build a ``deep_sort_realtime.deepsort_tracker.DeepSort`` with no embedder of its own."""
    with warnings.catch_warnings():  # its embedder module imports the deprecated pkg_resources
        warnings.simplefilter("ignore", UserWarning)
        from deep_sort_realtime.deepsort_tracker import DeepSort

    return DeepSort(max_age=config.max_age, n_init=config.n_init, max_cosine_distance=config.max_cosine_distance,
                    nn_budget=config.nn_budget or None, max_iou_distance=config.max_iou_distance,
                    gating_only_position=config.gating_only_position, embedder=None)


class DeepSortRealtimeTracker(TrackerBase):
    """deep-sort-realtime's ``DeepSort`` behind :class:`TrackerBase`.

    Detections scored below ``conf_threshold`` are not given to it (it has no
    low-score stage). Boxes: ``to_ltrb(orig=True)`` (the detection) when
    ``box_source`` is detection, else the Kalman estimate.

    Args:
        config: Uses conf_threshold, max_age, n_init, max_cosine_distance, max_iou_distance, nn_budget,
            gating_only_position (rebuild), publish_coasting and box_source (live).
        first_id: The first track ID.
    """

    name = "deepsort_realtime"

    def __init__(self, config: Config, first_id: int = 1) -> None:
        super().__init__(config, first_id)
        self._ds = _deepsort(config)
        self._last: Dict[str, Tuple[int, float]] = {}  # class and score of each track's last detection

    @property
    def needs_appearance(self) -> bool:
        """Always: it matches on appearance first."""
        return True

    @property
    def num_tracks(self) -> int:
        """Tracks alive in the library's tracker."""
        return len(self._ds.tracker.tracks)

    def reset(self) -> None:
        """Start a new library tracker (its IDs restart; ours keep counting up)."""
        self._ds = _deepsort(self.config)
        self.ids.forget()
        self._last.clear()

    def update(self, detections: Detections, embeddings: Optional[np.ndarray] = None,
               frame: Optional[np.ndarray] = None) -> List[TrackedObject]:
        """Advance one frame with one embedding per detection."""
        if embeddings is None or len(embeddings) != len(detections):
            raise ValueError(f"update: expected one embedding per detection ({len(detections)}), "
                             f"got {'none' if embeddings is None else len(embeddings)}")
        xyxy = detections.xyxy
        # the library drops boxes without area from the detections but not from embeds; filter here
        keep = np.flatnonzero((xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
                              & (detections.scores >= self.config.conf_threshold))
        raw = [([float(xyxy[i, 0]), float(xyxy[i, 1]), float(xyxy[i, 2] - xyxy[i, 0]),
                 float(xyxy[i, 3] - xyxy[i, 1])], float(detections.scores[i]), int(detections.classes[i]))
               for i in keep]
        embeds = [np.asarray(embeddings[i], np.float32) for i in keep]
        tracks = self._ds.update_tracks(raw, embeds=embeds, others=[int(i) for i in keep])
        alive = set()
        out: List[TrackedObject] = []
        kalman_box = self.config.box_source == "kalman"
        for t in tracks:
            alive.add(t.track_id)
            if not t.is_confirmed():
                continue
            det = t.get_det_supplementary()
            matched = t.time_since_update == 0 and det is not None
            if not matched and not self.config.publish_coasting:
                continue
            if matched:
                self._last[t.track_id] = (int(t.get_det_class()), float(t.get_det_conf()))
            cls, conf = self._last.get(t.track_id, (-1, 0.0))
            box = t.to_ltrb(orig=matched and not kalman_box)
            out.append(TrackedObject(
                track_id=self.ids.get(t.track_id), class_id=cls, score=conf, xyxy=tuple(float(v) for v in box),
                matched=matched, age=int(t.age), time_since_update=int(t.time_since_update),
                det_index=int(det) if matched else -1))
        self.ids.forget(keep=alive)
        self._last = {k: v for k, v in self._last.items() if k in alive}
        return out
