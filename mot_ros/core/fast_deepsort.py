"""Vectorised DeepSORT: the same decisions as deep-sort-realtime, at a fraction of the cost.

deep-sort-realtime's ``Tracker`` runs its Kalman filter, Mahalanobis gating
and nearest-neighbour appearance distance one track at a time in Python, and
computes the appearance distance of every (track, detection) pair before the
motion gate throws most of them away. At tens of tracks that costs several
times our whole association budget (figures: README, "Performance", from
``make bench``).

:class:`FastTracker` is a drop-in replacement for that class (same
attributes: ``tracks`` of deep-sort-realtime ``Track`` objects, ``metric``,
``kf``, ``max_age``, ``n_init``, ``max_iou_distance``,
``gating_only_position``, ``_next_id``) that keeps the algorithm and its
tie-breaking exactly, and changes only how it is computed:

* Kalman predict and update run on stacked ``(N, 8)`` means and
  ``(N, 8, 8)`` covariances. Predict is bit-identical; update differs from
  the per-track Cholesky solve only in floating-point rounding (~1e-15).
* The motion gate is computed first, for all confirmed tracks at once, and
  the appearance distance only for the (track, detection) pairs that pass it;
  gated pairs get the same clipped cost as before, so the assignment problem
  handed to ``scipy.optimize.linear_sum_assignment`` is the same.
* :class:`SampleBank` keeps each target's appearance samples in one
  contiguous array, run-length encoded: deep-sort-realtime appends a track's
  last feature again every frame, so about half of the ``nn_budget`` samples
  are repeats, which cannot change a minimum distance. The budget still
  counts every appended sample, so the same samples are evicted as before.
* Matching cascade, IoU stage, track creation order (hence IDs) and deletion
  follow the reference line by line, including the order of unmatched
  detections that decides new IDs.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from deep_sort_realtime.deep_sort import kalman_filter
from deep_sort_realtime.deep_sort.linear_assignment import INFTY_COST
from deep_sort_realtime.deep_sort.track import Track, TrackState
from deep_sort_realtime.deep_sort.tracker import Tracker as ReferenceTracker

log = logging.getLogger(__name__)

Match = Tuple[int, int]


class _Samples:
    """The appearance samples of one target, oldest first, consecutive repeats stored once.

    Attributes:
        feats: Storage; the live rows are ``feats[start:end]``.
        counts: How many appended samples each live row stands for.
        total: Samples counted against the budget (repeats included).
    """

    __slots__ = ("feats", "counts", "start", "end", "total", "_last")

    def __init__(self, features: Sequence[np.ndarray] = ()) -> None:
        self.feats = np.empty((0, 0), np.float32)
        self.counts = np.zeros(0, np.int64)
        self.start = self.end = self.total = 0
        self._last: Optional[np.ndarray] = None
        for f in features:
            self.append(np.asarray(f, np.float32), None)

    def __len__(self) -> int:
        return self.total

    def extend(self, features: Sequence[np.ndarray]) -> None:
        """``list.extend`` of the reference metric's sample lists (no budget applied until the next append)."""
        for f in features:
            self.append(np.asarray(f, np.float32), None)

    def rows(self) -> np.ndarray:
        """The distinct live samples, (K, D) float32."""
        return self.feats[self.start:self.end]

    def append(self, feature: np.ndarray, budget: Optional[int]) -> None:
        """Append one sample, then drop the oldest beyond ``budget`` (as ``list[-budget:]`` would)."""
        if feature is self._last and self.end > self.start:
            self.counts[self.end - 1] += 1
        else:
            if self.end == len(self.feats):
                self._make_room(len(feature))
            self.feats[self.end] = feature
            self.counts[self.end] = 1
            self.end += 1
            self._last = feature
        self.total += 1
        if budget is not None:
            while self.total > budget:
                excess = self.total - budget
                c = int(self.counts[self.start])
                if c <= excess:
                    self.start += 1
                    self.total -= c
                else:
                    self.counts[self.start] -= excess
                    self.total -= excess

    def _make_room(self, dim: int) -> None:
        n = self.end - self.start
        if n * 2 >= len(self.feats):  # at least half full: grow, else compact in place
            feats = np.empty((max(8, len(self.feats) * 2), dim), np.float32)
            counts = np.zeros(len(feats), np.int64)
        else:
            feats, counts = self.feats, self.counts
        if n:
            feats[:n] = self.feats[self.start:self.end]
            counts[:n] = self.counts[self.start:self.end]
        self.feats, self.counts, self.start, self.end = feats, counts, 0, n


