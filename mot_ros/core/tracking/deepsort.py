"""Our DeepSORT, with the stages later trackers added as parameters.

With every modern stage off (``low_conf_threshold == conf_threshold``,
``cmc: none``, ``association: cascade``, ``appearance_features: bank``,
``kalman_state: xyah``, ``nsa_kalman``, ``fuse_score``, ``recovery``,
``confirm_first_frame``, ``lost_size_gate`` and ``last_seen_gate`` false,
``duplicate_iou`` 1,
``distinct_appearance``, ``max_age_s``, ``gate_frame_rate`` and
``long_term_alpha`` 0,
``lost_gate_scale`` and ``moving_gate_scale`` 1) it makes deep-sort-realtime's
decisions: same IDs, matches and boxes (test/test_tracking_parity.py).

``max_age`` below is the effective one (:attr:`DeepSortTracker.max_age`):
``max_age`` frames, or ``max_age_s`` seconds at the frame period the
pipeline measured from the stamps, whichever is longer. "The Kalman gate" is
DeepSORT's 95 % chi-square gate, its threshold multiplied by
:attr:`DeepSortTracker.gate_scale` below ``gate_frame_rate``, by at least
``moving_gate_scale`` in a frame where the camera moved more than
MOVING_CAMERA_PX, and for tracks lost 2 frames or more by at least
``lost_gate_scale``. One frame:

1. Kalman prediction of every track (batched).
2. Camera-motion compensation (``cmc``, BoT-SORT): the frame-to-frame affine
   from ultralytics' GMC warps every track's mean and covariance.
3. First association, detections with score >= ``conf_threshold``:
   ``cascade`` (DeepSORT): confirmed tracks by appearance inside the Kalman
   gate, most recently seen first; then tentative tracks and tracks missed
   for one frame by IoU. ``fused`` (BoT-SORT): all confirmed tracks in one
   assignment on min(IoU distance, appearance distance), appearance counting
   only for overlapping, similar-looking pairs; then tentative tracks by IoU.
   ``lost_size_gate`` (ours, after OC-SORT's observation-centric idea): in
   the cascade, a confirmed track lost for 2 frames or more that is now
   smaller than in its last full view (the last high-score match whose box
   no other detection covers by more than half) is gated a second time with
   that view's state, moved on at that view's velocity, with its size then;
   a detection inside either gate may match. Partial boxes of a person being
   hidden shrink the track and drag its centre and velocities; the person,
   back in full, keeps the ID.
   ``distinct_appearance`` (ours, after HybridSORT's appearance correction):
   a track lost for 2 frames or more may also take a detection outside its
   gate, near its prediction, whose appearance is close and unambiguous
   (every other track and detection more than twice as far).
   ``long_term_alpha`` (ours, after HybridSORT's long-term re-ID feature):
   with the EMA, each track also keeps a slow average of its features; a
   track that has gone ``long_term_after`` frames or more without a match is
   as close to a detection as the nearer of its two averages, in every
   appearance test above. The EMA holds the last, often partly hidden views
   before an occlusion; the slow average, how the object looked before it.
   ``last_seen_gate`` (ours, after OC-SORT's observation-centric recovery):
   after the cascade's IoU stage, a confirmed track lost for 2 frames or
   more may take a high detection nobody took inside the Kalman gate around
   where it was last seen, at rest (its last match, or its last full view
   with ``lost_size_gate``), at appearance distance within
   ``max_cosine_distance``, when the pair is unambiguous (every other
   confirmed track and every other detection left more than LAST_SEEN_RATIO
   times as far). Its prediction went on at the old velocity; the person
   stopped or turned back while hidden.
   ``fuse_score`` (ByteTrack) multiplies the IoU similarity by the score.
4. ``recovery``: confirmed tracks lost for 2..``max_age`` frames take back a
   detection that overlaps their prediction, if only a tentative track or
   nobody took it (tentative tracks then compete again for the rest).
5. Second association (ByteTrack), when ``low_conf_threshold`` is below
   ``conf_threshold``: confirmed tracks seen last frame and still unmatched
   take detections scored in [low_conf_threshold, conf_threshold) by IoU
   (1 - IoU <= 0.5, ByteTrack's gate). Low detections never start tracks and
   add no appearance sample (they are mostly occluded views).
6. Kalman update of the matched tracks (``nsa_kalman``: measurement noise
   scaled by the score, StrongSORT), misses, new tentative tracks from the
   high detections nobody took, deletions, appearance book-keeping
   (``appearance_features``: DeepSORT's sample bank or StrongSORT's EMA).
   ``duplicate_iou``: a high detection left over that overlaps a box held by
   a confirmed track at least this much (a detector duplicate, e.g. a partial
   box inside a full one) starts no track; recovery ignores it too.
   ``confirm_first_frame`` (ByteTrack, BoT-SORT): the tracks born on the
   first frame after construction or :meth:`reset` are confirmed at once.
   Confirmed tracks missed more than ``max_age`` times in a row are deleted.
"""
from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..config import Config
from ..types import Detections, TrackedObject
from .base import TrackerBase
from .cmc import CameraMotion, in_background
from .kalman import KalmanFilter
from .matching import (INFTY_COST, Match, covered_fraction, fuse_score, fused_cost, iou_distance,
                       linear_assignment, min_cost_matching, normalize)
