"""YOLO detector with a choice of inference backend (torch, onnxruntime, OpenVINO, TensorRT), offline only.

torch, onnxruntime and TensorRT run through ultralytics' ``YOLO`` (which picks
the runtime from the file: ``.pt``, ``.onnx``, ``.engine``); OpenVINO runs
through :mod:`mot_ros.core.openvino_backend`. Environment: ultralytics reads
``YOLO_OFFLINE`` and ``YOLO_VERBOSE`` when it is first imported; this module
sets them (only when unset) right before that import, in :func:`import_yolo`,
never at its own import.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .types import Detections

log = logging.getLogger(__name__)

BACKENDS: Tuple[str, ...] = ("auto", "torch", "onnxruntime", "openvino", "tensorrt")
"""Choices of the ``backend`` parameter."""


def import_yolo() -> type:
    """Return ultralytics' ``YOLO`` class, imported with downloads and per-call logging switched off.

    ``YOLO_OFFLINE=1`` stops ultralytics from fetching anything (fonts, assets,
    update checks) and ``YOLO_VERBOSE=False`` from logging every prediction.
    Both are read at ultralytics' import, so they are set here, before it, and
    only when the user has not set them.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    from ultralytics import YOLO

    return YOLO


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


def model_kind(path: Path) -> str:
    """``pt``, ``onnx``, ``engine``, ``openvino_dir`` or ``other`` (another format ultralytics reads)."""
    if path.is_dir() and (path.name.endswith("_openvino_model") or any(path.glob("*.xml"))):
        return "openvino_dir"
    return {".pt": "pt", ".onnx": "onnx", ".engine": "engine"}.get(path.suffix.lower(), "other")


