"""Section 1: per-stage timings on synthetic scenes at each size and object count."""
from __future__ import annotations

import argparse
from typing import Any, Dict, List

import numpy as np

from .common import PIPELINE_STAGES, STAGES, Timer, gt_detections, log, summary
from .ros_context import RosContext


def bench_stages(args: argparse.Namespace, detector: Any, det_label: str, ros: "RosContext") -> List[Dict[str, Any]]:
    """Per-stage timings for every size and object count."""
    from std_msgs.msg import Header

    from ...core.config import Config
    from ...core.pipeline import Pipeline
    from ...core.synthetic import random_scene
    from ...core.image_codec import image_to_bgr
    from ...ros.conversions import bgr_to_image, tracks_to_msg

    rows = []
    config = Config(model=detector.model_path if detector else "none.pt", device="cpu", imgsz=args.imgsz,
                    embedder=args.embedder, embedder_size=args.embedder_size)
    pipeline = Pipeline(config, detector=detector, load_detector=False)
    for (w, h) in args.sizes:
        for n in args.objects:
            pipeline.reset()  # no tracks or appearance samples from the previous scene
            timer = Timer()
            totals: List[float] = []
            overheads: List[float] = []  # (convert + core + messages + publish) / core, per frame
            scene = random_scene(w, h, n, args.frames + args.warmup, seed=args.seed + n)
            for i, sf in enumerate(scene):
                header = Header(frame_id="camera")
                header.stamp.sec, header.stamp.nanosec = 1000 + i // 30, (i % 30) * 33_333_333
                msg = bgr_to_image(sf.image, header)
                gt = gt_detections(sf.objects, w, h)
                t = Timer()
                with t("convert"):
                    frame = image_to_bgr(msg)
                if detector is not None:
                    with t("detect"):
                        pipeline.detect(frame)
                result = pipeline.process(frame, 1000 + i / 30.0, detections=gt)
                t.ms["embed"] = [result.timings_ms["embed"]]
                t.ms["associate"] = [result.timings_ms["associate"]]
                with t("messages"):
                    det_msg = tracks_to_msg(header, result.tracks)
                with t("publish"):
                    ros.pub_det.publish(det_msg)
                with t("draw"):
                    ros.pub_img.publish(bgr_to_image(pipeline.annotate(frame, result), header))
                if i < args.warmup:
                    continue
                for k, v in t.ms.items():
                    timer.ms.setdefault(k, []).extend(v)
                totals.append(sum(t.ms[k][0] for k in PIPELINE_STAGES if k in t.ms))
                core = sum(t.ms[k][0] for k in ("detect", "embed", "associate") if k in t.ms)
                overheads.append(totals[-1] / core if core > 0 else 0.0)
            stages = {k: summary(timer.ms.get(k, [])) for k in STAGES if k in timer.ms}
            total = summary(totals)
            det_med = stages.get("detect", {}).get("median", 0.0)
            row = {"size": f"{w}x{h}", "objects": n, "frames": len(totals), "detector": det_label,
                   "embedder": args.embedder + (f"@{pipeline.embedder.size}" if hasattr(pipeline.embedder, "size")
                                                else ""),
                   "stages": stages, "pipeline": total,
                   "pipeline_over_detector": round(total["median"] / det_med, 3) if det_med else None,
                   "ros_over_core": round(float(np.median(overheads)), 3) if overheads else None,
                   "tracks_out": len(result.tracks)}
            rows.append(row)
            log.info("stages %sx%s, %d objects: pipeline %.1f ms (detect %.1f, embed %.1f, associate %.2f)",
                     w, h, n, total["median"], det_med, stages["embed"]["median"], stages["associate"]["median"])
    pipeline.embedder.close()  # the detector is shared with the other sections
    return rows