from .track import Track

log = logging.getLogger(__name__)

SECOND_MATCH_IOU_DISTANCE = 0.5
"""ByteTrack's gate (1 - IoU) for the second association of low-score detections."""

DISTINCT_RATIO = 2.0
"""``distinct_appearance``: every other confirmed track and every other high detection must be more than this many
times as far in appearance as the pair the gate is opened for."""

FULL_VIEW_MAX_COVER = 0.5
"""``lost_size_gate``: a high-score match is a full view only when no other detection covers more than this fraction
of its box (an occluder's box over it means its box may show only the visible part)."""

STAGES_OFF = dict(cmc="none", association="cascade", appearance_features="bank", kalman_state="xyah",
                  nsa_kalman=False, fuse_score=False, recovery=False, confirm_first_frame=False, duplicate_iou=1.0,
                  lost_size_gate=False, distinct_appearance=0.0, max_age_s=0.0, gate_frame_rate=0.0,
                  lost_gate_scale=1.0, moving_gate_scale=1.0, long_term_alpha=0.0, last_seen_gate=False)
"""Every modern stage off. With ``low_conf_threshold`` equal to ``conf_threshold`` as well, our deepsort makes
deep-sort-realtime's decisions (test/test_tracking_parity.py); the one list the parity test, the benchmarks and the
sweep share."""

LAST_SEEN_RATIO = 1.25
"""``last_seen_gate``: every other confirmed track and every other detection left over must be more than this many
times as far in appearance as the pair matched where the track was last seen."""

MOVING_CAMERA_PX = 1.0
"""``moving_gate_scale``: the camera-motion estimate's shift (pixels of the full frame) above which the camera moved."""

GATE_SCALE_MAX = 4.0
"""``gate_frame_rate``: the most the chi-square gate's threshold is widened (reached at a quarter of the rate)."""


