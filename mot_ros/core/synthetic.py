"""Synthetic scenes of moving shapes with exact ground truth.

Used to train the small test detector (``scripts/train_shapes_detector.py``),
to feed the node in tests and in the demo, and by the benchmark. Rendering is
deterministic for a given seed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

SHAPE_CLASSES: Tuple[str, ...] = ("circle", "square", "triangle")
"""Class names of the shapes detector, in class-index order."""


@dataclass
class ShapeObject:
    """One moving shape.

    Attributes:
        obj_id: Ground-truth identity (1-based, as in MOTChallenge).
        cls: Class index into ``SHAPE_CLASSES``.
        x: Centre x in pixels.
        y: Centre y in pixels.
        size: Side (or diameter) in pixels.
        vx: Velocity in pixels per frame along x.
        vy: Velocity in pixels per frame along y.
        color: BGR colour.
    """

    obj_id: int
    cls: int
    x: float
    y: float
    size: float
    vx: float = 0.0
    vy: float = 0.0
    color: Tuple[int, int, int] = (0, 0, 255)

    def box(self) -> Tuple[float, float, float, float]:
        """Return the axis-aligned box as (x1, y1, x2, y2) in pixels."""
        h = self.size / 2.0
        return (self.x - h, self.y - h, self.x + h, self.y + h)


@dataclass
class SceneFrame:
    """A rendered frame and its ground truth (visible objects only)."""

    image: np.ndarray
    objects: List[ShapeObject] = field(default_factory=list)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Draw a smooth random gradient with mild noise, in BGR."""
    c0 = rng.integers(40, 215, size=3).astype(np.float32)
    c1 = rng.integers(40, 215, size=3).astype(np.float32)
    t = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    img = c0[None, None, :] * (1 - t) + c1[None, None, :] * t
    img = np.repeat(img, height, axis=0)
    img += rng.normal(0, 6, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def draw_shape(img: np.ndarray, obj: ShapeObject) -> None:
    """Draw ``obj`` into ``img`` in place, with a dark outline."""
    x1, y1, x2, y2 = (int(round(v)) for v in obj.box())
    cx, cy = int(round(obj.x)), int(round(obj.y))
    name = SHAPE_CLASSES[obj.cls]
    if name == "circle":
        cv2.circle(img, (cx, cy), max(1, (x2 - x1) // 2), obj.color, -1, cv2.LINE_AA)
        cv2.circle(img, (cx, cy), max(1, (x2 - x1) // 2), (20, 20, 20), 2, cv2.LINE_AA)
    elif name == "square":
        cv2.rectangle(img, (x1, y1), (x2, y2), obj.color, -1)
        cv2.rectangle(img, (x1, y1), (x2, y2), (20, 20, 20), 2)
    else:
        pts = np.array([[cx, y1], [x2, y2], [x1, y2]], dtype=np.int32)
        cv2.fillPoly(img, [pts], obj.color, cv2.LINE_AA)
        cv2.polylines(img, [pts], True, (20, 20, 20), 2, cv2.LINE_AA)


def render(width: int, height: int, objects: Sequence[ShapeObject],
           background: Optional[np.ndarray] = None, seed: int = 0) -> np.ndarray:
    """Render ``objects`` (in order, later ones on top) on a background."""
    if background is None:
        background = _background(np.random.default_rng(seed), width, height)
    img = background.copy()
    for obj in objects:
        draw_shape(img, obj)
    return img


_PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (0, 0, 230), (0, 200, 0), (230, 60, 0), (0, 220, 220), (220, 0, 220),
    (255, 255, 255), (30, 30, 30), (0, 128, 255), (128, 0, 128), (255, 200, 120),
)


def crossing_scene(width: int = 640, height: int = 480, n_frames: int = 60,
                   seed: int = 1) -> Iterator[SceneFrame]:
    """Yield a scene with three shapes, two of which cross paths.

    Object 1 (circle) moves right along the middle, object 2 (square) moves
    left along the same line, so they cross mid-sequence; object 3 (triangle)
    moves down the left side. Sizes scale with the image height so the scene
    works at any resolution.
    """
    s = height / 480.0
    objs = [
        ShapeObject(1, 0, 0.15 * width, 0.5 * height, 70 * s, 0.7 * width / n_frames, 0.0, (0, 0, 230)),
        ShapeObject(2, 1, 0.85 * width, 0.5 * height + 10 * s, 70 * s, -0.7 * width / n_frames, 0.0, (0, 200, 0)),
        ShapeObject(3, 2, 0.12 * width, 0.2 * height, 80 * s, 0.0, 0.5 * height / n_frames, (230, 60, 0)),
    ]
    bg = _background(np.random.default_rng(seed), width, height)
    for _ in range(n_frames):
        yield SceneFrame(render(width, height, objs, bg), [ShapeObject(**vars(o)) for o in objs])
        for o in objs:
            o.x += o.vx
            o.y += o.vy


def random_scene(width: int, height: int, n_objects: int, n_frames: int,
                 seed: int = 0, min_size: float = 24, max_size: float = 90,
                 max_speed: float = 6.0) -> Iterator[SceneFrame]:
    """Yield frames of ``n_objects`` shapes bouncing around the image."""
    rng = np.random.default_rng(seed)
    bg = _background(rng, width, height)
    objs: List[ShapeObject] = []
    for i in range(n_objects):
        size = float(rng.uniform(min_size, max_size))
        objs.append(ShapeObject(
            obj_id=i + 1, cls=int(rng.integers(0, len(SHAPE_CLASSES))),
            x=float(rng.uniform(size, width - size)), y=float(rng.uniform(size, height - size)),
            size=size, vx=float(rng.uniform(-max_speed, max_speed)),
            vy=float(rng.uniform(-max_speed, max_speed)),
            color=_PALETTE[int(rng.integers(0, len(_PALETTE)))]))
    for _ in range(n_frames):
        yield SceneFrame(render(width, height, objs, bg), [ShapeObject(**vars(o)) for o in objs])
        for o in objs:
            o.x += o.vx
            o.y += o.vy
            h = o.size / 2
            if not h <= o.x <= width - h:
                o.vx = -o.vx
                o.x = min(max(o.x, h), width - h)
            if not h <= o.y <= height - h:
                o.vy = -o.vy
                o.y = min(max(o.y, h), height - h)


def training_sample(rng: np.random.Generator, width: int = 320, height: int = 320,
                    max_objects: int = 6) -> SceneFrame:
    """Render one random still image for detector training.

    Shapes may overlap partially and touch the border, and colours are random,
    so the detector learns shape rather than colour.
    """
    bg = _background(rng, width, height)
    objs = []
    for i in range(int(rng.integers(0, max_objects + 1))):
        size = float(rng.uniform(14, min(width, height) * 0.45))
        color = tuple(int(c) for c in rng.integers(0, 256, size=3))
        objs.append(ShapeObject(i + 1, int(rng.integers(0, 3)),
                                float(rng.uniform(0, width)), float(rng.uniform(0, height)),
                                size, color=color))  # type: ignore[arg-type]
    return SceneFrame(render(width, height, objs, bg), objs)
