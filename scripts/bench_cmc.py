"""Camera-motion estimation time per frame (mot_ros.core.tracking.cmc, ultralytics' GMC) per method and frame size.

Not a test. A textured synthetic world seen through a window that moves 3 px a frame; prints the median ms per
frame and the last estimated translation (expected about -3, 0).

    .venv/bin/python scripts/bench_cmc.py [--frames 30]
"""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from mot_ros.core.tracking.cmc import CameraMotion


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth noise with rectangles: corners for the flow, structure for ECC."""
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    for _ in range(60 * (w // 640 + 1)):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(5, 40)), y + int(rng.integers(5, 40))),
                      tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
    return img


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=30)
    a = p.parse_args()
    for w, h in ((640, 480), (1920, 1080)):
        world = texture(h + 20, w + 3 * a.frames + 20, seed=1)
        for method in ("sparse_flow", "ecc", "orb"):
            cmc = CameraMotion(method, 0)
            times = []
            for i in range(a.frames):
                frame = world[10:10 + h, 3 * i:3 * i + w]
                t0 = time.perf_counter()
                affine = cmc.apply(frame)
                times.append((time.perf_counter() - t0) * 1e3)
            print(f"{w}x{h} {method:12s} median={np.median(times[2:]):6.2f} ms  translation={affine[:, 2].round(2)}")


if __name__ == "__main__":
    main()
