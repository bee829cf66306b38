"""MOTChallenge files: sequences (``seqinfo.ini``, ``img1/``), detections, ground truth and results.

Layout of a sequence directory::

    SEQ/seqinfo.ini      [Sequence] name, imDir, frameRate, seqLength, imWidth, imHeight, imExt
    SEQ/img1/000001.jpg  frames, 1-based, six digits
    SEQ/det/det.txt      public detections: frame,id(-1),x,y,w,h,score[,...]
    SEQ/gt/gt.txt        ground truth: frame,id,x,y,w,h,conf,class|-1,visibility|-1[,-1]

Result rows are ``frame,id,x,y,w,h,score,-1,-1,-1`` with frames counted from 1.
Every reader raises ValueError naming the file (and the line) on bad input.
"""
from __future__ import annotations

import configparser
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .types import Detections, TrackedObject

log = logging.getLogger(__name__)

PathLike = Union[str, Path]
IMAGE_EXTS: Tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp")
RESULT_COLUMNS = 10
"""Columns of a result row: frame,id,x,y,w,h,score,-1,-1,-1."""


@dataclass(frozen=True)
class SeqInfo:
    """The ``[Sequence]`` section of ``seqinfo.ini`` plus the directory it came from.

    Attributes:
        directory: The sequence directory.
        name: Sequence name (the directory name when seqinfo.ini has none).
        im_dir: Image sub-directory, normally ``img1``.
        frame_rate: Frames per second.
        seq_length: Number of frames.
        width: Image width in pixels.
        height: Image height in pixels.
        im_ext: Image file extension including the dot.
    """

    directory: Path
    name: str
    im_dir: str
    frame_rate: float
    seq_length: int
    width: int
    height: int
    im_ext: str = ".jpg"

    def image_path(self, frame: int) -> Path:
        """Path of 1-based ``frame`` (``img1/000001.jpg``)."""
        return self.directory / self.im_dir / f"{frame:06d}{self.im_ext}"

    @property
    def gt_path(self) -> Path:
        """``gt/gt.txt`` of the sequence (it may not exist)."""
        return self.directory / "gt" / "gt.txt"

    @property
    def det_path(self) -> Path:
        """``det/det.txt`` of the sequence (it may not exist)."""
        return self.directory / "det" / "det.txt"


def read_seqinfo(seq_dir: PathLike) -> SeqInfo:
    """Read a sequence directory's ``seqinfo.ini``.

    When ``seqinfo.ini`` is absent but ``img1/`` holds images, the length and
    size are taken from the images and the frame rate defaults to 30 (with a
    warning).

    Raises:
        ValueError: Missing directory, unreadable or incomplete seqinfo.ini, or no images.
    """
    d = Path(seq_dir)
    if not d.is_dir():
        raise ValueError(f"sequence {str(d)!r}: expected a MOTChallenge sequence directory (with seqinfo.ini "
                         f"and img1/), but it does not exist")
    ini = d / "seqinfo.ini"
    if not ini.is_file():
        images = sorted(p for p in (d / "img1").glob("*") if p.suffix.lower() in IMAGE_EXTS) \
            if (d / "img1").is_dir() else []
        if not images:
            raise ValueError(f"sequence {str(d)!r}: expected seqinfo.ini and img1/ with images, found neither")
        first = read_image(images[0])
        log.warning("%s has no seqinfo.ini; assuming %d frames at 30 fps from img1/", d, len(images))
        return SeqInfo(d, d.name, "img1", 30.0, len(images), first.shape[1], first.shape[0], images[0].suffix)
    parser = configparser.ConfigParser()
    try:
        parser.read(ini)
    except configparser.Error as exc:
        raise ValueError(f"seqinfo {str(ini)!r}: not a valid ini file: {exc}") from None
    if "Sequence" not in parser:
        raise ValueError(f"seqinfo {str(ini)!r}: expected a [Sequence] section, found {parser.sections()}")
    sec = parser["Sequence"]
    try:
        info = SeqInfo(
            directory=d, name=sec.get("name", d.name), im_dir=sec.get("imDir", "img1"),
            frame_rate=float(sec.get("frameRate", "30")), seq_length=int(sec["seqLength"]),
            width=int(sec.get("imWidth", "0")), height=int(sec.get("imHeight", "0")),
            im_ext=sec.get("imExt", ".jpg"))
    except KeyError as exc:
        raise ValueError(f"seqinfo {str(ini)!r}: missing key {exc.args[0]}") from None
    except ValueError as exc:
        raise ValueError(f"seqinfo {str(ini)!r}: expected numbers for frameRate, seqLength, imWidth and "
                         f"imHeight: {exc}") from None
    if info.seq_length < 1:
        raise ValueError(f"seqinfo {str(ini)!r}: expected seqLength >= 1, got {info.seq_length}")
    if not (d / info.im_dir).is_dir():
        raise ValueError(f"sequence {str(d)!r}: image directory {info.im_dir!r} named in seqinfo.ini does not exist")
    return info