class SampleBank:
    """Nearest-neighbour cosine distance to each target's appearance samples.

    The same interface as deep-sort-realtime's ``NearestNeighborDistanceMetric``
    for the cosine metric (``matching_threshold``, ``budget``, ``samples``,
    ``partial_fit``, ``distance``), for features that are unit vectors.

    Args:
        matching_threshold: Largest cosine distance of a match.
        budget: Samples kept per target (None: unlimited).
    """

    def __init__(self, matching_threshold: float, budget: Optional[int] = None) -> None:
        self.matching_threshold = matching_threshold
        self.budget = budget
        self.samples: Dict[str, _Samples] = {}  # plain lists are accepted too (converted on use)

    def _get(self, target: str) -> _Samples:
        s = self.samples[target]
        if not isinstance(s, _Samples):  # a plain list put there as for the reference metric
            s = self.samples[target] = _Samples(s)
        return s

    def add(self, target: str, feature: np.ndarray) -> None:
        """Append one sample; the same array object appended twice in a row is stored once."""
        if target not in self.samples:
            self.samples[target] = _Samples()
        self._get(target).append(feature, self.budget)

    def retain(self, active_targets: Sequence[str]) -> None:
        """Forget every target not in ``active_targets``."""
        self.samples = {k: self.samples[k] for k in active_targets}

    def partial_fit(self, features: np.ndarray, targets: np.ndarray, active_targets: Sequence[str]) -> None:
        """Reference-compatible update: add ``features[i]`` to ``targets[i]``, keep only active targets."""
        for f, t in zip(features, targets):
            self.add(str(t), np.asarray(f, np.float32))
        self.retain([str(t) for t in active_targets])

    def nearest(self, target: str, features: np.ndarray) -> np.ndarray:
        """Smallest cosine distance from each of ``features`` (M, D) to the target's samples, (M,)."""
        # min(1 - s) == 1 - max(s) exactly: 1 - x rounds monotonically
        return 1.0 - np.dot(self._get(target).rows(), features.T).max(axis=0)

    def distance(self, features: np.ndarray, targets: Sequence[str]) -> np.ndarray:
        """Reference-compatible (len(targets), len(features)) cost matrix."""
        features = np.asarray(features, np.float32)
        out = np.zeros((len(targets), len(features)))
        for i, t in enumerate(targets):
            out[i] = self.nearest(str(t), features)
        return out


def _min_cost_matching(cost: np.ndarray, max_distance: float, track_indices: List[int],
                       detection_indices: List[int]) -> Tuple[List[Match], List[int], List[int]]:
    """deep-sort-realtime's ``min_cost_matching`` on a ready cost matrix, with its output order."""
    if len(detection_indices) == 0 or len(track_indices) == 0:
        return [], track_indices, detection_indices
    cost[cost > max_distance] = max_distance + 1e-5
    rows, cols = linear_sum_assignment(cost)
    used_rows, used_cols = set(rows.tolist()), set(cols.tolist())
    unmatched_dets = [d for c, d in enumerate(detection_indices) if c not in used_cols]
    unmatched_tracks = [t for r, t in enumerate(track_indices) if r not in used_rows]
    matches: List[Match] = []
    for r, c in zip(rows.tolist(), cols.tolist()):
        if cost[r, c] > max_distance:
            unmatched_tracks.append(track_indices[r])
            unmatched_dets.append(detection_indices[c])
        else:
            matches.append((track_indices[r], detection_indices[c]))
    return matches, unmatched_tracks, unmatched_dets


