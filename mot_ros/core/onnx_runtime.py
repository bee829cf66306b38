"""onnxruntime helpers for the appearance embedders on the CPU.

* :func:`torch_to_session` runs a small torch model through onnxruntime: on
  this project's 2-core CPU, MobileNetV2 on a batch of crops is 2-2.5 times
  faster there than in eager PyTorch, with the same features (checked at load
  time; the last float bits differ).
* :func:`dynamic_batch` rewrites a re-ID model exported with a fixed batch of
  1 (such as the shared OSNet) so that all crops of a frame go through one
  call, and checks that it returns what per-crop calls return.

Both return None when the conversion is not possible or not exact, and the
caller keeps its original path; nothing is written to disk.
"""
from __future__ import annotations

import io
import logging
import warnings
from typing import Any, Dict, Optional

import numpy as np

log = logging.getLogger(__name__)


def session_options(threads: int = 0) -> Any:
    """onnxruntime session options: quiet logs; ``threads`` intra-op threads (0: one per physical core)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = int(threads)
    return opts


_EXPORTED: Dict[str, bytes] = {}
"""ONNX exports by cache key, so rebuilding an embedder in the same process skips the export (~0.5-1.5 s)."""


def torch_to_session(model: Any, example: Any, cache_key: str = "", rtol: float = 1e-3,
                     threads: int = 0) -> Optional[Any]:
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


def dynamic_batch(sess: Any, model_path: str, threads: int = 0) -> Optional[Any]:
    """A session of ``model_path`` whose batch dimension is free, or None.

    Sets the first dimension of the graph's inputs and outputs to a symbol and
    turns constant ``Reshape`` shapes that start with 1 into 0 ("keep the
    input's batch"), then checks on two random inputs that the batched call
    returns exactly what ``sess`` returns one input at a time.

    Args:
        sess: The fixed-batch session of the same model (the reference).
        model_path: The ONNX file.
        threads: Intra-op threads (0: one per physical core).
    """
    try:
        import onnx
        import onnxruntime as ort
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
        batched = ort.InferenceSession(model.SerializeToString(), sess_options=session_options(threads),
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
