"""Command line of the benchmark: runs the sections, prints the table, writes the JSON."""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ...core.config import Config
from . import __doc__ as PACKAGE_DOC
from .appearance import bench_appearance
from .backends import bench_backends
from .association import bench_association
from .depth3d import bench_depth3d
from ...core.resources import FASTDDS_PROFILE, SHAPES_MODEL, share_path
from .common import (DEFAULT_COCO, DEFAULT_OSNET, DEFAULT_OUTPUT, choose_detector, log, machine_info, parse_ints,
                     parse_sizes, untrained_yolov8n)
from .memory import bench_memory
from .node import bench_node
from .report import format_table
from .ros_context import RosContext
from .stages import bench_stages


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mot_ros.tools.bench", description=PACKAGE_DOC.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file to write")
    p.add_argument("--sizes", type=parse_sizes, default=parse_sizes("640x480,1280x720"), help="frame sizes")
    p.add_argument("--objects", type=parse_ints, default=parse_ints("1,10,50"), help="objects per scene")
    p.add_argument("--frames", type=int, default=30, help="timed frames per size and object count")
    p.add_argument("--warmup", type=int, default=3, help="untimed frames first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--detector", default="auto", help="auto (COCO ONNX if present, else untrained yolov8n.yaml), "
                   "coco, torch (untrained yolov8n.yaml), shapes, none, or a model file")
    p.add_argument("--imgsz", type=int, default=640, help="detector input size")
    p.add_argument("--embedder", default="mobilenet", choices=("mobilenet", "osnet", "histogram"),
                   help="embedder of the stage table")
    p.add_argument("--embedder-size", type=int, default=128, help="mobilenet input size of the stage table")
    p.add_argument("--embedders", default="mobilenet@128,mobilenet@96,mobilenet@64,osnet,histogram",
                   type=lambda s: [x for x in s.split(",") if x], help="embedder settings compared")
    p.add_argument("--embed-objects", type=int, default=20, help="objects in the embedder comparison")
    p.add_argument("--embed-dim", type=int, default=1280, help="appearance dimension for association and memory")
    p.add_argument("--association-frames", type=int, default=100, help="frames of the association comparison")
    p.add_argument("--coco-model", type=Path, default=DEFAULT_COCO,
                   help="COCO detector of --detector auto/coco (directory: $MOT_ROS_SHARED_MODELS)")
    p.add_argument("--osnet-model", type=Path, default=DEFAULT_OSNET, help="OSNet embedder, skipped when absent")
    p.add_argument("--shapes-model", type=Path, default=None,
                   help="model of the node runs (default: share/mot_ros/" + SHAPES_MODEL + ")")
    p.add_argument("--node-seconds", type=float, default=30.0, help="seconds each node run is fed (0 skips)")
    p.add_argument("--rate", type=float, default=30.0, help="input rate of the node runs, Hz")
    p.add_argument("--node-size", type=lambda s: parse_sizes(s)[0], default=(640, 480))
    p.add_argument("--node-objects", type=int, default=10)
    p.add_argument("--node-runs", default="keeps_up:imgsz=320;embedder_size=64,overloaded:imgsz=640;embedder_size=128",
                   help="comma-separated NAME:param=value;param=value tracker_node configurations")
    p.add_argument("--node-start-timeout", type=float, default=120.0)
    p.add_argument("--window", type=float, default=5.0, help="seconds per latency window")
    p.add_argument("--diagnostics-period", type=float, default=1.0)
    p.add_argument("--memory-frames", type=int, default=10000, help="tracker frames of the memory run (0 skips)")
    p.add_argument("--memory-objects", type=int, default=20)
    p.add_argument("--churn", type=float, default=0.005, help="chance per object and frame to be replaced")
    p.add_argument("--nn-budget", type=int, default=Config().nn_budget,
                   help="nn_budget of the association and memory runs (default: the parameter default)")
    p.add_argument("--depth-objects", type=int, default=20, help="tracks of the 3D stage section")
    p.add_argument("--depth-frames", type=int, default=300, help="timed frames of the 3D stage section (0 skips)")
    p.add_argument("--backend-frames", type=int, default=20,
                   help="timed frames per backend and size in the backends section (0 or --detector none skips)")
    p.add_argument("--skip", default="", type=lambda s: {x for x in s.split(",") if x},
                   help="sections to skip: stages, appearance, backends, association, depth3d, node, memory")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def parse_node_runs(text: str) -> List[Tuple[str, Dict[str, Any]]]:
    """``light:imgsz=320;embedder=histogram,heavy:imgsz=640`` -> [(name, params), ...]."""
    from ...core.config import parse_override

    runs = []
    for item in [x for x in text.split(",") if x.strip()]:
        name, _, spec = item.partition(":")
        params = dict(parse_override(kv) for kv in spec.split(";") if kv.strip())
        runs.append((name.strip(), params))
    return runs


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; print the table; write the JSON."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s",
                        stream=sys.stderr)
    # An isolated DDS domain on this host for us and the node we start
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 200)))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    if args.shapes_model is None:
        args.shapes_model = share_path(SHAPES_MODEL)
    profile = share_path(FASTDDS_PROFILE)
    if profile.is_file():
        os.environ.setdefault("FASTRTPS_DEFAULT_PROFILES_FILE", str(profile))
    node_runs = parse_node_runs(args.node_runs)

    from ...core.detector import YoloDetector

    result: Dict[str, Any] = {"machine": machine_info(), "command": " ".join(sys.argv)}
    tmp = Path(tempfile.mkdtemp(prefix="mot_ros_bench_"))
    ros = RosContext()
    try:
        choice = choose_detector(args.detector, args.coco_model, args.shapes_model, tmp)
        detector = YoloDetector(choice.path, "cpu") if choice else None
        result["detector"] = choice.label if choice else "none"
        if "stages" not in args.skip:
            result["stages"] = bench_stages(args, detector, result["detector"], ros)
        if "appearance" not in args.skip:
            dets = {}
            if detector is not None:
                dets["coco_onnx" if choice and choice.path.endswith(".onnx") else "detector"] = detector
            if choice is not None and choice.path.endswith(".onnx"):  # also the faster detector on a CPU
                dets["torch_yolov8n"] = YoloDetector(untrained_yolov8n(tmp), "cpu")
            result["appearance"] = bench_appearance(args, dets)
        if "backends" not in args.skip and args.backend_frames > 0 and args.detector != "none":
            result["backends"] = bench_backends(args, tmp)
        if "association" not in args.skip:
            result["association"] = bench_association(args)
        if "depth3d" not in args.skip and args.depth_frames > 0:
            result["depth3d"] = bench_depth3d(args)
        if "node" not in args.skip and args.node_seconds > 0:
            model, label = str(args.shapes_model), "shapes detector"
            if not args.shapes_model.is_file():
                model, label = untrained_yolov8n(tmp), "untrained yolov8n (shapes model absent)"
                log.warning("node runs: %s is absent; using an untrained yolov8n", args.shapes_model)
            result["node"] = [bench_node(args, ros, model, label, name, params) for name, params in node_runs]
        if "memory" not in args.skip and args.memory_frames > 0:
            result["memory"] = bench_memory(args)
    finally:
        ros.close()
        shutil.rmtree(tmp, ignore_errors=True)
    result["machine"]["load_avg_end"] = list(os.getloadavg())
    table = format_table(result)
    result["table"] = table
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    sys.stdout.write(table + "\n")
    log.info("wrote %s", args.output)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
