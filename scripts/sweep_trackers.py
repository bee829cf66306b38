#!/usr/bin/env python3
"""Sweep trackers and tracker settings over the development set on cached detections and embeddings.

usage:
    scripts/make_devset.py                                   # once: builds out/devset/ and devset.json
    scripts/sweep_trackers.py cache                          # once: detections + embeddings per sequence
    scripts/sweep_trackers.py run [--configs A,B] [--seqs S1,S2] [--set k=v ...] [--name N]
    scripts/sweep_trackers.py table [--markdown FILE] [--metrics HOTA,IDF1] [--rows A,B]
    scripts/sweep_trackers.py check CANDIDATE BASELINE       # is CANDIDATE >= BASELINE on every sequence?
    scripts/sweep_trackers.py compare BASELINE [--match TEXT] # mean change and sequences hurt, one line per row
    scripts/sweep_trackers.py speed SEQ --model M [--set k=v]  # pipeline / detector alone, one interleaved run

``cache`` runs ``mot_track mot SEQ --save-detections`` once per sequence at the
detector floor (0.1) and stores the appearance embeddings of every detection
(mobilenet for all sequences, osnet too for the real ones) in
``out/devset/cache/<seq>.npz``. ``run`` then builds each tracker with the
registry (``mot_ros.core.tracking.make_tracker``), feeds it the cached
detections exactly as the pipeline does (detections at min(conf_threshold,
low_conf_threshold), embeddings only when the tracker needs appearance, the
frame only when it needs it), evaluates with TrackEval
(``mot_ros.core.evaluation.evaluate_arrays``) and merges the per-sequence
metrics into ``out/devset/sweep.json``. A configuration over the whole
development set takes seconds to a minute.

A row of the results is a named configuration: a registered tracker name
(``bytetrack``, ``botsort``, ...) or an entry of ``CONFIGS`` below, each a set
of ``--set`` overrides on the schema defaults. On the real sequences the
detector keeps persons only and ``embedder=osnet`` rows use the OSNet ONNX.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("YOLO_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from mot_ros.core.config import FIELD_NAMES, Config, parse_override  # noqa: E402
from mot_ros.core.evaluation import evaluate_arrays  # noqa: E402
from mot_ros.core.mot_format import load_rows, read_image, read_seqinfo  # noqa: E402
from mot_ros.core.tracking.deepsort import STAGES_OFF  # noqa: E402
from mot_ros.core.types import Detections  # noqa: E402

DEVSET = REPO / "out" / "devset"
FLOOR = 0.1
METRICS = ("HOTA", "IDF1", "MOTA", "IDSW")

# Candidate configurations of our deepsort: overrides on the schema defaults. "published" rows start from the
# papers' settings; the others change one thing at a time from there.
# The landed DeepSORT: every modern stage off (STAGES_OFF) except recovery and duplicate_iou 0.7.
LANDED: Dict[str, Any] = {"tracker": "deepsort", **STAGES_OFF, "low_conf_threshold": 0.35, "conf_threshold": 0.35,
                          "recovery": True, "duplicate_iou": 0.7, "box_source": "kalman", "max_iou_distance": 0.7,
                          "embedder_int8": False, "embedder": "mobilenet"}
# Published settings mapped onto our stages (thresholds are per-detector; ours start at the ultralytics ones).
BYTETRACK_PUB: Dict[str, Any] = {**LANDED, "low_conf_threshold": 0.1, "fuse_score": True, "recovery": False}
BOTSORT_PUB: Dict[str, Any] = {**BYTETRACK_PUB, "cmc": "sparse_flow", "association": "fused",
                               "proximity_threshold": 0.5, "appearance_threshold": 0.25, "appearance_features": "ema",
                               "ema_alpha": 0.9, "kalman_state": "xywh"}
STRONGSORT_PUB: Dict[str, Any] = {**LANDED, "cmc": "ecc", "appearance_features": "ema", "ema_alpha": 0.9,
                                  "nsa_kalman": True, "n_init": 3, "max_cosine_distance": 0.2, "recovery": False}
CONFIGS: Dict[str, Dict[str, Any]] = {
    "ds-landed": LANDED,
    "ds-bytetrack-pub": BYTETRACK_PUB,
    "ds-botsort-pub": BOTSORT_PUB,
    "ds-strongsort-pub": STRONGSORT_PUB,
    # the starting point of the sweep: the stage parameters as first landed (before the sweep chose defaults)
    "ds-defaults": {**LANDED, "low_conf_threshold": 0.1, "cmc": "sparse_flow"},
    # whatever the schema's defaults are now (the chosen ones)
    "default": {"tracker": "deepsort"},
    # ultralytics' stock yaml: track_high_thresh 0.25, track_low_thresh 0.1 (the peers of the issue)
    "ul-bytetrack-stock": {"tracker": "bytetrack", "conf_threshold": 0.25, "low_conf_threshold": 0.1},
    "ul-botsort-stock": {"tracker": "botsort", "conf_threshold": 0.25, "low_conf_threshold": 0.1},
}
NO_REID_PEERS = ["ul-bytetrack-stock", "ul-botsort-stock", "boxmot_bytetrack", "boxmot_ocsort"]
OSNET_PEERS = ["boxmot_botsort@osnet", "boxmot_strongsort@osnet", "boxmot_occluboost@osnet", "boxmot_hybridsort@osnet",
               "boxmot_boosttrack@osnet", "boxmot_deepocsort@osnet"]
PEERS = ["ul-bytetrack-stock", "ul-botsort-stock", "boxmot_bytetrack", "boxmot_ocsort", "boxmot_botsort",
         "boxmot_strongsort", "boxmot_occluboost", "boxmot_hybridsort", "boxmot_deepocsort", "boxmot_boosttrack"]


def manifest(devset: Path) -> List[Dict[str, Any]]:
    """The sequences of ``devset.json``."""
    path = devset / "devset.json"
    if not path.is_file():
        raise SystemExit(f"sweep: {path} is missing; run scripts/make_devset.py first")
    return json.loads(path.read_text())["sequences"]


# -- cache -------------------------------------------------------------------------------------

def mobilenet_key(size: int, int8: bool) -> str:
    """Cache key of mobilenet embeddings: ``mobilenet`` (float32, 128), ``mobilenet<size>``, ``mobilenet_int8``."""
    return "mobilenet" + (str(size) if size != 128 else "") + ("_int8" if int8 else "")


def rows_xyxy(rows: np.ndarray) -> np.ndarray:
    """Boxes (x1, y1, x2, y2) of MOT rows (frame, id, left, top, width, height, ...)."""
    if not len(rows):
        return np.zeros((0, 4))
    return np.stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]], axis=1)


def add_embeddings(seq: Dict[str, Any], devset: Path, embedders: Dict[str, Any]) -> None:
    """Add the features of ``embedders`` (cache key -> embedder) missing from a sequence's cache; frames read once."""
    npz_path = devset / "cache" / f"{seq['name']}.npz"
    data = dict(np.load(npz_path))
    todo = {k: e for k, e in embedders.items() if f"emb_{k}" not in data}
    if not todo:
        return
    rows = data["rows"]
    info = read_seqinfo(seq["dir"])
    feats: Dict[str, List[np.ndarray]] = {k: [] for k in todo}
    for f in range(1, info.seq_length + 1):
        r = rows[rows[:, 0] == f]
        if not len(r):
            continue
        img = read_image(info.image_path(f))
        for k, e in todo.items():
            feats[k].append(e.embed(img, rows_xyxy(r).astype(np.float32)))
    for k, e in todo.items():
        data[f"emb_{k}"] = np.concatenate(feats[k]) if feats[k] else np.zeros((0, e.dim), np.float32)
    np.savez_compressed(npz_path, **data)
    print(f"cached {seq['name']}: {list(todo)}", flush=True)


