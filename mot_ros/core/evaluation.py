"""Tracking accuracy with TrackEval's metric classes (HOTA, CLEAR, Identity) on MOTChallenge files.

The files are read with :mod:`mot_ros.core.mot_format` and turned into the
per-frame arrays TrackEval's metrics expect, following TrackEval's
MOTChallenge preprocessing (``MotChallenge2DBox.get_preprocessed_seq_data``):

* ground truth rows with ``conf`` 0 are ignored;
* in the MOT16/17/20 layout (9 columns, class in column 8) only class 1
  (pedestrian) is evaluated, and result boxes that match (IoU >= 0.5,
  Hungarian) a distractor box (classes 2, 7, 8, 12; plus 6 for MOT20) are
  removed before scoring;
* the MOT15 layout (10 columns, the last three world coordinates) has no
  classes, so only the ``conf`` rule applies;
* IDs are relabelled to be contiguous, and an ID repeated within one frame is an error.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from scipy.optimize import linear_sum_assignment

from .mot_format import load_rows, read_seqinfo

log = logging.getLogger(__name__)

PathLike = Union[str, Path]
SUMMARY_FIELDS: Tuple[str, ...] = ("HOTA", "MOTA", "IDF1", "IDSW", "FP", "FN")
"""The headline numbers, in table order."""
EXTRA_FIELDS: Tuple[str, ...] = ("DetA", "AssA", "MOTP", "IDP", "IDR", "MT", "ML", "Frag", "GT_IDs", "IDs")
DISTRACTOR_CLASSES: Tuple[int, ...] = (2, 7, 8, 12)
"""person_on_vehicle, static_person, distractor, reflection (TrackEval's MOTChallenge list)."""
RATIO_FIELDS = frozenset({"HOTA", "MOTA", "IDF1", "DetA", "AssA", "MOTP", "IDP", "IDR"})
LAYOUTS = ("auto", "mot15", "mot16", "mot20")


@dataclass
class SequenceResult:
    """Metrics of one sequence (or the combination of several).

    Attributes:
        name: Sequence name, or ``COMBINED``.
        summary: The headline numbers (``SUMMARY_FIELDS`` + ``EXTRA_FIELDS``).
        raw: TrackEval's full result dicts per metric class name.
    """

    name: str
    summary: Dict[str, float]
    raw: Dict[str, Dict[str, Any]] = field(default_factory=dict, repr=False)


def _metrics() -> Tuple[Any, Any, Any]:
    from trackeval.metrics import CLEAR, HOTA, Identity

    quiet = {"THRESHOLD": 0.5, "PRINT_CONFIG": False}
    return HOTA(), CLEAR(dict(quiet)), Identity(dict(quiet))


def box_iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) boxes in x, y, w, h (TrackEval's similarity)."""
    from trackeval.datasets._base_dataset import _BaseDataset

    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return _BaseDataset._calculate_box_ious(np.asarray(a, float), np.asarray(b, float), box_format="xywh")


def detect_layout(gt: np.ndarray) -> str:
    """``mot15`` for the 10-column layout with world coordinates, else ``mot16`` (class in column 8)."""
    if gt.shape[1] >= 10:
        return "mot15"
    if gt.shape[1] >= 8:
        return "mot16"
    return "mot15"


def prepare_sequence(gt: np.ndarray, res: np.ndarray, num_frames: int, layout: str = "auto",
                     name: str = "seq") -> Dict[str, Any]:
    """Build TrackEval's per-sequence ``data`` dict from raw rows.

    Args:
        gt: (N, >=7) ground-truth rows.
        res: (M, >=6) result rows.
        num_frames: Number of frames (timesteps) of the sequence.
        layout: ``auto``, ``mot15``, ``mot16`` or ``mot20`` (distractors include class 6).
        name: Sequence name for messages.

    Raises:
        ValueError: Frames outside 1..num_frames, an ID twice in one frame, or an unknown layout.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {list(LAYOUTS)}, got {layout!r}")
    if layout == "auto":
        layout = detect_layout(gt) if len(gt) else "mot15"
    for what, rows in (("ground truth", gt), ("results", res)):
        if len(rows) and (rows[:, 0].min() < 1 or rows[:, 0].max() > num_frames):
            raise ValueError(f"{name}: {what} frames must be in 1..{num_frames} (seqLength), got "
                             f"{int(rows[:, 0].min())}..{int(rows[:, 0].max())}")
    distractors = list(DISTRACTOR_CLASSES) + ([6] if layout == "mot20" else [])
    use_classes = layout != "mot15"
    keys = ("gt_ids", "tracker_ids", "gt_dets", "tracker_dets", "tracker_confidences", "similarity_scores")
    data: Dict[str, Any] = {k: [] for k in keys}
    gt_frames = gt[:, 0].astype(int) if len(gt) else np.zeros(0, int)
    res_frames = res[:, 0].astype(int) if len(res) else np.zeros(0, int)
    for t in range(1, num_frames + 1):
        g = gt[gt_frames == t] if len(gt) else np.zeros((0, 7))
        r = res[res_frames == t] if len(res) else np.zeros((0, 7))
        g_ids, r_ids = g[:, 1].astype(int), r[:, 1].astype(int)
        for what, ids in (("ground truth", g_ids), ("results", r_ids)):
            if len(np.unique(ids)) != len(ids):
                raise ValueError(f"{name}: {what} has the same ID twice in frame {t} (IDs must be unique per frame)")
        sim = box_iou_xywh(g[:, 2:6], r[:, 2:6])
        remove = np.zeros(0, int)
        if use_classes and len(g) and len(r):
            classes = g[:, 7].astype(int)
            scores = sim.copy()
            scores[scores < 0.5 - np.finfo("float").eps] = 0
            rows_, cols_ = linear_sum_assignment(-scores)
            ok = scores[rows_, cols_] > np.finfo("float").eps
            rows_, cols_ = rows_[ok], cols_[ok]
            remove = cols_[np.isin(classes[rows_], distractors)]
        r = np.delete(r, remove, axis=0)
        sim = np.delete(sim, remove, axis=1)
        keep = g[:, 6] != 0
        if use_classes and len(g):
            keep &= g[:, 7].astype(int) == 1
        g, sim = g[keep], sim[keep]
        data["gt_ids"].append(g[:, 1].astype(int))
        data["gt_dets"].append(g[:, 2:6])
        data["tracker_ids"].append(r[:, 1].astype(int))
        data["tracker_dets"].append(r[:, 2:6])
        data["tracker_confidences"].append(r[:, 6] if r.shape[1] > 6 else np.ones(len(r)))
        data["similarity_scores"].append(sim)
    for key in ("gt_ids", "tracker_ids"):  # contiguous 0..K-1, as TrackEval relabels
        uniq = np.unique(np.concatenate(data[key])) if data[key] else np.zeros(0, int)
        lookup = {int(v): i for i, v in enumerate(uniq)}
        data[key] = [np.array([lookup[int(v)] for v in ids], dtype=int) for ids in data[key]]
        data["num_" + key] = len(uniq)
    data["num_gt_dets"] = int(sum(len(x) for x in data["gt_ids"]))
    data["num_tracker_dets"] = int(sum(len(x) for x in data["tracker_ids"]))
    data["num_timesteps"] = num_frames
    data["seq"] = name
    return data


def _summary(hota: Mapping[str, Any], clear: Mapping[str, Any], ident: Mapping[str, Any],
             gt_ids: int, ids: int) -> Dict[str, float]:
    return {
        "HOTA": float(np.mean(hota["HOTA"])), "MOTA": float(clear["MOTA"]), "IDF1": float(ident["IDF1"]),
        "IDSW": int(clear["IDSW"]), "FP": int(clear["CLR_FP"]), "FN": int(clear["CLR_FN"]),
        "DetA": float(np.mean(hota["DetA"])), "AssA": float(np.mean(hota["AssA"])), "MOTP": float(clear["MOTP"]),
        "IDP": float(ident["IDP"]), "IDR": float(ident["IDR"]), "MT": int(clear["MT"]), "ML": int(clear["ML"]),
        "Frag": int(clear["Frag"]), "GT_IDs": int(gt_ids), "IDs": int(ids),
    }


def evaluate_arrays(gt: np.ndarray, res: np.ndarray, num_frames: int, layout: str = "auto",
                    name: str = "seq") -> SequenceResult:
    """Metrics of one sequence from row arrays (see :func:`prepare_sequence`)."""
    data = prepare_sequence(gt, res, num_frames, layout, name)
    hota_m, clear_m, id_m = _metrics()
    raw = {"HOTA": hota_m.eval_sequence(data), "CLEAR": clear_m.eval_sequence(data),
           "Identity": id_m.eval_sequence(data)}
    return SequenceResult(name, _summary(raw["HOTA"], raw["CLEAR"], raw["Identity"], data["num_gt_ids"],
                                         data["num_tracker_ids"]), raw)


def sequence_length(gt_path: PathLike, gt: np.ndarray, res: np.ndarray) -> Tuple[int, str]:
    """Frames and name of the sequence of ``gt_path``.

    From ``SEQ/seqinfo.ini`` when ``gt_path`` is ``SEQ/gt/gt.txt``, else the largest frame number in either file.
    """
    p = Path(gt_path)
    seq_dir = p.parent.parent if p.parent.name == "gt" else None
    if seq_dir is not None and (seq_dir / "seqinfo.ini").is_file():
        info = read_seqinfo(seq_dir)
        return info.seq_length, info.name
    frames = [int(a[:, 0].max()) for a in (gt, res) if len(a)]
    name = seq_dir.name if seq_dir is not None else p.stem
    return (max(frames) if frames else 1), name


def evaluate_files(gt_path: PathLike, res_path: PathLike, layout: str = "auto", num_frames: Optional[int] = None,
                   name: Optional[str] = None) -> SequenceResult:
    """Metrics of a results file against a ground-truth file.

    Raises:
        ValueError: Missing or malformed files (named), frames outside the sequence.
    """
    gt = load_rows(gt_path, min_columns=7, what="ground truth")
    res = load_rows(res_path, min_columns=6, what="results")
    n, seq_name = sequence_length(gt_path, gt, res)
    n = num_frames or n
    try:
        return evaluate_arrays(gt, res, n, layout, name or seq_name)
    except ValueError as exc:
        raise ValueError(f"evaluating {str(res_path)!r} against {str(gt_path)!r}: {exc}") from None


def combine(results: Sequence[SequenceResult], name: str = "COMBINED") -> SequenceResult:
    """Combine per-sequence results the way TrackEval does (sums and weighted averages)."""
    if not results:
        raise ValueError("combine: expected at least one sequence result, got none")
    hota_m, clear_m, id_m = _metrics()
    raw = {
        "HOTA": hota_m.combine_sequences({r.name + str(i): r.raw["HOTA"] for i, r in enumerate(results)}),
        "CLEAR": clear_m.combine_sequences({r.name + str(i): r.raw["CLEAR"] for i, r in enumerate(results)}),
        "Identity": id_m.combine_sequences({r.name + str(i): r.raw["Identity"] for i, r in enumerate(results)}),
    }
    return SequenceResult(name, _summary(raw["HOTA"], raw["CLEAR"], raw["Identity"],
                                         sum(r.summary["GT_IDs"] for r in results),
                                         sum(r.summary["IDs"] for r in results)), raw)


def format_value(key: str, value: Any) -> str:
    """Ratios with three decimals, counts as integers, times with one decimal."""
    if value is None:
        return "-"
    if key == "ms/frame":
        return f"{float(value):.1f}"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and (key in RATIO_FIELDS or not float(value).is_integer()):
        return f"{float(value):.3f}"
    return str(int(value))


def format_table(rows: Sequence[Tuple[str, Mapping[str, Any]]], columns: Sequence[str] = SUMMARY_FIELDS,
                 markdown: bool = False, first: str = "sequence") -> str:
    """A plain-text (aligned) or Markdown table of ``(row name, values)``."""
    header = [first, *columns]
    body = [[name, *(format_value(c, vals.get(c)) for c in columns)] for name, vals in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * len(columns)) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    fmt = lambda r: "  ".join(s.ljust(widths[0]) if i == 0 else s.rjust(widths[i]) for i, s in enumerate(r))  # noqa
    return "\n".join([fmt(header), *(fmt(r) for r in body)])
