"""Section 2b: association + Kalman of our deepsort and of deep-sort-realtime's tracker, on the same detections.

Ours runs as the pipeline runs it (the default stages) and with its modern stages off. That our deepsort
with the stages off makes deep-sort-realtime's decisions is tested in ``test/test_tracking_parity.py``;
this section only times the three.
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Dict, List

import numpy as np

from .common import gt_detections, log, summary


def bench_association(args: argparse.Namespace) -> Dict[str, Any]:
    """Time association + Kalman at the largest object count, three ways, on the same detections."""
    from deep_sort_realtime.deep_sort import nn_matching
    from deep_sort_realtime.deep_sort.detection import Detection
    from deep_sort_realtime.deep_sort.tracker import Tracker as Reference

    from ...core.config import Config
    from ...core.synthetic import random_scene
    from ...core.tracking import make_tracker
    from ...core.tracking.deepsort import STAGES_OFF

    n = max(args.objects)
    w, h = args.sizes[0]
    dim = args.embed_dim
    rng = np.random.default_rng(args.seed)
    base = rng.normal(size=(n + 1, dim)).astype(np.float32) / np.sqrt(dim)
    cfg = Config(model="none.pt", nn_budget=args.nn_budget)
    plain = cfg.replace(low_conf_threshold=cfg.conf_threshold, **STAGES_OFF)
    pipeline_tracker, stages_off = make_tracker(cfg), make_tracker(plain)
    kw = dict(max_iou_distance=cfg.max_iou_distance, max_age=cfg.max_age, n_init=cfg.n_init)
    budget = cfg.nn_budget or None  # 0 means unlimited
    ref = Reference(nn_matching.NearestNeighborDistanceMetric("cosine", cfg.max_cosine_distance, budget), **kw)
    times: Dict[str, List[float]] = {"ours": [], "stages_off": [], "reference": []}
    for i, sf in enumerate(random_scene(w, h, n, args.association_frames, seed=args.seed + 7)):
        det = gt_detections(sf.objects, w, h)
        e = base[[o.obj_id for o in sf.objects]]
        e = e + rng.normal(0, 0.15 / np.sqrt(dim), size=e.shape).astype(np.float32)  # cosine distance ~0.01
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        ltwh = np.concatenate([det.xyxy[:, :2], det.xyxy[:, 2:] - det.xyxy[:, :2]], axis=1)
        t0 = time.perf_counter()
        pipeline_tracker.update(det, e)
        t1 = time.perf_counter()
        stages_off.update(det, e)
        t2 = time.perf_counter()
        dets = [Detection(b, float(s), f, class_name=int(c)) for b, s, c, f in zip(ltwh, det.scores, det.classes, e)]
        ref.predict()
        ref.update(dets)
        t3 = time.perf_counter()
        if i >= 5:
            for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
                times[k].append(v * 1e3)
    out = {"tracks": n, "embedding_dim": dim, "frames": args.association_frames, "nn_budget": cfg.nn_budget,
           "tracker": cfg.tracker, "ours": summary(times["ours"]), "stages_off": summary(times["stages_off"]),
           "deep_sort_realtime": summary(times["reference"])}
    log.info("association at %d tracks: %s as the pipeline runs it %.2f ms, with its stages off %.2f ms, "
             "deep-sort-realtime %.2f ms", n, cfg.tracker, out["ours"]["median"], out["stages_off"]["median"],
             out["deep_sort_realtime"]["median"])
    return out