def cache_extra_embeddings(seq: Dict[str, Any], devset: Path, sizes: Sequence[int]) -> None:
    """Add mobilenet at other crop sizes (float32), the int8 model's (128) and the colour histograms to a cache."""
    from mot_ros.core.embedders import make_embedder

    keys = {mobilenet_key(s, False): (s, False) for s in sizes if s != 128}
    keys[mobilenet_key(128, True)] = (128, True)
    npz_keys = set(np.load(devset / "cache" / f"{seq['name']}.npz").files)
    embedders: Dict[str, Any] = {k: make_embedder("mobilenet", "cpu", "", v[0], int8=v[1])
                                 for k, v in keys.items() if f"emb_{k}" not in npz_keys}
    for k, e in embedders.items():
        if keys[k][1] and e.runtime != "openvino-int8":
            raise ValueError(f"mobilenet int8: expected the openvino-int8 runtime, got {e.runtime}")
    embedders["histogram"] = make_embedder("histogram", "cpu")
    add_embeddings(seq, devset, embedders)


def cache_sequence(seq: Dict[str, Any], devset: Path, force: bool = False) -> Path:
    """Detections at the floor (through ``mot_track mot --save-detections``) and embeddings, once."""
    from mot_ros.core.embedders import make_embedder

    cache = devset / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    det_path, npz_path = cache / f"{seq['name']}.det.txt", cache / f"{seq['name']}.npz"
    if npz_path.is_file() and not force:
        return npz_path
    sets = [f"conf_threshold={FLOOR}"] + (["low_conf_threshold=%g" % FLOOR] if "low_conf_threshold" in FIELD_NAMES
                                          else [])
    if seq["classes"]:
        sets.append("classes=[" + ",".join(seq["classes"]) + "]")
    cmd = [str(REPO / ".venv" / "bin" / "mot_track"), "mot", seq["dir"], "-o", str(cache / f"{seq['name']}.trk.txt"),
           "--model", seq["model"], "--save-detections", str(det_path), "-q", "--set", "device=cpu"]
    for s in sets:
        cmd += ["--set", s]
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    rows = load_rows(det_path, min_columns=8, what="detections")
    info = read_seqinfo(seq["dir"])
    embedders = {"mobilenet": make_embedder("mobilenet", "cpu", int8=False)}
    if seq.get("osnet"):
        embedders["osnet"] = make_embedder("osnet", "cpu", seq["osnet"])
    feats: Dict[str, List[np.ndarray]] = {k: [] for k in embedders}
    for f in range(1, info.seq_length + 1):
        r = rows[rows[:, 0] == f]
        xyxy = rows_xyxy(r)
        img = read_image(info.image_path(f))
        for k, e in embedders.items():
            feats[k].append(e.embed(img, xyxy.astype(np.float32)) if len(r) else np.zeros((0, 0), np.float32))
    arrays = {"rows": rows}
    for k, fl in feats.items():
        dim = max((x.shape[1] for x in fl if x.size), default=1)
        arrays["emb_" + k] = np.concatenate([x if x.size else np.zeros((0, dim), np.float32) for x in fl])
    np.savez_compressed(npz_path, **arrays)
    print(f"cached {seq['name']}: {len(rows)} detections, embedders {list(embedders)}, "
          f"{time.monotonic() - t0:.0f} s", flush=True)
    return npz_path


