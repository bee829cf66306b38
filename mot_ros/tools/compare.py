"""Run every registered tracker on the same detections of one MOTChallenge sequence and tabulate them.

The detector runs once per sequence, at the pipeline's detection floor
(min(conf_threshold, low_conf_threshold)), unless detections are given (for
example cached with ``mot_track mot --save-detections``). Every tracker then
runs on exactly those detections, with the config's other parameters and the
config's embedder where it uses appearance (see ``mot_ros.core.tracking``).

``ms/frame`` is the median time of the tracker's part of a frame (embedding,
when the tracker uses appearance, plus association; detection excluded, it is
reported once), first frame left out. ``--reference`` adds ultralytics' own
``model.track()`` rows (detector included in their ms/frame).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from ..core.config import Config
from ..core.detector import resolve_device
from ..core.embedders import embedder_device, make_embedder
from ..core.evaluation import SUMMARY_FIELDS, format_table
from ..core.mot_format import SeqInfo, write_rows
from ..core.offline import RunResult, detect_sequence, evaluate_run, load_gt, median_ms, run_model_track, run_sequence
from ..core.pipeline import Pipeline
from ..core.tracking import tracker_names
from ..core.types import Detections

log = logging.getLogger(__name__)

TABLE_COLUMNS = (*SUMMARY_FIELDS, "ms/frame")
REFERENCES = ("bytetrack.yaml", "botsort.yaml")
"""ultralytics tracker yamls run through ``model.track()`` with ``reference=True``."""

ProgressCallback = Callable[[str, int], None]


@dataclass
class Comparison:
    """All runs on one sequence.

    Attributes:
        info: The sequence.
        runs: One per tracker (then the references), in table order.
        detect_ms: Detector time per frame (empty when detections were given).
        detections_source: ``detector`` or the detections file.
    """

    info: SeqInfo
    runs: List[RunResult]
    detect_ms: List[float] = field(default_factory=list)
    detections_source: str = "detector"

    @property
    def detect_ms_per_frame(self) -> float:
        """Median detector time per frame (0 with given detections)."""
        return median_ms(self.detect_ms)


def parse_trackers(text: Optional[str]) -> List[str]:
    """``a,b,c`` -> names, all registered trackers for None/empty; unknown names raise ValueError with the list."""
    names = tracker_names()
    if not text:
        return names
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in names]
    if unknown:
        raise ValueError(f"--trackers: expected names from {names}, got {unknown}")
    return chosen


def compare(info: SeqInfo, config: Config, trackers: Optional[Sequence[str]] = None,
            detections: Optional[Dict[int, Detections]] = None, on_frame: Optional[ProgressCallback] = None,
            results_dir: Optional[Path] = None, reference: bool = False,
            detections_source: str = "") -> Comparison:
    """Run ``trackers`` (default: all registered) on the same detections and evaluate each.

    Args:
        info: The sequence.
        config: Detector and tracker parameters shared by every run (``tracker`` is replaced per run).
        trackers: Registry names, in table order.
        detections: Detections per frame; None runs the detector once at the floor threshold.
        on_frame: Progress callback ``(stage, frame)``; stage is ``detect``, a tracker name or a reference.
        results_dir: When given, each run's rows go to ``<dir>/<system>.txt``.
        reference: Also run ultralytics' ``model.track()`` with its stock bytetrack/botsort yaml.
        detections_source: Where given detections came from (for the report).
    """
    names = list(trackers) if trackers else tracker_names()
    parse_trackers(",".join(names))  # refuse unknown names before any work
    gt = load_gt(info)
    if gt is None:
        log.warning("%s has no gt/gt.txt; reporting timings only", info.directory)
    detect_ms: List[float] = []
    if detections is None:
        detections, detect_ms = detect_sequence(info, config, _stage(on_frame, "detect"))
        detections_source = "detector"
    embedder = make_embedder(config.embedder, embedder_device(resolve_device(config.device), config.embedder_gpu),
                             config.embedder_model, config.embedder_size, config.half, backend=config.backend,
                             int8=config.embedder_int8)
    runs: List[RunResult] = []
    try:
        for name in names:
            cfg = config.replace(tracker=name)
            pipeline = Pipeline(cfg, load_detector=False, embedder=embedder)
            run = run_sequence(info, cfg, detections, _stage(on_frame, name), pipeline=pipeline, system=name)
            runs.append(run)
    finally:
        embedder.close()
    if reference:
        for yaml_name in REFERENCES:
            runs.append(run_model_track(info, config, yaml_name, _stage(on_frame, yaml_name)))
    for run in runs:
        evaluate_run(run, info, gt)
        if results_dir is not None:
            write_rows(Path(results_dir) / f"{run.system.replace(':', '_')}.txt", run.rows)
    return Comparison(info, runs, detect_ms, detections_source or "given")


def _stage(on_frame: Optional[ProgressCallback], stage: str) -> Optional[Callable[[int], None]]:
    return (lambda i: on_frame(stage, i)) if on_frame else None


def label(system: str, config: Config) -> str:
    """Table label of a run: the tracker name, ``(configured)`` for the config's own tracker."""
    if system.startswith("ultralytics:"):
        return f"{system} (model.track)"
    return f"{system} (configured)" if system == config.tracker else system


def table(result: Comparison, config: Config, markdown: bool = False) -> str:
    """Format the comparison (metrics and ms/frame) as an aligned text or Markdown table."""
    rows = [(label(r.system, config), r.table_row()) for r in result.runs]
    return format_table(rows, TABLE_COLUMNS, markdown=markdown, first="tracker")


def to_json(result: Comparison, config: Config) -> str:
    """Machine-readable comparison: sequence, detector settings, detector time and one entry per run."""
    doc = {
        "sequence": result.info.name, "frames": result.info.seq_length,
        "detections": result.detections_source,
        "detector": {"model": config.model, "conf_threshold": config.conf_threshold,
                     "low_conf_threshold": config.low_conf_threshold,
                     "imgsz": config.imgsz, "iou_threshold": config.iou_threshold, "classes": list(config.classes),
                     "ms_per_frame": round(result.detect_ms_per_frame, 2)},
        "embedder": config.embedder,
        "systems": [{"system": r.system, "label": label(r.system, config), "metrics": r.metrics,
                     "ms_per_frame": round(r.ms_per_frame, 2), "frames": r.frames, "unique_ids": r.unique_ids}
                    for r in result.runs],
    }
    return json.dumps(doc, indent=2)
