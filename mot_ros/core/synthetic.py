"""Synthetic scenes of moving shapes with exact ground truth.

Used to train the small test detector (``scripts/train_shapes_detector.py``),
to feed the node in tests and in the demo, and by the benchmark. Rendering is
deterministic for a given seed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

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


# -- development-set scenes: continuous-time motion, occluders, faded objects, a moving camera ----------------

@dataclass
class WorldObject:
    """A shape moving in world pixels with constant velocity, bouncing off the world's edges.

    Motion is defined in continuous time (pixels per second), so the same scene
    can be sampled at any frame rate.

    Attributes:
        obj_id: Ground-truth identity (1-based).
        cls: Class index into ``SHAPE_CLASSES``.
        x0: Centre x at t = 0, world pixels.
        y0: Centre y at t = 0, world pixels.
        size: Side (or diameter) in pixels.
        vx: Velocity along x in pixels per second.
        vy: Velocity along y in pixels per second.
        color: BGR colour.
        alpha: Opacity in (0, 1]; faded shapes give low-confidence detections.
        t_start: Time (seconds) the object enters the scene.
        t_end: Time (seconds) it leaves (None: never).
    """

    obj_id: int
    cls: int
    x0: float
    y0: float
    size: float
    vx: float = 0.0
    vy: float = 0.0
    color: Tuple[int, int, int] = (0, 0, 230)
    alpha: float = 1.0
    t_start: float = 0.0
    t_end: Optional[float] = None

    def at(self, t: float, world: Tuple[int, int]) -> ShapeObject:
        """The object at time ``t`` as a :class:`ShapeObject` in world pixels."""
        h = self.size / 2.0
        return ShapeObject(self.obj_id, self.cls, _bounce(self.x0 + self.vx * t, h, world[0] - h),
                           _bounce(self.y0 + self.vy * t, h, world[1] - h), self.size, color=self.color)

    def alive(self, t: float) -> bool:
        """True while the object is in the scene."""
        return t >= self.t_start and (self.t_end is None or t < self.t_end)


def _bounce(v: float, lo: float, hi: float) -> float:
    """Position of a point moving freely in [lo, hi] and reflecting off both ends (a triangle wave)."""
    span = hi - lo
    if span <= 0:
        return lo
    r = (v - lo) % (2 * span)
    return lo + (r if r <= span else 2 * span - r)


@dataclass
class Obstacle:
    """A static rectangle in world pixels drawn over the objects (a pillar, a parked car)."""

    x1: float
    y1: float
    x2: float
    y2: float
    color: Tuple[int, int, int] = (90, 90, 90)


CameraPath = Callable[[float], Tuple[float, float]]
"""Time in seconds to the top-left corner of the camera window, in world pixels."""


def pan_shake_camera(world: Tuple[int, int], view: Tuple[int, int], period_s: float = 6.0,
                     shake_px: float = 3.0, seed: int = 7) -> CameraPath:
    """A window that sweeps left and right, bobs up and down and shakes (a robot turning and driving).

    The shake is smooth noise in time (sums of sines with random phases), so it
    is the same motion at every frame rate.
    """
    ax, ay = (world[0] - view[0]) / 2.0, (world[1] - view[1]) / 2.0
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(2.0, 6.0, size=(2, 3))
    phases = rng.uniform(0, 2 * np.pi, size=(2, 3))

    def path(t: float) -> Tuple[float, float]:
        sx = shake_px * float(np.sum(np.sin(2 * np.pi * freqs[0] * t + phases[0]))) / 1.5
        sy = shake_px * float(np.sum(np.sin(2 * np.pi * freqs[1] * t + phases[1]))) / 1.5
        ox = ax + ax * np.sin(2 * np.pi * t / period_s) + sx
        oy = ay + 0.6 * ay * np.sin(2 * np.pi * t / (1.7 * period_s) + 1.0) + sy
        return (min(max(ox, 0.0), world[0] - view[0]), min(max(oy, 0.0), world[1] - view[1]))
    return path


@dataclass
class WorldScene:
    """A scene of :class:`WorldObject` and :class:`Obstacle` seen through a (possibly moving) camera window.

    Attributes:
        world: World size (width, height) in pixels.
        view: Camera window size (width, height); the rendered frame size.
        objects: The moving shapes, drawn in list order (later ones on top).
        obstacles: Static occluders drawn over every object.
        camera: Window position over time (None: a static window at the world's centre).
        seed: Seed of the background.
        min_visibility: Objects with a smaller visible fraction are left out of the ground truth.
        texture: Add low-contrast clutter (lines, irregular patches) to the background, as real scenes
            have; without it the background is a plain gradient on which camera-motion estimation only
            finds corners on the moving objects.
    """

    world: Tuple[int, int]
    view: Tuple[int, int]
    objects: List[WorldObject]
    obstacles: List[Obstacle] = field(default_factory=list)
    camera: Optional[CameraPath] = None
    seed: int = 0
    min_visibility: float = 0.4
    texture: bool = True

    def frames(self, fps: float, duration_s: float) -> Iterator[Tuple[np.ndarray, List[Tuple[float, ...]]]]:
        """Yield ``(BGR frame, gt rows)`` sampled at ``fps`` for ``duration_s`` seconds.

        Ground-truth rows are MOTChallenge ``frame,id,x,y,w,h,1,1,visibility`` (class 1:
        every shape is a target, as pedestrians are in MOT16) with the whole (amodal)
        box clipped to the frame, for objects at least ``min_visibility`` visible.
        """
        if fps <= 0 or duration_s <= 0:
            raise ValueError(f"frames: expected fps > 0 and duration_s > 0, got fps={fps} duration_s={duration_s}")
        bg = _background(np.random.default_rng(self.seed), *self.world)
        if self.texture:
            _clutter(bg, np.random.default_rng(self.seed + 1))
        for ob in self.obstacles:
            cv2.rectangle(bg, (int(ob.x1), int(ob.y1)), (int(ob.x2), int(ob.y2)), ob.color, -1)
        vw, vh = self.view
        for n in range(int(round(fps * duration_s))):
            t = n / fps
            ox, oy = self.camera(t) if self.camera else ((self.world[0] - vw) / 2.0, (self.world[1] - vh) / 2.0)
            ox, oy = int(round(ox)), int(round(oy))
            img = bg.copy()
            masks, alive = [], []
            for wo in self.objects:
                if not wo.alive(t):
                    continue
                obj = wo.at(t, self.world)
                layer = img.copy() if wo.alpha < 1.0 else img
                draw_shape(layer, obj)
                if wo.alpha < 1.0:
                    cv2.addWeighted(layer, wo.alpha, img, 1.0 - wo.alpha, 0.0, dst=img)
                m = np.zeros(self.world[::-1], np.uint8)
                draw_shape(m, ShapeObject(0, obj.cls, obj.x, obj.y, obj.size, color=(255, 255, 255)))
                masks.append(m > 0)
                alive.append(obj)
            for ob in self.obstacles:  # obstacles stay in front of everything
                cv2.rectangle(img, (int(ob.x1), int(ob.y1)), (int(ob.x2), int(ob.y2)), ob.color, -1)
            front = np.zeros(self.world[::-1], bool)
            for ob in self.obstacles:
                front[int(ob.y1):int(ob.y2) + 1, int(ob.x1):int(ob.x2) + 1] = True
            rows: List[Tuple[float, ...]] = []
            for k in range(len(alive) - 1, -1, -1):  # top-most first, so `front` holds what covers object k
                obj, m = alive[k], masks[k]
                full = int(m.sum())
                vis_m = m & ~front
                vis_m = vis_m[oy:oy + vh, ox:ox + vw]
                front |= m
                vis = float(vis_m.sum()) / full if full else 0.0
                if vis < self.min_visibility:
                    continue
                x1, y1, x2, y2 = obj.box()
                x1, y1 = max(x1 - ox, 0.0), max(y1 - oy, 0.0)
                x2, y2 = min(x2 - ox, float(vw)), min(y2 - oy, float(vh))
                if x2 - x1 < 2 or y2 - y1 < 2:
                    continue
                rows.append((n + 1, obj.obj_id, x1, y1, x2 - x1, y2 - y1, 1, 1, round(vis, 3)))
            yield img[oy:oy + vh, ox:ox + vw].copy(), sorted(rows, key=lambda r: r[1])


def _clutter(img: np.ndarray, rng: np.random.Generator) -> None:
    """Draw low-contrast lines and irregular patches (no circles, squares or triangles) in place."""
    h, w = img.shape[:2]
    n = int(w * h / 4000)
    for _ in range(n):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        base = img[y, x].astype(int)
        col = tuple(int(c) for c in np.clip(base + rng.integers(-45, 46, size=3), 0, 255))
        if rng.random() < 0.6:
            x2, y2 = x + int(rng.integers(-60, 61)), y + int(rng.integers(-60, 61))
            cv2.line(img, (x, y), (x2, y2), col, int(rng.integers(1, 4)), cv2.LINE_AA)
        else:
            k = int(rng.integers(5, 8))
            ang = np.sort(rng.uniform(0, 2 * np.pi, k))
            rad = rng.uniform(4, 14, k)
            pts = np.stack([x + rad * np.cos(ang), y + rad * np.sin(ang)], 1).astype(np.int32)
            cv2.fillPoly(img, [pts], col, cv2.LINE_AA)


def _lane_objects(first_id: int, n: int, y: float, speed: float, world_w: int, cls: int,
                  color: Tuple[int, int, int], size: float, phase: float = 0.0) -> List[WorldObject]:
    """``n`` identical shapes spaced along a horizontal lane, all moving at ``speed`` px/s."""
    gap = world_w / n
    return [WorldObject(first_id + i, cls, (phase + i * gap) % world_w, y, size, speed, 0.0, color)
            for i in range(n)]


def dev_scene(kind: str, view: Tuple[int, int] = (640, 480), seed: int = 0) -> WorldScene:
    """One of the development-set scenes (deterministic for a given ``seed``).

    Kinds:
        ``occlusion``: shapes bouncing around behind two pillars and over each other.
        ``crossing``: two lanes of identical red circles moving in opposite directions, crossing
        repeatedly, plus a diagonal lane of identical green squares; on a plain background (no
        texture), where camera-motion estimation sees only the moving objects.
        ``lowconf``: faded (low-contrast) shapes, some partly behind a wall, among normal ones.
        ``pan``: a mixed scene in a larger world seen through a panning and shaking window.
        ``mixed``: occluders, look-alikes and faded shapes together (static camera).
        ``pan_steady``: six slow shapes that stay in view while the window pans fast and shakes (the
        camera moves tens of pixels a frame at low frame rates), for camera-motion tests.

    Raises:
        ValueError: For an unknown kind.
    """
    vw, vh = view
    rng = np.random.default_rng(seed + 100)
    red, green, blue = (0, 0, 220), (0, 190, 0), (220, 80, 0)
    if kind == "occlusion":
        objs = [WorldObject(i + 1, int(rng.integers(0, 3)), float(rng.uniform(60, vw - 60)),
                            float(rng.uniform(60, vh - 60)), float(rng.uniform(45, 75)),
                            float(rng.choice([-1, 1]) * rng.uniform(60, 140)),
                            float(rng.choice([-1, 1]) * rng.uniform(30, 90)), _PALETTE[i % 5])
                for i in range(7)]
        obst = [Obstacle(0.30 * vw, 0.0, 0.30 * vw + 70, 0.75 * vh), Obstacle(0.65 * vw, 0.3 * vh, 0.65 * vw + 60, vh)]
        return WorldScene((vw, vh), view, objs, obst, seed=seed)
    if kind == "crossing":
        objs = _lane_objects(1, 3, 0.42 * vh, 110.0, vw, 0, red, 60)
        objs += _lane_objects(4, 3, 0.50 * vh, -110.0, vw, 0, red, 60, phase=vw / 6)
        objs += [WorldObject(7 + i, 1, 80 + 180 * i, 60 + 120 * i, 55, 70.0, 70.0, green) for i in range(3)]
        return WorldScene((vw, vh), view, objs, seed=seed, texture=False)
    if kind == "lowconf":
        objs = [WorldObject(i + 1, i % 3, float(rng.uniform(60, vw - 60)), float(rng.uniform(60, vh - 60)),
                            float(rng.uniform(40, 70)), float(rng.uniform(-120, 120)), float(rng.uniform(-80, 80)),
                            _PALETTE[(i + 2) % 6], alpha=(0.35 if i % 2 else 1.0)) for i in range(8)]
        obst = [Obstacle(0.0, 0.62 * vh, 0.55 * vw, 0.62 * vh + 40, (120, 120, 120))]
        return WorldScene((vw, vh), view, objs, obst, seed=seed, min_visibility=0.3)
    if kind == "pan":
        ww, wh = int(vw * 1.6), int(vh * 1.4)
        objs = [WorldObject(i + 1, i % 3, float(rng.uniform(60, ww - 60)), float(rng.uniform(60, wh - 60)),
                            float(rng.uniform(45, 70)), float(rng.uniform(-60, 60)), float(rng.uniform(-40, 40)),
                            (red if i % 3 == 0 else _PALETTE[i % 7])) for i in range(10)]
        obst = [Obstacle(0.45 * ww, 0.2 * wh, 0.45 * ww + 60, 0.8 * wh)]
        return WorldScene((ww, wh), view, objs, obst, camera=pan_shake_camera((ww, wh), view), seed=seed)
    if kind == "pan_steady":
        ww, wh = int(vw * 1.5), int(vh * 1.33)
        cx, cy = (ww - vw) + vw / 4.0, (wh - vh) + vh / 4.0  # the corner of the area every window position sees
        objs = [WorldObject(i + 1, i % 3, cx + 70 + 110 * (i % 3), cy + 60 + 120 * (i // 3), 52.0,
                            float(rng.uniform(-12, 12)), float(rng.uniform(-12, 12)), _PALETTE[i % 6])
                for i in range(6)]
        return WorldScene((ww, wh), view, objs, camera=pan_shake_camera((ww, wh), view, period_s=4.0, shake_px=4.0),
                          seed=seed)
    if kind == "mixed":
        objs = _lane_objects(1, 3, 0.30 * vh, 90.0, vw, 0, red, 55)
        objs += _lane_objects(4, 3, 0.36 * vh, -90.0, vw, 0, red, 55, phase=vw / 6)
        objs += [WorldObject(7 + i, 2, float(rng.uniform(60, vw - 60)), float(rng.uniform(0.5 * vh, vh - 60)),
                             float(rng.uniform(45, 65)), float(rng.uniform(-100, 100)), float(rng.uniform(-60, 60)),
                             blue, alpha=(0.4 if i == 0 else 1.0)) for i in range(4)]
        obst = [Obstacle(0.5 * vw, 0.15 * vh, 0.5 * vw + 50, 0.9 * vh)]
        return WorldScene((vw, vh), view, objs, obst, seed=seed)
    raise ValueError(f"dev_scene: expected kind occlusion, crossing, lowconf, pan, pan_steady or mixed, got {kind!r}")


# -- detections without images (trackers, parity tests, benchmark) -----------------------------------------------
DetectionRow = Tuple[np.ndarray, float, int, np.ndarray]
"""One detection: (float32 ltwh box, score, class index, float32 unit appearance vector)."""


def churning_detections(seed: int, n_frames: int, n_objects: int = 10, dim: int = 8, churn: float = 0.03,
                        detect_prob: float = 0.85, width: float = 640.0, height: float = 480.0,
                        appearance_noise: float = 0.3, class_per_object: bool = False,
                        score_range: Tuple[float, float] = (0.3, 1.0)) -> Iterator[List[DetectionRow]]:
    """Detections of moving boxes, per frame, with no image: the one moving-object generator for trackers.

    Boxes (20-80 px, random aspect) drift at up to 5 px per frame with jitter, so they cross and leave
    the view; each frame each object is detected with ``detect_prob`` (misses are occlusions), the box
    is noisy and the appearance vector is the object's own plus noise. With probability ``churn`` per
    frame an object is replaced by a new one (a death and a birth). Rows are shuffled. The same
    arguments give the same sequence.

    Args:
        seed: Random seed.
        n_frames: Frames to yield.
        n_objects: Objects alive at any time.
        dim: Appearance dimension.
        churn: Chance per object and frame to be replaced.
        detect_prob: Chance per object and frame to be detected.
        width: Width of the area where objects are born.
        height: Height of the area where objects are born.
        appearance_noise: Standard deviation of the noise added to the (unnormalised, unit-variance)
            appearance vector before normalising.
        class_per_object: Each object keeps one class; else every detection draws one at random.
        score_range: Detection scores are uniform in this range.
    """
    rng = np.random.default_rng(seed)

    def spawn() -> dict:
        s = rng.uniform(20, 80)
        o = dict(x=rng.uniform(0, width), y=rng.uniform(0, height), w=s * rng.uniform(0.5, 1.5), h=s,
                 vx=rng.uniform(-5, 5), vy=rng.uniform(-5, 5), e=rng.normal(size=dim))
        if class_per_object:
            o["cls"] = int(rng.integers(0, 3))
        return o

    objs = [spawn() for _ in range(n_objects)]
    for _ in range(n_frames):
        objs = [spawn() if rng.random() < churn else o for o in objs]
        dets: List[DetectionRow] = []
        for o in objs:
            o["x"] += o["vx"] + rng.normal(0, 1)
            o["y"] += o["vy"] + rng.normal(0, 1)
            if rng.random() < detect_prob:
                box = np.array([o["x"] - o["w"] / 2 + rng.normal(0, 1.5), o["y"] - o["h"] / 2 + rng.normal(0, 1.5),
                                o["w"] * rng.uniform(0.95, 1.05), o["h"] * rng.uniform(0.95, 1.05)], np.float32)
                e = o["e"] + rng.normal(0, appearance_noise, dim)
                score, cls = float(rng.uniform(*score_range)), int(rng.integers(0, 3))
                dets.append((box, score, o.get("cls", cls), (e / np.linalg.norm(e)).astype(np.float32)))
        rng.shuffle(dets)  # type: ignore[arg-type]
        yield dets


def rows_to_arrays(rows: Sequence[DetectionRow]) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(xyxy float32 (N, 4), scores (N,), classes (N,), embeddings float32 (N, dim)) of ``rows``."""
    ltwh = np.array([r[0] for r in rows], np.float32).reshape(-1, 4)
    xyxy = np.concatenate([ltwh[:, :2], ltwh[:, :2] + ltwh[:, 2:]], axis=1)
    dim = len(rows[0][3]) if rows else 0
    emb = np.array([r[3] for r in rows], np.float32).reshape(len(rows), dim)
    return xyxy, np.array([r[1] for r in rows], np.float32), np.array([r[2] for r in rows], np.int64), emb
