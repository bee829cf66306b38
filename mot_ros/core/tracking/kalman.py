"""Constant-velocity Kalman filter over stacked box states.

Every method takes and returns stacked arrays: means ``(N, 8)`` and
covariances ``(N, 8, 8)``, so that one call predicts, gates or updates all
tracks. Two state layouts are offered:

* ``xyah`` (DeepSORT): centre x, y, aspect ratio w/h, height, and their
  velocities. The noise model and the arithmetic follow deep-sort-realtime's
  ``KalmanFilter`` closely enough that predictions are bit-identical (new
  tracks keep its float32 rounding, see ``fresh``) and updates agree to
  floating-point rounding; this is what the parity test relies on.
* ``xywh`` (BoT-SORT): centre x, y, width, height; noise scales with width
  for x and w and with height for y and h.

NSA Kalman (StrongSORT) scales the measurement noise of an update by the
detection's confidence: ``R * max(1 - confidence, 0.05)`` (the floor keeps
the innovation covariance invertible, as ultralytics does).

:meth:`KalmanFilter.warp` applies a camera-motion affine (2x3, previous
frame to current frame) to the states, as ultralytics' ``multi_gmc`` does.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np

STATES = ("xyah", "xywh")

CHI2INV95 = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877}
"""0.95 quantile of the chi-square distribution (degrees of freedom -> value), DeepSORT's gating threshold."""

_W_POS = 1.0 / 20
_W_VEL = 1.0 / 160
_NSA_FLOOR = 0.05


def ltwh_to_measurement(ltwh: np.ndarray, state: str) -> np.ndarray:
    """Boxes (left, top, width, height) as measurements, (N, 4) in the dtype of ``ltwh``.

    For ``xyah`` this is deep-sort-realtime's ``Detection.to_xyah`` (float32 in, float32 out).
    """
    z = np.array(ltwh, copy=True).reshape(-1, 4)
    z[:, :2] += z[:, 2:] / 2
    if state == "xyah":
        z[:, 2] /= z[:, 3]
    return z


def mean_to_ltwh(mean: np.ndarray, state: str) -> np.ndarray:
    """Boxes (left, top, width, height) of stacked means (N, 8) or (N, 4)."""
    box = np.array(mean[:, :4], copy=True)
    if state == "xyah":
        box[:, 2] *= box[:, 3]
    box[:, :2] -= box[:, 2:] / 2
    return box


