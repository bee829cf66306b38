"""onnxruntime and OpenVINO helpers for the appearance embedders on the CPU.

* :func:`torch_to_session` runs a small torch model through onnxruntime: on
  this project's 2-core CPU, MobileNetV2 on a batch of crops is 2-2.5 times
  faster there than in eager PyTorch, with the same features (checked at load
  time; the last float bits differ).
* :func:`dynamic_batch` rewrites a re-ID model exported with a fixed batch of
  1 (such as the shared OSNet) so that all crops of a frame go through one
  call, and checks that it returns what per-crop calls return.

* :func:`openvino_session` compiles the same ONNX graph with OpenVINO (batch
  dimension dynamic) and checks it against the onnxruntime session; it is the
  default on the CPU when OpenVINO is installed, onnxruntime the fallback.

All return None when the conversion is not possible or not exact, and the
caller keeps its original path; nothing is written to disk.
"""
from __future__ import annotations

import io
import logging
import warnings
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

log = logging.getLogger(__name__)


def session_options(threads: int = 0) -> Any:
    """Build onnxruntime session options: quiet logs; ``threads`` intra-op threads (0: one per physical core)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = int(threads)
    return opts


_EXPORTED: Dict[str, bytes] = {}
"""ONNX exports by cache key, so rebuilding an embedder in the same process skips the export (~0.5-1.5 s)."""


def torch_to_session(model: Any, example: Any, cache_key: str = "", rtol: float = 1e-3,
                     threads: int = 0) -> Optional[Any]:  # noqa: C901
    """Export ``model`` (eval mode, CPU) to ONNX in memory and open it with onnxruntime.

    Args:
        model: A torch module taking one NCHW float tensor.
        example: An example input, (N, C, H, W); batch, height and width are left dynamic.
        cache_key: Identifies the model's architecture and weights; a repeated
            key reuses the earlier export. Empty: no caching.
        rtol: Largest allowed difference between the two outputs, relative to the largest output value.
        threads: Intra-op threads (0: onnxruntime's default, one per physical core).

    Returns:
        The session, or None when onnxruntime is missing, the export fails or
        the outputs disagree.
    """
    try:
        import onnxruntime as ort
        import torch

        with torch.no_grad():
            expected = model(example).float().numpy()
        onnx_bytes = _EXPORTED.get(cache_key) if cache_key else None
        if onnx_bytes is None:
            buf = io.BytesIO()
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(model, (example,), buf, input_names=["images"], output_names=["features"],
                                  dynamic_axes={"images": {0: "n", 2: "h", 3: "w"}, "features": {0: "n"}},
                                  opset_version=17, dynamo=False)
            onnx_bytes = buf.getvalue()
        sess = ort.InferenceSession(onnx_bytes, sess_options=session_options(threads),
                                    providers=["CPUExecutionProvider"])
        got = sess.run(None, {"images": example.numpy()})[0]
    except Exception as exc:  # any exporter or runtime failure: keep the torch path
        log.info("onnxruntime path unavailable (%s: %s); using PyTorch", type(exc).__name__, exc)
        return None
    err = float(np.abs(got.reshape(expected.shape) - expected).max())
    scale = float(np.abs(expected).max()) or 1.0
    if err > rtol * scale:
        log.warning("onnxruntime output differs from PyTorch by %.3g (scale %.3g); using PyTorch", err, scale)
        return None
    if cache_key:
        _EXPORTED[cache_key] = onnx_bytes
    return sess


def exported_bytes(cache_key: str) -> Optional[bytes]:
    """The ONNX graph that :func:`torch_to_session` exported under ``cache_key`` (None when none was)."""
    return _EXPORTED.get(cache_key)


def dynamic_batch_bytes(model_path: str) -> bytes:
    """The ONNX graph of ``model_path`` with a free batch dimension, serialised.

    Sets the first dimension of the graph's inputs and outputs to a symbol and
    turns constant ``Reshape`` shapes that start with 1 into 0 ("keep the
    input's batch"). Callers check the result against the original.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(model_path)
    graph = model.graph
    consts = {n.output[0]: n for n in graph.node if n.op_type == "Constant"}
    inits = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type != "Reshape" or len(node.input) < 2:
            continue
        name = node.input[1]
        if name in consts and consts[name].attribute and consts[name].attribute[0].name == "value":
            tensor = consts[name].attribute[0].t
        elif name in inits:
            tensor = inits[name]
        else:
            continue
        shape = numpy_helper.to_array(tensor).copy()
        if shape.ndim == 1 and len(shape) and shape[0] == 1:
            shape[0] = 0
            tensor.CopyFrom(numpy_helper.from_array(shape, tensor.name))
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        dims = vi.type.tensor_type.shape.dim
        if len(dims) and dims[0].dim_value == 1:
            dims[0].dim_param = "n"
    return model.SerializeToString()


def dynamic_batch(sess: Any, model_path: str, threads: int = 0) -> Optional[Any]:
    """A session of ``model_path`` whose batch dimension is free, or None.

    Rewrites the graph with :func:`dynamic_batch_bytes`, then checks on two
    random inputs that the batched call returns exactly what ``sess`` returns
    one input at a time.

    Args:
        sess: The fixed-batch session of the same model (the reference).
        model_path: The ONNX file.
        threads: Intra-op threads (0: one per physical core).
    """
    try:
        import onnxruntime as ort

        batched = ort.InferenceSession(dynamic_batch_bytes(model_path), sess_options=session_options(threads),
                                       providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        x = np.random.default_rng(0).normal(size=(2, *inp.shape[1:])).astype(np.float32)
        one = np.concatenate([sess.run(None, {inp.name: x[i:i + 1]})[0] for i in range(2)])
        both = batched.run(None, {batched.get_inputs()[0].name: x})[0]
    except Exception as exc:  # unsupported graph: per-crop calls still work
        log.info("could not make the batch of %s dynamic (%s: %s); running one crop per call", model_path,
                 type(exc).__name__, exc)
        return None
    if both.shape != one.shape or not np.allclose(both, one, rtol=1e-4, atol=1e-5):
        log.info("batched %s differs from per-crop calls; running one crop per call", model_path)
        return None
    return batched


class OpenVinoSession:
    """An OpenVINO CPU model with onnxruntime's ``run(None, {name: x}) -> [y]`` call, for the embedders.

    OpenVINO's CPU plugin is slow on dynamic shapes (shape inference and memory
    set-up on every call), so the batch is zero-padded up to the next of
    ``BATCH_SIZES`` and each such size gets its own static compiled model, built
    on first use. Larger batches run in chunks of the largest size.

    Args:
        onnx_bytes: The serialised ONNX graph (batch dimension free), or the path of an OpenVINO IR ``.xml``
            (its ``.bin`` beside it), e.g. the int8 embedder.
        threads: Inference threads (0: OpenVINO's default).
    """

    BATCH_SIZES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
    """Compiled batch sizes: at most a third of a call is padding (beyond 4 crops)."""

    def __init__(self, onnx_bytes: Union[bytes, str], threads: int = 0) -> None:
        import openvino as ov

        self._core = ov.Core()
        self._model = self._core.read_model(onnx_bytes)
        self._cfg: Dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        if threads:
            self._cfg["INFERENCE_NUM_THREADS"] = int(threads)
        self._compiled: Dict[int, Any] = {}
        self.input_name = self._model.inputs[0].any_name
        self.output_dim = self._model.outputs[0].get_partial_shape()[-1].get_length()
        self.u8_input = False
        """True after :meth:`take_u8_bgr`: ``run`` takes (N, H, W, 3) uint8 BGR crops."""

    def take_u8_bgr(self, mean: np.ndarray, std: np.ndarray) -> None:
        """From now on take (N, H, W, 3) uint8 BGR crops and normalise them inside the model.

        OpenVINO's pre-processing converts, swaps to RGB and applies ``(x / 255 - mean) / std`` in the compiled
        graph, which costs less than doing it in numpy. The model must take (N, 3, H, W) RGB float input.
        """
        from openvino import Layout, Type
        from openvino.preprocess import ColorFormat, PrePostProcessor

        ppp = PrePostProcessor(self._model)
        inp = ppp.input()
        inp.tensor().set_element_type(Type.u8).set_layout(Layout("NHWC")).set_color_format(ColorFormat.BGR)
        inp.model().set_layout(Layout("NCHW"))
        inp.preprocess().convert_element_type(Type.f32).convert_color(ColorFormat.RGB) \
            .mean([float(m) * 255.0 for m in mean]).scale([float(s) * 255.0 for s in std])
        self._model = ppp.build()
        self.input_name = self._model.inputs[0].any_name
        self._compiled = {}
        self.u8_input = True

    def _for_batch(self, n: int, item_shape: Tuple[int, ...]) -> Any:
        c = self._compiled.get(n)
        if c is None:
            model = self._model.clone()
            model.reshape({self.input_name: [n, *item_shape]})
            c = self._compiled[n] = self._core.compile_model(model, "CPU", self._cfg)
        return c

    def run(self, output_names: Any, feed: Dict[str, np.ndarray]) -> List[np.ndarray]:
        """Run on the one input in ``feed``; returns [first output] (``output_names`` is ignored)."""
        (x,) = feed.values()
        outs = []
        largest = self.BATCH_SIZES[-1]
        for start in range(0, len(x), largest):
            chunk = x[start:start + largest]
            n = len(chunk)
            size = next(b for b in self.BATCH_SIZES if b >= n)
            if size != n:
                chunk = np.concatenate([chunk, np.zeros((size - n, *chunk.shape[1:]), chunk.dtype)])
            outs.append(self._for_batch(size, tuple(chunk.shape[1:]))(chunk)[0][:n])
        return [np.concatenate(outs) if len(outs) > 1 else outs[0]]


def openvino_session(onnx_bytes: bytes, reference: Any, example: np.ndarray, rtol: float = 1e-3,
                     threads: int = 0) -> Optional[OpenVinoSession]:
    """An :class:`OpenVinoSession` of ``onnx_bytes`` that agrees with ``reference`` on ``example``, or None.

    Args:
        onnx_bytes: The graph.
        reference: An onnxruntime session of the same graph (the reference path).
        example: An input batch (N > 1 exercises the dynamic batch).
        rtol: Largest allowed difference relative to the largest output value.
        threads: Inference threads.
    """
    try:
        sess = OpenVinoSession(onnx_bytes, threads)
        got = sess.run(None, {"x": example})[0]
        expected = reference.run(None, {reference.get_inputs()[0].name: example})[0]
    except Exception as exc:  # OpenVINO missing or the graph not supported: keep onnxruntime
        log.info("OpenVINO embedder path unavailable (%s: %s); using onnxruntime", type(exc).__name__, exc)
        return None
    err = float(np.abs(got.reshape(expected.shape) - expected).max())
    scale = float(np.abs(expected).max()) or 1.0
    if err > rtol * scale:
        log.warning("OpenVINO embedder output differs from onnxruntime by %.3g (scale %.3g); using onnxruntime",
                    err, scale)
        return None
    return sess
