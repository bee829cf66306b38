"""DeepSORT with a recovery stage: lost tracks can take back their object by overlap.

In DeepSORT a confirmed track that missed two or more frames ("lost") can
only be matched again by appearance (cosine distance under
``max_cosine_distance``, inside the Kalman gate); the IoU stage considers
tentative tracks and tracks missed for exactly one frame. With generic
appearance features (MobileNetV2 on ImageNet, colour histograms) a person
who reappears after a short occlusion often fails the appearance test, a new
tentative track grabs the detection in the IoU stage, and the object gets a
new ID although the lost track's Kalman prediction still overlaps it.

:class:`RecoveringTracker` adds one stage after DeepSORT's own matching:
lost confirmed tracks (missed for 2..``max_age`` frames) are matched by IoU
(at most ``max_iou_distance``, the same gate as the IoU stage) against the
detections left unmatched or given to *tentative* tracks; tentative tracks
are then re-matched to what is left. Matches of confirmed tracks are never
changed, and when no lost track recovers the result is exactly DeepSORT's.
This is the association ByteTrack applies to its lost tracks, kept behind
DeepSORT's appearance cascade.

What it changes on real sequences, and the command that measures it, is in the README
("Accuracy against the peers").
"""
from __future__ import annotations

import logging
from typing import List, Sequence, Tuple

import numpy as np
from deep_sort_realtime.deep_sort.track import Track

from .fast_deepsort import FastTracker, _min_cost_matching

log = logging.getLogger(__name__)

Match = Tuple[int, int]


def kalman_iou_cost(tracks: Sequence[Track], ltwh: np.ndarray) -> np.ndarray:
    """1 - IoU between each track's Kalman box and each (left, top, width, height) box, for any track age.

    (DeepSORT's ``iou_cost`` gives tracks missed for more than one frame an infinite cost.)
    """
    if not len(tracks) or not len(ltwh):
        return np.zeros((len(tracks), len(ltwh)))
    mean = np.stack([t.mean[:4] for t in tracks]).astype(np.float64)
    box = mean.copy()
    box[:, 2] *= box[:, 3]  # (x, y, a, h) -> (cx, cy, w, h)
    box[:, :2] -= box[:, 2:] / 2
    cand = np.asarray(ltwh, np.float64)
    tl = np.maximum(box[:, None, :2], cand[None, :, :2])
    br = np.minimum(box[:, None, :2] + box[:, None, 2:], cand[None, :, :2] + cand[None, :, 2:])
    wh = np.maximum(0.0, br - tl)
    inter = wh[..., 0] * wh[..., 1]
    union = (box[:, 2] * box[:, 3])[:, None] + (cand[:, 2] * cand[:, 3])[None, :] - inter
    return 1.0 - inter / np.maximum(union, 1e-12)


class RecoveringTracker(FastTracker):
    """:class:`FastTracker` (DeepSORT) plus the lost-track recovery stage described in the module docstring.

    Same constructor and attributes as :class:`FastTracker`.
    """

    recovered = 0
    """Matches made by the recovery stage since construction (diagnostics)."""

    def _match_arrays(self, ltwh: np.ndarray, xyah: np.ndarray,
                      features: np.ndarray) -> Tuple[List[Match], List[int], List[int]]:
        matches, unmatched_tracks, unmatched_dets = super()._match_arrays(ltwh, xyah, features)
        tracks = self.tracks
        lost = [k for k in unmatched_tracks
                if tracks[k].is_confirmed() and 1 < tracks[k].time_since_update <= self.max_age]
        tentative = [(k, d) for k, d in matches if not tracks[k].is_confirmed()]
        pool = list(unmatched_dets) + [d for _, d in tentative]
        if not lost or not pool:
            return matches, unmatched_tracks, unmatched_dets
        recovered, _, left = _min_cost_matching(kalman_iou_cost([tracks[k] for k in lost], ltwh[pool]),
                                                self.max_iou_distance, lost, pool)
        if not recovered:
            return matches, unmatched_tracks, unmatched_dets
        self.recovered += len(recovered)
        kept = [(k, d) for k, d in matches if tracks[k].is_confirmed()] + recovered
        # tentative tracks compete again, by IoU as in DeepSORT's IoU stage, for what the lost tracks left
        candidates = [k for k, _ in tentative] + [k for k in unmatched_tracks if not tracks[k].is_confirmed()]
        again: List[Match] = []
        if candidates and left:
            cost = self._iou_cost([tracks[k] for k in candidates], ltwh[left])
            again, _, left = _min_cost_matching(cost, self.max_iou_distance, candidates, left)
        matches = kept + again
        matched = {k for k, _ in matches}
        return matches, [k for k in range(len(tracks)) if k not in matched], left