class KalmanFilter:
    """Batch Kalman filter for boxes.

    Args:
        state: ``xyah`` (DeepSORT) or ``xywh`` (BoT-SORT).
        nsa: Scale the measurement noise of updates by detection confidence (NSA Kalman, StrongSORT).
    """

    def __init__(self, state: str = "xyah", nsa: bool = False) -> None:
        if state not in STATES:
            raise ValueError(f"kalman_state: expected one of {list(STATES)}, got {state!r}")
        self.state = state
        self.nsa = bool(nsa)

    # -- noise ------------------------------------------------------------------
    def _sizes(self, mean: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Return the box sizes the noise of x (and w) and of y (and h) scale with."""
        if self.state == "xyah":
            return mean[:, 3], mean[:, 3]
        return mean[:, 2], mean[:, 3]

    def _measurement_var(self, mean: np.ndarray) -> np.ndarray:
        """Diagonal of the measurement noise R, (N, 4)."""
        sx, sy = self._sizes(mean)
        var = np.empty((len(mean), 4))
        var[:, 0] = np.square(_W_POS * sx)
        var[:, 1] = np.square(_W_POS * sy)
        if self.state == "xyah":
            var[:, 2] = 1e-1 ** 2
            var[:, 3] = var[:, 1]
        else:
            var[:, 2] = var[:, 0]
            var[:, 3] = var[:, 1]
        return var

    # -- steps ------------------------------------------------------------------
    def initiate(self, z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Make new states from measurements (N, 4): means (N, 8) float64, covariances (N, 8, 8).

        Velocities start at zero. For ``xyah`` and float32 measurements the standard deviations are
        rounded to float32 as deep-sort-realtime computes them.
        """
        z = np.asarray(z).reshape(-1, 4)
        n = len(z)
        mean = np.zeros((n, 8))
        mean[:, :4] = z
        std = np.empty((n, 8))
        if self.state == "xyah":
            h = z[:, 3]
            # 2 * w_pos and 10 * w_vel are Python floats; times a float32 height they round to float32
            std[:, 0] = std[:, 1] = std[:, 3] = (h * h.dtype.type(2 * _W_POS)) if h.dtype == np.float32 \
                else 2 * _W_POS * h
            std[:, 4] = std[:, 5] = std[:, 7] = (h * h.dtype.type(10 * _W_VEL)) if h.dtype == np.float32 \
                else 10 * _W_VEL * h
            std[:, 2] = 1e-2
            std[:, 6] = 1e-5
        else:
            w, h = z[:, 2].astype(np.float64), z[:, 3].astype(np.float64)
            std[:, 0] = std[:, 2] = 2 * _W_POS * w
            std[:, 1] = std[:, 3] = 2 * _W_POS * h
            std[:, 4] = std[:, 6] = 10 * _W_VEL * w
            std[:, 5] = std[:, 7] = 10 * _W_VEL * h
        cov = np.zeros((n, 8, 8))
        idx = np.arange(8)
        cov[:, idx, idx] = np.square(std)
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray,
                fresh: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """One time step of constant-velocity motion; returns new arrays.

        Args:
            mean: (N, 8) means.
            cov: (N, 8, 8) covariances.
            fresh: (N,) True for states made by :meth:`initiate` from float32 measurements and never predicted:
                deep-sort-realtime still holds their mean in float32, so their process noise rounds to float32.
        """
        n = len(mean)
        sx, sy = self._sizes(mean)
        std = np.empty((n, 8))
        if self.state == "xyah":
            h = sy
            std[:, 0] = std[:, 1] = std[:, 3] = _W_POS * h
            std[:, 4] = std[:, 5] = std[:, 7] = _W_VEL * h
            if fresh is not None and fresh.any():
                h32 = h[fresh].astype(np.float32)
                p32 = (h32 * np.float32(_W_POS)).astype(np.float64)
                v32 = (h32 * np.float32(_W_VEL)).astype(np.float64)
                for k in (0, 1, 3):
                    std[fresh, k] = p32
                for k in (4, 5, 7):
                    std[fresh, k] = v32
            std[:, 2] = 1e-2
            std[:, 6] = 1e-5
        else:
            std[:, 0] = std[:, 2] = _W_POS * sx
            std[:, 1] = std[:, 3] = _W_POS * sy
            std[:, 4] = std[:, 6] = _W_VEL * sx
            std[:, 5] = std[:, 7] = _W_VEL * sy
        new_mean = mean.copy()
        new_mean[:, :4] += mean[:, 4:]
        # F P F^T for the constant-velocity F, entry by entry as the BLAS products sum them (exact zero terms),
        # so the result is bit-identical to deep-sort-realtime's multi_dot
        a = cov.copy()
        a[:, :, :4] += cov[:, :, 4:]
        b = a.copy()
        b[:, :4, :] += a[:, 4:, :]
        idx = np.arange(8)
        b[:, idx, idx] += np.square(std)
        return new_mean, b

    def project(self, mean: np.ndarray, cov: np.ndarray,
                confidence: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Project states to measurement space: means (N, 4) and innovation covariances (N, 4, 4).

        Args:
            mean: (N, 8) state means.
            cov: (N, 8, 8) state covariances.
            confidence: (N,) detection scores; with ``nsa`` the measurement noise is scaled by them.
        """
        var = self._measurement_var(mean)
        if self.nsa and confidence is not None:
            var = var * np.maximum(1.0 - np.asarray(confidence, np.float64), _NSA_FLOOR)[:, None]
        s = cov[:, :4, :4].copy()
        idx = np.arange(4)
        s[:, idx, idx] += var
        return mean[:, :4], s

    def update(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray,
               confidence: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Measurement update of N states with N measurements (N, 4); returns new arrays."""
        if len(mean) == 0:
            return mean.copy(), cov.copy()
        pm, s = self.project(mean, cov, confidence)
        gain_t = np.linalg.solve(s, np.swapaxes(cov[:, :, :4], 1, 2))  # K^T, (N, 4, 8)
        new_mean = mean + np.einsum("ni,nij->nj", np.asarray(z) - pm, gain_t)
        new_cov = cov - np.swapaxes(gain_t, 1, 2) @ s @ gain_t
        return new_mean, new_cov

    def gating_distance(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray,
                        only_position: bool = False) -> np.ndarray:
        """Squared Mahalanobis distances (N, M) of M measurements (M, 4) to N states."""
        z = np.asarray(z).reshape(-1, 4)
        if len(mean) == 0 or len(z) == 0:
            return np.zeros((len(mean), len(z)))
        pm, s = self.project(mean, cov)
        k = 2 if only_position else 4
        d = z[None, :, :k] - pm[:, None, :k]  # (N, M, k)
        return ((d @ np.linalg.inv(s[:, :k, :k])) * d).sum(-1)

    def gate(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray, only_position: bool = False,
             scale: Union[float, np.ndarray] = 1.0) -> np.ndarray:
        """(N, M) True where a measurement lies inside a state's 95 % chi-square gate, its threshold x ``scale``.

        ``scale`` is one factor, or one per state (N,).
        """
        factor = np.asarray(scale, np.float64).reshape(-1, 1) if np.ndim(scale) else scale
        return self.gating_distance(mean, cov, z, only_position) <= CHI2INV95[2 if only_position else 4] * factor

    def warp(self, mean: np.ndarray, cov: np.ndarray, affine: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Apply a 2x3 camera-motion affine (previous frame -> current frame) to stacked states.

        Centres and centre velocities follow the linear part R and centres also the translation, as in
        ultralytics' ``multi_gmc``. Sizes: for ``xywh`` width and height follow ``abs(R)`` (ultralytics);
        for ``xyah`` the height and its velocity scale by ``sqrt(|det R|)`` and the aspect ratio is kept.
        """
        m, t = self._warp_parts(affine)
        if len(mean) == 0:
            return mean.copy(), cov.copy()
        new_mean = mean @ m.T
        new_mean[:, :2] += t
        return new_mean, m @ cov @ m.T

    def warp_mean(self, mean: np.ndarray, affine: np.ndarray) -> np.ndarray:
        """Apply a camera-motion affine to stacked means only, as :meth:`warp` does (no covariance)."""
        m, t = self._warp_parts(affine)
        new_mean = mean @ m.T
        new_mean[:, :2] += t
        return new_mean

    def _warp_parts(self, affine: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Return the (8, 8) state transform and the centre translation of a 2x3 affine."""
        affine = np.asarray(affine, np.float64)
        if affine.shape != (2, 3):
            raise ValueError(f"warp: expected a 2x3 affine, got shape {affine.shape}")
        r, t = affine[:, :2], affine[:, 2]
        m = np.zeros((8, 8))
        m[0:2, 0:2] = m[4:6, 4:6] = r
        if self.state == "xywh":
            m[2:4, 2:4] = m[6:8, 6:8] = np.abs(r)
        else:
            s = float(np.sqrt(abs(np.linalg.det(r))))
            m[2, 2] = m[6, 6] = 1.0
            m[3, 3] = m[7, 7] = s
        return m, t

    def to_ltwh(self, mean: np.ndarray) -> np.ndarray:
        """Boxes (left, top, width, height) of stacked means."""
        return mean_to_ltwh(mean, self.state)

    def measurement(self, ltwh: np.ndarray) -> np.ndarray:
        """Measurements of boxes (left, top, width, height)."""
        return ltwh_to_measurement(ltwh, self.state)