class CachedSequence:
    """One sequence's ground truth, cached detections, embeddings and (lazily read) frames."""

    def __init__(self, seq: Dict[str, Any], devset: Path) -> None:
        self.seq = seq
        self.info = read_seqinfo(seq["dir"])
        self.gt = load_rows(self.info.gt_path, min_columns=7, what="ground truth")
        data = np.load(devset / "cache" / f"{seq['name']}.npz")
        rows = data["rows"]
        self.emb = {k[4:]: data[k] for k in data.files if k.startswith("emb_")}
        self.frames: List[Tuple[Detections, np.ndarray]] = []
        for f in range(1, self.info.seq_length + 1):
            idx = np.flatnonzero(rows[:, 0] == f)
            r = rows[idx]
            xyxy = rows_xyxy(r)
            self.frames.append((Detections(xyxy, r[:, 6], r[:, 7].astype(int)), idx))
        self._images: Dict[int, np.ndarray] = {}

    def image(self, f: int) -> np.ndarray:
        """BGR image of 1-based frame ``f`` (kept in memory after the first read)."""
        img = self._images.get(f)
        if img is None:
            img = self._images[f] = read_image(self.info.image_path(f))
        return img


# -- run ---------------------------------------------------------------------------------------

def config_for(overrides: Dict[str, Any], seq: Dict[str, Any]) -> Optional[Config]:
    """Schema defaults + the sequence's detector settings + ``overrides``; None when a key is unknown."""
    if any(k not in FIELD_NAMES for k in overrides):
        return None
    values: Dict[str, Any] = {"model": seq["model"], "classes": tuple(seq["classes"]), "device": "cpu"}
    if overrides.get("tracker", "deepsort") != "deepsort":
        values["box_source"] = "kalman"  # the peers report their own (Kalman) boxes, as they do stock
        values["embedder_int8"] = False  # and keep the float32 embeddings their rows were measured with
        values["embedder"] = "mobilenet"  # (MobileNet, the embedder they were measured with)
    values.update(overrides)
    if values.get("embedder") == "osnet":
        if not seq.get("osnet"):
            return None
        values["embedder_model"] = seq["osnet"]
    return Config(**values)


