"""``python -m mot_ros.tools.bench``: stage-by-stage benchmark of mot_ros (``make bench``).

A benchmark, not a test: nothing here asserts a time. It prints a table and
writes JSON with four parts, all measured in one run on one machine:

1. **Stages.** Synthetic scenes (``mot_ros.core.synthetic.random_scene``) at
   each ``--sizes`` with each ``--objects`` count. Per frame it times convert
   (``sensor_msgs/Image`` -> BGR), detect (the detector on the same frame),
   embed and associate (``Pipeline.process`` fed the ground-truth boxes, so
   exactly N objects reach them), messages (``Detection2DArray``), publish
   (rclpy, no subscriber) and draw (annotated image and its message). The
   whole pipeline (all but draw) is compared with the detector alone.
2. **Appearance.** Every embedder setting on the same frames with
   ``--embed-objects`` objects, as a ratio to the detector's forward pass, and
   deep-sort-realtime's own tracker against ours at the largest object count.
3. **Node.** ``tracker_node`` in its own process over DDS, fed at ``--rate`` Hz
   for ``--node-seconds`` by this process; latency from the input stamp to the
   arrival of its ``detections``, processed and dropped counts, the latency
   trend, and the node's own per-stage timings from ``/diagnostics``.
4. **Memory.** Resident memory of a tracker over ``--memory-frames`` frames of
   synthetic detections with random appearance vectors and churning IDs.

Detector for the stages: the COCO YOLOv8n int8 ONNX when present (onnxruntime,
as a robot without a GPU would run it), else an untrained ``yolov8n.yaml``
(PyTorch, same architecture and cost, random weights). The appearance section
also times the PyTorch YOLOv8n, the faster of the two on a CPU.
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..core.config import Config

REPO = Path(__file__).resolve().parents[2]
SHARED_MODELS = (REPO.parent / "shared" / "data" / "models").resolve()
DEFAULT_COCO = SHARED_MODELS / "yolov8n_coco_int8.onnx"
DEFAULT_OSNET = SHARED_MODELS / "osnet_x0_25_msmt17.onnx"
DEFAULT_SHAPES = REPO / "models" / "shapes_yolov8n.pt"
FASTDDS_PROFILE = REPO / "config" / "fastdds_large_images.xml"
STAGES = ("convert", "detect", "embed", "associate", "messages", "publish", "draw")
PIPELINE_STAGES = ("convert", "detect", "embed", "associate", "messages", "publish")

log = logging.getLogger("mot_ros.bench")


# -- helpers ---------------------------------------------------------------------
def summary(values: Sequence[float]) -> Dict[str, float]:
    """Median, p95, mean and max of ``values`` (ms), rounded; zeros when empty."""
    if len(values) == 0:
        return {"median": 0.0, "p95": 0.0, "mean": 0.0, "max": 0.0, "n": 0}
    a = np.asarray(values, np.float64)
    return {"median": round(float(np.median(a)), 3), "p95": round(float(np.percentile(a, 95)), 3),
            "mean": round(float(a.mean()), 3), "max": round(float(a.max()), 3), "n": int(len(a))}


def parse_sizes(text: str) -> List[Tuple[int, int]]:
    """``640x480,1280x720`` -> [(640, 480), (1280, 720)]."""
    out = []
    for part in text.split(","):
        try:
            w, h = part.lower().split("x")
            out.append((int(w), int(h)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"--sizes: expected WIDTHxHEIGHT[,WIDTHxHEIGHT...], got {part!r}")
        if out[-1][0] < 32 or out[-1][1] < 32:
            raise argparse.ArgumentTypeError(f"--sizes: expected at least 32x32, got {part!r}")
    return out


def parse_ints(text: str) -> List[int]:
    """``1,10,50`` -> [1, 10, 50]."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def machine_info() -> Dict[str, Any]:
    """CPU, core count, load and library versions, for the JSON header."""
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: Dict[str, str] = {"python": platform.python_version(), "numpy": np.__version__,
                                "torch": torch.__version__}
    for mod in ("ultralytics", "onnxruntime", "cv2"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - optional
            pass
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available()
            else "none", "torch_threads": torch.get_num_threads(), "load_avg_start": list(os.getloadavg()),
            "platform": platform.platform(), "versions": versions}


@dataclass
class DetectorChoice:
    """The detector model file and how it was chosen."""

    path: str
    label: str


def untrained_yolov8n(directory: Path) -> str:
    """Save an untrained ``yolov8n.yaml`` (80 classes, random weights) as a .pt file; return its path."""
    path = directory / "yolov8n_untrained.pt"
    if not path.exists():
        from ultralytics import YOLO

        YOLO("yolov8n.yaml").save(str(path))
    return str(path)


