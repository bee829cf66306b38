"""Inference backends (issue 11): OpenVINO against the reference runtimes on real frames, export cache, fallback.

The shapes model is exported to OpenVINO once per session into a temporary
cache (small imgsz); the COCO int8 ONNX tests skip without ../shared.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import cv2
import numpy as np
import pytest

from mot_ros.core.config import Config
from mot_ros.core.detector import ModelError, YoloDetector, backend_plan
from mot_ros.core.openvino_backend import letterbox_shape, openvino_version, rectify_onnx
from mot_ros.core.synthetic import random_scene
from mot_ros.core.types import Detections

from conftest import COCO_MODEL, OSNET_MODEL, SHARED_DATA, needs_shared

needs_openvino = pytest.mark.skipif(openvino_version() is None, reason="openvino is not installed")
TUD = SHARED_DATA / "mot" / "TUD-Campus"
IMGSZ = 320


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)


def unmatched(a: Detections, b: Detections, min_iou: float = 0.9, max_score_diff: float = 0.05,
              ignore_below: float = 0.0) -> List[Tuple[float, float]]:
    """Boxes of ``a`` (scored >= ``ignore_below``) that no box of ``b`` matches, as (score, best IoU).

    A match has the same class, IoU >= ``min_iou`` and a score within ``max_score_diff``.
    """
    out = []
    m = iou_matrix(a.xyxy, b.xyxy) if len(a) and len(b) else np.zeros((len(a), len(b)))
    for i in range(len(a)):
        if a.scores[i] < ignore_below:
            continue
        ok = (m[i] >= min_iou) & (np.abs(b.scores - a.scores[i]) <= max_score_diff) & (b.classes == a.classes[i])
        if not ok.any():
            out.append((round(float(a.scores[i]), 3), round(float(m[i].max()) if len(b) else 0.0, 3)))
    return out


@pytest.fixture(scope="session")
def ov_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One OpenVINO cache for the session; the shapes model is exported into it once."""
    return tmp_path_factory.mktemp("mot_ros_cache")


@pytest.fixture(scope="session")
def shapes_ov(shapes_model: str, ov_cache: Path) -> YoloDetector:
    """The shapes .pt through backend auto on the CPU: exported to OpenVINO (first start)."""
    if openvino_version() is None:
        pytest.skip("openvino is not installed")
    return YoloDetector(shapes_model, "cpu", backend="auto", cache_dir=str(ov_cache), imgsz=IMGSZ)


def shapes_frames() -> Iterator[np.ndarray]:
    """Rendered shape scenes in the shapes detector's domain, rectangular and square."""
    for w, h, seed in ((640, 480, 1), (320, 320, 2), (640, 360, 3)):
        for f in random_scene(w, h, 6, 3, seed=seed):
            yield f.image


def test_backend_plan() -> None:
    pt, onnx_file = Path("m.pt"), Path("m.onnx")
    assert backend_plan(pt, "auto", "cpu", True) == ["openvino", "torch"]
    assert backend_plan(pt, "auto", "cpu", False) == ["torch"]
    assert backend_plan(pt, "auto", "cuda:0", True) == ["torch"]
    assert backend_plan(onnx_file, "auto", "cpu", True) == ["openvino", "onnxruntime"]
    assert backend_plan(Path("m.engine"), "auto", "cuda:0", True) == ["tensorrt"]
    assert backend_plan(onnx_file, "openvino", "cuda:0", True) == ["openvino", "onnxruntime"]
    with pytest.raises(ValueError, match="backend: expected one of"):
        backend_plan(pt, "tflite", "cpu", True)
    with pytest.raises(ValueError, match="backend: expected one of"):
        Config(backend="tflite")


def test_letterbox_shape() -> None:
    assert letterbox_shape((480, 640), 640, 32, True) == (480, 640)
    assert letterbox_shape((720, 1280), 640, 32, True) == (384, 640)
    assert letterbox_shape((480, 640), 640, 32, False) == (640, 640)