def frame_paths(info: SeqInfo) -> List[Path]:
    """The image of every frame, 1..seq_length, in order.

    Raises:
        ValueError: When a frame's image is missing.
    """
    paths = [info.image_path(i) for i in range(1, info.seq_length + 1)]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"sequence {str(info.directory)!r}: expected {info.seq_length} images "
                         f"{info.im_dir}/000001{info.im_ext}..; {len(missing)} missing, e.g. {str(missing[0])!r}")
    return paths


def read_image(path: PathLike) -> np.ndarray:
    """Read a BGR image; raise ValueError naming the file when it cannot be read."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"image {str(path)!r}: expected a readable image file, but it is missing or cannot be "
                         f"decoded")
    return img


def load_rows(path: PathLike, min_columns: int = 6, what: str = "MOT file") -> np.ndarray:
    """Read comma- (or whitespace-) separated numeric rows into an (N, C) float64 array.

    Rows shorter than the longest row are padded with -1, so files whose
    optional trailing columns vary still load. Empty files give (0, min_columns).

    Raises:
        ValueError: Missing file, non-numeric value, fewer than ``min_columns``
            columns, or a frame number below 1; the message names the file and line.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{what} {str(p)!r}: expected an existing text file, but it does not exist")
    rows: List[List[float]] = []
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} {str(p)!r}: cannot be read as text: {exc}") from None
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = list(line.split(",") if "," in line else line.split())
        try:
            vals = [float(s) for s in parts]
        except ValueError:
            raise ValueError(f"{what} {str(p)!r} line {n}: expected comma-separated numbers "
                             f"(frame,id,x,y,w,h,score,...), got {line[:80]!r}") from None
        if len(vals) < min_columns:
            raise ValueError(f"{what} {str(p)!r} line {n}: expected at least {min_columns} columns "
                             f"(frame,id,x,y,w,h,...), got {len(vals)}: {line[:80]!r}")
        if not np.all(np.isfinite(vals)):
            raise ValueError(f"{what} {str(p)!r} line {n}: expected finite numbers, got {line[:80]!r}")
        if vals[0] < 1 or not float(vals[0]).is_integer():
            raise ValueError(f"{what} {str(p)!r} line {n}: expected an integer frame number >= 1, got {parts[0]!r}")
        rows.append(vals)
    if not rows:
        return np.zeros((0, min_columns), np.float64)
    width = max(len(r) for r in rows)
    out = np.full((len(rows), width), -1.0, np.float64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def read_detections(path: PathLike, threshold: Optional[float] = None,
                    num_frames: Optional[int] = None, class_id: int = 0) -> Dict[int, Detections]:
    """Read public detections (``det.txt``) into per-frame :class:`Detections`.

    Args:
        path: The det.txt file: ``frame,id,x,y,w,h,score[,...]``.
        threshold: Keep rows whose score is at least this (None keeps all).
            MOTChallenge scores are detector-specific and not always in [0, 1].
        num_frames: When given, frames beyond it are an error.
        class_id: Class index given to every detection (0 = person in COCO).

    Returns:
        Frame number (1-based) to detections; frames without rows are absent.

    Raises:
        ValueError: Malformed file (named with the line), non-positive box
            sizes, or frames beyond ``num_frames``.
    """
    rows = load_rows(path, min_columns=6, what="detections")
    if len(rows) and rows.shape[1] < 7:
        rows = np.concatenate([rows, np.ones((len(rows), 1))], axis=1)
    if len(rows) and np.any(rows[:, 4:6] <= 0):
        bad = int(np.argmax(np.any(rows[:, 4:6] <= 0, axis=1)))
        raise ValueError(f"detections {str(path)!r}: expected positive box widths and heights, got "
                         f"w={rows[bad, 4]:g} h={rows[bad, 5]:g} in frame {int(rows[bad, 0])}")
    if num_frames is not None and len(rows) and rows[:, 0].max() > num_frames:
        raise ValueError(f"detections {str(path)!r}: expected frames 1..{num_frames} (seqLength), "
                         f"got frame {int(rows[:, 0].max())}")
    if threshold is not None and len(rows):
        rows = rows[rows[:, 6] >= threshold]
    out: Dict[int, Detections] = {}
    for f in np.unique(rows[:, 0]).astype(int) if len(rows) else []:
        r = rows[rows[:, 0] == f]
        xyxy = np.stack([r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]], axis=1)
        out[int(f)] = Detections(xyxy, r[:, 6], np.full(len(r), class_id))
    return out