def choose_detector(arg: str, coco: Path, shapes: Path, tmp: Path) -> Optional[DetectorChoice]:
    """Resolve ``--detector`` (auto, coco, torch, shapes, none or a path)."""
    if arg == "none":
        return None
    if arg == "auto":
        arg = "coco" if coco.is_file() else "torch"
    if arg == "coco":
        if not coco.is_file():
            raise ValueError(f"--detector coco: expected the COCO ONNX at {str(coco)!r}; it does not exist")
        return DetectorChoice(str(coco), "YOLOv8n COCO int8 ONNX (onnxruntime, CPU)")
    if arg == "torch":
        return DetectorChoice(untrained_yolov8n(tmp), "YOLOv8n untrained yolov8n.yaml (PyTorch fp32, CPU)")
    if arg == "shapes":
        if not shapes.is_file():
            raise ValueError(f"--detector shapes: expected the shapes model at {str(shapes)!r}; it does not exist")
        return DetectorChoice(str(shapes), "shapes detector (reduced YOLOv8n, PyTorch fp32, CPU)")
    if not Path(arg).is_file():
        raise ValueError(f"--detector: expected auto, coco, torch, shapes, none or a model file, got {arg!r}")
    return DetectorChoice(arg, f"{Path(arg).name}")


class Timer:
    """``with timer('stage'):`` appends the elapsed milliseconds to ``timer.ms['stage']``."""

    def __init__(self) -> None:
        self.ms: Dict[str, List[float]] = {}
        self._stage = ""
        self._t0 = 0.0

    def __call__(self, stage: str) -> "Timer":
        self._stage = stage
        return self

    def __enter__(self) -> "Timer":
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ms.setdefault(self._stage, []).append((time.perf_counter() - self._t0) * 1e3)


def gt_detections(objects: Sequence[Any], width: int, height: int) -> Any:
    """Ground-truth boxes of a synthetic frame as Detections (clipped to the image)."""
    from ..core.types import Detections

    boxes = np.array([o.box() for o in objects], np.float32).reshape(-1, 4)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return Detections(boxes, np.full(len(boxes), 0.9, np.float32), np.array([o.cls for o in objects], np.int64))


# -- 1. stages ----------------------------------------------------------------------
def bench_stages(args: argparse.Namespace, detector: Any, det_label: str, ros: "RosContext") -> List[Dict[str, Any]]:
    """Per-stage timings for every size and object count."""
    from std_msgs.msg import Header

    from ..core.config import Config
    from ..core.pipeline import Pipeline
    from ..core.synthetic import random_scene
    from ..core.tracker import make_tracker
    from ..ros.conversions import bgr_to_image, image_to_bgr, tracks_to_msg

    rows = []
    config = Config(model=detector.model_path if detector else "none.pt", device="cpu", imgsz=args.imgsz,
                    embedder=args.embedder, embedder_size=args.embedder_size)
    pipeline = Pipeline(config, detector=detector, load_detector=False)
    for (w, h) in args.sizes:
        for n in args.objects:
            pipeline.reset()
            pipeline.tracker = make_tracker(config)  # fresh IDs and samples for each scene
            timer = Timer()
            totals: List[float] = []
            overheads: List[float] = []  # (convert + core + messages + publish) / core, per frame
            scene = random_scene(w, h, n, args.frames + args.warmup, seed=args.seed + n)
            for i, sf in enumerate(scene):
                header = Header(frame_id="camera")
                header.stamp.sec, header.stamp.nanosec = 1000 + i // 30, (i % 30) * 33_333_333
                msg = bgr_to_image(sf.image, header)
                gt = gt_detections(sf.objects, w, h)
                t = Timer()
                with t("convert"):
                    frame = image_to_bgr(msg)
                if detector is not None:
                    with t("detect"):
                        pipeline.detect(frame)
                result = pipeline.process(frame, 1000 + i / 30.0, detections=gt)
                t.ms["embed"] = [result.timings_ms["embed"]]
                t.ms["associate"] = [result.timings_ms["associate"]]
                with t("messages"):
                    det_msg = tracks_to_msg(header, result.tracks)
                with t("publish"):
                    ros.pub_det.publish(det_msg)
                with t("draw"):
                    ros.pub_img.publish(bgr_to_image(pipeline.annotate(frame, result), header))
                if i < args.warmup:
                    continue
                for k, v in t.ms.items():
                    timer.ms.setdefault(k, []).extend(v)
                totals.append(sum(t.ms[k][0] for k in PIPELINE_STAGES if k in t.ms))
                core = sum(t.ms[k][0] for k in ("detect", "embed", "associate") if k in t.ms)
                overheads.append(totals[-1] / core if core > 0 else 0.0)
            stages = {k: summary(timer.ms.get(k, [])) for k in STAGES if k in timer.ms}
            total = summary(totals)
            det_med = stages.get("detect", {}).get("median", 0.0)
            row = {"size": f"{w}x{h}", "objects": n, "frames": len(totals), "detector": det_label,
                   "embedder": f"{args.embedder}" + (f"@{pipeline.embedder.size}"
                                                      if hasattr(pipeline.embedder, "size") else ""),
                   "stages": stages, "pipeline": total,
                   "pipeline_over_detector": round(total["median"] / det_med, 3) if det_med else None,
                   "ros_over_core": round(float(np.median(overheads)), 3) if overheads else None,
                   "tracks_out": len(result.tracks)}
            rows.append(row)
            log.info("stages %sx%s, %d objects: pipeline %.1f ms (detect %.1f, embed %.1f, associate %.2f)",
                     w, h, n, total["median"], det_med, stages["embed"]["median"], stages["associate"]["median"])
    pipeline.embedder.close()  # the detector is shared with the other sections
    return rows


