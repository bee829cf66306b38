#!/usr/bin/env python3
r"""Whole tracking pipeline against ultralytics' bare detector on a CPU, on one MOTChallenge sequence.

Alternates, ``--rounds`` times: ultralytics' own ``YOLO(model).predict`` over
every frame of the sequence (the model file's own runtime: onnxruntime for an
``.onnx``), then ``mot_track mot`` on the same sequence and model (our whole
pipeline: detector, default tracker, appearance). Both run as separate
processes, one after the other, so that on a shared CPU each round's ratio
compares neighbouring minutes. Prints each round's medians and ratio, the
median ratio, and the HOTA that ``mot_track mot --eval`` reports.

    .venv/bin/python scripts/cpu_ratio.py ../shared/data/mot/TUD-Campus \\
        --model ../shared/data/models/yolov8n_coco_int8.onnx --set 'classes=[person]'
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List

PREDICT = r"""
import glob, sys, time
import cv2, numpy as np
from ultralytics import YOLO
model, seq, conf, imgsz = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
classes = [int(c) for c in sys.argv[5].split(",")] if sys.argv[5] else None
m = YOLO(model, task="detect")
ts = []
for p in sorted(glob.glob(seq + "/img1/*.jpg")):
    f = cv2.imread(p)
    t = time.perf_counter()
    m.predict(f, imgsz=imgsz, conf=conf, classes=classes, verbose=False)
    ts.append((time.perf_counter() - t) * 1e3)
print("predict_ms_per_frame=%.2f" % float(np.median(ts[1:])))
"""


def main(argv: List[str] | None = None) -> int:
    """Run the rounds and print the ratios."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sequence")
    p.add_argument("--model", required=True)
    p.add_argument("--set", action="append", default=[], help="mot_track parameter override (repeatable)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--predict-conf", type=float, default=None,
                   help="predict's conf (default: our conf_threshold default from the schema)")
    p.add_argument("--predict-classes", default="0", help="predict's classes, comma-separated indices")
    p.add_argument("--imgsz", type=int, default=640)
    args = p.parse_args(argv)
    if args.predict_conf is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from mot_ros.core.config import Config

        args.predict_conf = Config().conf_threshold
    env = dict(os.environ, YOLO_OFFLINE="1", YOLO_VERBOSE="False")
    py = sys.executable
    mot_track = [py, "-m", "mot_ros.tools.mot_track", "mot", args.sequence, "--model", args.model, "--eval", "-q"]
    for s in args.set:
        mot_track += ["--set", s]
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            out = subprocess.run([py, "-c", PREDICT, args.model, args.sequence, str(args.predict_conf),
                                  str(args.imgsz), args.predict_classes], env=env, capture_output=True, text=True,
                                 check=True).stdout
            predict_ms = float(re.search(r"predict_ms_per_frame=([\d.]+)", out).group(1))  # type: ignore[union-attr]
            out = subprocess.run(mot_track + ["-o", str(Path(tmp) / f"r{r}.txt")], env=env, capture_output=True,
                                 text=True, check=True).stdout
            ours = float(re.search(r"ms_per_frame=([\d.]+)", out).group(1))  # type: ignore[union-attr]
            hota = re.search(r"^\S+\s+([\d.]+)\s", out.splitlines()[-2])
            ratios.append(ours / predict_ms)
            sys.stdout.write(f"round {r + 1}: predict {predict_ms:.1f} ms, mot_track mot {ours:.1f} ms, ratio "
                             f"{ours / predict_ms:.3f}, HOTA {hota.group(1) if hota else '?'}\n")
            sys.stdout.flush()
    sys.stdout.write(f"median ratio {statistics.median(ratios):.3f} over {len(ratios)} rounds\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
