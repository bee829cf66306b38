"""Section 4: resident memory of a tracker over many frames with churning IDs."""
from __future__ import annotations

import argparse
import gc
import time
from typing import Any, Dict, List


from .common import log, summary


def bench_memory(args: argparse.Namespace) -> Dict[str, Any]:
    """RSS of a tracker (plus trails) over ``args.memory_frames`` frames with churning IDs."""
    import psutil

    from ...core.config import Config
    from ...core.drawing import Trails
    from ...core.synthetic import churning_detections, rows_to_arrays
    from ...core.tracking import make_tracker
    from ...core.types import Detections

    n, dim = args.memory_objects, args.embed_dim
    cfg = Config(model="none.pt", nn_budget=args.nn_budget)
    tracker = make_tracker(cfg)
    trails = Trails(cfg.trail_length)
    proc = psutil.Process()
    # 5 % missed detections; appearance noise 0.1 per unit-variance component: cosine distance about 0.005
    scene = churning_detections(args.seed, args.memory_frames, n, dim, churn=args.churn, detect_prob=0.95,
                                width=1280.0, height=720.0, appearance_noise=0.1, class_per_object=True,
                                score_range=(0.9, 0.9))
    gc.collect()
    rss0 = proc.memory_info().rss
    samples = []
    times: List[float] = []
    for f, rows in enumerate(scene):
        if f % max(100, args.memory_frames // 10) == 0:  # gc.collect is slow with torch loaded
            gc.collect()
            samples.append({"frame": f, "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                            "tracks": tracker.num_tracks, "next_id": tracker.next_id})
        xyxy, scores, classes, emb = rows_to_arrays(rows)
        det = Detections(xyxy, scores, classes)
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
