"""Annotated images: boxes, ``class #id`` labels, a stable colour per ID, trails."""
from __future__ import annotations

import colorsys
from collections import deque
from typing import Deque, Dict, Mapping, Sequence, Tuple

import cv2
import numpy as np

from .types import TrackedObject

Color = Tuple[int, int, int]


def id_color(track_id: int) -> Color:
    """A bright BGR colour that depends only on the ID (golden-ratio hue steps)."""
    hue = (track_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


class Trails:
    """Recent box centres per track, bounded in length and in number of tracks."""

    def __init__(self, length: int = 30) -> None:
        self.length = length
        self._pts: Dict[int, Deque[Tuple[int, int]]] = {}
        self._last_seen: Dict[int, int] = {}
        self._frame = 0

    def update(self, tracks: Sequence[TrackedObject]) -> None:
        """Add this frame's centres and forget tracks unseen for ``length`` frames."""
        self._frame += 1
        for t in tracks:
            x1, y1, x2, y2 = t.xyxy
            dq = self._pts.get(t.track_id)
            if dq is None or dq.maxlen != self.length:
                dq = deque(dq or (), maxlen=self.length)
                self._pts[t.track_id] = dq
            dq.append((int((x1 + x2) / 2), int((y1 + y2) / 2)))
            self._last_seen[t.track_id] = self._frame
        stale = [k for k, f in self._last_seen.items() if self._frame - f > self.length]
        for k in stale:
            self._pts.pop(k, None)
            self._last_seen.pop(k, None)

    def points(self, track_id: int) -> Sequence[Tuple[int, int]]:
        return self._pts.get(track_id, ())

    def clear(self) -> None:
        self._pts.clear()
        self._last_seen.clear()

    def __len__(self) -> int:
        return len(self._pts)


def label_text(t: TrackedObject, names: Mapping[int, str], show_score: bool = True) -> str:
    """``class #id`` (plus the score), e.g. ``person #12 0.87``."""
    name = names.get(t.class_id, str(t.class_id))
    text = f"{name} #{t.track_id}"
    if show_score:
        text += f" {t.score:.2f}"
    return text


def draw_tracks(frame: np.ndarray, tracks: Sequence[TrackedObject], names: Mapping[int, str],
                trails: Trails | None = None, show_score: bool = True, thickness: int = 2,
                font_scale: float = 0.6) -> np.ndarray:
    """Return a copy of ``frame`` with the tracks drawn; coasting tracks are dashed-looking (thin)."""
    img = frame.copy()
    h, w = img.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    for t in tracks:
        color = id_color(t.track_id)
        x1, y1, x2, y2 = (int(round(v)) for v in t.xyxy)
        th = thickness if t.matched else max(1, thickness // 2)
        cv2.rectangle(img, (x1, y1), (x2, y2), color, th, cv2.LINE_AA)
        if trails is not None:
            pts = trails.points(t.track_id)
            if len(pts) > 1:
                cv2.polylines(img, [np.array(pts, np.int32)], False, color, max(1, thickness - 1), cv2.LINE_AA)
        text = label_text(t, names, show_score)
        (tw, tht), base = cv2.getTextSize(text, font, font_scale, max(1, thickness // 2))
        ty = y1 - 4 if y1 - tht - base - 4 >= 0 else min(h - 1, y1 + tht + 4)
        tx = min(max(0, x1), max(0, w - tw - 2))
        cv2.rectangle(img, (tx, ty - tht - base), (tx + tw + 2, ty + base), color, -1)
        lum = 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2]
        cv2.putText(img, text, (tx + 1, ty), font, font_scale, (0, 0, 0) if lum > 140 else (255, 255, 255),
                    max(1, thickness // 2), cv2.LINE_AA)
    return img