def build_tracker(config: Config) -> Any:
    """The registry's tracker; ``deepsort`` is always the core's DeepSortTracker (the registry may lag)."""
    if config.tracker == "deepsort":
        from mot_ros.core.tracking.deepsort import DeepSortTracker

        return DeepSortTracker(config)
    from mot_ros.core.tracking import make_tracker

    return make_tracker(config)


def run_tracker(config: Config, cs: CachedSequence) -> Tuple[Dict[str, float], float]:
    """Track the cached sequence as the pipeline would; return (metrics, ms per frame of tracking)."""
    tracker = build_tracker(config)
    tracker.set_frame_period(1.0 / cs.info.frame_rate)  # what the pipeline measures from mot's stamps
    floor = min(config.conf_threshold, getattr(config, "low_conf_threshold", config.conf_threshold))
    key = mobilenet_key(config.embedder_size, config.embedder_int8) if config.embedder == "mobilenet" else \
        config.embedder
    emb_all = cs.emb.get(key) if tracker.needs_appearance else None
    if tracker.needs_appearance and emb_all is None:
        raise ValueError(f"{cs.seq['name']}: no cached {key} embeddings (sweep_trackers.py cache --mobilenet-sizes)")
    rows: List[Tuple[float, ...]] = []
    t_total = 0.0
    for f, (dets, idx) in enumerate(cs.frames, 1):
        keep = dets.scores >= floor
        d = dets.subset(keep)
        emb = emb_all[idx[keep]] if emb_all is not None else None
        frame = cs.image(f) if tracker.needs_frame else None
        t0 = time.perf_counter()
        tracks = tracker.update(d, emb, frame)
        t_total += time.perf_counter() - t0
        for t in tracks:
            x1, y1, x2, y2 = t.xyxy
            rows.append((f, t.track_id, x1, y1, x2 - x1, y2 - y1, t.score, -1, -1, -1))
    res = np.array(rows, float) if rows else np.zeros((0, 10))
    summary = evaluate_arrays(cs.gt, res, cs.info.seq_length, name=cs.seq["name"]).summary
    return summary, 1e3 * t_total / max(1, len(cs.frames))


