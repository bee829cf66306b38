"""YOLO detection on the CPU through OpenVINO: model preparation, export cache and the runner.

Three kinds of model reach OpenVINO here:

* ``.onnx`` (for example our int8 COCO model): read directly. A static square
  ultralytics export has its anchor grid baked in as constants; for a
  rectangular input (640x480, 1280x720) the graph is rewritten in memory for
  that shape (anchor and stride constants recomputed, reshape sizes adjusted),
  so a 640x480 frame runs on a 640x480 tensor instead of a padded 640x640 one.
* ``.pt``: exported once with ultralytics' own exporter (``format='openvino'``,
  dynamic shapes) into the cache directory, keyed by the weights' SHA-256,
  ``imgsz``, precision and the exporter and runtime versions.
* an ultralytics ``*_openvino_model/`` directory: loaded as it is.

Letterboxing happens in numpy/cv2 (as ultralytics does it, pad value 114); the
colour conversion and scaling run inside OpenVINO (its pre-processing API);
the output is decoded and suppressed like ``ultralytics.utils.nms`` (best
class, class-offset NMS) so that the detections match ultralytics' own.
Inference runs in f32: on CPUs with bf16 units OpenVINO would otherwise
default to bf16, which moves scores and embeddings by a few per cent.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from .types import Detections

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
"""Bumped when the layout of a cache entry changes; older entries are rebuilt."""

MAX_WH = 7680
"""Class offset of the class-aware NMS (ultralytics' value)."""

MAX_NMS = 30000
"""Most candidate boxes entering NMS (ultralytics' value)."""


class BackendError(RuntimeError):
    """A backend cannot run this model; the message says why (the caller falls back)."""


def openvino_version() -> Optional[str]:
    """The installed OpenVINO version, or None when it is not installed."""
    try:
        import openvino
    except ImportError:
        return None
    return str(openvino.__version__)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mot_ros`` or ``~/.cache/mot_ros``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "mot_ros"


def resolve_cache_dir(cache_dir: str) -> Path:
    """The ``cache_dir`` parameter as a path (empty: :func:`default_cache_dir`)."""
    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# -- model metadata -----------------------------------------------------------------------------

def _parse_names(value: Any) -> Dict[int, str]:
    if isinstance(value, str):
        import ast

        value = ast.literal_eval(value)
    if isinstance(value, (list, tuple)):
        value = dict(enumerate(value))
    return {int(k): str(v) for k, v in dict(value).items()}


def onnx_metadata(path: Path) -> Dict[str, str]:
    """The metadata_props of an ONNX file (ultralytics writes names, stride, task, imgsz there)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


# -- rectangular inputs for static square ONNX exports -------------------------------------------

def yolo_anchors(height: int, width: int, strides: Tuple[int, ...] = (8, 16, 32)) -> Tuple[np.ndarray, np.ndarray]:
    """Anchor centres (2, A) and strides (1, A) of a YOLOv8 head for an input of height x width."""
    points, steps = [], []
    for s in strides:
        yy, xx = np.meshgrid(np.arange(height // s) + 0.5, np.arange(width // s) + 0.5, indexing="ij")
        points.append(np.stack([xx.ravel(), yy.ravel()]))
        steps.append(np.full(xx.size, s))
    return np.concatenate(points, 1).astype(np.float32), np.concatenate(steps)[None].astype(np.float32)


def rectify_onnx(model: Any, height: int, width: int) -> Any:
    """Rewrite a static square ultralytics YOLOv8 ONNX graph for a height x width input.

    The exporter bakes the anchor grid (centres and strides) and the DFL
    reshape sizes of the training shape into constants. They are recomputed
    for the new shape; every other constant is left alone. A constant that
    mentions the anchor count but is neither recognised anchors nor an int64
    shape makes this refuse, so an unknown head is never silently mangled.

    Raises:
        BackendError: The graph is not a recognisable static YOLOv8 detection export.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())  # work on a copy
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[2] <= 0 or dims[3] <= 0 or len(model.graph.input) != 1:
        raise BackendError(f"expected one static NCHW input, got {dims}")
    p0, s0 = yolo_anchors(dims[2], dims[3])
    p1, s1 = yolo_anchors(height, width)
    a0, a1 = p0.shape[1], p1.shape[1]
    out_dims = model.graph.output[0].type.tensor_type.shape.dim
    if len(out_dims) != 3 or out_dims[2].dim_value != a0:
        raise BackendError(f"expected an output (1, 4 + classes, {a0}), got "
                           f"{[d.dim_value or d.dim_param for d in out_dims]}")
    found = {"points": 0, "strides": 0}
    for t in model.graph.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype == np.int64 and a.ndim == 1 and a0 in a.tolist():
            new = np.where(a == a0, a1, a)
        elif a0 in a.shape:
            if a.size == p0.size and np.array_equal(a.reshape(p0.shape), p0):
                new, key = p1.reshape(*a.shape[:-1], a1), "points"
            elif a.size == s0.size and np.array_equal(a.reshape(s0.shape), s0):
                new, key = s1.reshape(*a.shape[:-1], a1), "strides"
            else:
                raise BackendError(f"constant {t.name!r} of shape {a.shape} is not a recognised anchor grid")
            found[key] += 1
        else:
            continue
        t.CopyFrom(numpy_helper.from_array(new.astype(a.dtype), t.name))
    for n in model.graph.node:
        if n.op_type == "Constant" and any(a0 in numpy_helper.to_array(at.t).shape for at in n.attribute
                                           if at.name == "value"):
            raise BackendError(f"Constant node {n.name!r} holds an anchor-sized tensor that is not rewritten")
    if not found["points"] or not found["strides"]:
        raise BackendError(f"anchor constants not found (found {found})")
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = height
    model.graph.input[0].type.tensor_type.shape.dim[3].dim_value = width
    out_dims[2].dim_value = a1
    del model.graph.value_info[:]
    return model


