"""Camera-motion compensation with ultralytics' ``GMC`` class.

:class:`CameraMotion` wraps ``ultralytics.trackers.utils.gmc.GMC`` (no
estimator of our own) and returns, for each frame, the 2x3 affine that maps
the previous frame's pixel coordinates to the current frame's. The tracker
applies it to every track's Kalman state before association (BoT-SORT).

GMC's behaviour that this wrapper relies on or works around:

* the first frame after construction (or ``reset_params``) only stores the
  frame and returns the identity;
* GMC cannot change its method: a new method (or downscale) means a new GMC,
  whose first frame is again the identity;
* it assumes every frame has the size of the previous one, so a size change
  restarts it (identity for that frame);
* ``None`` or empty frames: identity, and the previous frame is kept, so the
  next real frame is compared with the last one seen (the warp then covers
  the frames in between, which is what the tracks' states need).

Cost: GMC converts to grey and resizes by ``downscale`` before estimating.
``downscale=0`` picks the factor from the frame width (about
:data:`AUTO_WIDTH` pixels processed), so a 1080p frame costs about what a VGA
one does. Two of GMC's public settings are lowered because they, not the
pixels, dominate its cost (the estimators are GMC's own): ORB keeps the
:data:`ORB_FEATURES` strongest key points instead of every FAST corner
(matching is quadratic in them), and ECC stops after :data:`ECC_ITERATIONS`
iterations instead of 5000. Sparse optical flow keeps GMC's 400 corners
(:data:`SPARSE_FLOW_CORNERS`): it takes the strongest corners first, and
where people are the most contrasted things in view, 100 corners left too
few on the background to estimate anything.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Optional, Tuple

import cv2
import numpy as np

log = logging.getLogger(__name__)

METHODS = ("none", "sparse_flow", "ecc", "orb")
"""Our method names (the ``cmc`` parameter)."""

GMC_METHODS = {"none": None, "sparse_flow": "sparseOptFlow", "ecc": "ecc", "orb": "orb"}
"""Our names -> ultralytics GMC's names."""

AUTO_WIDTH = 320
"""Frame width (pixels) that ``downscale=0`` aims at."""

SPARSE_FLOW_CORNERS = 400
"""Corners tracked by sparse optical flow (GMC's maxCorners; its own value).

100 (stop 14, for speed) left 4-15 background corners in the composite pedestrian scenes of
``scripts/make_composites.py``, where the people are the strongest corners: no estimate on a panning camera, and
a 14-degree rotation fitted to 14 corners on a static one. 400 costs 3.4 instead of 1.1 ms a frame on the worker
thread (2-core CPU; pipeline over detector 1.071 instead of 1.062, docs/tracking.md)."""

ORB_FEATURES = 500
"""Key points kept by ORB (the strongest; GMC keeps every FAST corner)."""

ECC_ITERATIONS = 100
"""Iteration cap of ECC (5000 in GMC)."""

IDENTITY = np.eye(2, 3)

RANSAC_SEED = 0
"""Seed of OpenCV's RNG before each estimate, so that a run is reproducible (replays compare equal)."""


MASK_MARGIN = 0.1
"""sparse_flow: corners within this fraction of a detection's size around its box count as on the object."""

MASK_MARGIN_PX = 2
"""sparse_flow: and within this many pixels of the downscaled frame."""

MIN_BACKGROUND_POINTS = 12
"""sparse_flow: fewer background corners than this give the identity (no reliable estimate)."""

MAX_SCALE_CHANGE = 0.15
"""Largest frame-to-frame zoom a plausible estimate may show (|scale - 1|)."""

MAX_SHIFT_FRACTION = 0.25
"""Largest frame-to-frame shift a plausible estimate may show, as a fraction of the frame size."""

MAX_ROTATION_DEG = 5.0
"""Largest frame-to-frame in-plane rotation (roll) a plausible estimate may show, in degrees. A robot camera's
turns are shifts in the image; its roll between two frames is small."""


