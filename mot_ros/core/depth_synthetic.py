"""Synthetic RGB-D scenes with exact 3D ground truth (ROS-free).

Flat shapes (the classes of the shapes detector) face the camera at known 3D
positions in the colour camera's optical frame, with a known K. Each object is
a slab ``extent`` metres deep: its visible front face lies at ``z - extent/2``
and its ground-truth position is the slab's centre. The colour image is drawn
with :mod:`mot_ros.core.synthetic` (so the shapes detector finds the objects),
and the depth image, possibly at another resolution, holds the front faces
over a far wall, with distance-dependent noise and holes.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .depth3d import CameraModel
from .synthetic import SHAPE_CLASSES, ShapeObject, _background, draw_shape


@dataclass
class Object3DTruth:
    """One object of the RGB-D scene (metres, m/s, optical frame: x right, y down, z forward).

    Attributes:
        obj_id: Ground-truth identity.
        cls: Class index into ``SHAPE_CLASSES``.
        position: Centre (x, y, z) of the object's slab.
        side: Side (or diameter) of the shape in metres.
        extent: Depth of the slab in metres.
        velocity: (vx, vy, vz).
        color: BGR colour.
    """

    obj_id: int
    cls: int
    position: Tuple[float, float, float]
    side: float
    extent: float = 0.2
    velocity: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    color: Tuple[int, int, int] = (0, 0, 230)

    def front_depth(self) -> float:
        """Depth of the visible face."""
        return self.position[2] - self.extent / 2.0

    def to_shape(self, cam: CameraModel) -> ShapeObject:
        """Return the object's 2D shape in the colour image."""
        zf = self.front_depth()
        u, v = cam.project((self.position[0], self.position[1], zf))
        return ShapeObject(self.obj_id, self.cls, u, v, cam.fx * self.side / zf, color=self.color)


@dataclass
class RGBDFrame:
    """One frame: colour (BGR), depth (metres, NaN = no return), stamp and the visible objects' truth."""

    image: np.ndarray
    depth: np.ndarray
    stamp: float
    objects: List[Object3DTruth] = field(default_factory=list)
    shapes: List[ShapeObject] = field(default_factory=list)


def default_camera(width: int = 640, height: int = 480) -> CameraModel:
    """Return a 525 px focal length camera (at 640x480) with the principal point in the middle."""
    f = 525.0 * width / 640.0
    return CameraModel(f, f, (width - 1) / 2.0, (height - 1) / 2.0, width, height)


def default_objects() -> List[Object3DTruth]:
    """Return static objects from 1 to 8 m and two moving at 1 m/s (one sideways, one towards the camera)."""
    return [
        Object3DTruth(1, 0, (-0.10, -0.28, 1.1), 0.16, 0.2, color=(0, 0, 230)),
        Object3DTruth(2, 1, (0.30, 0.55, 2.6), 0.36, 0.2, color=(0, 200, 0)),
        Object3DTruth(3, 0, (1.20, -0.95, 5.1), 0.70, 0.2, color=(230, 60, 0)),
        Object3DTruth(4, 1, (-2.60, -1.55, 8.1), 1.10, 0.2, color=(0, 220, 220)),
        Object3DTruth(5, 0, (-1.40, 0.05, 3.6), 0.45, 0.2, (1.0, 0.0, 0.0), color=(220, 0, 220)),
        Object3DTruth(6, 1, (1.90, 1.10, 7.1), 0.80, 0.2, (0.0, 0.0, -1.0), color=(255, 255, 255)),
    ]


def render_depth(objects: Sequence[Object3DTruth], cam: CameraModel, depth_size: Tuple[int, int],
                 wall: float = 12.0) -> np.ndarray:
    """Noise-free depth (metres) of the objects' front faces over a wall, at ``depth_size`` (w, h)."""
    dw, dh = depth_size
    depth = np.full((dh, dw), wall, np.float32)
    for o in sorted(objects, key=lambda o: -o.position[2]):  # far to near: near faces win
        mask = np.zeros((cam.height, cam.width, 3), np.uint8)
        draw_shape(mask, replace(o.to_shape(cam), color=(255, 255, 255)))
        small = cv2.resize(mask[:, :, 0], (dw, dh), interpolation=cv2.INTER_NEAREST)
        depth[small > 127] = o.front_depth()
    return depth


def rgbd_scene(width: int = 640, height: int = 480, depth_size: Tuple[int, int] = (320, 240),
               n_frames: int = 30, dt: float = 0.1, objects: Optional[Sequence[Object3DTruth]] = None,
               seed: int = 3, noise: float = 0.0015, holes: float = 0.02, t0: float = 1000.0,
               camera: Optional[CameraModel] = None) -> Iterator[RGBDFrame]:
    """Yield RGB-D frames of objects moving at constant velocity.

    Args:
        width: Colour width in pixels.
        height: Colour height in pixels.
        depth_size: (width, height) of the depth image (may differ from colour, also in aspect).
        n_frames: Number of frames.
        dt: Seconds between frames.
        objects: The scene (default :func:`default_objects`); positions are at the first frame.
        seed: Seed of the background and the depth noise.
        noise: Depth noise standard deviation is ``noise * z**2`` metres.
        holes: Fraction of depth pixels with no return (NaN).
        t0: Stamp of the first frame.
        camera: Intrinsics (default :func:`default_camera`).
    """
    cam = camera or default_camera(width, height)
    objs = [replace(o) for o in (objects if objects is not None else default_objects())]
    rng = np.random.default_rng(seed)
    bg = _background(rng, width, height)
    for i in range(n_frames):
        t = i * dt
        now = [replace(o, position=tuple(p + v * t for p, v in zip(o.position, o.velocity)))  # type: ignore
               for o in objs]
        visible = [o for o in now if o.front_depth() > 0.05]
        shapes = [o.to_shape(cam) for o in sorted(visible, key=lambda o: -o.position[2])]
        img = bg.copy()
        for s in shapes:
            draw_shape(img, s)
        depth = render_depth(visible, cam, depth_size)
        if noise > 0:
            depth = depth + rng.normal(0.0, 1.0, depth.shape).astype(np.float32) * noise * depth * depth
        if holes > 0:
            depth[rng.random(depth.shape) < holes] = np.nan
        shapes_by_id = {s.obj_id: s for s in shapes}
        yield RGBDFrame(img, depth.astype(np.float32), t0 + t, visible, [shapes_by_id[o.obj_id] for o in visible])


__all__ = ["Object3DTruth", "RGBDFrame", "default_camera", "default_objects", "render_depth", "rgbd_scene",
           "SHAPE_CLASSES"]