# -- .pt export cache -------------------------------------------------------------------------

def _entry_valid(entry: Path, digest: str) -> bool:
    marker = entry / "mot_ros_cache.json"
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    xml = entry / info.get("xml", "")
    return (info.get("format") == CACHE_FORMAT and info.get("sha256") == digest and xml.is_file()
            and xml.with_suffix(".bin").is_file() and (entry / "metadata.yaml").is_file())


def export_pt(weights: Path, imgsz: int, half: bool, cache_dir: Path, rebuild: bool = False) -> Path:
    """The OpenVINO IR directory of ``weights``, exported on the first call and cached.

    The entry's name holds the weights' SHA-256, ``imgsz``, the precision and
    the exporter/runtime versions, so a changed file or an upgrade never reuses
    an old export. The export runs in a temporary directory inside the cache and
    is moved into place only when complete, with a marker written last; an entry
    without a valid marker (interrupted, truncated, edited) is rebuilt.

    Args:
        weights: The ``.pt`` file (may be on a read-only file system).
        imgsz: Export input size (the IR itself keeps dynamic height and width).
        half: FP16 weights in the IR.
        cache_dir: Root of the cache.
        rebuild: Drop an existing entry first (after a failed read of it).

    Raises:
        BackendError: The cache is not writable or the exporter failed (the reason is in the message).
    """
    import ultralytics

    digest = file_digest(weights)
    precision = "fp16" if half else "fp32"
    ov_release = str(openvino_version()).split("-")[0]  # "2026.4.1-22982-e213...-releases/2026/4": keep 2026.4.1
    key = f"{weights.stem}-{digest[:16]}-{imgsz}-{precision}-ov{ov_release}-ul{ultralytics.__version__}"
    entry = cache_dir / "openvino" / key
    if not rebuild and _entry_valid(entry, digest):
        log.info("OpenVINO: using the cached export %s", entry)
        return entry
    if entry.exists():
        log.warning("OpenVINO: cache entry %s is incomplete or stale; rebuilding it", entry)
        shutil.rmtree(entry, ignore_errors=True)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=entry.parent))
    except OSError as exc:
        raise BackendError(f"cache_dir {str(cache_dir)!r} is not writable ({exc.strerror or exc})") from exc
    try:
        t0 = time.perf_counter()
        log.warning("OpenVINO: exporting %s (imgsz %d, %s) once into %s; later starts reuse it",
                    weights, imgsz, precision, entry)
        src = work / f"{weights.stem}.pt"  # the exporter writes beside its input, so export a copy
        shutil.copyfile(weights, src)
        from .detector import import_yolo

        extra = {"quantize": 16} if half else {}
        out = Path(import_yolo()(str(src)).export(format="openvino", imgsz=imgsz, dynamic=True, device="cpu",
                                                  verbose=False, **extra))
        xmls = sorted(out.glob("*.xml"))
        if not xmls or not (out / "metadata.yaml").is_file():
            raise BackendError(f"the exporter wrote no .xml/metadata.yaml into {out}")
        (out / "mot_ros_cache.json").write_text(json.dumps(
            {"format": CACHE_FORMAT, "sha256": digest, "source": str(weights), "xml": xmls[0].name,
             "imgsz": imgsz, "precision": precision}))
        os.replace(out, entry)
        log.warning("OpenVINO: export of %s finished in %.1f s", weights.name, time.perf_counter() - t0)
        return entry
    except BackendError:
        raise
    except Exception as exc:  # the exporter raises many types
        raise BackendError(f"OpenVINO export of {str(weights)!r} failed ({type(exc).__name__}: {exc})") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- the runner ----------------------------------------------------------------------------------

