"""Render data/demo_shapes.mp4, the demo input shipped in the repo (deterministic).

Usage: ``.venv/bin/python scripts/make_demo_video.py``
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mot_ros.core.synthetic import random_scene  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "data" / "demo_shapes.mp4"


def main() -> None:
    OUT.parent.mkdir(exist_ok=True)
    w = cv2.VideoWriter(str(OUT), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (640, 480))
    for frame in random_scene(640, 480, n_objects=6, n_frames=100, seed=7, min_size=40, max_size=90, max_speed=8):
        w.write(frame.image)
    w.release()
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
