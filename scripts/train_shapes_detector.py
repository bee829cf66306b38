#!/usr/bin/env python3
"""Train the small YOLOv8 shapes detector used by the tests and the demo.

The detector finds the three classes of ``mot_ros.core.synthetic.SHAPE_CLASSES``
(circle, square, triangle) in the synthetic scenes of
``mot_ros.core.synthetic``. The script

1. renders a deterministic YOLO-format dataset under ``build/shapes_dataset/``
   (stills from ``training_sample`` at several sizes and aspect ratios, plus
   frames of ``random_scene``), labelling each shape with its box clipped to
   the image and dropping shapes that are mostly outside the image or hidden
   behind shapes drawn on top of them;
2. trains the reduced-width YOLOv8 of ``scripts/shapes_yolov8.yaml`` from
   scratch on the CPU with ultralytics (offline: no pretrained weights, no AMP
   check, no plots);
3. copies the best weights to ``models/shapes_yolov8n.pt`` and prints the
   validation mAP50 / mAP50-95 and the recall on ``crossing_scene`` and
   ``random_scene`` sequences.

Reproduce the committed weights with::

    .venv/bin/python scripts/train_shapes_detector.py

Nothing is downloaded; the run is deterministic for given arguments (up to
floating-point differences between CPUs / torch builds).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

os.environ.setdefault("YOLO_OFFLINE", "1")  # before ultralytics is imported

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mot_ros.core.synthetic import (  # noqa: E402
    SHAPE_CLASSES,
    SceneFrame,
    ShapeObject,
    crossing_scene,
    draw_shape,
    random_scene,
    training_sample,
)

LOG = logging.getLogger("train_shapes_detector")

Label = Tuple[int, float, float, float, float]
"""(class, x1, y1, x2, y2) in pixels."""

# (width, height, weight) of the training_sample renders: mostly square 320,
# plus landscape / portrait / 16:9 so the model is used to letterboxing.
_SIZES: Tuple[Tuple[int, int, float], ...] = (
    (320, 320, 0.50),
    (320, 240, 0.15),
    (240, 320, 0.10),
    (384, 216, 0.10),
    (256, 256, 0.05),
)
_RANDOM_SCENE_FRACTION = 0.10
"""Share of images taken from ``random_scene`` sequences instead."""
_RANDOM_SCENE_SIZES: Tuple[Tuple[int, int], ...] = ((640, 480), (320, 240), (640, 360))


def _full_area(obj: ShapeObject) -> float:
    """Area in pixels of ``obj`` as drawn, ignoring the image border."""
    s = obj.size
    name = SHAPE_CLASSES[obj.cls]
    if name == "circle":
        return float(np.pi * s * s / 4.0)
    if name == "square":
        return float(s * s)
    return float(s * s / 2.0)


def _mask(obj: ShapeObject, width: int, height: int) -> np.ndarray:
    """Boolean mask of the pixels ``obj`` covers in a ``width`` x ``height`` image."""
    canvas = np.zeros((height, width, 3), np.uint8)
    draw_shape(canvas, ShapeObject(**{**vars(obj), "color": (255, 255, 255)}))
    return canvas.max(axis=2) > 0


def visible_labels(frame: SceneFrame, min_visible: float = 0.35) -> List[Label]:
    """Return the YOLO labels of ``frame``: boxes clipped to the image.

    A shape is kept when at least ``min_visible`` of its full area is visible,
    i.e. inside the image and not covered by shapes drawn after it (later
    objects are on top, as in ``synthetic.render``).
    """
    height, width = frame.image.shape[:2]
    masks = [_mask(o, width, height) for o in frame.objects]
    covered = np.zeros((height, width), bool)
    labels: List[Label] = []
    for obj, mask in reversed(list(zip(frame.objects, masks))):
        visible = float(np.count_nonzero(mask & ~covered))
        covered |= mask
        if visible < min_visible * _full_area(obj):
            continue
        x1, y1, x2, y2 = obj.box()
        x1, x2 = max(0.0, x1), min(float(width), x2)
        y1, y2 = max(0.0, y1), min(float(height), y2)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        labels.append((obj.cls, x1, y1, x2, y2))
    return labels[::-1]


def _random_scene_frame(rng: np.random.Generator) -> SceneFrame:
    """One frame from a ``random_scene`` sequence with random parameters."""
    width, height = _RANDOM_SCENE_SIZES[int(rng.integers(len(_RANDOM_SCENE_SIZES)))]
    scale = height / 480.0
    n_frames = int(rng.integers(1, 40))
    frames = random_scene(width, height, n_objects=int(rng.integers(1, 11)),
                          n_frames=n_frames, seed=int(rng.integers(1000, 2**31)),
                          min_size=max(12.0, 24 * scale), max_size=max(30.0, 100 * scale))
    frame = None
    for frame in frames:
        pass
    assert frame is not None
    return frame


def make_sample(rng: np.random.Generator) -> SceneFrame:
    """Render one training image (see module docstring for the mix)."""
    if rng.random() < _RANDOM_SCENE_FRACTION:
        return _random_scene_frame(rng)
    weights = np.array([w for _, _, w in _SIZES])
    width, height, _ = _SIZES[int(rng.choice(len(_SIZES), p=weights / weights.sum()))]
    return training_sample(rng, width, height, max_objects=int(rng.integers(3, 11)))


def write_split(root: Path, split: str, n_images: int, seed: int) -> int:
    """Write ``n_images`` images and labels of ``split``; return the box count."""
    img_dir, lbl_dir = root / "images" / split, root / "labels" / split
    for d in (img_dir, lbl_dir):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    n_boxes = 0
    for i in range(n_images):
        frame = make_sample(rng)
        height, width = frame.image.shape[:2]
        labels = visible_labels(frame)
        n_boxes += len(labels)
        cv2.imwrite(str(img_dir / f"{i:05d}.png"), frame.image)
        lines = [f"{c} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
                 f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"
                 for c, x1, y1, x2, y2 in labels]
        (lbl_dir / f"{i:05d}.txt").write_text("".join(line + "\n" for line in lines))
    return n_boxes


def build_dataset(root: Path, n_train: int, n_val: int, seed: int) -> Path:
    """Render the dataset (unless already rendered identically); return its yaml."""
    stamp = {"n_train": n_train, "n_val": n_val, "seed": seed, "version": 1}
    stamp_file = root / "stamp.json"
    data_yaml = root / "data.yaml"
    if stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp and data_yaml.exists():
        LOG.info("dataset %s is up to date", root)
        return data_yaml
    t0 = time.monotonic()
    root.mkdir(parents=True, exist_ok=True)
    stamp_file.unlink(missing_ok=True)
    for d in ("images", "labels"):  # also drops ultralytics' *.cache files
        shutil.rmtree(root / d, ignore_errors=True)
    n_tr = write_split(root, "train", n_train, seed)
    n_va = write_split(root, "val", n_val, seed + 1)
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(SHAPE_CLASSES))
    data_yaml.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}")
    stamp_file.write_text(json.dumps(stamp))
    LOG.info("rendered %d train images (%d boxes) and %d val images (%d boxes) in %.1f s",
             n_train, n_tr, n_val, n_va, time.monotonic() - t0)
    return data_yaml


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def sequence_recall(model: "object", frames: Iterable[SceneFrame], imgsz: int,
                    conf: float = 0.25, max_gt_overlap: float = 0.3
                    ) -> Dict[str, float]:
    """Recall (IoU > 0.5, correct class) of ``model`` on ``frames``.

    ``recall_clear`` counts every ground-truth object of the frames where no
    two ground-truth boxes overlap with IoU > ``max_gt_overlap`` (one shape
    hides the other); ``recall_visible`` counts, on all frames, the objects
    that ``visible_labels`` keeps (at least 35 % visible), against their
    clipped boxes. ``ms_per_frame`` is the median of ultralytics' own
    ``speed['inference']``.
    """
    hits_clear = total_clear = n_clear = hits_vis = total_vis = n_frames = 0
    ms: List[float] = []
    for frame in frames:
        res = model.predict(frame.image, imgsz=imgsz, conf=conf, device="cpu",  # type: ignore[attr-defined]
                            verbose=False)[0]
        ms.append(res.speed["inference"])
        dets = list(zip(res.boxes.cls.numpy().astype(int).tolist(), res.boxes.xyxy.numpy().tolist()))

        def found(gts: Sequence[Tuple[int, Sequence[float]]]) -> int:
            return sum(any(c == gc and _iou(b, gb) > 0.5 for c, b in dets) for gc, gb in gts)

        n_frames += 1
        gts = [(o.cls, o.box()) for o in frame.objects]
        if all(_iou(a[1], b[1]) <= max_gt_overlap for i, a in enumerate(gts) for b in gts[i + 1:]):
            hits_clear, total_clear, n_clear = hits_clear + found(gts), total_clear + len(gts), n_clear + 1
        vis = [(c, (x1, y1, x2, y2)) for c, x1, y1, x2, y2 in visible_labels(frame)]
        hits_vis, total_vis = hits_vis + found(vis), total_vis + len(vis)
    return {
        "recall_clear": hits_clear / max(1, total_clear),
        "frames_clear": float(n_clear),
        "recall_visible": hits_vis / max(1, total_vis),
        "frames": float(n_frames),
        "ms_per_frame": float(np.median(ms[1:] if len(ms) > 1 else ms)),
    }


def report_recall(weights: Path) -> None:
    """Print the recall / timing of ``weights`` on the standard synthetic scenes."""
    import torch
    from ultralytics import YOLO

    model = YOLO(str(weights))
    scenes = (
        ("crossing_scene(640, 480, 60)", lambda: crossing_scene(640, 480, 60)),
        ("crossing_scene(1280, 720, 60)", lambda: crossing_scene(1280, 720, 60)),
        ("random_scene(640, 480, 10, 30)", lambda: random_scene(640, 480, 10, 30)),
    )
    for imgsz in (320, 640):
        for name, scene in scenes:
            r = sequence_recall(model, scene(), imgsz)
            print(f"imgsz {imgsz} {name}: recall {r['recall_clear']:.3f} on the "
                  f"{r['frames_clear']:.0f} clear frames, {r['recall_visible']:.3f} of the visible "
                  f"objects in all {r['frames']:.0f}; {r['ms_per_frame']:.1f} ms/frame "
                  f"(CPU, {torch.get_num_threads()} threads)")


def train(data_yaml: Path, args: argparse.Namespace) -> Path:
    """Train with ultralytics; return the path of the best weights."""
    import ultralytics.utils.torch_utils as torch_utils
    from ultralytics import YOLO

    # select_device() sets torch's threads to cpu_count - 1 (1 on a 2-core box).
    torch_utils.NUM_THREADS = args.threads or max(1, os.cpu_count() or 1)
    model = YOLO(str(args.model_yaml), task="detect")
    model.train(
        data=str(data_yaml), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
        nbs=args.batch, warmup_epochs=1.0,  # an optimizer step per batch: short run
        device="cpu", workers=2, cache=True,  # ultralytics loads in-process on CPU
        amp=False, plots=False, pretrained=False,
        project=str(args.runs_dir), name="shapes", exist_ok=True, seed=args.seed,
        deterministic=args.deterministic, close_mosaic=args.close_mosaic, patience=args.epochs,
        fliplr=0.5, flipud=0.0, degrees=0.0, mosaic=1.0, verbose=False, val=True,
    )
    best = Path(model.trainer.best)
    if not best.exists():
        best = Path(model.trainer.last)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=ROOT / "build" / "shapes_dataset")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "build" / "shapes_runs")
    parser.add_argument("--model-yaml", type=Path, default=ROOT / "scripts" / "shapes_yolov8.yaml")
    parser.add_argument("--output", type=Path, default=ROOT / "models" / "shapes_yolov8n.pt")
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-val", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--close-mosaic", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for training (0: all cores); 1 is reproducible and "
                        "fastest when other jobs share the CPU")
    parser.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=True,
                        help="torch deterministic algorithms")
    parser.add_argument("--dataset-only", action="store_true", help="only render the dataset")
    parser.add_argument("--eval-only", action="store_true",
                        help="skip training; evaluate the weights at --output")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    if not args.eval_only:
        data_yaml = build_dataset(args.dataset, args.n_train, args.n_val, args.seed)
        if args.dataset_only:
            return 0
        t0 = time.monotonic()
        best = train(data_yaml, args)
        LOG.info("training took %.1f min", (time.monotonic() - t0) / 60)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(best, args.output)

    from ultralytics import YOLO

    model = YOLO(str(args.output))
    expected = dict(enumerate(SHAPE_CLASSES))
    if model.names != expected:
        LOG.error("model names %s != %s", model.names, expected)
        return 1
    print(f"weights: {args.output} ({args.output.stat().st_size / 1e6:.2f} MB), names {model.names}")
    if args.dataset.joinpath("data.yaml").exists():
        metrics = model.val(data=str(args.dataset / "data.yaml"), imgsz=args.imgsz, batch=args.batch,
                            device="cpu", plots=False, verbose=False,
                            project=str(args.runs_dir), name="val", exist_ok=True)
        print(f"validation mAP50 {metrics.box.map50:.4f}  mAP50-95 {metrics.box.map:.4f}")
    report_recall(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