@needs_openvino
def test_pt_export_matches_torch(shapes_ov: YoloDetector, shapes_model: str) -> None:
    """The exported IR gives torch's detections on rendered frames (every box, both ways)."""
    assert shapes_ov.backend == "openvino" and shapes_ov.device == "cpu"
    ref = YoloDetector(shapes_model, "cpu", backend="torch")
    assert ref.backend == "torch" and shapes_ov.names == ref.names
    total = 0
    for frame in shapes_frames():
        a = shapes_ov.detect(frame, IMGSZ, 0.25, 0.7, 300, None)
        b = ref.detect(frame, IMGSZ, 0.25, 0.7, 300, None)
        total += len(a)
        # a box may sit on the 0.25 threshold on one side only; all others match
        assert unmatched(a, b, ignore_below=0.3) == [] and unmatched(b, a, ignore_below=0.3) == []
    assert total > 20


@needs_openvino
def test_cache_hit_and_rebuild(shapes_ov: YoloDetector, shapes_model: str, ov_cache: Path,
                               caplog: pytest.LogCaptureFixture) -> None:
    """A second start reuses the export (no exporter call); a corrupt entry is rebuilt."""
    entries = [p for p in (ov_cache / "openvino").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and (entries[0] / "mot_ros_cache.json").is_file()
    with caplog.at_level(logging.INFO):
        t0 = time.perf_counter()
        again = YoloDetector(shapes_model, "cpu", cache_dir=str(ov_cache), imgsz=IMGSZ)
        took = time.perf_counter() - t0
    assert again.backend == "openvino"
    assert "using the cached export" in caplog.text and "exporting" not in caplog.text
    logging.getLogger(__name__).info("cache hit start: %.2f s", took)
    frame = next(shapes_frames())
    a, b = again.detect(frame, IMGSZ, 0.25, 0.7, 300, None), shapes_ov.detect(frame, IMGSZ, 0.25, 0.7, 300, None)
    assert np.array_equal(a.xyxy, b.xyxy)
    # corrupt the weights of the entry: the marker is still there, reading fails, the entry is exported again
    binf = next(entries[0].glob("*.bin"))
    binf.write_bytes(binf.read_bytes()[:100])
    caplog.clear()
    with caplog.at_level(logging.INFO):
        rebuilt = YoloDetector(shapes_model, "cpu", cache_dir=str(ov_cache), imgsz=IMGSZ)
    assert rebuilt.backend == "openvino" and "exporting" in caplog.text
    c = rebuilt.detect(frame, IMGSZ, 0.25, 0.7, 300, None)
    assert np.array_equal(c.xyxy, b.xyxy)


@needs_openvino
def test_export_impossible_falls_back(shapes_model: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An unwritable cache directory: torch runs the model, and the warning names the reason."""
    blocked = tmp_path / "cache_is_a_file"
    blocked.write_text("not a directory")
    with caplog.at_level(logging.WARNING):
        det = YoloDetector(shapes_model, "cpu", backend="openvino", cache_dir=str(blocked), imgsz=IMGSZ)
    assert det.backend == "torch"
    assert "falling back to torch" in caplog.text and "not writable" in det.fallback_reason
    assert len(det.detect(next(shapes_frames()), IMGSZ, 0.25, 0.7, 300, None)) > 0


@needs_openvino
def test_broken_weights_fail_with_every_reason(tmp_path: Path) -> None:
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="(?s)openvino: .*torch: "):
        YoloDetector(str(bad), "cpu", cache_dir=str(tmp_path / "cache"))


@needs_openvino
def test_openvino_dir_loads_as_is(shapes_ov: YoloDetector, ov_cache: Path) -> None:
    entry = next(p for p in (ov_cache / "openvino").iterdir() if not p.name.startswith("."))
    det = YoloDetector(str(entry), "cpu")
    assert det.backend == "openvino" and det.names == shapes_ov.names
    frame = next(shapes_frames())
    # a directory says dynamic=True in its metadata, so it runs the same rectangle as the cached export
    assert np.allclose(det.detect(frame, IMGSZ, 0.25, 0.7, 300, None).xyxy,
                       shapes_ov.detect(frame, IMGSZ, 0.25, 0.7, 300, None).xyxy, atol=1e-3)


def tud_frames(step: int = 7) -> List[np.ndarray]:
    return [cv2.imread(str(p)) for p in sorted((TUD / "img1").glob("*.jpg"))[::step]]


@needs_shared
@needs_openvino
def test_int8_onnx_square_matches_onnxruntime() -> None:
    """Same 640x640 input as ultralytics' onnxruntime path: every clear box matches (IoU >= 0.9, score +-0.05)."""
    ov = YoloDetector(str(COCO_MODEL), "cpu", backend="openvino", rect=False)
    ref = YoloDetector(str(COCO_MODEL), "cpu", backend="onnxruntime")
    assert ov.backend == "openvino" and ref.backend == "onnxruntime"
    n = 0
    for frame in tud_frames():
        a, b = ov.detect(frame, 640, 0.35, 0.7, 300, [0]), ref.detect(frame, 640, 0.35, 0.7, 300, [0])
        n += len(b)
        # int8 layers round differently in the two runtimes: boxes near the threshold may flip
        assert unmatched(a, b, ignore_below=0.5) == [] and unmatched(b, a, ignore_below=0.5) == []
    assert n > 30


@needs_shared
@needs_openvino
def test_int8_onnx_rectangular_graph() -> None:
    """The 640x480 rewrite of the static 640x640 graph finds the same people as the square graph."""
    import onnx

    model = rectify_onnx(onnx.load(str(COCO_MODEL)), 480, 640)
    dims = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert dims == [1, 84, 60 * 80 + 30 * 40 + 15 * 20]
    rect = YoloDetector(str(COCO_MODEL), "cpu", backend="openvino", rect=True)
    square = YoloDetector(str(COCO_MODEL), "cpu", backend="openvino", rect=False)
    assert rect._ov.input_hw((480, 640), 640) == (480, 640)  # noqa: SLF001
    for frame in tud_frames(10):
        a, b = rect.detect(frame, 640, 0.35, 0.7, 300, [0]), square.detect(frame, 640, 0.35, 0.7, 300, [0])
        # another input size: clear boxes (score >= 0.6) overlap; scores move more than between runtimes
        assert unmatched(a, b, min_iou=0.8, max_score_diff=0.15, ignore_below=0.6) == []


@needs_shared
@needs_openvino
def test_embedders_openvino_match_onnxruntime() -> None:
    from mot_ros.core.embedders import make_embedder

    frame = tud_frames()[0]
    boxes = YoloDetector(str(COCO_MODEL), "cpu", backend="onnxruntime").detect(frame, 640, 0.35, 0.7, 300, [0]).xyxy
    assert len(boxes) >= 3
    for kind, path in (("mobilenet", ""), ("osnet", str(OSNET_MODEL))):
        ov = make_embedder(kind, "cpu", path, backend="openvino", int8=False)  # float32: OpenVINO normalises
        ref = make_embedder(kind, "cpu", path, backend="onnxruntime")
        assert ov.runtime == "openvino" and ref.runtime == "onnxruntime"
        # batch sizes that hit a compiled size exactly, need padding, and need chunks (> 32)
        for n in (len(boxes), 1, 5, 33):
            xyxy = np.resize(boxes, (n, 4))
            a, b = ov.embed(frame, xyxy), ref.embed(frame, xyxy)
            assert a.shape == b.shape == (n, ref.dim)
            assert np.abs((a * b).sum(1) - 1).max() < 1e-4


def _gt_crops(frames: int = 36) -> Tuple[List[np.ndarray], List[np.ndarray], np.ndarray]:
    """TUD-Campus frames, their ground-truth boxes (4 per frame) and the identities of those boxes."""
    gt = np.loadtxt(TUD / "gt" / "gt.txt", delimiter=",")
    imgs, boxes, ids = [], [], []
    for f in range(1, 2 * frames, 2):
        g = gt[gt[:, 0] == f][:4]
        imgs.append(cv2.imread(str(TUD / "img1" / f"{f:06d}.jpg")))
        boxes.append(np.c_[g[:, 2], g[:, 3], g[:, 2] + g[:, 4], g[:, 3] + g[:, 5]])
        ids.append(g[:, 1])
    return imgs, boxes, np.concatenate(ids)


@needs_shared
@needs_openvino
def test_int8_mobilenet_agrees_with_float32_on_people() -> None:
    """The committed int8 MobileNet: close to float32 on real people, and it separates them as well."""
    from mot_ros.core.embedders import make_embedder

    q, ref = make_embedder("mobilenet", "cpu"), make_embedder("mobilenet", "cpu", int8=False)
    assert (q.runtime, ref.runtime) == ("openvino-int8", "openvino")
    imgs, boxes, ids = _gt_crops()
    a = np.concatenate([q.embed(i, b) for i, b in zip(imgs, boxes)])
    b = np.concatenate([ref.embed(i, bb) for i, bb in zip(imgs, boxes)])
    cos = (a * b).sum(1)
    assert cos.mean() >= 0.93 and cos.min() >= 0.75, (cos.mean(), cos.min())
    same, diff = ids[:, None] == ids[None], ids[:, None] != ids[None]
    for e in (a, b):  # same person nearer than different people, by the same margin for both models
        d = 1.0 - e @ e.T
        assert np.median(d[diff]) - np.median(d[same & ~np.eye(len(e), dtype=bool)]) > 0.05


@needs_openvino
def test_int8_mobilenet_falls_back_to_float32(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """A missing int8 file or one that disagrees with float32 gives the float32 model and a warning."""
    from mot_ros.core import embedders, resources

    monkeypatch.setattr(resources, "MOBILENET_INT8", "models/no_such_int8.xml")
    with caplog.at_level(logging.WARNING, logger="mot_ros.core.embedders"):
        assert embedders.make_embedder("mobilenet", "cpu").runtime == "openvino"
    assert "int8 mobilenet not found" in caplog.text and "no_such_int8.xml" in caplog.text
    monkeypatch.undo()
    caplog.clear()
    monkeypatch.setattr(embedders, "INT8_MIN_COSINE", 1.01)  # nothing can agree this well
    with caplog.at_level(logging.WARNING, logger="mot_ros.core.embedders"):
        assert embedders.make_embedder("mobilenet", "cpu").runtime == "openvino"
    assert "disagrees with float32" in caplog.text
    monkeypatch.undo()
    assert embedders.make_embedder("mobilenet", "cpu").runtime == "openvino-int8"
    assert embedders.make_embedder("mobilenet", "cpu", backend="onnxruntime").runtime == "onnxruntime"


@needs_openvino
def test_openvino_embedders_normalise_crops_like_numpy() -> None:
    """On OpenVINO, uint8 BGR crops are normalised inside the graph: same embeddings as the numpy path."""
    from mot_ros.core.embedders import make_embedder

    scene = next(iter(random_scene(320, 240, n_objects=5, n_frames=1, seed=3)))
    boxes = np.array([o.box() for o in scene.objects], np.float32)
    ov = make_embedder("mobilenet", "cpu", int8=False)
    ref = make_embedder("mobilenet", "cpu", backend="onnxruntime")
    assert ov._session.u8_input and not getattr(ref._session, "u8_input", False)  # noqa: SLF001
    a, b = ov.embed(scene.image, boxes), ref.embed(scene.image, boxes)
    assert a.shape == b.shape == (len(boxes), 1280)
    assert np.abs((a * b).sum(1) - 1).max() < 1e-4


def near_threshold_flips(a: Detections, b: Detections, thresholds: Tuple[float, ...]) -> List[float]:
    """Scores of boxes present on one side only that lie within 0.05 of a threshold."""
    flips = [s for s, _ in unmatched(a, b) + unmatched(b, a)]
    return [s for s in flips if any(abs(s - t) <= 0.05 for t in thresholds)]


@needs_shared
@needs_openvino
def test_tracks_match_onnxruntime_backend() -> None:
    """TUD-Campus through the whole pipeline on both backends (same 640x640 input).

    The published tracks are identical until the detections first differ at a threshold (a box scored within
    0.05 of the detector floor or conf_threshold on one side only); from there on, track histories may diverge.
    Any earlier difference fails.
    """
    from mot_ros.core.pipeline import Pipeline

    frames = tud_frames(1)[:15]
    runs = {}
    cfg = None
    for backend in ("openvino", "onnxruntime"):
        cfg = Config(model=str(COCO_MODEL), device="cpu", classes=("person",), backend=backend, rect_input=False)
        pipe = Pipeline(cfg)
        runs[backend] = [pipe.process(f, stamp=(i + 1) / 25.0) for i, f in enumerate(frames)]
        pipe.close()
    assert cfg is not None
    thresholds = (cfg.low_conf_threshold, cfg.conf_threshold)
    first_flip = None
    for i, (a, b) in enumerate(zip(runs["openvino"], runs["onnxruntime"])):
        flips = near_threshold_flips(a.detections, b.detections, thresholds)
        if flips and first_flip is None:
            first_flip = i
        boxes_a = {t.track_id: np.round(t.xyxy, 0) for t in a.tracks}
        boxes_b = {t.track_id: np.round(t.xyxy, 0) for t in b.tracks}
        if sorted(boxes_a) != sorted(boxes_b):
            assert first_flip is not None and first_flip <= i, (
                f"frame {i + 1}: tracks {sorted(boxes_a)} vs {sorted(boxes_b)} differ without a detection on a "
                f"threshold before")
            logging.getLogger(__name__).warning(
                "tracks identical for frames 1-%d; detections first differ at a threshold in frame %d", i,
                first_flip + 1)
            return
    # identical over the whole clip


def test_no_env_at_import() -> None:
    """Importing the detector sets no environment variable (ultralytics' are set before its own import)."""
    import subprocess
    import sys

    code = ("import os; before = dict(os.environ); import mot_ros.core.detector; "
            "print(sorted(set(os.environ) - set(before)))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


def test_torch_mobilenet_folds_batchnorm(monkeypatch: pytest.MonkeyPatch) -> None:
    """The PyTorch path (GPU, or a failed export) folds BatchNorm into the convolutions: same features."""
    import torch

    from mot_ros.core import embedders, onnx_runtime

    scene = next(iter(random_scene(320, 240, n_objects=5, n_frames=1, seed=3)))
    boxes = np.array([o.box() for o in scene.objects], np.float32)
    ref = embedders.make_embedder("mobilenet", "cpu", backend="onnxruntime")
    monkeypatch.setattr(onnx_runtime, "torch_to_session", lambda *a, **k: None)  # the export "fails"
    emb = embedders.make_embedder("mobilenet", "cpu")
    assert emb.runtime == "torch" and emb._session is None  # noqa: SLF001
    kinds = {type(m).__name__ for m in emb._model.modules()}  # noqa: SLF001
    assert "BatchNorm2d" not in kinds and "Conv2d" in kinds
    a, b = emb.embed(scene.image, boxes), ref.embed(scene.image, boxes)
    assert a.shape == b.shape == (len(boxes), 1280)
    assert np.abs((a * b).sum(1) - 1).max() < 1e-4
    plain = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).eval()
    with torch.no_grad():
        plain[1].running_mean.uniform_(-1, 1)
        plain[1].running_var.uniform_(0.5, 2)
        x = torch.randn(2, 3, 8, 8)
        folded = embedders.fold_batchnorm(plain)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        assert torch.allclose(folded(x), plain(x), atol=1e-5)


@needs_shared
def test_osnet_on_cuda_without_gpu_provider_warns(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A CUDA device with a CPU-only onnxruntime: OSNet still loads, on the CPU, and says so."""
    import onnxruntime as ort

    from mot_ros.core.embedders import OsnetEmbedder

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with caplog.at_level(logging.WARNING, logger="mot_ros.core.embedders"):
        emb = OsnetEmbedder(str(OSNET_MODEL), device="cuda:0", backend="onnxruntime")
    assert "no CUDAExecutionProvider" in caplog.text and "onnxruntime-gpu" in caplog.text
    assert emb.embed(np.zeros((240, 320, 3), np.uint8), np.array([[10, 10, 60, 120]], np.float32)).shape == (1, emb.dim)
    if openvino_version() is not None:  # backend auto: the CPU fallback takes OpenVINO, as device cpu does
        assert OsnetEmbedder(str(OSNET_MODEL), device="cuda:0").runtime == "openvino"
