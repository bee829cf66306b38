"""Long runs and hostile input for the ROS-free core: memory, ID counting, emptying scenes."""
from __future__ import annotations

import gc

import numpy as np
import psutil

from mot_ros.core.config import Config
from mot_ros.core.drawing import Trails
from mot_ros.core.tracker import DeepSortTracker
from mot_ros.core.types import Detections


def test_soak_10000_frames_memory_flat_ids_monotonic() -> None:
    """20 objects that come and go for 10,000 frames, with nn_budget set."""
    rng = np.random.default_rng(0)
    tr = DeepSortTracker(Config(max_age=30, n_init=3, nn_budget=100))
    trails = Trails(30)
    n, dim = 20, 128
    pos = rng.uniform(50, 600, size=(n, 2))
    vel = rng.normal(0, 3, size=(n, 2))
    app = rng.normal(size=(n, dim)).astype(np.float32)
    alive = np.ones(n, bool)
    proc = psutil.Process()
    seen_max = 0
    rss_start = 0
    for f in range(10_000):
        if f % 50 == 0:  # churn: some objects leave, new ones (new appearance) enter
            flip = rng.random(n) < 0.2
            alive ^= flip
            app[flip] = rng.normal(size=(int(flip.sum()), dim))
            pos[flip] = rng.uniform(50, 600, size=(int(flip.sum()), 2))
        pos += vel
        vel[(pos < 0) | (pos > 640)] *= -1
        idx = np.flatnonzero(alive)
        boxes = np.concatenate([pos[idx] - 20, pos[idx] + 20], axis=1)
        emb = app[idx] + rng.normal(0, 0.05, size=(len(idx), dim)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        out = tr.update(Detections(boxes, np.full(len(idx), 0.9), np.zeros(len(idx))), emb)
        trails.update(out)
        ids = [o.track_id for o in out]
        assert len(ids) == len(set(ids)), "two live tracks share an ID"
        if ids:
            seen_max = max(seen_max, max(ids))
        if f == 1000:
            gc.collect()
            rss_start = proc.memory_info().rss
    gc.collect()
    growth_mb = (proc.memory_info().rss - rss_start) / 1e6
    assert growth_mb < 50, f"memory grew {growth_mb:.1f} MB over 9,000 frames"
    assert all(len(v) <= 100 for v in tr._t.metric.samples.values()), "nn_budget not enforced"
    assert tr.next_id > seen_max and tr.next_id > 100, "IDs keep counting up"
    for _ in range(40):  # the scene empties
        tr.update(Detections.empty(), np.zeros((0, dim), np.float32))
    assert tr.num_tracks == 0 and len(tr._t.metric.samples) == 0
