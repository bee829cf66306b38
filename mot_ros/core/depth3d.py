"""Tracked objects in 3D from an aligned depth image and the colour camera's intrinsics. ROS-free.

Per confirmed 2D track and frame: a robust depth from the valid depth pixels
inside a shrunken box, the box centre back-projected through K into the colour
camera's optical frame (x right, y down, z forward), a metric size, and a
constant-velocity Kalman filter per track ID for a smoothed position and a
velocity. A track without valid depth keeps its last 3D state (coasting) for
at most ``depth_max_missed`` frames and is never reported at the origin.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .types import TrackedObject

log = logging.getLogger(__name__)

DEPTH_ENCODINGS: Tuple[str, ...] = ("16UC1", "32FC1")
"""Accepted depth encodings: 16UC1 in millimetres, 32FC1 in metres."""

DEFAULT_DT = 1.0 / 30.0
"""Frame interval assumed when stamps are missing or not increasing."""

TIME_JUMP_BACK_SEC = 1.0
"""A stamp this much older than the previous one drops every 3D state (e.g. a looping bag)."""


class DepthError(ValueError):
    """A depth image or camera model that cannot be used; the message says why."""


# -- inputs ---------------------------------------------------------------------
def decode_depth(width: int, height: int, encoding: str, step: int, data: object,
                 is_bigendian: int = 0) -> np.ndarray:
    """Convert ``sensor_msgs/Image`` depth fields to an (H, W) float32 array in metres.

    Zero (no return) becomes NaN; other invalid values are filtered later against
    ``[depth_min, depth_max]``.

    Raises:
        DepthError: On an encoding other than 16UC1/32FC1, a bad size, step or data length.
    """
    if encoding not in DEPTH_ENCODINGS:
        raise DepthError(f"depth encoding: expected one of {list(DEPTH_ENCODINGS)} (16UC1 in millimetres or "
                         f"32FC1 in metres), got {encoding!r}")
    if width <= 0 or height <= 0 or width * height > 8192 * 8192:
        raise DepthError(f"depth image: expected a positive size up to 8192x8192, got {width}x{height}")
    itemsize = 2 if encoding == "16UC1" else 4
    if step < width * itemsize:
        raise DepthError(f"depth image: expected step >= {width * itemsize} bytes for {width} px of {encoding}, "
                         f"got {step}")
    buf = np.frombuffer(memoryview(data).cast("B") if not isinstance(data, np.ndarray) else data.tobytes(),
                        dtype=np.uint8)
    if buf.size != step * height:
        raise DepthError(f"depth image: expected {step * height} bytes ({height} rows of {step}), got {buf.size}")
    rows = buf.reshape(height, step)[:, :width * itemsize]
    dtype = np.dtype(np.uint16 if itemsize == 2 else np.float32).newbyteorder(">" if is_bigendian else "<")
    arr = np.ascontiguousarray(rows).view(dtype).reshape(height, width)
    if itemsize == 2:
        out = arr.astype(np.float32) * np.float32(0.001)
        out[arr == 0] = np.nan
        return out
    return arr.astype(np.float32, copy=False)


def encode_depth(depth_m: np.ndarray, encoding: str) -> Tuple[int, int, str, int, bytes]:
    """(height, width, encoding, step, data) of an (H, W) depth array in metres (NaN = no return)."""
    if encoding not in DEPTH_ENCODINGS:
        raise DepthError(f"depth encoding: expected one of {list(DEPTH_ENCODINGS)}, got {encoding!r}")
    d = np.asarray(depth_m, dtype=np.float32)
    if d.ndim != 2:
        raise DepthError(f"depth image: expected an (H, W) array, got shape {d.shape}")
    h, w = d.shape
    if encoding == "16UC1":
        mm = np.where(np.isfinite(d), np.clip(np.round(d * 1000.0), 0, 65535), 0).astype("<u2")
        return h, w, encoding, w * 2, mm.tobytes()
    return h, w, encoding, w * 4, d.astype("<f4").tobytes()


@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics of the colour camera (``camera_info`` K) and the size they belong to."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_k(cls, k: Sequence[float], width: int, height: int) -> "CameraModel":
        """Build from a row-major 3x3 K; raises DepthError when K cannot project."""
        if len(k) != 9:
            raise DepthError(f"camera_info K: expected 9 values, got {len(k)}")
        fx, fy, cx, cy = float(k[0]), float(k[4]), float(k[2]), float(k[5])
        if not (np.isfinite([fx, fy, cx, cy]).all() and fx > 0 and fy > 0):
            raise DepthError(f"camera_info K: expected fx > 0 and fy > 0, got fx={fx} fy={fy} (uncalibrated?)")
        return cls(fx, fy, cx, cy, int(width), int(height))

    def scaled_to(self, width: int, height: int) -> "CameraModel":
        """Return the same camera for an image of another resolution (0 width/height = unknown: unchanged)."""
        if self.width <= 0 or self.height <= 0 or (width == self.width and height == self.height):
            return self
        sx, sy = width / self.width, height / self.height
        return CameraModel(self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5,
                           width, height)

    def project(self, xyz: Sequence[float]) -> Tuple[float, float]:
        """Pixel (u, v) of a point in the optical frame."""
        x, y, z = xyz
        return self.fx * x / z + self.cx, self.fy * y / z + self.cy

    def back_project(self, u: float, v: float, z: float) -> np.ndarray:
        """Point in the optical frame at depth ``z`` on the ray through pixel (u, v)."""
        return np.array([(u - self.cx) * z / self.fx, (v - self.cy) * z / self.fy, z], dtype=np.float64)


# -- parameters -----------------------------------------------------------------
@dataclass(frozen=True)
class Depth3DParams:
    """The depth parameters of :class:`mot_ros.core.config.Config` (see there for their meaning)."""

    depth_min: float = 0.1
    depth_max: float = 20.0
    box_shrink: float = 0.5
    percentile: float = 25.0
    min_valid_fraction: float = 0.05
    extent_default: float = 0.3
    extents: Mapping[str, float] = field(default_factory=dict)
    extent_from_spread: bool = False
    max_missed: int = 15
    accel_noise: float = 2.0

    @classmethod
    def from_config(cls, config: object) -> "Depth3DParams":
        """Read the ``depth_*`` fields of a Config."""
        c = config
        return cls(depth_min=c.depth_min, depth_max=c.depth_max, box_shrink=c.depth_box_shrink,  # type: ignore
                   percentile=c.depth_percentile, min_valid_fraction=c.depth_min_valid,  # type: ignore
                   extent_default=c.depth_extent_default, extents=parse_extents(c.depth_extents),  # type: ignore
                   extent_from_spread=c.depth_extent_from_spread, max_missed=c.depth_max_missed,  # type: ignore
                   accel_noise=c.depth_accel_noise)  # type: ignore


def parse_extents(items: Sequence[str]) -> Dict[str, float]:
    """``["person=0.4", "2=4.5"]`` -> {"person": 0.4, "2": 4.5}; raises ValueError naming ``depth_extents``."""
    out: Dict[str, float] = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        try:
            metres = float(value)
        except ValueError:
            metres = float("nan")
        if not sep or not name.strip() or not np.isfinite(metres) or metres < 0:
            raise ValueError(f"depth_extents: expected items 'class=metres' with metres >= 0 (e.g. person=0.4), "
                             f"got {item!r}")
        out[name.strip()] = metres
    return out


# -- measurement ----------------------------------------------------------------
@dataclass
class DepthSample:
    """Robust depth of one box: the chosen depth, the spread of valid depths and how many were valid."""

    depth: float
    spread: float
    valid: int
    total: int


def box_depth(depth_m: np.ndarray, xyxy: Sequence[float], colour_size: Tuple[int, int],
              params: Depth3DParams) -> Optional[DepthSample]:
    """Robust depth inside the shrunken box, or None when too few depth pixels are valid.

    Args:
        depth_m: (H, W) depth in metres, registered to the colour image (any resolution).
        xyxy: The box in colour pixels.
        colour_size: (width, height) of the colour image; the box is scaled into depth pixels.
        params: Depth parameters.
    """
    dh, dw = depth_m.shape
    cw, ch = colour_size
    sx, sy = dw / float(cw), dh / float(ch)
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    mx, my = (x1 + x2) / 2.0 * sx, (y1 + y2) / 2.0 * sy
    hw = max((x2 - x1) * sx * params.box_shrink / 2.0, 0.5)
    hh = max((y2 - y1) * sy * params.box_shrink / 2.0, 0.5)
    c0, c1 = max(0, int(np.floor(mx - hw + 0.5))), min(dw, int(np.floor(mx + hw + 0.5)))
    r0, r1 = max(0, int(np.floor(my - hh + 0.5))), min(dh, int(np.floor(my + hh + 0.5)))
    if c1 <= c0 or r1 <= r0:
        return None
    patch = depth_m[r0:r1, c0:c1]
    total = patch.size
    with np.errstate(invalid="ignore"):
        vals = patch[(patch >= params.depth_min) & (patch <= params.depth_max)]  # NaN compares False
    n = int(vals.size)
    if n == 0 or n < params.min_valid_fraction * total:
        return None
    vals.sort()
    lo, z, hi = (_sorted_percentile(vals, q) for q in (10.0, params.percentile, 90.0))
    return DepthSample(z, hi - lo, n, total)


def _sorted_percentile(sorted_vals: np.ndarray, q: float) -> float:
    """``np.percentile(..., q)`` (linear interpolation) of already sorted values, without re-sorting."""
    pos = (sorted_vals.size - 1) * q / 100.0
    i = int(pos)
    if i + 1 >= sorted_vals.size:
        return float(sorted_vals[-1])
    frac = pos - i
    return float(sorted_vals[i] * (1.0 - frac) + sorted_vals[i + 1] * frac)


# -- filter ---------------------------------------------------------------------
_POS = np.arange(3)
_VEL = _POS + 3


class ConstantVelocity3D:
    """Kalman filter over (x, y, z, vx, vy, vz) with white-acceleration process noise."""

    def __init__(self, position: np.ndarray, pos_sigma: np.ndarray, accel_noise: float,
                 init_vel_sigma: float = 2.0) -> None:
        self.x = np.zeros(6)
        self.x[:3] = position
        self.P = np.diag(np.concatenate([pos_sigma ** 2, np.full(3, init_vel_sigma ** 2)]))
        self.q = accel_noise ** 2

    def predict(self, dt: float) -> None:
        """Advance by ``dt`` seconds."""
        F = np.eye(6)
        F[_POS, _VEL] = dt
        Q = np.zeros((6, 6))
        q = self.q
        Q[_POS, _POS] = q * dt ** 4 / 4.0
        Q[_POS, _VEL] = Q[_VEL, _POS] = q * dt ** 3 / 2.0
        Q[_VEL, _VEL] = q * dt * dt
        self.x = F @ self.x
        self.P = F @ self.P @ F.T + Q

    def update(self, position: np.ndarray, pos_sigma: np.ndarray) -> None:
        """Fuse a position measurement with per-axis standard deviations."""
        P = self.P
        S = P[:3, :3] + np.diag(pos_sigma ** 2)
        K = np.linalg.solve(S, P[:3, :]).T  # (6, 3); S and P are symmetric
        self.x = self.x + K @ (position - self.x[:3])
        self.P = P - K @ P[:3, :]
        self.P = (self.P + self.P.T) / 2.0


def measurement_sigma(z: float) -> np.ndarray:
    """Per-axis measurement standard deviation (m): stereo/ToF depth noise grows with distance."""
    lateral = 0.005 + 0.003 * z
    axial = 0.005 + 0.004 * z * z
    return np.array([lateral, lateral, axial])


# -- per-frame 3D tracking ----------------------------------------------------------
@dataclass
class Object3D:
    """The 3D state of one track in one frame, in the colour camera's optical frame (metres, m/s).

    Attributes:
        track_id: The 2D track ID.
        class_id: Class index (as in 2D).
        score: Detection score (as in 2D).
        position: (3,) smoothed centre of the object's 3D box.
        velocity: (3,) smoothed velocity.
        covariance: (6, 6) covariance of (position, velocity).
        size: (3,) box size: width (x), height (y), depth extent (z).
        measured: True when this frame's depth was valid for the track; False while it coasts.
        frames_without_depth: Consecutive frames without valid depth (0 when measured).
    """

    track_id: int
    class_id: int
    score: float
    position: np.ndarray
    velocity: np.ndarray
    covariance: np.ndarray
    size: np.ndarray
    measured: bool = True
    frames_without_depth: int = 0


@dataclass
class Frame3D:
    """3D output of one frame and its counts."""

    objects: List[Object3D]
    no_depth: int = 0
    """Published 2D tracks with no valid depth this frame (coasting or without any 3D state)."""
    without_3d: int = 0
    """Published 2D tracks with no 3D state at all (never had valid depth, or expired)."""
    expired: int = 0
    """3D states dropped this frame after ``max_missed`` frames without depth."""


@dataclass
class _State:
    kf: ConstantVelocity3D
    size: np.ndarray
    stamp: float
    missed: int = 0


class Tracker3D:
    """3D state per 2D track ID, updated once per processed colour frame.

    Args:
        params: Depth parameters.
        class_names: Class index to name, for per-class depth extents (``depth_extents``).
    """

    def __init__(self, params: Depth3DParams, class_names: Optional[Mapping[int, str]] = None) -> None:
        self.params = params
        self.class_names = dict(class_names or {})
        self._states: Dict[int, _State] = {}
        self._last_stamp: Optional[float] = None
        self.resets = 0

    def __len__(self) -> int:
        return len(self._states)

    def reset(self) -> None:
        """Drop every 3D state."""
        self._states.clear()
        self._last_stamp = None

    def extent(self, class_id: int, spread: float) -> float:
        """Return the depth extent in metres: from the depth spread, per class, or the default."""
        p = self.params
        if p.extent_from_spread and np.isfinite(spread):
            return float(max(spread, 0.01))
        name = self.class_names.get(class_id)
        if name is not None and name in p.extents:
            return p.extents[name]
        return p.extents.get(str(class_id), p.extent_default)

    def _dt(self, stamp: Optional[float]) -> Tuple[float, float]:
        """(dt since the last frame, this frame's time); resets on a large jump back."""
        last = self._last_stamp
        if stamp is None or stamp <= 0:
            now = (last or 0.0) + DEFAULT_DT
            return DEFAULT_DT, now
        if last is not None and stamp < last - TIME_JUMP_BACK_SEC:
            log.warning("3D: time jumped back %.3f s; dropping the 3D states", last - stamp)
            self.reset()
            self.resets += 1
            last = None
        return (stamp - last if last is not None and stamp > last else DEFAULT_DT), stamp

    def update(self, tracks: Sequence[TrackedObject], depth_m: Optional[np.ndarray],
               camera: Optional[CameraModel], colour_size: Tuple[int, int],
               stamp: Optional[float] = None) -> Frame3D:
        """Update the 3D states with this frame's published tracks; return their 3D objects.

        Args:
            tracks: The tracks published in 2D this frame.
            depth_m: Depth in metres registered to the colour image, or None when no depth was paired.
            camera: Intrinsics of the colour camera, or None when no camera_info arrived (nothing is measured).
            colour_size: (width, height) of the colour image.
            stamp: Colour frame time in seconds (None/0: assume ``DEFAULT_DT`` between frames).
        """
        _, now = self._dt(stamp)
        self._last_stamp = now if self._last_stamp is None else max(now, self._last_stamp)
        cam = camera.scaled_to(*colour_size) if camera is not None else None
        out = Frame3D([])
        seen = set()
        for t in tracks:
            seen.add(t.track_id)
            st = self._states.get(t.track_id)
            if st is not None:
                dt = now - st.stamp
                if dt > 0:
                    st.kf.predict(dt)
                st.stamp = max(st.stamp, now)
            sample = None
            if depth_m is not None and cam is not None:
                sample = box_depth(depth_m, t.xyxy, colour_size, self.params)
            if sample is not None:
                assert cam is not None
                x1, y1, x2, y2 = t.xyxy
                zf = sample.depth
                ext = self.extent(t.class_id, sample.spread)
                pos = cam.back_project((x1 + x2) / 2.0, (y1 + y2) / 2.0, zf)
                pos[2] += ext / 2.0  # the box centre lies half the extent behind the visible surface
                size = np.array([(x2 - x1) * zf / cam.fx, (y2 - y1) * zf / cam.fy, ext])
                sigma = measurement_sigma(zf)
                if st is None:
                    st = _State(ConstantVelocity3D(pos, sigma, self.params.accel_noise), size, now)
                    self._states[t.track_id] = st
                else:
                    st.kf.update(pos, sigma)
                    st.size = 0.7 * st.size + 0.3 * size
                st.missed = 0
            else:
                out.no_depth += 1
                if st is None:
                    out.without_3d += 1
                    continue
                st.missed += 1
                if st.missed > self.params.max_missed:
                    del self._states[t.track_id]
                    out.expired += 1
                    out.without_3d += 1
                    continue
            out.objects.append(Object3D(t.track_id, t.class_id, float(t.score), st.kf.x[:3].copy(),
                                        st.kf.x[3:].copy(), st.kf.P.copy(), st.size.copy(), st.missed == 0,
                                        st.missed))
        for tid in [k for k in self._states if k not in seen]:
            st = self._states[tid]
            st.missed += 1  # not published in 2D this frame: ages like a frame without depth
            if st.missed > self.params.max_missed:
                del self._states[tid]
                out.expired += 1
        return out
