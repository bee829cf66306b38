"""One track and its life cycle: tentative -> confirmed -> deleted.

A track is born tentative from an unmatched detection. It is confirmed once
it has ``n_init`` hits (at birth when ``n_init`` is 1) and deleted when a
tentative track misses a frame or a confirmed one misses more than
``max_age`` frames in a row.

Appearance is kept one of two ways:

* ``bank`` (DeepSORT): a budgeted bank of past features. The bookkeeping is
  deep-sort-realtime's: a tentative track collects its features, at
  confirmation they all go into the bank, and at the end of every frame each
  confirmed track appends its pending features and keeps only the last one as
  pending (so a coasting track appends its last feature again every frame,
  which ages out older samples under the budget). The distance to a detection
  is the smallest cosine distance to any sample.
* ``ema`` (StrongSORT): one exponential moving average of the matched
  features, ``alpha * ema + (1 - alpha) * feature``, renormalised. With
  ``long_term_alpha`` above 0 a second, slower average is kept the same way
  (after HybridSORT's long-term re-ID feature); a track lost long enough is
  compared by the smaller of the two distances (:meth:`Track.appearance_distance`).
"""
from __future__ import annotations

from enum import IntEnum
from typing import List, Optional, Sequence

import numpy as np


class TrackState(IntEnum):
    """Life-cycle state of a track."""

    TENTATIVE = 1
    CONFIRMED = 2
    DELETED = 3


class SampleBank:
    """The appearance samples of one track, oldest first, consecutive repeats stored once.

    Appending the same array object twice in a row (a coasting track re-appending its last feature) counts
    twice against the budget but is stored once; a minimum distance cannot change through a repeat, and the
    budget evicts exactly the samples a plain list trimmed to ``[-budget:]`` would.
    """

    __slots__ = ("feats", "counts", "start", "end", "total", "_last")

    def __init__(self) -> None:
        self.feats = np.empty((0, 0), np.float32)
        self.counts = np.zeros(0, np.int64)
        self.start = self.end = self.total = 0
        self._last: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return self.total

    def rows(self) -> np.ndarray:
        """Return the distinct live samples, (K, D) float32."""
        return self.feats[self.start:self.end]

    def extend(self, features: Sequence[np.ndarray]) -> None:
        """Append samples without applying the budget (until the next :meth:`append`)."""
        for f in features:
            self.append(f, None)

    def append(self, feature: np.ndarray, budget: Optional[int]) -> None:
        """Append one sample, then drop the oldest beyond ``budget`` (None: unlimited)."""
        if feature is self._last and self.end > self.start:
            self.counts[self.end - 1] += 1
        else:
            if self.end == len(self.feats) or self.feats.shape[1] != len(feature):
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
        if self.feats.shape[1] != dim and n:
            raise ValueError(f"embeddings: expected {self.feats.shape[1]} dimensions (as before), got {dim}")
        if n * 2 >= len(self.feats) or self.feats.shape[1] != dim:  # at least half full: grow, else compact
            feats = np.empty((max(8, len(self.feats) * 2), dim), np.float32)
            counts = np.zeros(len(feats), np.int64)
        else:
            feats, counts = self.feats, self.counts
        if n:
            feats[:n] = self.feats[self.start:self.end]
            counts[:n] = self.counts[self.start:self.end]
        self.feats, self.counts, self.start, self.end = feats, counts, 0, n

    def nearest(self, features: np.ndarray) -> np.ndarray:
        """Smallest cosine distance from each unit row of ``features`` (M, D) to the samples, (M,)."""
        rows = self.rows()
        if not len(rows):
            return np.ones(len(features), np.float32)
        # min(1 - s) == 1 - max(s) exactly: 1 - x rounds monotonically
        return 1.0 - np.dot(rows, features.T).max(axis=0)


