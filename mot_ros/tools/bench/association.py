"""Section 2b: association + Kalman of deep-sort-realtime, FastTracker and the pipeline tracker."""
from __future__ import annotations

import argparse
import time
from typing import Any, Dict, List

import numpy as np

from .common import gt_detections, log, summary


def bench_association(args: argparse.Namespace) -> Dict[str, Any]:
    """Time association + Kalman at the largest object count, three ways, on the same detections.

    deep-sort-realtime's tracker, our vectorised one (checked for identical tracks) and the adapter as the
    pipeline runs it.
    """
    from deep_sort_realtime.deep_sort import nn_matching
    from deep_sort_realtime.deep_sort.detection import Detection
    from deep_sort_realtime.deep_sort.tracker import Tracker as Reference

    from ...core.config import Config
    from ...core.fast_deepsort import FastTracker, SampleBank
    from ...core.synthetic import random_scene
    from ...core.tracker import DeepSortTracker

    n = max(args.objects)
    w, h = args.sizes[0]
    dim = args.embed_dim
    rng = np.random.default_rng(args.seed)
    base = rng.normal(size=(n + 1, dim)).astype(np.float32) / np.sqrt(dim)
    cfg = Config(model="none.pt", nn_budget=args.nn_budget)
    kw = dict(max_iou_distance=cfg.max_iou_distance, max_age=cfg.max_age, n_init=cfg.n_init)
    adapter = DeepSortTracker(cfg)
    budget = cfg.nn_budget or None  # 0 means unlimited, as in DeepSortTracker
    fast = FastTracker(SampleBank(cfg.max_cosine_distance, budget), **kw)
    ref = Reference(nn_matching.NearestNeighborDistanceMetric("cosine", cfg.max_cosine_distance, budget), **kw)
    times: Dict[str, List[float]] = {"adapter": [], "fast": [], "reference": []}
    identical = True
    for i, sf in enumerate(random_scene(w, h, n, args.association_frames, seed=args.seed + 7)):
        det = gt_detections(sf.objects, w, h)
        e = base[[o.obj_id for o in sf.objects]]
        e = e + rng.normal(0, 0.15 / np.sqrt(dim), size=e.shape).astype(np.float32)  # cosine distance ~0.01
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        ltwh = np.concatenate([det.xyxy[:, :2], det.xyxy[:, 2:] - det.xyxy[:, :2]], axis=1)
        t0 = time.perf_counter()
        adapter.update(det, e)
        t1 = time.perf_counter()
        fast.predict()
        fast.update_arrays(ltwh, det.scores, det.classes.tolist(), e)
        t2 = time.perf_counter()
        dets = [Detection(b, float(s), f, class_name=int(c)) for b, s, c, f in zip(ltwh, det.scores, det.classes, e)]
        ref.predict()
        ref.update(dets)
        t3 = time.perf_counter()
        if i >= 5:
            for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
                times[k].append(v * 1e3)
        identical &= [(t.track_id, t.state, t.time_since_update) for t in fast.tracks] == \
            [(t.track_id, t.state, t.time_since_update) for t in ref.tracks]
    out = {"tracks": n, "embedding_dim": dim, "frames": args.association_frames, "nn_budget": cfg.nn_budget,
           "tracker": type(adapter._t).__name__, "ours": summary(times["adapter"]), "fast": summary(times["fast"]),
           "deep_sort_realtime": summary(times["reference"]), "identical_tracks": bool(identical)}
    log.info("association at %d tracks: pipeline tracker (%s) %.2f ms, FastTracker %.2f ms, deep-sort-realtime "
             "%.2f ms, FastTracker identical %s", n, out["tracker"], out["ours"]["median"], out["fast"]["median"],
             out["deep_sort_realtime"]["median"], identical)
    return out