def load_results(devset: Path) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Rows of ``sweep.json``, plus the pseudo rows ``best-no-reid`` and ``best-osnet`` (per-sequence best peers)."""
    path = devset / "sweep.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    for pseudo, rows in (("best-no-reid", NO_REID_PEERS), ("best-osnet", OSNET_PEERS)):
        best: Dict[str, Dict[str, float]] = {}
        for r in rows:
            for seq, m in results.get(r, {}).items():
                if seq == "_config":
                    continue
                b = best.setdefault(seq, {k: -1.0 for k in ("HOTA", "IDF1", "MOTA")})
                for k in ("HOTA", "IDF1", "MOTA"):
                    b[k] = max(b[k], m[k])
        for b in best.values():
            b.update(IDSW=-1, FP=-1, FN=-1)
        results[pseudo] = best
    return results


def save_row(devset: Path, name: str, row: Dict[str, Any]) -> None:
    """Merge one row into ``sweep.json``.

    The read, merge and write happen under an exclusive lock on ``sweep.lock``, and the file is replaced through a
    temporary file of this process: concurrent sweeps on one set neither drop each other's rows nor interleave their
    writes.
    """
    path = devset / "sweep.json"
    with open(devset / "sweep.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(path.read_text()) if path.is_file() else {}
        results[name] = row
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        tmp.replace(path)


def named_config(name: str) -> Dict[str, Any]:
    """Overrides of a row name.

    A ``CONFIGS`` entry or a tracker name, then ``[k=v]`` suffixes for single changes (the right-most wins) and
    an ``@osnet`` suffix for the OSNet embedder.
    """
    base, osnet = (name[:-6], True) if name.endswith("@osnet") else (name, False)
    changes: Dict[str, Any] = {}
    while base.endswith("]") and "[" in base:
        base, _, item = base[:-1].rpartition("[")
        k, v = parse_override(item)
        changes.setdefault(k, v)  # the right-most change of a key wins
    out = {**CONFIGS.get(base, {"tracker": base}), **changes}
    if osnet:
        out["embedder"] = "osnet"
    return out


def cmd_run(args: argparse.Namespace) -> int:
    seqs = [s for s in manifest(args.devset) if not args.seqs or s["name"] in args.seqs.split(",")]
    todo: List[Tuple[str, Dict[str, Any]]] = []
    if args.set:
        todo.append((args.name or "+".join(args.set), dict(parse_override(s) for s in args.set)))
    for name in (args.configs.split(",") if args.configs else ([] if args.set or args.vary else list(CONFIGS))):
        todo.append((name, named_config(name)))
    for vary in args.vary or []:  # one change at a time from --base: key=v1|v2|...
        key, values = vary.split("=", 1)
        for v in values.split("|"):
            k, val = parse_override(f"{key}={v}")
            todo.append((f"{args.base}[{k}={v}]", {**named_config(args.base), k: val}))
    results = load_results(args.devset)
    cached = {s["name"]: CachedSequence(s, args.devset) for s in seqs}
    for name, overrides in todo:
        t0 = time.monotonic()
        row = dict(results.get(name, {})) if not name.startswith("best-") else {}
        row["_config"] = overrides  # type: ignore[assignment]
        for s in seqs:
            config = config_for(overrides, s)
            if config is None:
                continue
            m, ms = run_tracker(config, cached[s["name"]])
            row[s["name"]] = {k: m[k] for k in ("HOTA", "IDF1", "MOTA", "IDSW", "FP", "FN", "AssA", "DetA")}
            row[s["name"]]["ms"] = ms
        save_row(args.devset, name, row)
        line = " ".join(f"{s['name'][:14]}={row[s['name']]['HOTA']:.3f}/{row[s['name']]['IDF1']:.3f}"
                        for s in seqs if s["name"] in row)
        print(f"{name} ({time.monotonic() - t0:.0f} s): {line}", flush=True)
    return 0


# -- tables ------------------------------------------------------------------------------------

def table(results: Dict[str, Any], seqs: Sequence[str], rows: Sequence[str], metrics: Sequence[str],
          markdown: bool = True) -> str:
    """One row per configuration, one column per sequence holding ``metric/metric/...``."""
    head = ["config"] + list(seqs)
    lines = []
    for r in rows:
        cells = [r]
        for s in seqs:
            m = results.get(r, {}).get(s)
            cells.append("—" if m is None else "/".join(
                (f"{m[k]:.3f}".lstrip("0") if k not in ("IDSW", "FP", "FN") else f"{int(m[k])}") for k in metrics))
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(c) + " |" for c in lines]
        return "\n".join(out)
    widths = [max(len(x[i]) for x in [head] + lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(x, widths)) for x in [head] + lines)


def cmd_table(args: argparse.Namespace) -> int:
    results = load_results(args.devset)
    seqs = [s["name"] for s in manifest(args.devset)]
    rows = args.rows.split(",") if args.rows else sorted(results)
    text = table(results, seqs if not args.seqs else args.seqs.split(","), rows, args.metrics.split(","),
                 markdown=bool(args.markdown))
    if args.markdown and args.markdown != "-":
        Path(args.markdown).write_text(text + "\n")
    print(text)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Per-sequence deltas of a candidate against a baseline; exit 0 when it is never worse."""
    results = load_results(args.devset)
    cand, base = results[args.candidate], results[args.baseline]
    worse = []
    for s in sorted(set(cand) & set(base) - {"_config"}):
        d = {k: cand[s][k] - base[s][k] for k in ("HOTA", "IDF1")}
        flag = "" if d["HOTA"] >= -args.tol and d["IDF1"] >= -args.tol else "  WORSE"
        if flag:
            worse.append(s)
        print(f"{s:24s} HOTA {cand[s]['HOTA']:.3f} ({d['HOTA']:+.3f})  IDF1 {cand[s]['IDF1']:.3f} "
              f"({d['IDF1']:+.3f}){flag}")
    print(f"{args.candidate} vs {args.baseline}: worse on {len(worse)} sequence(s) {worse}")
    return 1 if worse else 0