def backend_plan(path: Path, backend: str, device: str, openvino_installed: bool) -> List[str]:
    """Backends to try in order for ``path`` (the first that loads wins; later ones are fallbacks).

    ``auto`` prefers OpenVINO on the CPU for ``.pt`` and ``.onnx`` files when it
    is installed, and the file's native runtime (torch, onnxruntime, TensorRT)
    otherwise. An explicit backend is tried first and falls back to the native one.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {list(BACKENDS)}, got {backend!r}")
    kind = model_kind(path)
    native = {"pt": "torch", "onnx": "onnxruntime", "engine": "tensorrt", "openvino_dir": "openvino"}.get(kind, "torch")
    if backend == "auto":
        plan = ["openvino", native] if (device == "cpu" and openvino_installed and kind in ("pt", "onnx")) else [native]
    else:
        plan = [backend, native]
    return list(dict.fromkeys(plan))


def native_backend(model: str) -> str:
    """The runtime ultralytics itself uses for ``model``: torch, onnxruntime, tensorrt (or openvino for a directory).

    For comparisons with ultralytics' own pipeline (``YOLO(model).predict`` / ``.track``).
    """
    kind = model_kind(Path(model).expanduser())
    return {"onnx": "onnxruntime", "engine": "tensorrt", "openvino_dir": "openvino"}.get(kind, "torch")


DETECTOR_FIELDS = frozenset({"model", "device", "half", "backend", "cache_dir", "rect_input"})
"""Config fields whose change rebuilds the detector."""


class YoloDetector:
    """Runs a YOLO detection model on BGR frames through the configured inference backend.

    Args:
        model: Path of the weights (.pt, .onnx, .engine, or an ``*_openvino_model`` directory); nothing is
            downloaded.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        half: FP16 inference (CUDA; for OpenVINO exports, FP16 weights).
        warmup: Run one dummy inference so the first real frame is not slow.
        backend: ``auto``, ``torch``, ``onnxruntime``, ``openvino`` or ``tensorrt`` (see :func:`backend_plan`).
        cache_dir: Where OpenVINO exports are cached (empty: ``~/.cache/mot_ros``).
        imgsz: Input size the model is exported for and warmed up at.
        rect: OpenVINO: rectangular network inputs for rectangular frames (False pads to a square).

    Attributes:
        backend: The backend that loaded the model.
        fallback_reason: Why the preferred backend was not used ('' when it was).

    Raises:
        ModelError: Missing, corrupt or unsupported model, or unavailable device.
    """

    def __init__(self, model: str, device: str = "auto", half: bool = False, warmup: bool = True,
                 backend: str = "auto", cache_dir: str = "", imgsz: int = 640, rect: bool = True) -> None:
        from .openvino_backend import openvino_version

        path = check_model_path(model)
        self.model_path = str(path)
        self.device = resolve_device(device)
        self.half = bool(half and self.device.startswith("cuda"))
        self._model = None
        self._ov = None
        self.backend = ""
        self.fallback_reason = ""
        self._rect = bool(rect)
        plan = backend_plan(path, backend, self.device, openvino_version() is not None)
        reasons: List[str] = []
        for i, name in enumerate(plan):
            try:
                if name == "openvino":
                    self._load_openvino(path, half, cache_dir, imgsz)
                else:
                    self._load_ultralytics(path, name)
            except Exception as exc:
                self._model, self._ov = None, None
                reason = f"{name}: {exc}"
                if i + 1 == len(plan):
                    if isinstance(exc, ModelError) and not reasons:
                        raise
                    raise ModelError(f"model: could not load {model!r} with any backend "
                                     f"({'; '.join(reasons + [reason])})") from exc
                log.warning("backend %s cannot run %s (%s); falling back to %s", name, path.name, exc, plan[i + 1])
                reasons.append(reason)
                continue
            self.backend = name
            break
        self.fallback_reason = "; ".join(reasons)
        if half and not self.half and self.backend != "openvino":
            log.warning("half: FP16 needs a CUDA device; running FP32 on %s", self.device)
        if self.task != "detect":
            log.warning("model %s is a %s model; using its boxes only", model, self.task)
        log.info("detector %s: backend %s on %s", path.name, self.backend, self.device)
        if warmup:
            self.detect(np.zeros((imgsz, imgsz, 3), np.uint8) if self._ov is not None
                        else np.zeros((64, 64, 3), np.uint8), imgsz=imgsz if self._ov is not None else 64)

    @classmethod
    def from_config(cls, config: Any) -> "YoloDetector":
        """The detector described by a :class:`mot_ros.core.config.Config`."""
        return cls(config.model, config.device, config.half, backend=config.backend, cache_dir=config.cache_dir,
                   imgsz=config.imgsz, rect=config.rect_input)

    def _load_ultralytics(self, path: Path, backend: str) -> None:
        """Load with torch (.pt), onnxruntime (.onnx) or TensorRT (.engine) through ultralytics' YOLO."""
        kind = model_kind(path)
        wanted = {"torch": ("pt", "other"), "onnxruntime": ("onnx",), "tensorrt": ("engine",)}[backend]
        if kind not in wanted:
            raise ModelError(f"backend: {backend} cannot run a {path.suffix or 'directory'} model "
                             f"(expected {' or '.join(wanted)})")
        if backend == "tensorrt" and not self.device.startswith("cuda"):
            raise ModelError(f"backend: tensorrt needs a CUDA device, got {self.device!r}")
        try:
            YOLO = import_yolo()  # noqa: N806 - ultralytics' class name
            task = "detect" if path.suffix in (".onnx", ".engine", ".tflite") else None
            model = YOLO(str(path), task=task)
        except Exception as exc:  # ultralytics raises many types for a bad file
            raise ModelError(f"model: could not load {str(path)!r} ({type(exc).__name__}: {exc}); expected a "
                             f"YOLO weights file that ultralytics can read (.pt, .onnx, .engine)") from exc
        task = getattr(model, "task", "detect")
        if task not in ("detect", "segment", "pose", "obb"):
            raise ModelError(f"model: {str(path)!r} is a {task!r} model; expected a detection model "
                             f"(segment and pose models also work: their boxes are used)")
        self._model, self.task = model, task
        self.names: Dict[int, str] = {int(k): str(v) for k, v in dict(model.names).items()}

    def _load_openvino(self, path: Path, half: bool, cache_dir: str, imgsz: int) -> None:
        """Prepare and compile the model with OpenVINO on the CPU (export and cache a .pt first)."""
        from . import openvino_backend as ovb

        if ovb.openvino_version() is None:
            raise ovb.BackendError("the openvino package is not installed (pip install openvino)")
        cache = ovb.resolve_cache_dir(cache_dir)
        kind = model_kind(path)
        if kind == "pt":
            entry = ovb.export_pt(path, imgsz, half, cache)
            try:
                self._ov_from_dir(entry, dynamic=True)
            except Exception as exc:  # an entry that passed the marker check but cannot be read
                log.warning("OpenVINO: cached export %s is unreadable (%s); exporting again", entry, exc)
                self._ov_from_dir(ovb.export_pt(path, imgsz, half, cache, rebuild=True), dynamic=True)
        elif kind == "openvino_dir":
            self._ov_from_dir(path, dynamic=None)
        elif kind == "onnx":
            meta = ovb.onnx_metadata(path)
            if "names" not in meta:
                raise ovb.BackendError(f"{path.name} carries no class names in its metadata (not an ultralytics "
                                       f"export)")
            self.task = meta.get("task", "detect")
            if self.task not in ("detect", "segment", "pose"):
                raise ovb.BackendError(f"task {self.task!r} is not supported by the OpenVINO runner")
            self.names = ovb._parse_names(meta["names"])
            self._ov = ovb.OpenVinoYolo(path, self.names, int(meta.get("stride", 32)), dynamic=False,
                                        square=not self._rect)
            self._check_ov_output()
        else:
            raise ovb.BackendError(f"cannot run a {path.suffix or 'directory'} model (expected .pt, .onnx or an "
                                   f"*_openvino_model directory)")
        self.device = "cpu"
        self.half = False

    def _ov_from_dir(self, directory: Path, dynamic: Optional[bool]) -> None:
        import yaml

        from . import openvino_backend as ovb

        meta_path = directory / "metadata.yaml"
        if not meta_path.is_file():
            raise ovb.BackendError(f"{directory} has no metadata.yaml (expected an ultralytics OpenVINO export)")
        meta = yaml.safe_load(meta_path.read_text()) or {}
        self.task = str(meta.get("task", "detect"))
        if self.task not in ("detect", "segment", "pose"):
            raise ovb.BackendError(f"task {self.task!r} is not supported by the OpenVINO runner")
        self.names = ovb._parse_names(meta.get("names", {}))
        if dynamic is None:
            dynamic = bool((meta.get("args") or {}).get("dynamic", False))
        self._ov = ovb.OpenVinoYolo(directory, self.names, int(meta.get("stride", 32)), dynamic=dynamic,
                                    square=not self._rect)
        self._check_ov_output()

    def _check_ov_output(self) -> None:
        from .openvino_backend import BackendError

        assert self._ov is not None
        rank, rows = self._ov.output_rank_and_rows
        if rank != 3 or (rows is not None and rows < 4 + len(self.names)):
            raise BackendError(f"output of rank {rank} with {rows} rows is not a YOLOv8-style (1, 4 + "
                               f"{len(self.names)} classes, anchors) tensor")

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
        if self._ov is not None:
            return self._ov.predict(frame, imgsz, conf, iou, max_det, classes)
        extra = {"half": True} if self.half else {}  # ultralytics 8.4 warns on every half=False
        res = self._model.predict(frame, imgsz=imgsz, conf=conf, iou=iou, max_det=max_det, classes=classes,
                                  device=self.device, verbose=False, **extra)[0]
        boxes = res.boxes
        if boxes is None or len(boxes) == 0:
            return Detections.empty()
        return Detections(boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy())

    def close(self) -> None:
        """Release the model (and its GPU memory)."""
        self._model = None
        if self._ov is not None:
            self._ov.close()
            self._ov = None
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()
