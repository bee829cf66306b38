"""Section: every installed inference backend side by side, per stage (issue 11).

Detect: the COCO int8 ONNX (when present) on onnxruntime (what ultralytics
runs for an ``.onnx``) and on OpenVINO with a square and with a rectangular
input, and the YOLOv8n architecture as a ``.pt`` on torch and exported to
OpenVINO (into a temporary cache: the export time is reported). That ``.pt``
has random weights (nothing is downloaded), so at the floor threshold it
returns many boxes and its times include a large NMS; the table shows the
detections per frame. Embed: mobilenet
and OSNet on onnxruntime and OpenVINO at ``--embed-objects`` crops. Every frame
is a synthetic scene at each ``--sizes``; all configurations run in the same
process one after the other, so compare ratios within one run.
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from .common import log, summary


def _frames(size: Any, n: int, objects: int, seed: int) -> List[Any]:
    from ...core.synthetic import random_scene

    w, h = size
    return list(random_scene(w, h, objects, n, seed=seed))


def _time_detector(det: Any, frames: List[Any], imgsz: int, floor: float, warmup: int) -> Dict[str, float]:
    """Summary of the per-frame ms, plus ``dets``: mean detections per frame (NMS cost grows with them)."""
    times, counts = [], []
    for i, fr in enumerate(frames):
        t0 = time.perf_counter()
        n = len(det.detect(fr.image, imgsz, floor, 0.7, 300, None))
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
            counts.append(n)
    return {**summary(times), "dets": round(float(np.mean(counts)), 1) if counts else 0.0}


def _detector_configs(args: argparse.Namespace, tmp: Path) -> List[Dict[str, Any]]:
    """(label, model, kwargs) of each detector configuration that can run here."""
    from ...core.openvino_backend import openvino_version
    from .common import untrained_yolov8n

    ov = openvino_version() is not None
    out: List[Dict[str, Any]] = []
    coco = Path(args.coco_model)
    if coco.is_file():
        out.append({"model": "COCO int8 .onnx", "backend": "onnxruntime", "input": "square", "path": str(coco),
                    "kw": {"backend": "onnxruntime"}})
        if ov:
            out.append({"model": "COCO int8 .onnx", "backend": "openvino", "input": "square", "path": str(coco),
                        "kw": {"backend": "openvino", "rect": False}})
            out.append({"model": "COCO int8 .onnx", "backend": "openvino", "input": "rectangular",
                        "path": str(coco), "kw": {"backend": "openvino", "rect": True}})
    pt = untrained_yolov8n(tmp)
    out.append({"model": "YOLOv8n .pt", "backend": "torch", "input": "rectangular", "path": pt,
                "kw": {"backend": "torch"}})
    if ov:
        cache = str(tmp / "ov_cache")
        out.append({"model": "YOLOv8n .pt", "backend": "openvino", "input": "square", "path": pt,
                    "kw": {"backend": "openvino", "rect": False, "cache_dir": cache}})
        out.append({"model": "YOLOv8n .pt", "backend": "openvino", "input": "rectangular", "path": pt,
                    "kw": {"backend": "openvino", "rect": True, "cache_dir": cache}})
    return out


def bench_backends(args: argparse.Namespace, tmp: Path) -> Dict[str, Any]:
    """Median / p95 ms of detect per backend and size, embed per runtime, and the .pt export time."""
    from ...core.config import Config
    from ...core.detector import YoloDetector
    from ...core.embedders import make_embedder

    cfg = Config(model="none.pt")
    floor = min(cfg.conf_threshold, cfg.low_conf_threshold)  # what the pipeline runs the detector at
    n = args.backend_frames + args.warmup
    frames = {f"{w}x{h}": _frames((w, h), n, args.embed_objects, args.seed) for w, h in args.sizes}
    detect: List[Dict[str, Any]] = []
    for c in _detector_configs(args, tmp):
        t0 = time.perf_counter()
        logging.getLogger("mot_ros.core.openvino_backend").setLevel(logging.WARNING)
        det = YoloDetector(c["path"], "cpu", imgsz=args.imgsz, warmup=False, **c["kw"])
        load_s = time.perf_counter() - t0
        row = {k: c[k] for k in ("model", "backend", "input")}
        row.update(loaded=det.backend, load_s=round(load_s, 2), fallback=det.fallback_reason, sizes={})
        for size, frs in frames.items():
            row["sizes"][size] = _time_detector(det, frs, args.imgsz, floor, args.warmup)
        det.close()
        log.info("backends: %s on %s (%s input): %s (load %.1f s)", row["model"], row["loaded"], row["input"],
                 ", ".join(f"{s} {v['median']:.1f} ms" for s, v in row["sizes"].items()), load_s)
        detect.append(row)
    embed: List[Dict[str, Any]] = []
    first = next(iter(frames.values()))
    for kind, path in (("mobilenet", ""), ("osnet", str(args.osnet_model))):
        if kind == "osnet" and not Path(path).is_file():
            continue
        variants = [("onnxruntime", False, "onnxruntime"), ("openvino", False, "openvino")]
        if kind == "mobilenet":
            variants.append(("openvino", True, "openvino-int8"))
        for backend, int8, runtime in variants:
            emb = make_embedder(kind, "cpu", path, size=128, backend=backend, int8=int8)
            if emb.runtime != runtime:
                continue
            times = []
            for i, fr in enumerate(first):
                boxes = np.array([o.box() for o in fr.objects], np.float32).reshape(-1, 4)
                t0 = time.perf_counter()
                emb.embed(fr.image, boxes)
                if i >= args.warmup:
                    times.append((time.perf_counter() - t0) * 1e3)
            embed.append({"embedder": kind, "runtime": runtime, "objects": args.embed_objects,
                          "ms": summary(times)})
            emb.close()
    return {"floor": floor, "imgsz": args.imgsz, "detect": detect, "embed": embed}


def format_lines(res: Dict[str, Any]) -> List[str]:
    """Markdown lines of the backends section."""
    sizes = list(res["detect"][0]["sizes"]) if res["detect"] else []
    lines = ["", f"Inference backends (issue 11), detect at the pipeline's floor threshold {res['floor']:g}, imgsz "
                 f"{res['imgsz']}, median / p95 ms per frame", "",
             "| model | backend | network input | " + " | ".join(sizes) + " | detections per frame | load s |",
             "|---|---|---|" + "---|" * (len(sizes) + 2)]
    base: Optional[Dict[str, float]] = None
    for r in res["detect"]:
        cells = " | ".join(f"{r['sizes'][s]['median']:.1f} / {r['sizes'][s]['p95']:.1f}" for s in sizes)
        name = r["loaded"] + ("" if r["loaded"] == r["backend"] else f" (asked {r['backend']})")
        dets = " / ".join(f"{r['sizes'][s].get('dets', 0):g}" for s in sizes)
        lines.append(f"| {r['model']} | {name} | {r['input']} | {cells} | {dets} | {r['load_s']:.1f} |")
        if r["model"].startswith("COCO") and r["backend"] == "onnxruntime":
            base = {s: r["sizes"][s]["median"] for s in sizes}
    if base:
        for r in res["detect"]:
            if r["model"].startswith("COCO") and r["backend"] == "openvino":
                ratio = ", ".join(f"{s} {r['sizes'][s]['median'] / base[s]:.2f}" for s in sizes if base[s])
                lines.append(f"- OpenVINO {r['input']} / onnxruntime (COCO int8): {ratio}")
    if res["embed"]:
        lines += ["", "| embedder | runtime | crops | ms |", "|---|---|---|---|"]
        for e in res["embed"]:
            lines.append(f"| {e['embedder']} | {e['runtime']} | {e['objects']} | {e['ms']['median']:.1f} / "
                         f"{e['ms']['p95']:.1f} |")
    return lines