def cmd_speed(args: argparse.Namespace) -> int:
    """Whole pipeline (defaults + --set) against the detector alone, interleaved frame by frame in one run."""
    from mot_ros.core.config import build_config
    from mot_ros.core.pipeline import Pipeline

    info = read_seqinfo(args.sequence)
    config = build_config([], [f"model={args.model}", "device=cpu"] + list(args.set or []))
    pipeline = Pipeline(config)
    det_ms, all_ms, parts = [], [], {"detect": [], "embed": [], "associate": []}  # type: ignore[var-annotated]
    try:
        for rep in range(args.repeat):
            pipeline.reset()
            for f in range(1, info.seq_length + 1):
                img = read_image(info.image_path(f))
                t0 = time.perf_counter()
                pipeline.detect(img)
                t1 = time.perf_counter()
                result = pipeline.process(img, stamp=rep * 1000 + f / info.frame_rate)
                t2 = time.perf_counter()
                if f > 1:  # the first frame of a run is start-up
                    det_ms.append((t1 - t0) * 1e3)
                    all_ms.append((t2 - t1) * 1e3)
                    for k in parts:
                        parts[k].append(result.timings_ms.get(k, 0.0))
    finally:
        pipeline.close()
    d, a = float(np.median(det_ms)), float(np.median(all_ms))
    print(f"{info.name}: {len(all_ms)} frames; detector alone {d:.1f} ms, whole pipeline {a:.1f} ms "
          f"(detect {np.median(parts['detect']):.1f}, embed {np.median(parts['embed']):.1f}, "
          f"associate {np.median(parts['associate']):.1f}); ratio {a / d:.3f}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """One line per candidate row: mean change of HOTA and IDF1 over the baseline and the sequences it hurts."""
    results = load_results(args.devset)
    base = results[args.baseline]
    seqs = [s for s in (args.seqs.split(",") if args.seqs else sorted(base)) if s != "_config" and s in base]
    rows = [r for r in results if r != args.baseline and (not args.match or args.match in r)]
    for r in rows:
        common = [s for s in seqs if s in results[r]]
        if not common:
            continue
        dh = np.array([results[r][s]["HOTA"] - base[s]["HOTA"] for s in common])
        di = np.array([results[r][s]["IDF1"] - base[s]["IDF1"] for s in common])
        worse = [s for s, a, b in zip(common, dh, di) if a < -args.tol or b < -args.tol]
        print(f"{r:48s} n={len(common):2d} dHOTA {dh.mean():+.4f} (min {dh.min():+.3f}) dIDF1 {di.mean():+.4f} "
              f"(min {di.min():+.3f}) worse on {len(worse)}: {','.join(worse)}")
    return 0


def cmd_gates(args: argparse.Namespace) -> int:
    """How each cached embedder separates people: cosine distances of same- and different-identity pairs.

    Detections at or above ``--conf`` are labelled with the ground-truth identity they overlap (IoU >= 0.5, one to
    one per frame); pairs are taken from different frames at most ``--frames`` apart. For each gate the table gives
    the share of same-identity pairs it accepts and of different-identity pairs it wrongly accepts.
    """
    from mot_ros.core.tracking.matching import iou_distance, linear_assignment

    gates = [float(g) for g in args.gates.split(",")]
    heads = " | ".join(f"gate {g:g}: same / different accepted" for g in gates)
    print(f"| sequence | embedder | same-identity median | {heads} | 2 % of different pairs: cross-frame (ground "
          "truth) / within-frame (none needed) |")
    print("|---|---|---|" + "---|" * len(gates) + "---|")
    for seq in manifest(args.devset):
        if args.seqs and seq["name"] not in args.seqs.split(","):
            continue
        cs = CachedSequence(seq, args.devset)
        rows, ids, frames = [], [], []
        for f, (dets, idx) in enumerate(cs.frames, 1):
            keep = np.flatnonzero(dets.scores >= args.conf)
            g = cs.gt[cs.gt[:, 0] == f]
            if not len(keep) or not len(g):
                continue
            ltwh = np.concatenate([dets.xyxy[keep, :2], dets.xyxy[keep, 2:] - dets.xyxy[keep, :2]], 1)
            m, _, _ = linear_assignment(iou_distance(ltwh.astype(float), g[:, 2:6].astype(float)), 0.5)
            for r, c in m:
                rows.append(int(idx[keep[r]]))
                ids.append(int(g[c, 1]))
                frames.append(f)
        within = [(int(f), idx[np.flatnonzero(dets.scores >= args.conf)]) for f, (dets, idx) in
                  enumerate(cs.frames, 1)]  # every pair of detections in one frame: two different objects
        ida, fra = np.array(ids), np.array(frames)
        same = ida[:, None] == ida[None, :]
        gap = np.abs(fra[:, None] - fra[None, :])
        pair = (gap > 0) & (gap <= args.frames)
        for key in args.embedders.split(","):
            if key not in cs.emb:
                continue
            x = cs.emb[key][rows].astype(np.float64)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            d = 1.0 - x @ x.T
            ds, dd = d[same & pair], d[~same & pair]
            cells = " | ".join(f"{np.mean(ds <= g):.0%} / {np.mean(dd <= g):.1%}" for g in gates)
            wf = []
            for _, r in within:
                if len(r) > 1:
                    y = cs.emb[key][r].astype(np.float64)
                    y /= np.linalg.norm(y, axis=1, keepdims=True)
                    wf.append((1.0 - y @ y.T)[np.triu_indices(len(r), 1)])
            q = f"{np.quantile(dd, 0.02):.3f} / {np.quantile(np.concatenate(wf), 0.02):.3f}" if wf else "-"
            print(f"| {seq['name']} | {key} | {np.median(ds):.3f} | {cells} | {q} |")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devset", type=Path, default=DEVSET)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("cache")
    p.add_argument("--seqs", default="")
    p.add_argument("--force", action="store_true")
    p.add_argument("--mobilenet-sizes", default="", help="also cache mobilenet at these crop sizes, e.g. 64,96")
    p = sub.add_parser("run")
    p.add_argument("--configs", default="", help="comma-separated names from CONFIGS or registered trackers")
    p.add_argument("--seqs", default="")
    p.add_argument("--set", action="append", help="an ad-hoc configuration: overrides on the defaults")
    p.add_argument("--name", default="", help="row name of the --set configuration")
    p.add_argument("--base", default="ds-defaults", help="configuration that --vary changes")
    p.add_argument("--vary", action="append", help="KEY=V1|V2|...: one row per value, other settings from --base")
    p = sub.add_parser("table")
    p.add_argument("--rows", default="")
    p.add_argument("--seqs", default="")
    p.add_argument("--metrics", default="HOTA,IDF1")
    p.add_argument("--markdown", default="", help="write Markdown to FILE ('-': print only)")
    p = sub.add_parser("check")
    p.add_argument("candidate")
    p.add_argument("baseline")
    p.add_argument("--tol", type=float, default=0.0)
    p = sub.add_parser("compare")
    p.add_argument("baseline")
    p.add_argument("--match", default="", help="only rows whose name contains this")
    p.add_argument("--seqs", default="")
    p.add_argument("--tol", type=float, default=0.01)
    p = sub.add_parser("speed")
    p.add_argument("sequence")
    p.add_argument("--model", required=True)
    p.add_argument("--set", action="append")
    p.add_argument("--repeat", type=int, default=2)
    p = sub.add_parser("gates")
    p.add_argument("--seqs", default="")
    p.add_argument("--embedders", default="mobilenet_int8,mobilenet,osnet")
    p.add_argument("--gates", default="0.15,0.2,0.25,0.3")
    p.add_argument("--conf", type=float, default=0.6, help="detections at or above this score are labelled")
    p.add_argument("--frames", type=int, default=30, help="pairs at most this many frames apart")
    args = ap.parse_args(argv)
    if args.cmd == "cache":
        for s in manifest(args.devset):
            if not args.seqs or s["name"] in args.seqs.split(","):
                cache_sequence(s, args.devset, args.force)
                cache_extra_embeddings(s, args.devset, [int(x) for x in args.mobilenet_sizes.split(",") if x])
        return 0
    return {"run": cmd_run, "table": cmd_table, "check": cmd_check, "compare": cmd_compare,
            "speed": cmd_speed, "gates": cmd_gates}[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
