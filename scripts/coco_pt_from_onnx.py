#!/usr/bin/env python3
"""Rebuild a PyTorch YOLOv8n checkpoint from the shared COCO int8 ONNX (for GPU runs).

``../shared/data/models/yolov8n_coco_int8.onnx`` is ultralytics' YOLOv8n with
dynamically quantised weights (per-tensor int8 ``ConvInteger``). onnxruntime
runs it on the CPU only, so on a CUDA machine ultralytics would fall back to
the CPU. This script dequantises every convolution weight
(``(q - zero_point) * scale``), loads it with its float bias into a fused
``yolov8n.yaml`` ``DetectionModel`` (the ONNX names match its state dict) and
saves an ultralytics ``.pt`` checkpoint that runs on ``device: cuda`` (and with
``half``). The output stays outside the repository: it is derived from shared
data that must not be committed.

    python scripts/coco_pt_from_onnx.py ../shared/data/models/yolov8n_coco_int8.onnx /tmp/yolov8n_coco_dq.pt
"""
from __future__ import annotations

import argparse
import ast
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("coco_pt_from_onnx")


def dequantised_weights(onnx_path: Path) -> tuple[dict[str, np.ndarray], dict[int, str]]:
    """Return ``{state-dict key: float array}`` and the class names of the int8 ONNX."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    out: dict[str, np.ndarray] = {}
    for name, arr in init.items():
        if name.endswith(".weight_quantized"):
            key = name[: -len("_quantized")]
            scale = init[key + "_scale"].astype(np.float32)
            zero = init[key + "_zero_point"].astype(np.float32)
            out[key] = (arr.astype(np.float32) - zero) * scale
        elif name.startswith("model.") and name.endswith(".bias"):
            out[name] = arr.astype(np.float32)
    meta = {p.key: p.value for p in model.metadata_props}
    names = ast.literal_eval(meta.get("names", "{}"))
    return out, names


def build(onnx_path: Path, out_path: Path) -> Path:
    """Write the fused PyTorch checkpoint; raise ``ValueError`` when the ONNX does not fit yolov8n."""
    import torch
    from ultralytics.nn.tasks import DetectionModel

    weights, names = dequantised_weights(onnx_path)
    model = DetectionModel("yolov8n.yaml", nc=len(names) or 80, verbose=False).fuse(verbose=False)
    state = model.state_dict()
    missing = [k for k in state if k.endswith((".weight", ".bias")) and "conv" in k and k not in weights]
    extra = [k for k in weights if k not in state]
    if missing or extra:
        raise ValueError(f"{onnx_path}: expected the layers of a fused yolov8n, got {len(missing)} missing "
                         f"({missing[:3]}) and {len(extra)} unknown ({extra[:3]})")
    for key, arr in weights.items():
        if tuple(state[key].shape) != arr.shape:
            raise ValueError(f"{onnx_path}: {key} expected shape {tuple(state[key].shape)}, got {arr.shape}")
        state[key] = torch.from_numpy(arr)
    model.load_state_dict(state)
    model.names = names
    model.args = {"imgsz": 640, "task": "detect"}
    model.eval()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": {"imgsz": 640, "task": "detect"}, "date": None,
                "version": "derived from " + onnx_path.name}, str(out_path))
    log.info("wrote %s (%d tensors)", out_path, len(weights))
    return out_path


def main() -> None:
    """Command line: ONNX in, .pt out."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("onnx", type=Path)
    ap.add_argument("output", type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build(args.onnx, args.output)


if __name__ == "__main__":
    main()
