"""Run MOTChallenge sequences through the pipeline, ROS-free: what ``mot_track mot`` and ``compare`` share.

* :func:`run_sequence` tracks a sequence with one configuration (detector, or
  given detections) and times every frame.
* :func:`detect_sequence` runs the detector once over a sequence at the
  pipeline's detection floor (min(conf_threshold, low_conf_threshold)), so that
  several trackers can run on the same detections.
* :func:`run_model_track` is ultralytics' own ``model.track()`` (a reference
  for the ``bytetrack``/``botsort`` wrappers), with a fresh model object.

``ms/frame`` is the median wall time of one whole frame (image reading
excluded), leaving out the first frame (start-up).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .config import Config
from .evaluation import evaluate_arrays
from .mot_format import SeqInfo, frame_paths, load_rows, read_image, track_rows
from .pipeline import Pipeline, detection_floor
from .types import Detections

Row = Tuple[float, ...]
FrameCallback = Callable[[int], None]


@dataclass
class RunResult:
    """One run over a sequence.

    Attributes:
        system: What ran (a tracker name, or a reference such as ``ultralytics:bytetrack``).
        rows: MOTChallenge result rows.
        frame_ms: Per-frame time of every frame, in ms.
        metrics: Evaluation summary, when the sequence has ground truth.
    """

    system: str
    rows: List[Row]
    frame_ms: List[float]
    metrics: Dict[str, float] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        """Frames processed."""
        return len(self.frame_ms)

    @property
    def ms_per_frame(self) -> float:
        """Median per-frame time excluding the first (start-up) frame."""
        return median_ms(self.frame_ms)

    @property
    def unique_ids(self) -> int:
        """Distinct track IDs in ``rows``."""
        return len({int(r[1]) for r in self.rows})

    def table_row(self) -> Dict[str, Any]:
        """Metrics plus ``ms/frame``, for :func:`mot_ros.core.evaluation.format_table`."""
        return {**self.metrics, "ms/frame": self.ms_per_frame}


def median_ms(frame_ms: Sequence[float]) -> float:
    """Median of per-frame times without the first frame (0.0 for no frames)."""
    xs = list(frame_ms[1:]) if len(frame_ms) > 1 else list(frame_ms)
    return float(np.median(xs)) if xs else 0.0


def iter_frames(info: SeqInfo) -> Iterator[Tuple[int, np.ndarray]]:
    """``(frame number, BGR image)`` for frames 1..seqLength (raises ValueError on a missing image)."""
    for i, p in enumerate(frame_paths(info), 1):
        yield i, read_image(p)


def run_sequence(info: SeqInfo, config: Config, detections: Optional[Dict[int, Detections]] = None,
                 on_frame: Optional[FrameCallback] = None, pipeline: Optional[Pipeline] = None,
                 system: str = "") -> RunResult:
    """Track the sequence with the pipeline.

    Args:
        info: The sequence.
        config: Pipeline parameters.
        detections: Detections per frame (cached, or public ones); when given no
            detector is loaded and the images serve appearance and camera motion.
        on_frame: Called with the frame number after each frame (progress).
        pipeline: A pipeline to use (the caller closes it); else one is built from
            ``config`` and closed at the end.
        system: Name of the run (default: the tracker's name).

    Returns:
        The result rows and, per frame, the time of ``Pipeline.process`` (with
        given detections: embedding and tracking only).
    """
    own = pipeline is None
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
        if own:
            pipeline.close()
    return RunResult(system or config.tracker, rows, times)


def detect_sequence(info: SeqInfo, config: Config,
                    on_frame: Optional[FrameCallback] = None) -> Tuple[Dict[int, Detections], List[float]]:
    """Run the detector once over the sequence at the detection floor.

    Returns:
        (detections per frame number, detector ms per frame).
    """
    pipeline = Pipeline(config)
    out: Dict[int, Detections] = {}
    times: List[float] = []
    try:
        for i, frame in iter_frames(info):
            t0 = time.perf_counter()
            out[i] = pipeline.detect(frame)
            times.append((time.perf_counter() - t0) * 1e3)
            if on_frame:
                on_frame(i)
    finally:
        pipeline.close()
    return out, times


def run_model_track(info: SeqInfo, config: Config, tracker_yaml: str,
                    on_frame: Optional[FrameCallback] = None) -> RunResult:
    """Run ultralytics' ``YOLO(model).track(persist=True, tracker=tracker_yaml)``, detector included.

    Runs at the detection floor, as ``model.track()`` would be used with our
    thresholds; ``track_high_thresh`` etc. are the yaml's stock values.
    """
    from .detector import check_model_path, import_yolo, resolve_device

    yolo = import_yolo()(str(check_model_path(config.model)), task="detect")  # fresh object: trackers keep state
    by_name = {str(v): int(k) for k, v in dict(getattr(yolo, "names", None) or {}).items()}
    classes = None
    if config.classes:
        unknown = [c for c in config.classes if not c.isdigit() and c not in by_name]
        if unknown:
            raise ValueError(f"classes: unknown class name(s) {unknown} for {config.model}; expected names from "
                             f"{sorted(by_name)}")
        classes = [int(c) if c.isdigit() else by_name[c] for c in config.classes]
    device = resolve_device(config.device)
    floor = detection_floor(config)
    rows: List[Row] = []
    times: List[float] = []
    for i, frame in iter_frames(info):
        t0 = time.perf_counter()
        res = yolo.track(frame, persist=True, tracker=tracker_yaml, conf=floor, iou=config.iou_threshold,
                         imgsz=config.imgsz, max_det=config.max_det, classes=classes, device=device,
                         verbose=False)[0]
        times.append((time.perf_counter() - t0) * 1e3)
        boxes = res.boxes
        if boxes is not None and boxes.id is not None and len(boxes):
            for tid, b, s in zip(boxes.id.cpu().numpy().astype(int), boxes.xyxy.cpu().numpy(),
                                 boxes.conf.cpu().numpy()):
                rows.append((i, int(tid), float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1]),
                             float(s), -1, -1, -1))
        if on_frame:
            on_frame(i)
    return RunResult(f"ultralytics:{tracker_yaml.split('.')[0]}", rows, times)


def load_gt(info: SeqInfo) -> Optional[np.ndarray]:
    """Return the sequence's ``gt/gt.txt`` rows, or None when it has none."""
    return load_rows(info.gt_path, min_columns=7, what="ground truth") if info.gt_path.is_file() else None


def evaluate_run(run: RunResult, info: SeqInfo, gt: Optional[np.ndarray]) -> None:
    """Fill ``run.metrics`` from the ground truth (no-op without it)."""
    if gt is None:
        return
    res = np.array(run.rows, float) if run.rows else np.zeros((0, 10))
    run.metrics = evaluate_arrays(gt, res, info.seq_length, name=info.name).summary