class Track:
    """One tracked object.

    Args:
        track_id: Public ID.
        mean: (8,) Kalman mean (a view into the tracker's stacked state is fine).
        covariance: (8, 8) Kalman covariance.
        ltwh: The detection's box (left, top, width, height), float32.
        score: The detection's confidence.
        class_id: The detection's class.
        det_index: The detection's index in this frame.
        feature: Its unit appearance vector, or None.
        appearance: ``bank`` or ``ema``.
        ema_alpha: Weight of the old EMA feature.
        long_term_alpha: Weight of the old feature in the slow average (``ema`` only); 0 keeps none.
    """

    __slots__ = ("track_id", "mean", "covariance", "state", "hits", "age", "time_since_update", "fresh",
                 "det_ltwh", "det_index", "score", "class_id", "pending", "bank", "ema", "appearance", "ema_alpha",
                 "long_term", "long_term_alpha", "full_view", "full_view_frame", "last_seen")

    def __init__(self, track_id: int, mean: np.ndarray, covariance: np.ndarray, ltwh: np.ndarray, score: float,
                 class_id: int, det_index: int, feature: Optional[np.ndarray], appearance: str = "bank",
                 ema_alpha: float = 0.9, long_term_alpha: float = 0.0) -> None:
        self.track_id = track_id
        self.mean, self.covariance = mean, covariance
        self.state = TrackState.TENTATIVE
        self.hits, self.age, self.time_since_update = 1, 1, 0
        self.fresh = True
        """Never predicted (the reference still holds this state in float32; see KalmanFilter.predict)."""
        self.det_ltwh: Optional[np.ndarray] = ltwh
        self.det_index = det_index
        self.score, self.class_id = float(score), int(class_id)
        self.appearance, self.ema_alpha = appearance, ema_alpha
        self.full_view: Optional[np.ndarray] = None
        """(8,) Kalman mean after the last full view (set by the tracker), warped by camera motion since."""
        self.full_view_frame = 0
        """The tracker's frame number of that match."""
        self.last_seen: Optional[np.ndarray] = None
        """(8,) Kalman mean after the last match (set by the tracker with ``last_seen_gate``), warped by camera
        motion since."""
        self.pending: List[np.ndarray] = []
        self.bank: Optional[SampleBank] = None
        self.ema: Optional[np.ndarray] = None
        self.long_term_alpha = long_term_alpha
        self.long_term: Optional[np.ndarray] = None
        """The slow average (``ema`` with ``long_term_alpha`` > 0), else None."""
        if feature is not None:
            self._add_feature(feature)

    # -- state ------------------------------------------------------------------
    @property
    def is_tentative(self) -> bool:
        """Not yet confirmed."""
        return self.state == TrackState.TENTATIVE

    @property
    def is_confirmed(self) -> bool:
        """Confirmed (published)."""
        return self.state == TrackState.CONFIRMED

    @property
    def is_deleted(self) -> bool:
        """To be removed at the end of the frame."""
        return self.state == TrackState.DELETED

    def predicted(self) -> None:
        """Book-keeping of a Kalman prediction step (the tracker predicts the states in a batch)."""
        self.age += 1
        self.time_since_update += 1
        self.fresh = False
        self.det_ltwh = None
        self.det_index = -1

    def matched(self, ltwh: np.ndarray, score: float, class_id: int, det_index: int,
                feature: Optional[np.ndarray], n_init: int) -> None:
        """Book-keeping of a measurement update with a detection (the state is updated by the tracker)."""
        self.det_ltwh = ltwh
        self.det_index = det_index
        self.score, self.class_id = float(score), int(class_id)
        if feature is not None:
            self._add_feature(feature)
        self.hits += 1
        self.time_since_update = 0
        if self.state == TrackState.TENTATIVE and self.hits >= n_init:
            self.state = TrackState.CONFIRMED

    def missed(self, max_age: int) -> None:
        """No detection this frame: tentative tracks die, confirmed ones after ``max_age`` misses."""
        if self.state == TrackState.TENTATIVE or self.time_since_update > max_age:
            self.state = TrackState.DELETED

    def confirm_if_ready(self, n_init: int) -> bool:
        """Confirm a tentative track that has ``n_init`` hits (a new track when ``n_init`` is 1).

        deep-sort-realtime checks ``n_init`` only on the next hit; our adapter has always published such
        tracks at once, and moved their features to the bank without the budget (kept here).
        """
        if self.state != TrackState.TENTATIVE or self.hits < n_init:
            return False
        self.state = TrackState.CONFIRMED
        if self.appearance == "bank" and self.pending:
            self.bank = self.bank or SampleBank()
            self.bank.extend(self.pending)
            self.pending = self.pending[-1:]
        return True

    # -- appearance ---------------------------------------------------------------
    def _add_feature(self, feature: np.ndarray) -> None:
        if self.appearance == "ema":
            self.ema = _moving_average(self.ema, feature, self.ema_alpha)
            if self.long_term_alpha > 0:
                self.long_term = _moving_average(self.long_term, feature, self.long_term_alpha)
        else:
            self.pending.append(feature)

    def commit_features(self, budget: Optional[int]) -> None:
        """End of frame for a confirmed track: pending features go into the bank; the last stays pending."""
        if self.appearance != "bank" or not self.pending:
            return
        if self.bank is None:
            self.bank = SampleBank()
        for f in self.pending:
            self.bank.append(f, budget)
        self.pending = [self.pending[-1]]

    def appearance_distance(self, features: np.ndarray, long_term_after: int = 0) -> np.ndarray:
        """Cosine distance (M,) from this track's appearance to unit rows ``features`` (M, D); 1 when unknown.

        With ``long_term_after`` > 0, a track that has gone that many frames or more without a match is as
        close as the nearer of its EMA and its slow average (``long_term_alpha``).
        """
        if self.appearance == "ema":
            if self.ema is None:
                return np.ones(len(features), np.float32)
            d = 1.0 - features @ self.ema
            if 0 < long_term_after < self.time_since_update and self.long_term is not None:
                d = np.minimum(d, 1.0 - features @ self.long_term)
            return d
        if self.bank is None:
            return np.ones(len(features), np.float32)
        return self.bank.nearest(features)


def _moving_average(old: Optional[np.ndarray], feature: np.ndarray, alpha: float) -> np.ndarray:
    """``alpha * old + (1 - alpha) * feature``, renormalised (float32); the feature itself when ``old`` is None."""
    if old is None:
        return feature.astype(np.float32, copy=True)
    e = alpha * old + (1.0 - alpha) * feature
    n = float(np.linalg.norm(e))
    return (e / n if n > 0 else e).astype(np.float32)