# -- 2. appearance ----------------------------------------------------------------
def _time(fn: Callable[[], Any], reps: int, warmup: int = 2) -> List[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def bench_appearance(args: argparse.Namespace, detectors: Dict[str, Any]) -> Dict[str, Any]:
    """Each embedder setting, and each detector's forward pass, on the same frames."""
    from ..core.embedders import make_embedder
    from ..core.synthetic import random_scene

    w, h = args.sizes[0]
    frames = list(random_scene(w, h, args.embed_objects, args.frames, seed=args.seed + 1000))
    boxes = [gt_detections(f.objects, w, h).xyxy for f in frames]

    det_rows = {}
    for label, det in detectors.items():
        ms: List[float] = []
        for f in frames:
            ms += _time(lambda: det.detect(f.image, args.imgsz), 1, warmup=0)
        det_rows[label] = summary(ms[1:])
        log.info("detector %s: %.1f ms", label, det_rows[label]["median"])

    settings: List[Tuple[str, Dict[str, Any]]] = []
    for spec in args.embedders:
        kind, _, size = spec.partition("@")
        if kind == "osnet":
            if not args.osnet_model.is_file():
                log.info("osnet: %s absent; skipping", args.osnet_model)
                continue
            settings.append((spec, dict(kind="osnet", model_path=str(args.osnet_model))))
        elif kind in ("mobilenet", "histogram"):
            settings.append((spec, dict(kind=kind, size=int(size) if size else 128)))
        else:
            raise ValueError(f"--embedders: expected mobilenet[@SIZE], osnet or histogram, got {spec!r}")
    emb_rows = []
    for label, kw in settings:
        emb = make_embedder(device="cpu", **kw)
        ms = []
        for f, b in zip(frames, boxes):
            ms += _time(lambda: emb.embed(f.image, b), 1, warmup=1 if not ms else 0)
        emb.close()
        s = summary(ms)
        row = {"embedder": label, "objects": args.embed_objects, "size": f"{w}x{h}", "dim": int(emb.dim), **s}
        for dl, ds in det_rows.items():
            row[f"over_{dl}"] = round(s["median"] / ds["median"], 3) if ds["median"] else None
        emb_rows.append(row)
        log.info("embedder %s: %.1f ms at %d objects", label, s["median"], args.embed_objects)
    return {"detectors": det_rows, "embedders": emb_rows}


def bench_association(args: argparse.Namespace) -> Dict[str, Any]:
    """Association + Kalman at the largest object count: deep-sort-realtime's tracker, our vectorised one
    (checked for identical tracks) and the adapter as the pipeline runs it, on the same detections."""
    from deep_sort_realtime.deep_sort import nn_matching
    from deep_sort_realtime.deep_sort.detection import Detection
    from deep_sort_realtime.deep_sort.tracker import Tracker as Reference

    from ..core.config import Config
    from ..core.fast_deepsort import FastTracker, SampleBank
    from ..core.synthetic import random_scene
    from ..core.tracker import DeepSortTracker

    n = max(args.objects)
    w, h = args.sizes[0]
    dim = args.embed_dim
    rng = np.random.default_rng(args.seed)
    base = rng.normal(size=(n + 1, dim)).astype(np.float32) / np.sqrt(dim)
    cfg = Config(model="none.pt", nn_budget=args.nn_budget)
    kw = dict(max_iou_distance=cfg.max_iou_distance, max_age=cfg.max_age, n_init=cfg.n_init)
    adapter = DeepSortTracker(cfg)
    budget = cfg.nn_budget or None  # 0 means unlimited, as in DeepSortTracker
    fast = FastTracker(SampleBank(cfg.max_cosine_distance, budget), **kw)
    ref = Reference(nn_matching.NearestNeighborDistanceMetric("cosine", cfg.max_cosine_distance, budget), **kw)
    times: Dict[str, List[float]] = {"adapter": [], "fast": [], "reference": []}
    identical = True
    for i, sf in enumerate(random_scene(w, h, n, args.association_frames, seed=args.seed + 7)):
        det = gt_detections(sf.objects, w, h)
        e = base[[o.obj_id for o in sf.objects]]
        e = e + rng.normal(0, 0.15 / np.sqrt(dim), size=e.shape).astype(np.float32)  # cosine distance ~0.01
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        ltwh = np.concatenate([det.xyxy[:, :2], det.xyxy[:, 2:] - det.xyxy[:, :2]], axis=1)
        t0 = time.perf_counter()
        adapter.update(det, e)
        t1 = time.perf_counter()
        fast.predict()
        fast.update_arrays(ltwh, det.scores, det.classes.tolist(), e)
        t2 = time.perf_counter()
        dets = [Detection(b, float(s), f, class_name=int(c)) for b, s, c, f in zip(ltwh, det.scores, det.classes, e)]
        ref.predict()
        ref.update(dets)
        t3 = time.perf_counter()
        if i >= 5:
            for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
                times[k].append(v * 1e3)
        identical &= [(t.track_id, t.state, t.time_since_update) for t in fast.tracks] == \
            [(t.track_id, t.state, t.time_since_update) for t in ref.tracks]
    out = {"tracks": n, "embedding_dim": dim, "frames": args.association_frames, "nn_budget": cfg.nn_budget,
           "tracker": type(adapter._t).__name__, "ours": summary(times["adapter"]), "fast": summary(times["fast"]),
           "deep_sort_realtime": summary(times["reference"]), "identical_tracks": bool(identical)}
    log.info("association at %d tracks: pipeline tracker (%s) %.2f ms, FastTracker %.2f ms, deep-sort-realtime "
             "%.2f ms, FastTracker identical %s", n, out["tracker"], out["ours"]["median"], out["fast"]["median"],
             out["deep_sort_realtime"]["median"], identical)
    return out


# -- 3. node over DDS -------------------------------------------------------------
class RosContext:
    """rclpy, one node with the publishers and subscribers the benchmark uses, spun in a thread."""

    def __init__(self) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        from ..ros.spinning import BackgroundSpinner

        rclpy.init()
        self._rclpy = rclpy
        self.node = Node("mot_ros_bench")
        self.pub_det = self.node.create_publisher(Detection2DArray, "bench_detections", 10)
        self.pub_img = self.node.create_publisher(Image, "bench_annotated", 2)
        self.pub_in = self.node.create_publisher(Image, "image", QoSProfile(depth=5,
                                                                            reliability=ReliabilityPolicy.RELIABLE))
        self.lock = threading.Lock()
        self.received: List[Tuple[float, float]] = []  # (arrival wall time, input stamp)
        self.diag: Dict[str, str] = {}
        self.node.create_subscription(Detection2DArray, "detections", self._on_det, 100)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.spinner = BackgroundSpinner(SingleThreadedExecutor())
        self.spinner.add(self.node)

    def _on_det(self, msg: Any) -> None:
        now = time.time()
        with self.lock:
            self.received.append((now, msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9))

    def _on_diag(self, msg: Any) -> None:
        for st in msg.status:
            if "tracking" in st.name:
                with self.lock:
                    self.diag = {kv.key: kv.value for kv in st.values}

    def close(self) -> None:
        self.spinner.stop()
        self.node.destroy_node()
        self._rclpy.try_shutdown()


def _node_command(model: str, params: Dict[str, Any]) -> List[str]:
    exe = shutil.which("tracker_node") or str(Path(sys.executable).parent / "tracker_node")
    cmd = [exe, "--ros-args", "-p", f"model:={model}", "-p", "qos_reliability:=reliable", "-p", "device:=cpu"]
    for k, v in params.items():
        cmd += ["-p", f"{k}:={str(v).lower() if isinstance(v, bool) else v}"]
    return cmd


def bench_node(args: argparse.Namespace, ros: RosContext, model: str, model_label: str, name: str,
               params: Dict[str, Any]) -> Dict[str, Any]:
    """Feed ``tracker_node`` (own process) at ``args.rate`` Hz for ``args.node_seconds``; collect latencies."""
    from ..core.synthetic import random_scene
    from ..ros.conversions import bgr_to_image

    w, h = args.node_size
    frames = [bgr_to_image(f.image) for f in random_scene(w, h, args.node_objects, 90, seed=args.seed + 3)]
    for m in frames:
        m.header.frame_id = "camera"
    cmd = _node_command(model, params)
    log.info("node run %r: %s", name, " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    node_log: List[str] = []
    threading.Thread(target=lambda: [node_log.append(line.rstrip()) for line in proc.stdout],  # type: ignore
                     daemon=True).start()
    try:
        end = time.monotonic() + args.node_start_timeout
        while ros.pub_in.get_subscription_count() == 0:
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"tracker_node did not subscribe to image (exit code {proc.poll()}); last "
                                   f"output: {node_log[-5:]}")
            time.sleep(0.1)
        time.sleep(1.0)  # let discovery settle both ways (detections back to us)
        with ros.lock:
            ros.received.clear()
            ros.diag = {}
        period = 1.0 / args.rate
        sent = 0
        t_start = time.time()
        t_next = time.monotonic()
        deadline = t_next + args.node_seconds
        clock = ros.node.get_clock()
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if now < t_next:
                time.sleep(t_next - now)
            msg = frames[sent % len(frames)]
            msg.header.stamp = clock.now().to_msg()
            ros.pub_in.publish(msg)
            sent += 1
            t_next += period
            if time.monotonic() - t_next > 1.0:  # we are the bottleneck: do not burst to catch up
                t_next = time.monotonic()
        t_send_end = time.time()
        time.sleep(max(2.0, 2.5 * args.diagnostics_period))  # last results and one more /diagnostics
        with ros.lock:
            rec = list(ros.received)
            diag = dict(ros.diag)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    lat = np.array([(arr - st) * 1e3 for arr, st in rec if st >= t_start - 1.0])
    rel = np.array([st - t_start for arr, st in rec if st >= t_start - 1.0])
    windows = []
    for w0 in np.arange(0.0, args.node_seconds, args.window):
        sel = lat[(rel >= w0) & (rel < w0 + args.window)]
        windows.append({"from_s": float(w0), "n": int(len(sel)), "p50": round(float(np.median(sel)), 2) if len(sel)
                        else None, "p95": round(float(np.percentile(sel, 95)), 2) if len(sel) else None})
    span = min(10.0, args.node_seconds / 3)
    first, last = lat[rel < span], lat[rel >= args.node_seconds - span]
    stage = {k[:-3]: float(v) for k, v in diag.items() if k.endswith("_ms") and not k.startswith("latency")}
    core = sum(stage.get(k, 0.0) for k in ("detect", "embed", "associate"))
    out = {
        "name": name, "model": model_label, "params": params, "size": f"{w}x{h}", "objects": args.node_objects,
        "rate_hz": args.rate, "seconds": round(t_send_end - t_start, 2), "sent": sent, "results": int(len(lat)),
        "node_received": int(diag.get("frames_received", -1)), "node_processed": int(diag.get("frames_processed", -1)),
        "node_dropped": int(diag.get("frames_dropped", -1)), "processed_hz": round(len(lat) / args.node_seconds, 2),
        "latency_ms": summary(lat),
        "latency_first_ms": summary(first), "latency_last_ms": summary(last), "trend_span_s": span,
        "latency_windows": windows, "node_stage_median_ms": stage,
        "node_total_over_core": round(stage["total"] / core, 3) if core and "total" in stage else None,
        "p95_over_processing": round(float(np.percentile(lat, 95)) / stage["total"], 3)
        if len(lat) and stage.get("total") else None,
    }
    log.info("node run %r: %d sent, %d results, latency p50 %.1f p95 %.1f max %.1f ms, node total %.1f ms",
             name, sent, len(lat), out["latency_ms"]["median"], out["latency_ms"]["p95"], out["latency_ms"]["max"],
             stage.get("total", float("nan")))
    return out


# -- 4. memory ----------------------------------------------------------------------
def bench_memory(args: argparse.Namespace) -> Dict[str, Any]:
    """RSS of a tracker (plus trails) over ``args.memory_frames`` frames with churning IDs."""
    import psutil

    from ..core.config import Config
    from ..core.drawing import Trails
    from ..core.tracker import DeepSortTracker
    from ..core.types import Detections

    rng = np.random.default_rng(args.seed)
    n, dim, w, h = args.memory_objects, args.embed_dim, 1280.0, 720.0
    cfg = Config(model="none.pt", nn_budget=args.nn_budget)
    tracker = DeepSortTracker(cfg)
    trails = Trails(cfg.trail_length)
    proc = psutil.Process()

    def spawn() -> Dict[str, Any]:
        s = rng.uniform(30, 90)
        e = rng.normal(size=dim).astype(np.float32)
        return {"p": rng.uniform([s, s], [w - s, h - s]), "v": rng.uniform(-4, 4, 2), "s": s,
                "e": e / np.linalg.norm(e)}

    objs = [spawn() for _ in range(n)]
    gc.collect()
    rss0 = proc.memory_info().rss
    samples = []
    times: List[float] = []
    for f in range(args.memory_frames):
        if f % max(100, args.memory_frames // 10) == 0:  # gc.collect is slow with torch loaded
            gc.collect()
            samples.append({"frame": f, "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                            "tracks": tracker.num_tracks, "next_id": tracker.next_id})
        for i, o in enumerate(objs):
            if rng.random() < args.churn:  # leaves; a new object (new identity) enters
                objs[i] = spawn()
            o = objs[i]
            o["p"] += o["v"]
            for k, lim in ((0, w), (1, h)):
                if not o["s"] <= o["p"][k] <= lim - o["s"]:
                    o["v"][k] = -o["v"][k]
        seen = [o for o in objs if rng.random() > 0.05]  # 5 % missed detections
        xyxy = np.array([[o["p"][0] - o["s"] / 2, o["p"][1] - o["s"] / 2, o["p"][0] + o["s"] / 2,
                          o["p"][1] + o["s"] / 2] for o in seen], np.float32).reshape(-1, 4)
        emb = np.array([o["e"] for o in seen], np.float32).reshape(-1, dim)
        emb = emb + rng.normal(0, 0.1 / np.sqrt(dim), emb.shape).astype(np.float32)  # cosine distance ~0.005
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        det = Detections(xyxy, np.full(len(seen), 0.9), np.zeros(len(seen)))
        t0 = time.perf_counter()
        tracks = tracker.update(det, emb)
        times.append((time.perf_counter() - t0) * 1e3)
        trails.update(tracks)
    gc.collect()
    rss1 = proc.memory_info().rss
    samples.append({"frame": args.memory_frames, "rss_mb": round(rss1 / 2**20, 1), "tracks": tracker.num_tracks,
                    "next_id": tracker.next_id})
    steady = samples[1]["rss_mb"] if len(samples) > 2 else samples[0]["rss_mb"]
    out = {"frames": args.memory_frames, "objects": n, "embedding_dim": dim, "nn_budget": args.nn_budget,
           "churn_per_frame": args.churn, "ids_created": tracker.next_id - 1,
           "rss_start_mb": round(rss0 / 2**20, 1), "rss_end_mb": round(rss1 / 2**20, 1),
           "growth_mb": round((rss1 - rss0) / 2**20, 1),
           "growth_after_first_tenth_mb": round(rss1 / 2**20 - steady, 1),
           "samples": samples, "update_ms": summary(times)}
    log.info("memory: %d frames, %d IDs, RSS %.1f -> %.1f MB", args.memory_frames, out["ids_created"],
             out["rss_start_mb"], out["rss_end_mb"])
    return out


# -- report -------------------------------------------------------------------------
def format_table(result: Dict[str, Any]) -> str:
    """Markdown tables of the JSON result."""
    lines: List[str] = []
    m = result["machine"]
    lines.append(f"Machine: {m['cpu']}, {m['cores']} cores, GPU: {m['gpu']}, torch threads {m['torch_threads']}, "
                 f"load {m['load_avg_start'][0]:.2f} at start")
    stages = result.get("stages") or []
    if stages:
        lines += ["", f"Stages, median / p95 ms (detector: {stages[0]['detector']}; embedder: "
                      f"{stages[0]['embedder']}; embed and associate fed the ground-truth boxes). pipeline = convert "
                      "+ detect + embed + associate + messages + publish (draw runs only while annotated_image has "
                      "a subscriber); with ROS / core = pipeline / (detect + embed + associate), per frame.", "",
                  "| size | objects | convert | detect | embed | associate | messages | publish | draw | "
                  "pipeline | pipeline / detect | with ROS / core |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in stages:
            cells = []
            for k in STAGES:
                s = r["stages"].get(k)
                cells.append(f"{s['median']:.2f} / {s['p95']:.2f}" if s else "-")
            ratio = f"{r['pipeline_over_detector']:.2f}" if r["pipeline_over_detector"] else "-"
            ros = f"{r['ros_over_core']:.3f}" if r.get("ros_over_core") else "-"
            lines.append(f"| {r['size']} | {r['objects']} | " + " | ".join(cells) +
                         f" | {r['pipeline']['median']:.1f} / {r['pipeline']['p95']:.1f} | {ratio} | {ros} |")
    app = result.get("appearance")
    if app:
        dets = app["detectors"]
        lines += ["", "Appearance at " + (f"{app['embedders'][0]['objects']} objects, "
                                          if app["embedders"] else "") + "median / p95 ms", ""]
        for k, v in dets.items():
            lines.append(f"- detector forward pass ({k}): {v['median']:.1f} / {v['p95']:.1f} ms")
        if app["embedders"]:
            lines += ["", "| embedder | dim | median | p95 | " + " | ".join(f"/ {k}" for k in dets) + " |",
                      "|---|---|---|---|" + "---|" * len(dets)]
            for r in app["embedders"]:
                lines.append(f"| {r['embedder']} | {r['dim']} | {r['median']:.1f} | {r['p95']:.1f} | " +
                             " | ".join(f"{r[f'over_{k}']:.2f}" if r.get(f"over_{k}") is not None else "-"
                                        for k in dets) + " |")
    a = result.get("association")
    if a:
        lines += ["", f"Association + Kalman at {a['tracks']} tracks ({a['embedding_dim']}-d appearance, nn_budget "
                      f"{a['nn_budget']}), median / p95 ms: pipeline tracker ({a['tracker']}, incl. the adapter) "
                      f"{a['ours']['median']:.2f} / {a['ours']['p95']:.2f}, FastTracker "
                      f"{a['fast']['median']:.2f} / {a['fast']['p95']:.2f}, deep-sort-realtime "
                      f"{a['deep_sort_realtime']['median']:.2f} / {a['deep_sort_realtime']['p95']:.2f}; "
                      f"FastTracker's tracks identical to deep-sort-realtime's: {a['identical_tracks']}"]
    for r in result.get("node") or []:
        lat = r["latency_ms"]
        st = r["node_stage_median_ms"]
        lines += ["", f"Node run '{r['name']}' ({r['model']}, {r['size']}, {r['objects']} objects, {r['rate_hz']} Hz "
                      f"for {r['seconds']} s, params {r['params']})",
                  f"- sent {r['sent']}, node received {r['node_received']}, processed {r['node_processed']}, "
                  f"dropped {r['node_dropped']}; results received {r['results']} ({r['processed_hz']} Hz)",
                  f"- latency stamp -> detections: p50 {lat['median']:.1f}, p95 {lat['p95']:.1f}, "
                  f"max {lat['max']:.1f} ms; first {r['trend_span_s']:.0f} s p50 "
                  f"{r['latency_first_ms']['median']:.1f} / p95 {r['latency_first_ms']['p95']:.1f}, last "
                  f"{r['trend_span_s']:.0f} s p50 {r['latency_last_ms']['median']:.1f} / p95 "
                  f"{r['latency_last_ms']['p95']:.1f}",
                  "- p50 per window: " + ", ".join(f"{x['from_s']:.0f}s {x['p50']}" for x in r["latency_windows"]),
                  "- node medians (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in st.items()),
                  f"- node total / (detect + embed + associate): {r['node_total_over_core']}; "
                  f"latency p95 / node total: {r['p95_over_processing']}"]
    mem = result.get("memory")
    if mem:
        lines += ["", f"Memory: {mem['frames']} tracker frames, {mem['objects']} objects, {mem['ids_created']} IDs "
                      f"created, nn_budget {mem['nn_budget']}: RSS {mem['rss_start_mb']} -> {mem['rss_end_mb']} MB "
                      f"(growth {mem['growth_mb']} MB; {mem['growth_after_first_tenth_mb']} MB after the first "
                      f"tenth); update {mem['update_ms']['median']:.2f} / {mem['update_ms']['p95']:.2f} ms"]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mot_ros.tools.bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--output", type=Path, default=REPO / "out" / "bench.json", help="JSON file to write")
    p.add_argument("--sizes", type=parse_sizes, default=parse_sizes("640x480,1280x720"), help="frame sizes")
    p.add_argument("--objects", type=parse_ints, default=parse_ints("1,10,50"), help="objects per scene")
    p.add_argument("--frames", type=int, default=30, help="timed frames per size and object count")
    p.add_argument("--warmup", type=int, default=3, help="untimed frames first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--detector", default="auto", help="auto (COCO ONNX if present, else untrained yolov8n.yaml), "
                   "coco, torch (untrained yolov8n.yaml), shapes, none, or a model file")
    p.add_argument("--imgsz", type=int, default=640, help="detector input size")
    p.add_argument("--embedder", default="mobilenet", choices=("mobilenet", "osnet", "histogram"),
                   help="embedder of the stage table")
    p.add_argument("--embedder-size", type=int, default=128, help="mobilenet input size of the stage table")
    p.add_argument("--embedders", default="mobilenet@128,mobilenet@96,mobilenet@64,osnet,histogram",
                   type=lambda s: [x for x in s.split(",") if x], help="embedder settings compared")
    p.add_argument("--embed-objects", type=int, default=20, help="objects in the embedder comparison")
    p.add_argument("--embed-dim", type=int, default=1280, help="appearance dimension for association and memory")
    p.add_argument("--association-frames", type=int, default=100, help="frames of the association comparison")
    p.add_argument("--coco-model", type=Path, default=DEFAULT_COCO)
    p.add_argument("--osnet-model", type=Path, default=DEFAULT_OSNET)
    p.add_argument("--shapes-model", type=Path, default=DEFAULT_SHAPES, help="model of the node runs")
    p.add_argument("--node-seconds", type=float, default=30.0, help="seconds each node run is fed (0 skips)")
    p.add_argument("--rate", type=float, default=30.0, help="input rate of the node runs, Hz")
    p.add_argument("--node-size", type=lambda s: parse_sizes(s)[0], default=(640, 480))
    p.add_argument("--node-objects", type=int, default=10)
    p.add_argument("--node-runs", default="keeps_up:imgsz=320;embedder_size=64,overloaded:imgsz=640;embedder_size=128",
                   help="comma-separated NAME:param=value;param=value tracker_node configurations")
    p.add_argument("--node-start-timeout", type=float, default=120.0)
    p.add_argument("--window", type=float, default=5.0, help="seconds per latency window")
    p.add_argument("--diagnostics-period", type=float, default=1.0)
    p.add_argument("--memory-frames", type=int, default=10000, help="tracker frames of the memory run (0 skips)")
    p.add_argument("--memory-objects", type=int, default=20)
    p.add_argument("--churn", type=float, default=0.005, help="chance per object and frame to be replaced")
    p.add_argument("--nn-budget", type=int, default=Config().nn_budget,
                   help="nn_budget of the association and memory runs (default: the parameter default)")
    p.add_argument("--skip", default="", type=lambda s: {x for x in s.split(",") if x},
                   help="sections to skip: stages, appearance, association, node, memory")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def parse_node_runs(text: str) -> List[Tuple[str, Dict[str, Any]]]:
    """``light:imgsz=320;embedder=histogram,heavy:imgsz=640`` -> [(name, params), ...]."""
    from ..core.config import parse_override

    runs = []
    for item in [x for x in text.split(",") if x.strip()]:
        name, _, spec = item.partition(":")
        params = dict(parse_override(kv) for kv in spec.split(";") if kv.strip())
        runs.append((name.strip(), params))
    return runs


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; print the table; write the JSON."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s",
                        stream=sys.stderr)
    # An isolated DDS domain on this host for us and the node we start
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 200)))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    if FASTDDS_PROFILE.is_file():
        os.environ.setdefault("FASTRTPS_DEFAULT_PROFILES_FILE", str(FASTDDS_PROFILE))
    node_runs = parse_node_runs(args.node_runs)

    from ..core.detector import YoloDetector

    result: Dict[str, Any] = {"machine": machine_info(), "command": " ".join(sys.argv)}
    tmp = Path(tempfile.mkdtemp(prefix="mot_ros_bench_"))
    ros = RosContext()
    try:
        choice = choose_detector(args.detector, args.coco_model, args.shapes_model, tmp)
        detector = YoloDetector(choice.path, "cpu") if choice else None
        result["detector"] = choice.label if choice else "none"
        if "stages" not in args.skip:
            result["stages"] = bench_stages(args, detector, result["detector"], ros)
        if "appearance" not in args.skip:
            dets = {}
            if detector is not None:
                dets["coco_onnx" if choice and choice.path.endswith(".onnx") else "detector"] = detector
            if choice is not None and choice.path.endswith(".onnx"):  # also the faster detector on a CPU
                dets["torch_yolov8n"] = YoloDetector(untrained_yolov8n(tmp), "cpu")
            result["appearance"] = bench_appearance(args, dets)
        if "association" not in args.skip:
            result["association"] = bench_association(args)
        if "node" not in args.skip and args.node_seconds > 0:
            model, label = str(args.shapes_model), "shapes detector"
            if not args.shapes_model.is_file():
                model, label = untrained_yolov8n(tmp), "untrained yolov8n (shapes model absent)"
                log.warning("node runs: %s is absent; using an untrained yolov8n", args.shapes_model)
            result["node"] = [bench_node(args, ros, model, label, name, params) for name, params in node_runs]
        if "memory" not in args.skip and args.memory_frames > 0:
            result["memory"] = bench_memory(args)
    finally:
        ros.close()
        shutil.rmtree(tmp, ignore_errors=True)
    result["machine"]["load_avg_end"] = list(os.getloadavg())
    table = format_table(result)
    result["table"] = table
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    sys.stdout.write(table + "\n")
    log.info("wrote %s", args.output)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
