"""Section 2: every embedder setting and each detector's forward pass on the same frames."""
from __future__ import annotations

import argparse
from typing import Any, Dict, List, Tuple

from .common import _time, gt_detections, log, summary


def bench_appearance(args: argparse.Namespace, detectors: Dict[str, Any]) -> Dict[str, Any]:
    """Each embedder setting, and each detector's forward pass, on the same frames."""
    from ...core.embedders import make_embedder
    from ...core.synthetic import random_scene

    w, h = args.sizes[0]
    frames = list(random_scene(w, h, args.embed_objects, args.frames, seed=args.seed + 1000))
    boxes = [gt_detections(f.objects, w, h).xyxy for f in frames]

    det_rows = {}
    for label, det in detectors.items():
        ms: List[float] = []
        for f in frames:
            ms += _time(lambda: det.detect(f.image, args.imgsz), 1, warmup=0)
        det_rows[label] = summary(ms[1:])
        log.info("detector %s: %.1f ms", label, det_rows[label]["median"])

    settings: List[Tuple[str, Dict[str, Any]]] = []
    for spec in args.embedders:
        kind, _, size = spec.partition("@")
        if kind == "osnet":
            if not args.osnet_model.is_file():
                log.info("osnet: %s absent; skipping", args.osnet_model)
                continue
            settings.append((spec, dict(kind="osnet", model_path=str(args.osnet_model))))
        elif kind in ("mobilenet", "histogram"):
            settings.append((spec, dict(kind=kind, size=int(size) if size else 128)))
        else:
            raise ValueError(f"--embedders: expected mobilenet[@SIZE], osnet or histogram, got {spec!r}")
    emb_rows = []
    for label, kw in settings:
        emb = make_embedder(device="cpu", **kw)
        ms = []
        for f, b in zip(frames, boxes):
            ms += _time(lambda: emb.embed(f.image, b), 1, warmup=1 if not ms else 0)
        emb.close()
        s = summary(ms)
        row = {"embedder": label, "objects": args.embed_objects, "size": f"{w}x{h}", "dim": int(emb.dim), **s}
        for dl, ds in det_rows.items():
            row[f"over_{dl}"] = round(s["median"] / ds["median"], 3) if ds["median"] else None
        emb_rows.append(row)
        log.info("embedder %s: %.1f ms at %d objects", label, s["median"], args.embed_objects)
    return {"detectors": det_rows, "embedders": emb_rows}
