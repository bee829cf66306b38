"""Shared pieces of the benchmark: paths, argument parsing, summaries, detector choice, timers."""
from __future__ import annotations

import argparse
import logging
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

SHARED_MODELS = Path(os.environ.get("MOT_ROS_SHARED_MODELS", "../shared/data/models"))
"""Optional models of the shared data set (COCO detector, OSNet), relative to the working directory by default."""
DEFAULT_COCO = SHARED_MODELS / "yolov8n_coco_int8.onnx"
DEFAULT_OSNET = SHARED_MODELS / "osnet_x0_25_msmt17.onnx"
DEFAULT_OUTPUT = Path("out") / "bench.json"
STAGES = ("convert", "detect", "embed", "associate", "messages", "publish", "draw")
PIPELINE_STAGES = ("convert", "detect", "embed", "associate", "messages", "publish")

log = logging.getLogger("mot_ros.bench")


def summary(values: Sequence[float]) -> Dict[str, float]:
    """Median, p95, mean and max of ``values`` (ms), rounded; zeros when empty."""
    if len(values) == 0:
        return {"median": 0.0, "p95": 0.0, "mean": 0.0, "max": 0.0, "n": 0}
    a = np.asarray(values, np.float64)
    return {"median": round(float(np.median(a)), 3), "p95": round(float(np.percentile(a, 95)), 3),
            "mean": round(float(a.mean()), 3), "max": round(float(a.max()), 3), "n": int(len(a))}


def parse_sizes(text: str) -> List[Tuple[int, int]]:
    """``640x480,1280x720`` -> [(640, 480), (1280, 720)]."""
    out = []
    for part in text.split(","):
        try:
            w, h = part.lower().split("x")
            out.append((int(w), int(h)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"--sizes: expected WIDTHxHEIGHT[,WIDTHxHEIGHT...], got {part!r}")
        if out[-1][0] < 32 or out[-1][1] < 32:
            raise argparse.ArgumentTypeError(f"--sizes: expected at least 32x32, got {part!r}")
    return out


def parse_ints(text: str) -> List[int]:
    """``1,10,50`` -> [1, 10, 50]."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def machine_info() -> Dict[str, Any]:
    """CPU, core count, load and library versions, for the JSON header."""
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: Dict[str, str] = {"python": platform.python_version(), "numpy": np.__version__,
                                "torch": torch.__version__}
    for mod in ("ultralytics", "onnxruntime", "cv2"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - optional
            pass
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available()
            else "none", "torch_threads": torch.get_num_threads(), "load_avg_start": list(os.getloadavg()),
            "platform": platform.platform(), "versions": versions}


@dataclass
class DetectorChoice:
    """The detector model file and how it was chosen."""

    path: str
    label: str


def untrained_yolov8n(directory: Path) -> str:
    """Save an untrained ``yolov8n.yaml`` (80 classes, random weights) as a .pt file; return its path."""
    path = directory / "yolov8n_untrained.pt"
    if not path.exists():
        from ultralytics import YOLO

        YOLO("yolov8n.yaml").save(str(path))
    return str(path)


def choose_detector(arg: str, coco: Path, shapes: Path, tmp: Path) -> Optional[DetectorChoice]:
    """Resolve ``--detector`` (auto, coco, torch, shapes, none or a path)."""
    if arg == "none":
        return None
    if arg == "auto":
        arg = "coco" if coco.is_file() else "torch"
    if arg == "coco":
        if not coco.is_file():
            raise ValueError(f"--detector coco: expected the COCO ONNX at {str(coco)!r}; it does not exist")
        return DetectorChoice(str(coco), "YOLOv8n COCO int8 ONNX (onnxruntime, CPU)")
    if arg == "torch":
        return DetectorChoice(untrained_yolov8n(tmp), "YOLOv8n untrained yolov8n.yaml (PyTorch fp32, CPU)")
    if arg == "shapes":
        if not shapes.is_file():
            raise ValueError(f"--detector shapes: expected the shapes model at {str(shapes)!r}; it does not exist")
        return DetectorChoice(str(shapes), "shapes detector (reduced YOLOv8n, PyTorch fp32, CPU)")
    if not Path(arg).is_file():
        raise ValueError(f"--detector: expected auto, coco, torch, shapes, none or a model file, got {arg!r}")
    return DetectorChoice(arg, f"{Path(arg).name}")


class Timer:
    """``with timer('stage'):`` appends the elapsed milliseconds to ``timer.ms['stage']``."""

    def __init__(self) -> None:
        self.ms: Dict[str, List[float]] = {}
        self._stage = ""
        self._t0 = 0.0

    def __call__(self, stage: str) -> "Timer":
        self._stage = stage
        return self

    def __enter__(self) -> "Timer":
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ms.setdefault(self._stage, []).append((time.perf_counter() - self._t0) * 1e3)


def gt_detections(objects: Sequence[Any], width: int, height: int) -> Any:
    """Ground-truth boxes of a synthetic frame as Detections (clipped to the image)."""
    from ...core.types import Detections

    boxes = np.array([o.box() for o in objects], np.float32).reshape(-1, 4)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return Detections(boxes, np.full(len(boxes), 0.9, np.float32), np.array([o.cls for o in objects], np.int64))


def _time(fn: Callable[[], Any], reps: int, warmup: int = 2) -> List[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out
