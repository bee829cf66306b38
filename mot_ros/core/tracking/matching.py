"""Association costs and linear assignment.

One home for the distances every tracker stage uses: IoU (vectorised),
cosine distance, Mahalanobis gating of a cost matrix, ByteTrack's score
fusion, BoT-SORT's fused IoU + appearance cost, and linear assignment.

Two assignment functions:

* :func:`linear_assignment` solves with ``lap.lapjv`` and a cost limit (as
  ultralytics does); unmatched rows and columns come in index order. The
  modern stages use it.
* :func:`min_cost_matching` is DeepSORT's ``min_cost_matching`` on a ready
  cost matrix: costs above the gate are clipped to ``gate + 1e-5``, the
  problem is solved with ``scipy.optimize.linear_sum_assignment``, and the
  output keeps DeepSORT's order (unassigned detections first, then rejected
  assignments). That order decides which new track gets which ID, and the
  rejected assignments are ties that only scipy's solver breaks the
  reference's way, so DeepSORT's cascade and IoU stages use this function:
  it is what makes our tracker's IDs equal to deep-sort-realtime's.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import lap
import numpy as np
from scipy.optimize import linear_sum_assignment

INFTY_COST = 1e5
"""DeepSORT's cost of an impossible pair (before clipping to the gate)."""

Match = Tuple[int, int]


def ltwh_to_xyxy(ltwh: np.ndarray) -> np.ndarray:
    """(N, 4) left, top, width, height -> x1, y1, x2, y2."""
    b = np.array(ltwh, copy=True).reshape(-1, 4)
    b[:, 2:] += b[:, :2]
    return b


def iou_matrix(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """Compute the IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), x1, y1, x2, y2; (N, M)."""
    a = np.asarray(a_xyxy, np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, np.float64).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.maximum(0.0, br - tl)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def covered_fraction(xyxy: np.ndarray) -> np.ndarray:
    """For each box (N, 4; x1, y1, x2, y2), the largest fraction of its area that one other box of the set covers.

    Returns (N,) in [0, 1]; 0 for a box that no other box overlaps (and for a single box).
    """
    a = np.asarray(xyxy, np.float64).reshape(-1, 4)
    if len(a) < 2:
        return np.zeros(len(a))
    tl = np.maximum(a[:, None, :2], a[None, :, :2])
    br = np.minimum(a[:, None, 2:], a[None, :, 2:])
    wh = np.maximum(0.0, br - tl)
    inter = wh[..., 0] * wh[..., 1]
    np.fill_diagonal(inter, 0.0)
    area = np.maximum((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), 1e-12)
    return np.clip(inter.max(axis=1) / area, 0.0, 1.0)


def iou_distance(track_ltwh: np.ndarray, det_ltwh: np.ndarray) -> np.ndarray:
    """1 - IoU between track boxes (N, 4, float64) and detection boxes (M, 4), both left, top, width, height.

    Computed as deep-sort-realtime's ``iou_matching.iou`` does (detection areas in the detections' dtype),
    so that the IoU stage's costs equal the reference's.
    """
    box = np.asarray(track_ltwh).reshape(-1, 4)
    cand = np.asarray(det_ltwh).reshape(-1, 4)
    if not len(box) or not len(cand):
        return np.zeros((len(box), len(cand)))
    b_tl, b_br = box[:, :2], box[:, :2] + box[:, 2:]
    c_tl, c_br = cand[:, :2], cand[:, :2] + cand[:, 2:]
    tl = np.maximum(b_tl[:, None, :], c_tl[None, :, :])
    br = np.minimum(b_br[:, None, :], c_br[None, :, :])
    wh = np.maximum(0.0, br - tl)
    inter = wh[..., 0] * wh[..., 1]
    area_b = box[:, 2] * box[:, 3]
    area_c = cand[:, 2] * cand[:, 3]
    union = area_b[:, None] + area_c[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = 1.0 - inter / union
    cost[~np.isfinite(cost)] = 1.0
    return cost


def normalize(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32), as deep-sort-realtime's cosine metric does; zero rows stay zero."""
    f = np.asarray(features, np.float32)
    if f.ndim != 2:
        raise ValueError(f"embeddings: expected a 2-D array (detections, dimensions), got shape {f.shape}")
    norm = np.linalg.norm(f, axis=1, keepdims=True)
    norm[norm == 0] = 1.0
    return f / norm


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of unit rows ``a`` (N, D) and ``b`` (M, D); (N, M)."""
    a = np.asarray(a, np.float32).reshape(len(a), -1)
    b = np.asarray(b, np.float32).reshape(len(b), -1)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), np.float32)
    return 1.0 - a @ b.T


def gate_cost(cost: np.ndarray, allowed: np.ndarray, gated_cost: float = INFTY_COST) -> np.ndarray:
    """``cost`` with the pairs not ``allowed`` (e.g. outside the Kalman gate) set to ``gated_cost`` (in place)."""
    cost[~allowed] = gated_cost
    return cost


def fuse_score(cost: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Fuse detection scores into an IoU cost as ByteTrack does: 1 - (1 - cost) * score, per column."""
    if cost.size == 0:
        return cost.copy()
    return 1.0 - (1.0 - cost) * np.asarray(scores, np.float64)[None, :]


def fused_cost(iou_dist: np.ndarray, emb_dist: np.ndarray, proximity_threshold: float,
               appearance_threshold: float, scores: "np.ndarray | None" = None) -> np.ndarray:
    """BoT-SORT's fused cost: min(IoU distance, appearance distance) where appearance may count.

    The appearance distance is BoT-SORT's embedding distance, half the cosine distance (so in [0, 1]).
    It counts only for pairs whose IoU distance is at most ``proximity_threshold`` and whose embedding
    distance is at most ``appearance_threshold``; elsewhere it is 1. With ``scores`` the IoU part is
    score-fused first (ByteTrack's ``fuse_score``), as BoT-SORT does.
    """
    emb = np.asarray(emb_dist, np.float64) / 2.0
    far = iou_dist > proximity_threshold
    dist = fuse_score(iou_dist, scores) if scores is not None else np.array(iou_dist, np.float64, copy=True)
    emb = emb.copy()
    emb[emb > appearance_threshold] = 1.0
    emb[far] = 1.0
    return np.minimum(dist, emb)


def linear_assignment(cost: np.ndarray, threshold: float) -> Tuple[List[Match], List[int], List[int]]:
    """Minimum-cost assignment with ``lap.lapjv``, pairs costing more than ``threshold`` left unmatched.

    Returns:
        (matches as (row, column), unmatched rows, unmatched columns), each in index order.
    """
    n, m = cost.shape
    if n == 0 or m == 0:
        return [], list(range(n)), list(range(m))
    _, x, y = lap.lapjv(np.asarray(cost, np.float64), extend_cost=True, cost_limit=threshold)
    matches = [(i, int(j)) for i, j in enumerate(x.tolist()) if j >= 0]
    return matches, np.flatnonzero(x < 0).tolist(), np.flatnonzero(y < 0).tolist()


def min_cost_matching(cost: np.ndarray, max_distance: float, track_indices: Sequence[int],
                      detection_indices: Sequence[int]) -> Tuple[List[Match], List[int], List[int]]:
    """Run DeepSORT's ``min_cost_matching`` on a ready cost matrix (rows: tracks, columns: detections).

    Clips ``cost`` in place, solves with scipy and returns matches as (track, detection) index pairs,
    unmatched tracks and unmatched detections in deep-sort-realtime's order.
    """
    track_indices, detection_indices = list(track_indices), list(detection_indices)
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
