"""Association + Kalman time per frame of our deepsort (mot_ros.core.tracking) at N tracks, per stage setting.

Not a test: prints the median and 90th percentile ms per frame for each configuration on the same
synthetic detections (ground-truth boxes of ``random_scene``, unit embeddings near one per object), and
deep-sort-realtime's Tracker on the same input for comparison. Camera-motion estimation is not included
(no frames; ``cmc`` is timed by the pipeline benchmark).

    .venv/bin/python scripts/bench_tracking_core.py [--objects 50] [--frames 200] [--dim 512]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from mot_ros.core.config import Config
from mot_ros.core.synthetic import random_scene
from mot_ros.core.tracking.deepsort import STAGES_OFF, DeepSortTracker
from mot_ros.core.types import Detections

OFF = dict(low_conf_threshold=0.35, **STAGES_OFF)
SETTINGS = {
    "stages off (deep-sort-realtime parity)": OFF,
    "+ recovery": {**OFF, "recovery": True},
    "+ second association (low 0.1)": {**OFF, "low_conf_threshold": 0.1},
    "fused, ema, xywh, nsa, fuse_score, recovery, low 0.1": dict(
        low_conf_threshold=0.1, cmc="none", association="fused", appearance_features="ema", kalman_state="xywh",
        nsa_kalman=True, fuse_score=True, recovery=True),
    "defaults (cmc off: no frames here)": dict(cmc="none"),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objects", type=int, default=50)
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-reference", action="store_true", help="skip deep-sort-realtime (slow)")
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    base = rng.normal(size=(a.objects + 1, a.dim)).astype(np.float32)
    frames = []
    for sf in random_scene(a.width, a.height, a.objects, a.frames, seed=a.seed + 7):
        boxes = np.array([o.box() for o in sf.objects], np.float32).reshape(-1, 4)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, a.width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, a.height)
        scores = rng.uniform(0.2, 1.0, len(boxes)).astype(np.float32)
        det = Detections(boxes, scores, np.zeros(len(boxes), np.int64))
        e = base[[o.obj_id for o in sf.objects]]
        e = e + rng.normal(0, 0.15, size=e.shape).astype(np.float32)
        frames.append((det, e / np.linalg.norm(e, axis=1, keepdims=True)))
    for name, kw in SETTINGS.items():
        t = DeepSortTracker(Config(**{"model": "none.pt", **kw}))
        times = []
        for i, (det, e) in enumerate(frames):
            t0 = time.perf_counter()
            t.update(det, e)
            if i >= 10:
                times.append((time.perf_counter() - t0) * 1e3)
        print(f"{name:55s} tracks={t.num_tracks:3d} median={np.median(times):.3f} ms  "
              f"p90={np.percentile(times, 90):.3f} ms")
    if not a.no_reference:
        from deep_sort_realtime.deepsort_tracker import DeepSort

        cfg = Config(model="none.pt")
        ds = DeepSort(max_iou_distance=cfg.max_iou_distance, max_age=cfg.max_age, n_init=cfg.n_init,
                      max_cosine_distance=cfg.max_cosine_distance, nn_budget=cfg.nn_budget, embedder=None)
        times = []
        for i, (det, e) in enumerate(frames):
            ltwh = np.concatenate([det.xyxy[:, :2], det.xyxy[:, 2:] - det.xyxy[:, :2]], axis=1)
            raw = [(b.tolist(), float(s), 0) for b, s in zip(ltwh, det.scores)]
            t0 = time.perf_counter()
            ds.update_tracks(raw, embeds=list(e))
            if i >= 10:
                times.append((time.perf_counter() - t0) * 1e3)
        print(f"{'deep-sort-realtime DeepSort.update_tracks':55s} tracks={len(ds.tracker.tracks):3d} "
              f"median={np.median(times):.3f} ms  p90={np.percentile(times, 90):.3f} ms")


if __name__ == "__main__":
    main()