def track_rows(frame: int, tracks: Iterable[TrackedObject]) -> List[Tuple[float, ...]]:
    """Result rows ``(frame, id, x, y, w, h, score, -1, -1, -1)`` for one frame's tracks."""
    out = []
    for t in tracks:
        x1, y1, x2, y2 = t.xyxy
        out.append((frame, t.track_id, x1, y1, x2 - x1, y2 - y1, t.score, -1, -1, -1))
    return out


def format_row(row: Sequence[float]) -> str:
    """One MOTChallenge text line (integers for frame and id, two decimals for boxes)."""
    f, i, x, y, w, h, s = row[:7]
    rest = ",".join(f"{v:g}" for v in row[7:RESULT_COLUMNS])
    return f"{int(f)},{int(i)},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{s:.4f}" + ("," + rest if rest else "")


class ResultsWriter:
    """Streams result rows to a MOTChallenge text file (creating its directory).

    Use as a context manager; ``write(frame, tracks)`` per frame.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"results {str(self.path)!r}: expected a file path, got a directory")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("w")
        self.rows = 0

    def write(self, frame: int, tracks: Iterable[TrackedObject]) -> None:
        """Append one frame's tracks."""
        for row in track_rows(frame, tracks):
            self._fh.write(format_row(row) + "\n")
            self.rows += 1

    def close(self) -> None:
        """Flush and close the file."""
        self._fh.close()

    def __enter__(self) -> "ResultsWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_rows(path: PathLike, rows: Iterable[Sequence[float]]) -> Path:
    """Write MOTChallenge rows to ``path``; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w") as fh:
        for r in rows:
            fh.write(format_row(r) + "\n")
    return p


def write_sequence(seq_dir: PathLike, frames: Iterable[np.ndarray], gt_rows: Iterable[Sequence[float]] = (),
                   name: Optional[str] = None, frame_rate: float = 30.0, det_rows: Optional[Iterable[Sequence[float]]]
                   = None, im_ext: str = ".jpg") -> SeqInfo:
    """Write a MOTChallenge sequence (images, seqinfo.ini, gt and optional det files).

    Args:
        seq_dir: Directory to create (parents too).
        frames: BGR images in order; frame numbers start at 1.
        gt_rows: ``frame,id,x,y,w,h,conf,class,visibility`` rows (written as given).
        name: Sequence name (default: the directory name).
        frame_rate: Frames per second.
        det_rows: Optional public detections ``frame,-1,x,y,w,h,score``.
        im_ext: Image extension (``.jpg`` or ``.png``).

    Returns:
        The sequence's :class:`SeqInfo`.
    """
    d = Path(seq_dir)
    (d / "img1").mkdir(parents=True, exist_ok=True)
    n, size = 0, (0, 0)
    for n, img in enumerate(frames, 1):
        if not cv2.imwrite(str(d / "img1" / f"{n:06d}{im_ext}"), img):
            raise ValueError(f"sequence {str(d)!r}: could not write frame {n} as {im_ext}")
        size = (img.shape[1], img.shape[0])
    if n == 0:
        raise ValueError(f"sequence {str(d)!r}: expected at least one frame, got none")
    name = name or d.name
    (d / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate={frame_rate:g}\nseqLength={n}\n"
        f"imWidth={size[0]}\nimHeight={size[1]}\nimExt={im_ext}\n")
    gt = list(gt_rows)
    if gt:
        (d / "gt").mkdir(exist_ok=True)
        (d / "gt" / "gt.txt").write_text("".join(",".join(f"{v:g}" for v in r) + "\n" for r in gt))
    if det_rows is not None:
        (d / "det").mkdir(exist_ok=True)
        (d / "det" / "det.txt").write_text("".join(",".join(f"{v:g}" for v in r) + "\n" for r in det_rows))
    return read_seqinfo(d)