class FastTracker(ReferenceTracker):
    """deep-sort-realtime's ``Tracker`` (cosine metric), vectorised.

    Args:
        metric: The appearance sample bank (its ``matching_threshold`` and ``budget`` are live).
        max_iou_distance: Gate of the IoU stage (1 - IoU).
        max_age: Missed frames before a track is deleted; also the cascade depth.
        n_init: Consecutive hits before a track is confirmed.
        gating_only_position: Gate on the box centre only.
    """

    def __init__(self, metric: SampleBank, max_iou_distance: float = 0.7, max_age: int = 30, n_init: int = 3,
                 gating_only_position: bool = False) -> None:
        super().__init__(metric, max_iou_distance=max_iou_distance, max_age=max_age, n_init=n_init,
                         gating_only_position=gating_only_position)
        kf = self.kf
        self._w_pos = kf._std_weight_position
        self._w_vel = kf._std_weight_velocity
        self._stacked: Optional[Tuple[List[Track], np.ndarray, np.ndarray]] = None  # state right after predict

    # -- Kalman ---------------------------------------------------------------
    def predict(self) -> None:
        """Kalman prediction of every track (bit-identical to the per-track reference)."""
        tracks = self.tracks
        self._stacked = None
        fast = [t for t in tracks if t.mean.dtype == np.float64]
        for t in tracks:
            if t.mean.dtype != np.float64:  # new tracks: their float32 state rounds differently
                t.predict(self.kf)
        if not fast:
            return
        mean = np.stack([t.mean for t in fast])
        cov = np.stack([t.covariance for t in fast])
        h = mean[:, 3]
        std = np.empty((len(fast), 8))
        std[:, 0] = std[:, 1] = std[:, 3] = self._w_pos * h
        std[:, 2] = 1e-2
        std[:, 4] = std[:, 5] = std[:, 7] = self._w_vel * h
        std[:, 6] = 1e-5
        mean[:, :4] += mean[:, 4:]
        # F (P F^T) for the constant-velocity F, as numpy's multi_dot orders it: each entry is a sum of
        # two partial sums (the zero terms of the BLAS products are exact), so this is bit-identical
        a = cov.copy()
        a[:, :, :4] += cov[:, :, 4:]
        b = a.copy()
        b[:, :4, :] += a[:, 4:, :]
        idx = np.arange(8)
        b[:, idx, idx] += np.square(std)
        for i, t in enumerate(fast):
            t.mean, t.covariance = mean[i], b[i]
            t.age += 1
            t.time_since_update += 1
            t.original_ltwh = t.det_conf = t.instance_mask = t.others = None
        if len(fast) == len(tracks):  # the usual case: keep the stacked state for gating and update
            self._stacked = (list(tracks), mean, b)

    def _state(self, indices: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
        """Stacked means (N, 8) and covariances (N, 8, 8) of ``self.tracks[indices]``."""
        st = self._stacked
        if st is not None and len(st[0]) == len(self.tracks) and all(a is b for a, b in zip(st[0], self.tracks)):
            idx = np.asarray(indices, np.intp)
            return st[1][idx], st[2][idx]
        tracks = [self.tracks[i] for i in indices]
        return np.stack([t.mean for t in tracks]), np.stack([t.covariance for t in tracks])

    def _project(self, mean: np.ndarray, cov: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Measurement-space mean (N, 4) and innovation covariance (N, 4, 4)."""
        s = cov[:, :4, :4].copy()
        std = self._w_pos * mean[:, 3]
        var = np.square(std)
        s[:, 0, 0] += var
        s[:, 1, 1] += var
        s[:, 2, 2] += 1e-1 ** 2
        s[:, 3, 3] += var
        return mean[:, :4], s

    def _gating(self, indices: Sequence[int], xyah: np.ndarray) -> np.ndarray:
        """(T, M) True where the squared Mahalanobis distance of ``self.tracks[indices]`` is within the gate."""
        pm, s = self._project(*self._state(indices))
        k = 2 if self.gating_only_position else 4
        d = xyah[None, :, :k] - pm[:, None, :k]  # (T, M, k)
        # d^T S^-1 d; the reference solves with the Cholesky factor instead (same value to ~1e-15, half the time)
        maha = ((d @ np.linalg.inv(s[:, :k, :k])) * d).sum(-1)
        return maha <= kalman_filter.chi2inv95[k]

    def _kalman_update(self, indices: Sequence[int], xyah: np.ndarray) -> None:
        mean, cov = self._state(indices)
        pm, s = self._project(mean, cov)
        gain_t = np.linalg.solve(s, np.swapaxes(cov[:, :, :4], 1, 2))  # K^T, (N, 4, 8)
        new_mean = mean + np.einsum("ni,nij->nj", xyah - pm, gain_t)
        new_cov = cov - np.swapaxes(gain_t, 1, 2) @ s @ gain_t
        for i, k in enumerate(indices):
            self.tracks[k].mean, self.tracks[k].covariance = new_mean[i], new_cov[i]

    # -- association -------------------------------------------------------------
    def update(self, detections: Sequence, today: object = None) -> None:  # type: ignore[override]
        """Reference-compatible entry point taking deep-sort-realtime ``Detection`` objects."""
        if not detections:
            self.update_arrays(np.zeros((0, 4), np.float32), np.zeros(0), [], np.zeros((0, 0), np.float32))
            return
        self.update_arrays(np.stack([d.ltwh for d in detections]).astype(np.float32),
                           np.array([d.confidence for d in detections]),
                           [d.class_name for d in detections],
                           np.stack([d.feature for d in detections]).astype(np.float32))

    def update_arrays(self, ltwh: np.ndarray, confidences: np.ndarray, classes: Sequence,
                      features: np.ndarray) -> None:
        """Measurement update and track management for one frame.

        Args:
            ltwh: (M, 4) float32 boxes as left, top, width, height (positive sizes).
            confidences: (M,) detection scores.
            classes: M class labels, stored on the tracks as given.
            features: (M, D) float32 unit appearance vectors.
        """
        ltwh = np.asarray(ltwh, np.float32).reshape(-1, 4)
        n = len(ltwh)
        if len(confidences) != n or len(classes) != n or len(features) != n:
            raise ValueError(f"update_arrays: expected {n} confidences, classes and features for {n} boxes, "
                             f"got {len(confidences)}, {len(classes)} and {len(features)}")
        features = np.asarray(features, np.float32)
        # Detection.to_xyah, in float32 as the reference computes it
        xyah = ltwh.copy()
        xyah[:, :2] += xyah[:, 2:] / 2
        xyah[:, 2] /= xyah[:, 3]

        matches, unmatched_tracks, unmatched_dets = self._match_arrays(ltwh, xyah, features)
        if matches:
            matched = [self.tracks[t] for t, _ in matches]
            self._kalman_update([t for t, _ in matches], xyah[[d for _, d in matches]])
            for tr, (_, d) in zip(matched, matches):
                tr.original_ltwh = ltwh[d].copy()
                tr.features.append(features[d].copy())
                tr.det_conf = float(confidences[d])
                tr.det_class = classes[d]
                tr.instance_mask = tr.others = None
                tr.hits += 1
                tr.time_since_update = 0
                if tr.state == TrackState.Tentative and tr.hits >= tr._n_init:
                    tr.state = TrackState.Confirmed
        for t in unmatched_tracks:
            self.tracks[t].mark_missed()
        for d in unmatched_dets:
            mean, cov = self.kf.initiate(xyah[d])
            self.tracks.append(self.track_class(
                mean, cov, str(self._next_id), self.n_init, self.max_age, feature=features[d].copy(),
                original_ltwh=ltwh[d].copy(), det_class=classes[d], det_conf=float(confidences[d])))
            self._next_id += 1
        alive, self.del_tracks_ids = [], []
        for t in self.tracks:
            if t.is_deleted():
                self.del_tracks_ids.append(t.track_id)
            else:
                alive.append(t)
        self.tracks = alive
        self._stacked = None
        active = []
        samples, budget = self.metric.samples, self.metric.budget
        for t in alive:
            if t.is_confirmed():
                active.append(t.track_id)
                bank = samples.get(t.track_id)
                if not isinstance(bank, _Samples):
                    bank = samples[t.track_id] = _Samples(bank or ())
                for f in t.features:
                    bank.append(f, budget)
                t.features = [t.features[-1]]
        self.metric.retain(active)

    def _match_arrays(self, ltwh: np.ndarray, xyah: np.ndarray,
                      features: np.ndarray) -> Tuple[List[Match], List[int], List[int]]:
        tracks = self.tracks
        confirmed = [i for i, t in enumerate(tracks) if t.is_confirmed()]
        unconfirmed = [i for i, t in enumerate(tracks) if not t.is_confirmed()]
        threshold = self.metric.matching_threshold

        # Matching cascade: confirmed tracks by time since update, appearance cost behind the motion gate
        unmatched_dets = list(range(len(ltwh)))
        matches_a: List[Match] = []
        if confirmed and unmatched_dets:
            tsu = np.array([tracks[i].time_since_update for i in confirmed])
            gate = self._gating(confirmed, xyah)  # (len(confirmed), M)
            for level in sorted(set(tsu[(tsu >= 1) & (tsu <= self.max_age)].tolist())):
                if not unmatched_dets:
                    break
                rows = np.flatnonzero(tsu == level)
                level_tracks = [confirmed[r] for r in rows.tolist()]
                cols = np.asarray(unmatched_dets)
                # gated pairs cost what the reference's INFTY_COST is clipped to; only the others need appearance
                cost = np.full((len(rows), len(cols)), threshold + 1e-5)
                r_idx, c_idx = np.nonzero(gate[np.ix_(rows, cols)])  # row-major: grouped by track
                if len(r_idx):
                    starts = np.flatnonzero(np.r_[True, r_idx[1:] != r_idx[:-1]])
                    for a, b in zip(starts.tolist(), starts[1:].tolist() + [len(r_idx)]):
                        r, cc = int(r_idx[a]), c_idx[a:b]
                        cost[r, cc] = self.metric.nearest(tracks[level_tracks[r]].track_id, features[cols[cc]])
                m, _, unmatched_dets = _min_cost_matching(cost, threshold, level_tracks, unmatched_dets)
                matches_a += m
        unmatched_a = list(set(confirmed) - {k for k, _ in matches_a})

        # IoU stage: unconfirmed tracks and those missed for exactly one frame
        candidates = unconfirmed + [k for k in unmatched_a if tracks[k].time_since_update == 1]
        unmatched_a = [k for k in unmatched_a if tracks[k].time_since_update != 1]
        matches_b: List[Match] = []
        unmatched_b: List[int] = candidates
        if candidates and unmatched_dets:
            cost = self._iou_cost([tracks[k] for k in candidates], ltwh[unmatched_dets])
            matches_b, unmatched_b, unmatched_dets = _min_cost_matching(cost, self.max_iou_distance, candidates,
                                                                        unmatched_dets)
        return matches_a + matches_b, list(set(unmatched_a + unmatched_b)), unmatched_dets

    @staticmethod
    def _iou_cost(tracks: Sequence[Track], cand: np.ndarray) -> np.ndarray:
        """1 - IoU of each track's Kalman box with each candidate (ltwh float32), as the reference computes it."""
        mean = np.stack([t.mean[:4] for t in tracks])
        box = mean.copy()
        box[:, 2] *= box[:, 3]
        box[:, :2] -= box[:, 2:] / 2
        b_tl, b_br = box[:, :2], box[:, :2] + box[:, 2:]
        c_tl, c_br = cand[:, :2], cand[:, :2] + cand[:, 2:]
        tl = np.maximum(b_tl[:, None, :], c_tl[None, :, :])
        br = np.minimum(b_br[:, None, :], c_br[None, :, :])
        wh = np.maximum(0.0, br - tl)
        inter = wh[..., 0] * wh[..., 1]
        area_b = box[:, 2] * box[:, 3]
        area_c = cand[:, 2] * cand[:, 3]
        cost = 1.0 - inter / (area_b[:, None] + area_c[None, :] - inter)
        stale = np.array([t.time_since_update > 1 for t in tracks])
        cost[stale] = INFTY_COST
        return cost
