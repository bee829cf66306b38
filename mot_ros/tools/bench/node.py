"""Section 3: ``tracker_node`` in its own process over DDS, fed at a fixed rate."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import threading
import time
from typing import Any, Dict, List

import numpy as np

from ...ros.command import tracker_node_command
from .common import log, summary
from .ros_context import RosContext


def bench_node(args: argparse.Namespace, ros: RosContext, model: str, model_label: str, name: str,
               params: Dict[str, Any]) -> Dict[str, Any]:
    """Feed ``tracker_node`` (own process) at ``args.rate`` Hz for ``args.node_seconds``; collect latencies."""
    from ...core.synthetic import random_scene
    from ...ros.conversions import bgr_to_image

    w, h = args.node_size
    frames = [bgr_to_image(f.image) for f in random_scene(w, h, args.node_objects, 90, seed=args.seed + 3)]
    for m in frames:
        m.header.frame_id = "camera"
    cmd = tracker_node_command({"model": model, "qos_reliability": "reliable", "device": "cpu", **params})
    log.info("node run %r: %s", name, " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    node_log: List[str] = []
    threading.Thread(target=lambda: [node_log.append(line.rstrip()) for line in proc.stdout],  # type: ignore
                     daemon=True).start()
    try:
        end = time.monotonic() + args.node_start_timeout
        while ros.pub_in.get_subscription_count() == 0:
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"tracker_node did not subscribe to image (exit code {proc.poll()}); last "
                                   f"output: {node_log[-5:]}")
            time.sleep(0.1)
        time.sleep(1.0)  # let discovery settle both ways (detections back to us)
        with ros.lock:
            ros.received.clear()
            ros.diag = {}
        period = 1.0 / args.rate
        sent = 0
        t_start = time.time()
        t_next = time.monotonic()
        deadline = t_next + args.node_seconds
        clock = ros.node.get_clock()
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if now < t_next:
                time.sleep(t_next - now)
            msg = frames[sent % len(frames)]
            msg.header.stamp = clock.now().to_msg()
            ros.pub_in.publish(msg)
            sent += 1
            t_next += period
            if time.monotonic() - t_next > 1.0:  # we are the bottleneck: do not burst to catch up
                t_next = time.monotonic()
        t_send_end = time.time()
        time.sleep(max(2.0, 2.5 * args.diagnostics_period))  # last results and one more /diagnostics
        with ros.lock:
            rec = list(ros.received)
            diag = dict(ros.diag)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    lat = np.array([(arr - st) * 1e3 for arr, st in rec if st >= t_start - 1.0])
    rel = np.array([st - t_start for arr, st in rec if st >= t_start - 1.0])
    windows = []
    for w0 in np.arange(0.0, args.node_seconds, args.window):
        sel = lat[(rel >= w0) & (rel < w0 + args.window)]
        windows.append({"from_s": float(w0), "n": int(len(sel)), "p50": round(float(np.median(sel)), 2) if len(sel)
                        else None, "p95": round(float(np.percentile(sel, 95)), 2) if len(sel) else None})
    span = min(10.0, args.node_seconds / 3)
    first, last = lat[rel < span], lat[rel >= args.node_seconds - span]
    stage = {k[:-3]: float(v) for k, v in diag.items() if k.endswith("_ms") and not k.startswith("latency")}
    core = sum(stage.get(k, 0.0) for k in ("detect", "embed", "associate"))
    out = {
        "name": name, "model": model_label, "params": params, "size": f"{w}x{h}", "objects": args.node_objects,
        "rate_hz": args.rate, "seconds": round(t_send_end - t_start, 2), "sent": sent, "results": int(len(lat)),
        "node_received": int(diag.get("frames_received", -1)), "node_processed": int(diag.get("frames_processed", -1)),
        "node_dropped": int(diag.get("frames_dropped", -1)), "processed_hz": round(len(lat) / args.node_seconds, 2),
        "latency_ms": summary(lat),
        "latency_first_ms": summary(first), "latency_last_ms": summary(last), "trend_span_s": span,
        "latency_windows": windows, "node_stage_median_ms": stage,
        "node_total_over_core": round(stage["total"] / core, 3) if core and "total" in stage else None,
        "p95_over_processing": round(float(np.percentile(lat, 95)) / stage["total"], 3)
        if len(lat) and stage.get("total") else None,
    }
    log.info("node run %r: %d sent, %d results, latency p50 %.1f p95 %.1f max %.1f ms, node total %.1f ms",
             name, sent, len(lat), out["latency_ms"]["median"], out["latency_ms"]["p95"], out["latency_ms"]["max"],
             stage.get("total", float("nan")))
    return out
