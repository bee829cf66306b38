"""Section: the 3D stage (issue 10) per colour frame at ``--depth-objects`` confirmed tracks.

Times, per frame of a synthetic RGB-D scene (``core.depth_synthetic``, depth 16UC1
at the colour resolution as an aligned RealSense stream sends it): decode (the
depth message's bytes to metres), sync (queue the depth frame and pair it),
update (robust depth per box, back-projection and the 3D Kalman filters:
``Tracker3D.update``), detections_3d (the Detection3DArray, published every frame)
and tracks_3d+markers (the Odometry messages and the MarkerArray, built only while
they have subscribers), with the node's message reuse (``Messages3D``). The tracks
are the ground-truth boxes, so exactly N objects reach the stage. Each part is
timed in wall-clock time and in the thread's CPU time; on a loaded machine (other
processes on the same cores) the CPU time is the stage's cost, the wall-clock time
includes waiting for a core.
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Dict, List

import numpy as np

from .common import log, summary

LOOP = 60
"""Frames of the scene, played in a loop (the objects stay in view)."""
PARTS = ("sync", "decode", "update", "detections_3d", "tracks_3d+markers")


def _objects(n: int, seed: int) -> List[Any]:
    from ...core.depth_synthetic import Object3DTruth

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        z = float(rng.uniform(1.5, 8.0))
        side = float(rng.uniform(40, 80)) * z / 525.0  # 40 to 80 px wide
        x, y = float(rng.uniform(-0.45, 0.45)) * z, float(rng.uniform(-0.35, 0.35)) * z
        v = tuple(float(c) for c in rng.uniform(-0.3, 0.3, 3))
        out.append(Object3DTruth(i + 1, int(rng.integers(0, 3)), (x, y, z), side, 0.2, v))  # type: ignore[arg-type]
    return out


def bench_depth3d(args: argparse.Namespace) -> Dict[str, Any]:
    """Median / p95 ms of each part of the 3D stage, and their sum per frame."""
    from std_msgs.msg import Header

    from ...core.config import Config
    from ...core.depth3d import Depth3DParams, Tracker3D, decode_depth, encode_depth
    from ...core.depth_synthetic import default_camera, rgbd_scene
    from ...core.sync import StampSync
    from ...core.types import TrackedObject
    from ...ros.depth_io import Messages3D

    n = args.depth_objects
    w, h = 640, 480
    cam = default_camera(w, h)
    cfg = Config(model="none.pt")
    tracker = Tracker3D(Depth3DParams.from_config(cfg), {0: "circle", 1: "square", 2: "triangle"})
    sync: StampSync[bytes] = StampSync(cfg.depth_sync_slop, cfg.depth_queue_size)
    scene = list(rgbd_scene(w, h, (w, h), n_frames=LOOP, objects=_objects(n, args.seed), dt=1.0 / 30.0))
    times: Dict[str, List[float]] = {k: [] for k in PARTS}
    cpu: Dict[str, List[float]] = {k: [] for k in PARTS}
    total: List[float] = []
    total_cpu: List[float] = []
    header = Header(frame_id="camera_color_optical_frame")
    n_objects: List[int] = []
    messages = Messages3D()
    encoded = [encode_depth(fr.depth, "16UC1") for fr in scene]
    for i in range(args.warmup + args.depth_frames):
        fr = scene[i % LOOP]  # the scene loops (objects jump back), the stamps keep going
        stamp = 1000.0 + i / 30.0
        dh, dw, enc, step, data = encoded[i % LOOP]
        tracks = [TrackedObject(s.obj_id, s.cls, 0.9, s.box()) for s in fr.shapes]
        header.stamp.sec, header.stamp.nanosec = int(stamp), int((stamp % 1) * 1e9)
        marks = [(time.perf_counter(), time.thread_time())]
        sync.add(stamp, data)
        raw = sync.take(stamp)
        marks.append((time.perf_counter(), time.thread_time()))
        depth = decode_depth(dw, dh, enc, step, raw)  # type: ignore[arg-type]
        marks.append((time.perf_counter(), time.thread_time()))
        out = tracker.update(tracks, depth, cam, (w, h), stamp)
        marks.append((time.perf_counter(), time.thread_time()))
        messages.detections(header, out.objects)
        marks.append((time.perf_counter(), time.thread_time()))
        messages.odometry(header, out.objects)
        messages.markers(header, out.objects, tracker.class_names)
        marks.append((time.perf_counter(), time.thread_time()))
        if i < args.warmup:
            continue
        n_objects.append(len(out.objects))
        for j, k in enumerate(PARTS):
            times[k].append((marks[j + 1][0] - marks[j][0]) * 1e3)
            cpu[k].append((marks[j + 1][1] - marks[j][1]) * 1e3)
        total.append((marks[-1][0] - marks[0][0]) * 1e3)
        total_cpu.append((marks[-1][1] - marks[0][1]) * 1e3)
    res = {"objects": n, "objects_3d_median": float(np.median(n_objects)) if n_objects else 0.0,
           "size": f"{w}x{h}", "depth": "16UC1 640x480",
           "parts": {k: summary(v) for k, v in times.items()}, "total": summary(total),
           "parts_cpu": {k: summary(v) for k, v in cpu.items()}, "total_cpu": summary(total_cpu)}
    log.info("3D stage at %d tracks: %.2f ms CPU (%.2f ms wall) median per frame (CPU: %s)", n,
             res["total_cpu"]["median"], res["total"]["median"],
             ", ".join(f"{k} {res['parts_cpu'][k]['median']:.2f}" for k in PARTS))
    return res


def format_lines(res: Dict[str, Any]) -> List[str]:
    """Markdown lines of the 3D section for the report."""
    lines = ["", f"3D stage (issue 10) at {res['objects']} tracks, colour {res['size']}, depth {res['depth']}, "
                 "median / p95 ms per frame", "",
             "| clock | " + " | ".join(PARTS) + " | total |", "|---" * (len(PARTS) + 2) + "|"]
    for clock, parts, total in (("CPU", "parts_cpu", "total_cpu"), ("wall", "parts", "total")):
        cells = " | ".join(f"{res[parts][k]['median']:.2f} / {res[parts][k]['p95']:.2f}" for k in PARTS)
        lines.append(f"| {clock} | {cells} | {res[total]['median']:.2f} / {res[total]['p95']:.2f} |")
    return lines