def letterbox_shape(shape: Tuple[int, int], imgsz: int, stride: int, rect: bool) -> Tuple[int, int]:
    """Network input (height, width) for a frame of ``shape``: square, or the stride-padded rectangle."""
    if not rect:
        return imgsz, imgsz
    r = min(imgsz / shape[0], imgsz / shape[1])
    h, w = max(round(shape[0] * r), 1), max(round(shape[1] * r), 1)
    return h + (imgsz - h) % stride, w + (imgsz - w) % stride


def letterbox(frame: np.ndarray, out_hw: Tuple[int, int]) -> Tuple[np.ndarray, float, float, float, float]:
    """Resize keeping the aspect ratio and pad with 114 (ultralytics' LetterBox, centred).

    Returns:
        The image, the x and y gains and the left and top padding.
    """
    h0, w0 = frame.shape[:2]
    r = min(out_hw[0] / h0, out_hw[1] / w0)
    nw, nh = max(round(w0 * r), 1), max(round(h0 * r), 1)
    img = frame if (nw, nh) == (w0, h0) else cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    dw, dh = (out_hw[1] - nw) / 2, (out_hw[0] - nh) / 2
    top, bottom, left, right = round(dh - 0.1), round(dh + 0.1), round(dw - 0.1), round(dw + 0.1)
    if top or bottom or left or right:
        img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return img, nw / w0, nh / h0, float(left), float(top)


def decode(pred: np.ndarray, conf: float, iou: float, max_det: int, classes: Optional[List[int]],
           nc: int) -> np.ndarray:
    """(4 + nc, A) raw YOLOv8 output to (N, 6) xyxy, score, class after NMS, as ultralytics does it."""
    scores_all = pred[4:4 + nc]
    cls = scores_all.argmax(0)
    score = np.take_along_axis(scores_all, cls[None], 0)[0]
    keep = score > conf
    if classes is not None:
        keep &= np.isin(cls, classes)
    idx = np.flatnonzero(keep)
    if not idx.size:
        return np.zeros((0, 6), np.float32)
    if idx.size > MAX_NMS:
        idx = idx[np.argsort(-score[idx], kind="stable")[:MAX_NMS]]
    xywh = pred[:4, idx].T
    boxes = np.empty_like(xywh)
    boxes[:, :2] = xywh[:, :2] - xywh[:, 2:] / 2
    boxes[:, 2:] = xywh[:, :2] + xywh[:, 2:] / 2
    s, c = score[idx], cls[idx].astype(np.float32)
    import torch
    import torchvision

    offset = torch.from_numpy(boxes + c[:, None] * MAX_WH)
    kept = torchvision.ops.nms(offset, torch.from_numpy(np.ascontiguousarray(s)), iou).numpy()[:max_det]
    return np.concatenate([boxes[kept], s[kept, None], c[kept, None]], 1)


