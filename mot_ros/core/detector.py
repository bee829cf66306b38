"""YOLO detector wrapper around ultralytics, with offline-only model loading."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from .types import Detections

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")

log = logging.getLogger(__name__)


class ModelError(ValueError):
    """The configured model cannot be loaded; the message names the parameter and the fix."""


def resolve_device(device: str) -> str:
    """Map the ``device`` parameter to a torch device string.

    ``auto`` picks ``cuda:0`` when a GPU is usable, else ``cpu``. An explicit
    ``cuda``/``cuda:N`` on a machine without that GPU is refused rather than
    silently falling back, so a robot never runs on the CPU by surprise.

    Raises:
        ModelError: When a CUDA device is requested but not available.
    """
    import torch

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = 0 if device == "cuda" else int(device.split(":", 1)[1])
    if n == 0:
        raise ModelError(f"device: {device!r} was requested but no CUDA GPU is available on this machine "
                         f"(torch {torch.__version__}, cuda available: False); use device:=cpu or device:=auto")
    if index >= n:
        raise ModelError(f"device: {device!r} was requested but only {n} CUDA device(s) exist "
                         f"(expected cuda:0..cuda:{n - 1})")
    return f"cuda:{index}"


def check_model_path(model: str) -> Path:
    """Return the model file's path, or raise ModelError saying how to fix it."""
    p = Path(model).expanduser()
    if not p.exists():
        hint = ""
        if p.name.startswith(("yolov", "yolo11", "yolo12")) and p.suffix == ".pt" and not p.is_absolute():
            hint = (" mot_ros never downloads weights: copy the file onto the robot (e.g. from a machine with "
                    "internet, `yolo export` or the ultralytics releases page) and pass its absolute path")
        raise ModelError(f"model: file {model!r} not found (resolved to {str(p.resolve())!r}).{hint} "
                         f"Set the `model` parameter to an existing .pt, .onnx or .engine file.")
    if p.is_dir() and p.suffix not in (".engine",) and not (p / "metadata.yaml").exists():
        raise ModelError(f"model: {model!r} is a directory; expected a weights file (.pt, .onnx, .engine) "
                         f"or an exported model directory with metadata.yaml")
    return p


class YoloDetector:
    """Runs an ultralytics YOLO model on BGR frames.

    Args:
        model: Path of the weights; nothing is downloaded.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        half: FP16 inference (CUDA only).
        warmup: Run one dummy inference so the first real frame is not slow.

    Raises:
        ModelError: Missing, corrupt or unsupported model, or unavailable device.
    """

    def __init__(self, model: str, device: str = "auto", half: bool = False, warmup: bool = True) -> None:
        path = check_model_path(model)
        self.device = resolve_device(device)
        self.half = bool(half and self.device.startswith("cuda"))
        if half and not self.half:
            log.warning("half: FP16 needs a CUDA device; running FP32 on %s", self.device)
        try:
            from ultralytics import YOLO

            task = "detect" if path.suffix in (".onnx", ".engine", ".tflite") else None
            self._model = YOLO(str(path), task=task)
        except Exception as exc:  # ultralytics raises many types for a bad file
            raise ModelError(f"model: could not load {model!r} ({type(exc).__name__}: {exc}); expected a "
                             f"YOLO weights file that ultralytics can read (.pt, .onnx, .engine)") from exc
        self.task = getattr(self._model, "task", "detect")
        if self.task not in ("detect", "segment", "pose", "obb"):
            raise ModelError(f"model: {model!r} is a {self.task!r} model; expected a detection model "
                             f"(segment and pose models also work: their boxes are used)")
        if self.task != "detect":
            log.warning("model %s is a %s model; using its boxes only", model, self.task)
        self.model_path = str(path)
        self.names: Dict[int, str] = {int(k): str(v) for k, v in dict(self._model.names).items()}
        if warmup:
            self.detect(np.zeros((64, 64, 3), np.uint8), imgsz=64)

    def class_indices(self, classes: Sequence[str]) -> Optional[List[int]]:
        """Map class names or index strings to indices; None means all classes.

        Raises:
            ValueError: For an unknown name or an index the model does not have.
        """
        if not classes:
            return None
        by_name = {v.lower(): k for k, v in self.names.items()}
        out: List[int] = []
        for c in classes:
            s = str(c).strip()
            if s.isdigit():
                idx = int(s)
                if idx not in self.names:
                    raise ValueError(f"classes: index {idx} is not a class of this model; expected 0.."
                                     f"{max(self.names)}")
            elif s.lower() in by_name:
                idx = by_name[s.lower()]
            else:
                shown = list(self.names.values())[:20]
                raise ValueError(f"classes: unknown class name {s!r}; expected one of this model's names, "
                                 f"e.g. {shown}")
            out.append(idx)
        return sorted(set(out))

    def detect(self, frame: np.ndarray, imgsz: int = 640, conf: float = 0.25, iou: float = 0.7,
               max_det: int = 300, classes: Optional[List[int]] = None) -> Detections:
        """Detect objects in a BGR uint8 frame; boxes are in the frame's pixels."""
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame: expected an (H, W, 3) BGR image, got shape {frame.shape}")
        extra = {"half": True} if self.half else {}  # ultralytics 8.4 warns on every half=False
        res = self._model.predict(frame, imgsz=imgsz, conf=conf, iou=iou, max_det=max_det, classes=classes,
                                  device=self.device, verbose=False, **extra)[0]
        boxes = res.boxes
        if boxes is None or len(boxes) == 0:
            return Detections.empty()
        return Detections(boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy())

    def close(self) -> None:
        """Release the model (and its GPU memory)."""
        self._model = None  # type: ignore[assignment]
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()