def plausible(affine: np.ndarray, width: int, height: int) -> bool:
    """True when ``affine`` looks like camera motion between consecutive frames.

    A degenerate fit (too few or wrong correspondences) can give a collapsed or
    exploding scale, which would collapse or inflate every track's Kalman
    covariance, or a large roll, which would throw every track off its object;
    such estimates are replaced by the identity.
    """
    a = np.asarray(affine, np.float64)
    det = float(np.linalg.det(a[:, :2]))
    if det <= 0 or abs(np.sqrt(det) - 1.0) > MAX_SCALE_CHANGE:
        return False
    if abs(np.degrees(np.arctan2(a[1, 0] - a[0, 1], a[0, 0] + a[1, 1]))) > MAX_ROTATION_DEG:
        return False
    return abs(a[0, 2]) <= MAX_SHIFT_FRACTION * width and abs(a[1, 2]) <= MAX_SHIFT_FRACTION * height


_WORKER: Optional[ThreadPoolExecutor] = None
_WORKER_LOCK = threading.Lock()


def in_background(fn: Callable[..., Any], *args: Any) -> "Future[Any]":
    """Run ``fn(*args)`` on the one camera-motion worker thread of the process (OpenCV releases the GIL)."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mot_ros-cmc")
        return _WORKER.submit(fn, *args)


def auto_downscale(width: int, target: int = AUTO_WIDTH) -> int:
    """Integer downscale factor that brings ``width`` to about ``target`` pixels (at least 1)."""
    return max(1, int(round(width / float(target))))


class CameraMotion:
    """Frame-to-frame camera motion as a 2x3 affine, estimated by ultralytics' GMC.

    Args:
        method: none, sparse_flow, ecc or orb.
        downscale: GMC's downscale factor; 0 picks it from the frame width.
    """

    def __init__(self, method: str = "sparse_flow", downscale: int = 0) -> None:
        if method not in GMC_METHODS:
            raise ValueError(f"cmc: expected one of {list(METHODS)}, got {method!r}")
        if int(downscale) < 0:
            raise ValueError(f"cmc_downscale: expected an integer >= 0 (0 = automatic), got {downscale}")
        self.method, self.downscale = method, int(downscale)
        self._gmc = None
        self._shape: Optional[Tuple[int, ...]] = None
        self.last = IDENTITY.copy()
        """The last affine returned."""
        self.rejected = 0
        """Estimates refused as implausible (see :func:`plausible`) and replaced by the identity."""
        self.background_points = MIN_BACKGROUND_POINTS
        """sparse_flow: corners kept for the next estimate after dropping those on detections."""
        self._pending: Optional[Tuple[np.ndarray, int, int]] = None
        """The estimate of :meth:`start`, waiting for :meth:`finish`."""

    @property
    def enabled(self) -> bool:
        """False for method ``none`` (every affine is the identity and frames are not needed)."""
        return self.method != "none"

    def reset(self) -> None:
        """Forget the previous frame (the next one returns the identity)."""
        self._gmc = None
        self._shape = None
        self.last = IDENTITY.copy()
        self.background_points = MIN_BACKGROUND_POINTS
        self._pending = None

    def configure(self, method: str, downscale: int) -> None:
        """Change method or downscale; the estimator restarts when either changes."""
        if (method, int(downscale)) != (self.method, self.downscale):
            self.__init__(method, downscale)  # type: ignore[misc]

    def _make(self, width: int) -> object:
        from ultralytics.trackers.utils.gmc import GMC

        factor = self.downscale or auto_downscale(width)
        gmc = GMC(method=GMC_METHODS[self.method], downscale=factor)
        if self.method == "sparse_flow":
            gmc.feature_params["maxCorners"] = SPARSE_FLOW_CORNERS
        elif self.method == "orb":
            gmc.detector = cv2.ORB_create(nfeatures=ORB_FEATURES)
        elif self.method == "ecc":
            gmc.criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_ITERATIONS, 1e-6)
        return gmc

    def apply(self, frame: Optional[np.ndarray], boxes_xyxy: Optional[np.ndarray] = None) -> np.ndarray:
        """Estimate the affine (2, 3) float64 from the previous frame to ``frame``.

        The same as :meth:`start` then :meth:`finish`.

        Args:
            frame: BGR (H, W, 3) or grey (H, W) uint8 image; None or empty gives the identity.
            boxes_xyxy: Detections (moving objects): ``orb`` excludes their regions from its key points, and
                ``sparse_flow`` drops its corners inside them before the next frame.
        """
        self.start(frame, boxes_xyxy)
        return self.finish(boxes_xyxy)

    @property
    def needs_boxes_to_start(self) -> bool:
        """True for ``orb``, whose estimate itself needs the detections; the others can start before detection."""
        return self.method == "orb"

    def start(self, frame: Optional[np.ndarray], boxes_xyxy: Optional[np.ndarray] = None) -> None:
        """Run the estimator on ``frame``: the expensive part, which needs no detection except for ``orb``.

        It may run on another thread while the detector runs (nothing else may use this object meanwhile);
        :meth:`finish` then takes the frame's detections and returns the affine.
        """
        self._pending = None
        if not self.enabled or frame is None:
            return
        frame = np.asarray(frame)
        if frame.size == 0 or frame.ndim not in (2, 3):
            return
        if frame.ndim == 2:
            frame = frame[:, :, None]  # GMC unpacks (H, W, C); one channel is used as grey as it is
        if frame.dtype != np.uint8:
            frame = np.clip(frame, 0, 255).astype(np.uint8)
        h, w = frame.shape[:2]
        if self._gmc is None or self._shape != frame.shape:
            self._gmc = self._make(w)
            self._shape = frame.shape
        dets = None
        if boxes_xyxy is not None and len(boxes_xyxy) and self.method == "orb":
            dets = np.clip(np.asarray(boxes_xyxy, np.float64).reshape(-1, 4), 0, [w, h, w, h])
        try:
            cv2.setRNGSeed(RANSAC_SEED)  # GMC's RANSAC draws from OpenCV's (per-thread) RNG: same frames, same estimate
            affine = self._gmc.apply(frame, dets)  # type: ignore[attr-defined]
        except Exception as e:  # OpenCV can fail on degenerate frames; a missed warp is not fatal
            log.warning("camera-motion estimation failed (%s); using the identity", e)
            self._gmc = None
            affine = IDENTITY
        self._pending = (np.asarray(affine, np.float64), w, h)

    def finish(self, boxes_xyxy: Optional[np.ndarray] = None) -> np.ndarray:
        """Check :meth:`start`'s estimate and return the affine; ``boxes_xyxy`` mask the next frame's corners."""
        pending, self._pending = self._pending, None
        if pending is None:
            self.last = IDENTITY.copy()
            return self.last
        affine, w, h = pending
        few = self.method == "sparse_flow" and self.background_points < MIN_BACKGROUND_POINTS
        if self._gmc is not None and self.method == "sparse_flow":
            pts = getattr(self._gmc, "prevKeyPoints", None)
            self.background_points = 0 if pts is None else len(pts)
            if boxes_xyxy is not None:
                self._drop_moving_keypoints(np.asarray(boxes_xyxy, np.float64).reshape(-1, 4))
        if few:  # the estimate came from too few background corners (plain walls, crowds): trust no motion
            affine = IDENTITY
        if affine.shape != (2, 3) or not np.all(np.isfinite(affine)) or not plausible(affine, w, h):
            if affine.shape == (2, 3) and not np.allclose(affine, IDENTITY):
                self.rejected += 1
            affine = IDENTITY
        self.last = affine.copy()
        return self.last

    def _drop_moving_keypoints(self, boxes: np.ndarray) -> None:
        """Keep only background corners for the next frame's optical flow.

        GMC's sparse flow picks corners anywhere; on a static camera with moving
        objects (or a plain background) the corners on the objects make RANSAC
        fit the objects' motion. The corners GMC keeps for the next frame
        (its public ``prevKeyPoints``, in downscaled pixels) that lie inside a
        detection are dropped, as BoT-SORT's feature-based estimators do.
        """
        pts = getattr(self._gmc, "prevKeyPoints", None)
        if pts is None or not len(pts) or not len(boxes):
            return
        factor = float(getattr(self._gmc, "downscale", 1) or 1)
        xy = np.asarray(pts, np.float64).reshape(-1, 2) * max(factor, 1.0)
        size = boxes[:, 2:] - boxes[:, :2]
        pad = MASK_MARGIN * size + MASK_MARGIN_PX * max(factor, 1.0)  # object outlines reach past the box
        b = np.concatenate([boxes[:, :2] - pad, boxes[:, 2:] + pad], axis=1)[:, None, :]
        inside = ((xy[None, :, 0] >= b[..., 0]) & (xy[None, :, 0] <= b[..., 2])
                  & (xy[None, :, 1] >= b[..., 1]) & (xy[None, :, 1] <= b[..., 3])).any(0)
        self.background_points = int((~inside).sum())
        # GMC treats None as "no previous corners": it stores the frame and returns the identity next time
        self._gmc.prevKeyPoints = pts[~inside] if self.background_points else None  # type: ignore[attr-defined]