class OpenVinoYolo:
    """A YOLO detection model compiled by OpenVINO for the CPU, one compiled model per input shape.

    Args:
        source: ``.onnx`` file or IR directory (with ``metadata.yaml``).
        names: Class names.
        stride: The model's largest stride.
        dynamic: The model accepts any input shape (IR exported with dynamic axes).
        threads: Inference threads (0: OpenVINO's default, one per core).
        square: Pad every frame to imgsz x imgsz even when the model could take a rectangle.
    """

    def __init__(self, source: Path, names: Dict[int, str], stride: int = 32, dynamic: bool = False,
                 threads: int = 0, square: bool = False) -> None:
        import openvino as ov

        self._ov = ov
        self.core = ov.Core()
        # read the weights into memory: a memory-mapped .bin that is rewritten under a running model (a cache
        # rebuilt by another process) would crash it with SIGBUS
        self.core.set_property({"ENABLE_MMAP": False})
        self.source = source
        self.names = names
        self.stride = int(stride)
        self.dynamic = dynamic
        self.threads = int(threads)
        self._compiled: Dict[Tuple[int, int], Any] = {}
        self._square_only = False
        xml = sorted(source.glob("*.xml"))[0] if source.is_dir() else source
        self._model = self.core.read_model(str(xml))
        shape = self._model.inputs[0].get_partial_shape()
        if not dynamic and shape.is_static:
            self.static_hw: Optional[Tuple[int, int]] = (int(shape[2].get_length()), int(shape[3].get_length()))
        else:
            self.static_hw = None
        self.rect = not square and (dynamic or source.suffix == ".onnx")

    def _build(self, model: Any) -> Any:
        """Compile with the u8 BGR NHWC input converted to float RGB NCHW inside OpenVINO."""
        ov = self._ov
        from openvino.preprocess import ColorFormat, PrePostProcessor

        ppp = PrePostProcessor(model)
        inp = ppp.input()
        inp.tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(ColorFormat.BGR)
        inp.model().set_layout(ov.Layout("NCHW"))
        inp.preprocess().convert_element_type(ov.Type.f32).convert_color(ColorFormat.RGB).scale(255.0)
        cfg: Dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        if self.threads:
            cfg["INFERENCE_NUM_THREADS"] = self.threads
        return self.core.compile_model(ppp.build(), "CPU", cfg)

    def _rect_model(self, hw: Tuple[int, int]) -> Any:
        """The ONNX graph rewritten for ``hw`` (in memory), or None when the graph is not recognised."""
        import onnx

        try:
            model = rectify_onnx(onnx.load(str(self.source)), *hw)
            return self.core.read_model(model.SerializeToString())
        except Exception as exc:  # unknown head or a graph OpenVINO refuses after the rewrite
            log.warning("OpenVINO: cannot run %s on %dx%d inputs (%s); padding frames to a square instead",
                        self.source.name, hw[1], hw[0], exc)
            return None

    def compiled(self, hw: Tuple[int, int]) -> Any:
        """The compiled model for a network input of ``hw`` (height, width)."""
        c = self._compiled.get(hw)
        if c is not None:
            return c
        if self.dynamic:
            model = self._model.clone()
            model.reshape({model.inputs[0].any_name: [1, 3, hw[0], hw[1]]})
        elif self.static_hw == hw:
            model = self._model
        else:
            model = self._rect_model(hw)
            if model is None:
                self._square_only = True
                return self.compiled(self.static_hw)  # type: ignore[arg-type]
        c = self._compiled[hw] = self._build(model)
        return c

    def input_hw(self, frame_hw: Tuple[int, int], imgsz: int) -> Tuple[int, int]:
        """The network input size used for a frame of ``frame_hw``."""
        if not self.rect and self.static_hw is None:
            return imgsz, imgsz
        if self.static_hw is not None and (self._square_only or not self.rect):
            return self.static_hw
        if self.static_hw is not None and imgsz != max(self.static_hw):
            imgsz = max(self.static_hw)  # a static export only knows its own scale
        return letterbox_shape(frame_hw, imgsz, self.stride, True)

    def predict(self, frame: np.ndarray, imgsz: int, conf: float, iou: float, max_det: int,
                classes: Optional[List[int]]) -> Detections:
        """Detect in a BGR frame; boxes in the frame's pixels."""
        hw = self.input_hw(frame.shape[:2], imgsz)
        compiled = self.compiled(hw)
        if self._square_only and hw != self.static_hw:
            hw = self.static_hw  # type: ignore[assignment]
        img, gx, gy, left, top = letterbox(frame, hw)
        out = compiled(img[None])[0][0]
        det = decode(out, conf, iou, max_det, classes, len(self.names))
        if not len(det):
            return Detections.empty()
        boxes = det[:, :4]
        boxes[:, [0, 2]] = ((boxes[:, [0, 2]] - left) / gx).clip(0, frame.shape[1])
        boxes[:, [1, 3]] = ((boxes[:, [1, 3]] - top) / gy).clip(0, frame.shape[0])
        return Detections(boxes.astype(np.float32), det[:, 4].astype(np.float32), det[:, 5].astype(np.float32))

    @property
    def output_rank_and_rows(self) -> Tuple[int, Optional[int]]:
        """Rank of the first output and its row count (4 + classes [+ extras]) when static."""
        shape = self._model.outputs[0].get_partial_shape()
        rows = shape[1].get_length() if shape.rank.get_length() >= 2 and shape[1].is_static else None
        return shape.rank.get_length(), rows

    def close(self) -> None:
        """Drop the compiled models."""
        self._compiled.clear()
        self._model = None
