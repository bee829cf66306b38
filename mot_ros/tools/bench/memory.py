"""Section 4: resident memory of a tracker over many frames with churning IDs."""
from __future__ import annotations

import argparse
import gc
import time
from typing import Any, Dict, List

import numpy as np

from .common import log, summary


def bench_memory(args: argparse.Namespace) -> Dict[str, Any]:
    """RSS of a tracker (plus trails) over ``args.memory_frames`` frames with churning IDs."""
    import psutil

    from ...core.config import Config
    from ...core.drawing import Trails
    from ...core.tracking import make_tracker
    from ...core.types import Detections

    rng = np.random.default_rng(args.seed)
    n, dim, w, h = args.memory_objects, args.embed_dim, 1280.0, 720.0
    cfg = Config(model="none.pt", nn_budget=args.nn_budget)
    tracker = make_tracker(cfg)
    trails = Trails(cfg.trail_length)
    proc = psutil.Process()

    def spawn() -> Dict[str, Any]:
        s = rng.uniform(30, 90)
        e = rng.normal(size=dim).astype(np.float32)
        return {"p": rng.uniform([s, s], [w - s, h - s]), "v": rng.uniform(-4, 4, 2), "s": s,
                "e": e / np.linalg.norm(e)}

    objs = [spawn() for _ in range(n)]
    gc.collect()
    rss0 = proc.memory_info().rss
    samples = []
    times: List[float] = []
    for f in range(args.memory_frames):
        if f % max(100, args.memory_frames // 10) == 0:  # gc.collect is slow with torch loaded
            gc.collect()
            samples.append({"frame": f, "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                            "tracks": tracker.num_tracks, "next_id": tracker.next_id})
        for i, o in enumerate(objs):
            if rng.random() < args.churn:  # leaves; a new object (new identity) enters
                objs[i] = spawn()
            o = objs[i]
            o["p"] += o["v"]
            for k, lim in ((0, w), (1, h)):
                if not o["s"] <= o["p"][k] <= lim - o["s"]:
                    o["v"][k] = -o["v"][k]
        seen = [o for o in objs if rng.random() > 0.05]  # 5 % missed detections
        xyxy = np.array([[o["p"][0] - o["s"] / 2, o["p"][1] - o["s"] / 2, o["p"][0] + o["s"] / 2,
                          o["p"][1] + o["s"] / 2] for o in seen], np.float32).reshape(-1, 4)
        emb = np.array([o["e"] for o in seen], np.float32).reshape(-1, dim)
        emb = emb + rng.normal(0, 0.1 / np.sqrt(dim), emb.shape).astype(np.float32)  # cosine distance ~0.005
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        det = Detections(xyxy, np.full(len(seen), 0.9), np.zeros(len(seen)))
        t0 = time.perf_counter()
        tracks = tracker.update(det, emb)
        times.append((time.perf_counter() - t0) * 1e3)
        trails.update(tracks)
    gc.collect()
    rss1 = proc.memory_info().rss
    samples.append({"frame": args.memory_frames, "rss_mb": round(rss1 / 2**20, 1), "tracks": tracker.num_tracks,
                    "next_id": tracker.next_id})
    steady = samples[1]["rss_mb"] if len(samples) > 2 else samples[0]["rss_mb"]
    out = {"frames": args.memory_frames, "objects": n, "embedding_dim": dim, "nn_budget": args.nn_budget,
           "churn_per_frame": args.churn, "ids_created": tracker.next_id - 1,
           "rss_start_mb": round(rss0 / 2**20, 1), "rss_end_mb": round(rss1 / 2**20, 1),
           "growth_mb": round((rss1 - rss0) / 2**20, 1),
           "growth_after_first_tenth_mb": round(rss1 / 2**20 - steady, 1),
           "samples": samples, "update_ms": summary(times)}
    log.info("memory: %d frames, %d IDs, RSS %.1f -> %.1f MB", args.memory_frames, out["ids_created"],
             out["rss_start_mb"], out["rss_end_mb"])
    return out