class DeepSortTracker(TrackerBase):
    """DeepSORT with optional ByteTrack, BoT-SORT and StrongSORT stages (see the module docstring).

    Args:
        config: Uses the tracker group (max_age, max_age_s, gate_frame_rate, lost_gate_scale, moving_gate_scale,
            n_init, max_cosine_distance, max_iou_distance, nn_budget, gating_only_position, low_conf_threshold, cmc,
            cmc_downscale, association, proximity_threshold, appearance_threshold, appearance_features, ema_alpha,
            kalman_state, nsa_kalman, fuse_score, recovery, confirm_first_frame, duplicate_iou, lost_size_gate,
            distinct_appearance, long_term_alpha, long_term_after, last_seen_gate), conf_threshold, box_source and
            publish_coasting.
        first_id: The first track ID.
    """

    name = "deepsort"

    def __init__(self, config: Config, first_id: int = 1) -> None:
        super().__init__(config, first_id)
        self.tracks: List[Track] = []
        self.kf = KalmanFilter(config.kalman_state, config.nsa_kalman)
        self.cmc = CameraMotion(config.cmc, config.cmc_downscale)
        self.recovered = 0
        """Matches made by the recovery stage (diagnostics)."""
        self.frames = 0
        """Frames since construction or the last reset."""
        self.camera_shift = 0.0
        """Pixels the camera-motion estimate shifted the last frame by (0 with ``cmc: none``)."""
        self._cmc_job: Optional[Tuple[np.ndarray, "Future[None]"]] = None
        """A camera-motion estimate started by :meth:`prefetch`: (its frame, the running job)."""
        self.apply_config(config)

    # -- interface --------------------------------------------------------------
    @property
    def max_age(self) -> int:
        """Misses a confirmed track survives: ``max_age``, or ``max_age_s`` in frames where longer (period known)."""
        cfg = self.config
        if cfg.max_age_s > 0 and self.frame_period:
            return max(cfg.max_age, int(round(cfg.max_age_s / self.frame_period)))
        return cfg.max_age

    @property
    def long_term_after(self) -> int:
        """``long_term_after`` when the slow average is kept (``ema`` with ``long_term_alpha`` > 0), else 0 (off)."""
        c = self.config
        return c.long_term_after if c.appearance_features == "ema" and c.long_term_alpha > 0 else 0

    @property
    def gate_scale(self) -> float:
        """Factor on the Kalman gate's threshold: ``gate_frame_rate`` x the frame period, within [1, GATE_SCALE_MAX].

        DeepSORT's process noise is per frame; at a lower frame rate an object moves farther between frames, and
        the squared gate radius grows with the time step (1 at ``gate_frame_rate`` and above, or period unknown).
        """
        rate, period = self.config.gate_frame_rate, self.frame_period
        if rate <= 0 or not period:
            return 1.0
        return min(GATE_SCALE_MAX, max(1.0, rate * period))

    def apply_config(self, config: Config) -> None:
        """Apply new settings; a new Kalman state layout or appearance model restarts the tracks."""
        self._join_cmc()
        old = self.config
        self.config = config
        if (config.kalman_state, config.appearance_features) != (old.kalman_state, old.appearance_features):
            self.reset()
        self.kf = KalmanFilter(config.kalman_state, config.nsa_kalman)
        self.cmc.configure(config.cmc, config.cmc_downscale)
        for t in self.tracks:
            t.ema_alpha, t.long_term_alpha = config.ema_alpha, config.long_term_alpha
            if config.long_term_alpha <= 0:
                t.long_term = None  # not kept up to date while off
            if not config.lost_size_gate:
                t.full_view = None  # not kept up to date while off
            if not config.last_seen_gate:
                t.last_seen = None

    @property
    def needs_appearance(self) -> bool:
        """False only for the fused association with its appearance gate closed (IoU alone)."""
        c = self.config
        return not (c.association == "fused" and c.appearance_threshold <= 0.0)

    def appearance_mask(self, detections: Detections) -> Optional[np.ndarray]:
        """Only detections at or above ``conf_threshold``: low ones are matched by IoU alone and never stored."""
        return detections.scores >= self.config.conf_threshold

    @property
    def needs_frame(self) -> bool:
        """True when camera-motion compensation is on."""
        return self.config.cmc != "none"

    @property
    def num_tracks(self) -> int:
        """Tracks alive (tentative, confirmed and lost)."""
        return len(self.tracks)

    def prefetch(self, frame: np.ndarray) -> None:
        """Start the camera-motion estimate of ``frame`` on the worker thread, while the detector runs.

        ``orb`` needs the detections to estimate, so it waits for ``update``.
        """
        self._join_cmc()
        if self.cmc.enabled and frame is not None and not self.cmc.needs_boxes_to_start:
            self._cmc_job = (frame, in_background(self.cmc.start, frame))

    def _join_cmc(self) -> Optional[np.ndarray]:
        """Wait for a prefetched estimate; return its frame (None when there was none)."""
        job, self._cmc_job = self._cmc_job, None
        if job is None:
            return None
        job[1].result()
        return job[0]

    def reset(self) -> None:
        """Drop all tracks and the camera-motion history; IDs keep counting up."""
        self._join_cmc()
        self.tracks = []
        self.cmc.reset()
        self.frames = 0
        self.camera_shift = 0.0

    # -- one frame --------------------------------------------------------------
    def update(self, detections: Detections, embeddings: Optional[np.ndarray] = None,
               frame: Optional[np.ndarray] = None) -> List[TrackedObject]:
        """Advance one frame; return the confirmed tracks to publish, each with its detection's index."""
        cfg = self.config
        n = len(detections)
        feats_all: Optional[np.ndarray] = None
        if self.needs_appearance:
            if embeddings is None:
                raise ValueError(f"update: expected one embedding per detection ({n}), got None "
                                 f"(tracker deepsort with association={cfg.association} uses appearance)")
            if len(embeddings) != n:
                raise ValueError(f"update: expected one embedding per detection ({n}), got {len(embeddings)}")
            if n:
                feats_all = normalize(np.asarray(embeddings, np.float32).reshape(n, -1))
        xyxy, scores, classes = detections.xyxy, detections.scores, detections.classes
        valid = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        high = valid & (scores >= cfg.conf_threshold)
        low = valid & (scores >= cfg.low_conf_threshold) & (scores < cfg.conf_threshold)
        hi_idx, lo_idx = np.flatnonzero(high), np.flatnonzero(low)
        ltwh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1).astype(np.float32)
        z_all = self.kf.measurement(ltwh)  # float32, as deep-sort-realtime's Detection.to_xyah

        # 1. predict (batched); 2. camera motion
        tracks = self.tracks
        if tracks:
            mean = np.stack([t.mean for t in tracks])
            cov = np.stack([t.covariance for t in tracks])
            fresh = np.array([t.fresh for t in tracks])
            mean, cov = self.kf.predict(mean, cov, fresh)
            for t in tracks:
                t.predicted()
        else:
            mean, cov = np.zeros((0, 8)), np.zeros((0, 8, 8))
        prefetched = self._join_cmc()
        self.camera_shift = 0.0
        if self.cmc.enabled:
            if prefetched is not None and prefetched is frame:  # started by prefetch() while the detector ran
                affine = self.cmc.finish(xyxy[valid])  # every detection, low ones too, is a moving object
            else:
                affine = self.cmc.apply(frame, xyxy[valid])
            self.camera_shift = float(np.hypot(affine[0, 2], affine[1, 2]))
            if tracks and not np.array_equal(affine, np.eye(2, 3)):
                mean, cov = self.kf.warp(mean, cov, affine)
                viewed = [t for t in tracks if t.full_view is not None] if cfg.lost_size_gate else []
                if viewed:
                    views = self.kf.warp_mean(np.stack([t.full_view for t in viewed]), affine)
                    for t, view in zip(viewed, views):
                        t.full_view = view
                seen = [t for t in tracks if t.last_seen is not None] if cfg.last_seen_gate else []
                if seen:
                    views = self.kf.warp_mean(np.stack([t.last_seen for t in seen]), affine)
                    for t, view in zip(seen, views):
                        t.last_seen = view

        # 3.-5. association; detection indices are into the full detection set
        feats = feats_all
        matches, unmatched_high = self._associate(mean, cov, ltwh, z_all, scores, feats, hi_idx, lo_idx)

        # 6. Kalman update, book-keeping
        if matches:
            rows = np.array([k for k, _ in matches], np.intp)
            dets = np.array([d for _, d in matches], np.intp)
            new_mean, new_cov = self.kf.update(mean[rows], cov[rows], z_all[dets],
                                               scores[dets] if self.kf.nsa else None)
            mean[rows], cov[rows] = new_mean, new_cov
        for i, t in enumerate(tracks):
            t.mean, t.covariance = mean[i], cov[i]
        budget = cfg.nn_budget or None
        is_high = high
        if cfg.lost_size_gate and matches:
            self._remember_full_views(mean, matches, high, xyxy, valid & (scores >= cfg.low_conf_threshold))
        if cfg.last_seen_gate:
            for k, _ in matches:
                tracks[k].last_seen = mean[k].copy()
        for k, d in matches:
            f = feats[d].copy() if feats is not None and is_high[d] else None
            tracks[k].matched(ltwh[d].copy(), float(scores[d]), int(classes[d]), int(d), f, cfg.n_init)
        matched_rows = {k for k, _ in matches}
        max_age = self.max_age
        for k, t in enumerate(tracks):
            if k not in matched_rows:
                t.missed(max_age)
        if unmatched_high:
            nd = np.array(unmatched_high, np.intp)
            new_mean, new_cov = self.kf.initiate(z_all[nd])
            for j, d in enumerate(unmatched_high):
                tracks.append(Track(
                    self.ids.new(), new_mean[j], new_cov[j], ltwh[d].copy(), float(scores[d]), int(classes[d]),
                    int(d), feats[d].copy() if feats is not None else None, cfg.appearance_features,
                    cfg.ema_alpha, cfg.long_term_alpha))
                if cfg.last_seen_gate:
                    tracks[-1].last_seen = new_mean[j].copy()
        self.tracks = tracks = [t for t in tracks if not t.is_deleted]
        for t in tracks:
            if t.is_confirmed:
                t.commit_features(budget)
        first = self.frames == 0
        self.frames += 1
        for t in tracks:
            t.confirm_if_ready(1 if first and cfg.confirm_first_frame else cfg.n_init)
        return self._publish()

    # -- association --------------------------------------------------------------
    def _associate(self, mean: np.ndarray, cov: np.ndarray, ltwh: np.ndarray, z: np.ndarray, scores: np.ndarray,
                   feats: Optional[np.ndarray], hi_idx: np.ndarray,
                   lo_idx: np.ndarray) -> Tuple[List[Match], List[int]]:
        """Run all association stages.

        Returns:
            (track row, detection index) matches, and the unmatched high detections in the order new tracks are
            made.
        """
        cfg = self.config
        tracks = self.tracks
        high = hi_idx.tolist()
        if cfg.association == "cascade":
            matches, unmatched_tracks, unmatched_dets = self._cascade(mean, cov, ltwh, z, scores, feats, high)
        else:
            matches, unmatched_tracks, unmatched_dets = self._fused(mean, ltwh, scores, feats, high)
        if cfg.recovery:
            matches, unmatched_tracks, unmatched_dets = self._recover(mean, ltwh, scores, matches,
                                                                      unmatched_tracks, unmatched_dets)
        if len(lo_idx):
            cand = [k for k in unmatched_tracks if tracks[k].is_confirmed and tracks[k].time_since_update == 1]
            if cand:
                cost = iou_distance(self.kf.to_ltwh(mean[cand]), ltwh[lo_idx])
                m, _, _ = linear_assignment(cost, SECOND_MATCH_IOU_DISTANCE)
                matches = matches + [(cand[r], int(lo_idx[c])) for r, c in m]
        # a box that repeats one a confirmed track holds (a detector duplicate) starts no track
        return matches, self._drop_duplicates(ltwh, matches, unmatched_dets)

    def _drop_duplicates(self, ltwh: np.ndarray, matches: List[Match], dets: List[int]) -> List[int]:
        """``dets`` without those overlapping (IoU >= ``duplicate_iou``) a box a confirmed track holds in ``matches``.

        Such a box repeats an object already tracked (a partial box inside a full one, or another class); it is no
        evidence of a new object, nor of a lost one coming back. ``duplicate_iou`` 1 keeps everything.
        """
        limit = self.config.duplicate_iou
        held = [d for k, d in matches if self.tracks[k].is_confirmed]
        if limit >= 1.0 or not held or not dets:
            return dets
        overlap = 1.0 - iou_distance(ltwh[held].astype(np.float64), ltwh[dets])
        return [d for j, d in enumerate(dets) if overlap[:, j].max() < limit]

    def _iou_stage_cost(self, mean: np.ndarray, rows: Sequence[int], ltwh: np.ndarray, dets: Sequence[int],
                        scores: np.ndarray) -> np.ndarray:
        """Compute DeepSORT's IoU cost (tracks missed for more than one frame cost INFTY_COST), score-fused if set."""
        cost = iou_distance(self.kf.to_ltwh(mean[list(rows)]), ltwh[list(dets)])
        if self.config.fuse_score:
            cost = fuse_score(cost, scores[list(dets)])
        stale = np.array([self.tracks[k].time_since_update > 1 for k in rows], bool)
        cost[stale] = INFTY_COST
        return cost

    def _cascade(self, mean: np.ndarray, cov: np.ndarray, ltwh: np.ndarray, z: np.ndarray, scores: np.ndarray,
                 feats: Optional[np.ndarray], high: List[int]) -> Tuple[List[Match], List[int], List[int]]:
        """Run DeepSORT's matching cascade and IoU stage, with its output order."""
        cfg = self.config
        tracks = self.tracks
        threshold = cfg.max_cosine_distance
        confirmed = [i for i, t in enumerate(tracks) if t.is_confirmed]
        unconfirmed = [i for i, t in enumerate(tracks) if not t.is_confirmed]
        unmatched_dets = list(high)
        matches_a: List[Match] = []
        scale = self.gate_scale
        if self.camera_shift > MOVING_CAMERA_PX:
            scale = max(scale, cfg.moving_gate_scale)
        lost_scale = max(scale, cfg.lost_gate_scale)
        if confirmed and unmatched_dets:
            tsu = np.array([tracks[i].time_since_update for i in confirmed])
            cidx = np.asarray(confirmed, np.intp)
            hidx = np.asarray(high, np.intp)
            scales = np.where(tsu >= 2, lost_scale, scale)
            gate = self.kf.gate(mean[cidx], cov[cidx], z[hidx], cfg.gating_only_position, scales)  # (confirmed, high)
            if cfg.lost_size_gate:
                self._gate_full_view(mean, cov, z, cidx, hidx, gate, lost_scale)
            if cfg.distinct_appearance > 0 and feats is not None:
                self._gate_distinct_appearance(mean, z, cidx, hidx, gate, feats)
            after = self.long_term_after
            col_of = {d: j for j, d in enumerate(high)}
            for level in sorted(set(tsu[(tsu >= 1) & (tsu <= self.max_age)].tolist())):
                if not unmatched_dets:
                    break
                rows = np.flatnonzero(tsu == level)
                level_tracks = [confirmed[r] for r in rows.tolist()]
                cols = np.asarray([col_of[d] for d in unmatched_dets], np.intp)
                dets = np.asarray(unmatched_dets, np.intp)
                # gated pairs cost what DeepSORT's INFTY_COST is clipped to; only the others need appearance
                cost = np.full((len(rows), len(cols)), threshold + 1e-5)
                r_idx, c_idx = np.nonzero(gate[np.ix_(rows, cols)])  # row-major: grouped by track
                if len(r_idx) and feats is not None:
                    starts = np.flatnonzero(np.r_[True, r_idx[1:] != r_idx[:-1]])
                    for a, b in zip(starts.tolist(), starts[1:].tolist() + [len(r_idx)]):
                        r, cc = int(r_idx[a]), c_idx[a:b]
                        cost[r, cc] = tracks[level_tracks[r]].appearance_distance(feats[dets[cc]], after)
                m, _, unmatched_dets = min_cost_matching(cost, threshold, level_tracks, unmatched_dets)
                matches_a += m
        matched_a = {k for k, _ in matches_a}
        unmatched_a = [k for k in confirmed if k not in matched_a]
        # IoU stage: unconfirmed tracks and those missed for exactly one frame
        candidates = unconfirmed + [k for k in unmatched_a if tracks[k].time_since_update == 1]
        unmatched_a = [k for k in unmatched_a if tracks[k].time_since_update != 1]
        matches_b: List[Match] = []
        unmatched_b: List[int] = candidates
        if candidates and unmatched_dets:
            cost = self._iou_stage_cost(mean, candidates, ltwh, unmatched_dets, scores)
            matches_b, unmatched_b, unmatched_dets = min_cost_matching(cost, cfg.max_iou_distance, candidates,
                                                                       unmatched_dets)
        unmatched = sorted(set(unmatched_a + unmatched_b))
        if cfg.last_seen_gate and feats is not None and unmatched_dets:
            matches_c, unmatched_dets = self._last_seen(cov, z, feats, confirmed, unmatched, unmatched_dets,
                                                        lost_scale)
            if matches_c:
                taken = {k for k, _ in matches_c}
                return matches_a + matches_b + matches_c, [k for k in unmatched if k not in taken], unmatched_dets
        return matches_a + matches_b, unmatched, unmatched_dets

    def _last_seen(self, cov: np.ndarray, z: np.ndarray, feats: np.ndarray, confirmed: List[int],
                   unmatched: List[int], dets: List[int], scale: float) -> Tuple[List[Match], List[int]]:
        """Match lost confirmed tracks to detections left over inside the gate around where they were last seen.

        The gate is the Kalman gate of the last seen state (not predicted on), or of the last full view (kept by
        ``lost_size_gate``; not moved on), under the current covariance and the gate's threshold times ``scale``.
        Partial boxes of a person being hidden shrink the track before it is lost; the person, back in full where
        they stopped, is where the last full view was. A pair costs its appearance distance, at most
        ``max_cosine_distance``, and needs every other confirmed track and every other detection in ``dets`` more
        than LAST_SEEN_RATIO times as far. Returns the matches and the detections still left.
        """
        tracks = self.tracks
        lost = [k for k in unmatched if tracks[k].is_confirmed and tracks[k].last_seen is not None
                and 2 <= tracks[k].time_since_update <= self.max_age]
        if not lost:
            return [], dets
        views = np.stack([tracks[k].last_seen for k in lost])  # not predicted on: the object at rest
        didx = np.asarray(dets, np.intp)
        gate = self.kf.gate(views, cov[lost], z[didx], self.config.gating_only_position, scale)  # (lost, dets)
        viewed = [i for i, k in enumerate(lost) if tracks[k].full_view is not None]  # only with lost_size_gate
        if viewed:
            ks = [lost[i] for i in viewed]
            views = np.stack([tracks[k].full_view for k in ks])  # the last full view, not moved on either
            gate[viewed] |= self.kf.gate(views, cov[ks], z[didx], self.config.gating_only_position, scale)
        if not gate.any():
            return [], dets
        after = self.long_term_after
        app = np.stack([tracks[k].appearance_distance(feats[didx], after) for k in confirmed])  # (confirmed, dets)
        row_of = {k: r for r, k in enumerate(confirmed)}
        cost = np.full(gate.shape, INFTY_COST)
        for i, j in zip(*np.nonzero(gate)):
            r = row_of[lost[i]]
            if _unambiguous(app, r, j, LAST_SEEN_RATIO):
                cost[i, j] = app[r, j]
        matches, _, left = min_cost_matching(cost, self.config.max_cosine_distance, lost, dets)
        return matches, left

    def _remember_full_views(self, mean: np.ndarray, matches: List[Match], high: np.ndarray, xyxy: np.ndarray,
                             used: np.ndarray) -> None:
        """Keep the updated state of the tracks matched to a full view.

        A full view is a high-score box that no other used detection covers by more than FULL_VIEW_MAX_COVER; a
        track's first high-score match counts in any case.
        """
        idx = np.flatnonzero(used)
        cover = np.zeros(len(xyxy))
        cover[idx] = covered_fraction(xyxy[idx])
        for k, d in matches:
            t = self.tracks[k]
            if high[d] and (cover[d] <= FULL_VIEW_MAX_COVER or t.full_view is None):
                t.full_view, t.full_view_frame = mean[k].copy(), self.frames

    def _gate_full_view(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray, cidx: np.ndarray,
                        hidx: np.ndarray, gate: np.ndarray, scale: float = 1.0) -> None:
        """Open ``gate`` (rows: confirmed tracks ``cidx``; columns: high detections ``hidx``) in place.

        Only tracks lost for 2 frames or more and now smaller than in their last full view are gated again, with
        that view's state moved on at its velocity (constant size), under the current covariance and the gate's
        threshold times ``scale``.
        """
        tracks = self.tracks
        rows = [j for j, k in enumerate(cidx.tolist()) if tracks[k].time_since_update >= 2
                and tracks[k].full_view is not None and tracks[k].full_view[3] > mean[k, 3]]
        if not rows:
            return
        ks = cidx[rows].tolist()
        views = np.stack([tracks[k].full_view for k in ks])
        elapsed = self.frames - np.array([tracks[k].full_view_frame for k in ks], np.float64)
        views[:, :2] += views[:, 4:6] * elapsed[:, None]
        views[:, 6:8] = 0.0
        gate[rows] |= self.kf.gate(views, cov[ks], z[hidx], self.config.gating_only_position, scale)

    def _gate_distinct_appearance(self, mean: np.ndarray, z: np.ndarray, cidx: np.ndarray, hidx: np.ndarray,
                                  gate: np.ndarray, feats: np.ndarray) -> None:
        """Open ``gate`` (rows: confirmed tracks ``cidx``; columns: high detections ``hidx``) in place.

        Only for tracks lost for 2 frames or more, and detections outside their gate whose centre is within the
        track's height times sqrt(frames lost) of the prediction, at appearance distance at most
        ``distinct_appearance``, with every other confirmed track and every other high detection more than
        DISTINCT_RATIO times as far.
        """
        tracks = self.tracks
        limit = self.config.distinct_appearance
        tsu = np.array([tracks[k].time_since_update for k in cidx.tolist()], np.float64)
        rows = np.flatnonzero(tsu >= 2)
        if not len(rows):
            return
        box = self.kf.to_ltwh(mean[cidx[rows]])
        centre = box[:, :2] + box[:, 2:] / 2
        dist = np.linalg.norm(centre[:, None, :] - z[hidx][None, :, :2], axis=2)
        near = (dist <= box[:, 3:4] * np.sqrt(tsu[rows])[:, None]) & ~gate[rows]
        if not near.any():
            return
        after = self.long_term_after
        app = np.stack([tracks[k].appearance_distance(feats[hidx], after) for k in cidx.tolist()])  # (confirmed, high)
        for i, j in zip(*np.nonzero(near)):
            r = int(rows[i])
            if app[r, j] > limit:
                continue
            if _unambiguous(app, r, j, DISTINCT_RATIO):
                gate[r, j] = True

    def _fused(self, mean: np.ndarray, ltwh: np.ndarray, scores: np.ndarray, feats: Optional[np.ndarray],
               high: List[int]) -> Tuple[List[Match], List[int], List[int]]:
        """BoT-SORT's first association (fused IoU + appearance cost), then tentative tracks by IoU."""
        cfg = self.config
        tracks = self.tracks
        confirmed = [i for i, t in enumerate(tracks) if t.is_confirmed]
        unconfirmed = [i for i, t in enumerate(tracks) if not t.is_confirmed]
        matches: List[Match] = []
        left = list(high)
        unmatched_tracks: List[int] = []
        if confirmed and left:
            iou_d = iou_distance(self.kf.to_ltwh(mean[confirmed]), ltwh[left])
            s = scores[left] if cfg.fuse_score else None
            if feats is not None and cfg.appearance_threshold > 0:
                fl = feats[left]
                after = self.long_term_after
                emb = np.stack([tracks[k].appearance_distance(fl, after) for k in confirmed]).astype(np.float64)
                cost = fused_cost(iou_d, emb, cfg.proximity_threshold, cfg.appearance_threshold, s)
            else:
                cost = fuse_score(iou_d, s) if s is not None else iou_d
            m, ut, ud = linear_assignment(cost, cfg.max_iou_distance)
            matches += [(confirmed[r], left[c]) for r, c in m]
            unmatched_tracks += [confirmed[r] for r in ut]
            left = [left[c] for c in ud]
        else:
            unmatched_tracks += confirmed
        if unconfirmed and left:
            cost = self._iou_stage_cost(mean, unconfirmed, ltwh, left, scores)
            m, ut, ud = linear_assignment(cost, cfg.max_iou_distance)
            matches += [(unconfirmed[r], left[c]) for r, c in m]
            unmatched_tracks += [unconfirmed[r] for r in ut]
            left = [left[c] for c in ud]
        else:
            unmatched_tracks += unconfirmed
        return matches, sorted(unmatched_tracks), left

    def _recover(self, mean: np.ndarray, ltwh: np.ndarray, scores: np.ndarray, matches: List[Match],
                 unmatched_tracks: List[int],
                 unmatched_dets: List[int]) -> Tuple[List[Match], List[int], List[int]]:
        """Let lost confirmed tracks take back detections by IoU with their prediction.

        Candidates are the detections left over or held only by tentative tracks; tentative tracks then compete
        again by IoU for what is left. Confirmed matches are never changed.
        """
        cfg = self.config
        tracks = self.tracks
        lost = [k for k in unmatched_tracks if tracks[k].is_confirmed and 1 < tracks[k].time_since_update
                <= self.max_age]
        tentative = [(k, d) for k, d in matches if not tracks[k].is_confirmed]
        pool = self._drop_duplicates(ltwh, matches, list(unmatched_dets) + [d for _, d in tentative])
        if not lost or not pool:
            return matches, unmatched_tracks, unmatched_dets
        cost = iou_distance(self.kf.to_ltwh(mean[lost]), ltwh[pool])
        recovered, _, left = min_cost_matching(cost, cfg.max_iou_distance, lost, pool)
        if not recovered:
            return matches, unmatched_tracks, unmatched_dets
        self.recovered += len(recovered)
        kept = [(k, d) for k, d in matches if tracks[k].is_confirmed] + recovered
        candidates = [k for k, _ in tentative] + [k for k in unmatched_tracks if not tracks[k].is_confirmed]
        again: List[Match] = []
        if candidates and left:
            cost = self._iou_stage_cost(mean, candidates, ltwh, left, scores)
            again, _, left = min_cost_matching(cost, cfg.max_iou_distance, candidates, left)
        matches = kept + again
        matched = {k for k, _ in matches}
        return matches, [k for k in range(len(tracks)) if k not in matched], left

    # -- output -----------------------------------------------------------------
    def _publish(self) -> List[TrackedObject]:
        cfg = self.config
        use_kalman = cfg.box_source == "kalman"
        out: List[TrackedObject] = []
        for t in self.tracks:
            if not t.is_confirmed:
                continue
            matched = t.time_since_update == 0
            if not matched and not cfg.publish_coasting:
                continue
            if matched and not use_kalman and t.det_ltwh is not None:
                box = t.det_ltwh.copy()
                box[2:] = box[:2] + box[2:]
            else:
                m = t.mean[None, :4]
                if t.fresh and self.kf.state == "xyah":
                    m = m.astype(np.float32)  # deep-sort-realtime still holds a new track's mean in float32
                box = self.kf.to_ltwh(m)[0]
                if not matched and (box[2] <= 0 or box[3] <= 0):
                    continue  # a coasting prediction whose size has shrunk to nothing is not a box
                box[2:] = box[:2] + box[2:]
            out.append(TrackedObject(
                track_id=t.track_id, class_id=t.class_id, score=t.score, xyxy=tuple(float(v) for v in box),
                matched=matched, age=t.age, time_since_update=t.time_since_update,
                det_index=t.det_index if matched else -1))
        return out


def _unambiguous(app: np.ndarray, r: int, j: int, ratio: float) -> bool:
    """Tell whether the pair (``r``, ``j``) of the appearance distances ``app`` (tracks x detections) is unambiguous.

    It is when every other track and every other detection is more than ``ratio`` times as far (strict: two exact
    matches tie).
    """
    limit = ratio * app[r, j]
    others_t, others_d = np.delete(app[:, j], r), np.delete(app[r], j)
    return bool((others_t.size == 0 or others_t.min() > limit) and (others_d.size == 0 or others_d.min() > limit))
