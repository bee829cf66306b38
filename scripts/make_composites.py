#!/usr/bin/env python3
"""Build composite pedestrian sequences: real people, synthetic paths, exact ground truth (deterministic).

usage: make_composites.py [--out out/composite] [--shared ../shared] [--layout room|square]

TUD-Campus is the only real sequence with ground truth, so every real development sequence shows the same eight
people. This makes a second, independent check set from ``../shared/data/videos/people-walking.mp4``, a static
camera in which six people walk in one at a time (three of them in black tops, two in grey: look-alikes):

* the empty room is the per-pixel median of the frames in which the COCO detector finds nobody;
* each person's cut-outs are the frames of their visit, masked by the difference to the empty room (the largest
  connected blob inside the detector's box);
* the six people are pasted back into the empty room at once, animated with their own frames at the video's
  10 fps, walking back and forth along straight paths at different depths (nearer is lower and larger, and is
  drawn over farther people), so they cross and hide each other;
* the ground truth is each cut-out's whole box, for people at least 40 % visible (as ``dev_scene``).

Sequences: two path seeds at 25 fps, each also at 8 fps (every third frame) and panned with
``../shared/tools/make_pan.py``. Writes MOTChallenge folders and a ``devset.json`` for
``scripts/sweep_trackers.py --devset``. Nothing is committed: the output derives from ``../shared``.

``--layout square`` (stop 18) builds another set instead: a square seen from above, twelve small walkers (each
person twice, the copy recoloured), walking in every direction; seeds 3 and 4 at 25 fps and at 7 fps, each also
panned (``sq3``, ``sq3-7fps``, ``sq3-pan``, ``sq3-7fps-pan``, and the same for ``sq4``).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from make_devset import COCO, OSNET, make_pan, subsample  # noqa: E402
from mot_ros.core.detector import YoloDetector  # noqa: E402
from mot_ros.core.mot_format import write_sequence  # noqa: E402

VIDEO = "data/videos/people-walking.mp4"
SOURCE_FPS = 10.0
FLOOR_Y = (265.0, 425.0)
"""Range of the feet's image row in the 768x432 room: the floor below the wall."""
MIN_VISIBILITY = 0.4
SQUARE_FLOOR_Y = (150.0, 425.0)
"""``square`` layout: the feet's row range of a camera looking down on an open square (more floor in view)."""
Sprite = Tuple[np.ndarray, np.ndarray]
"""A cut-out: BGR pixels and their boolean mask, cropped to the mask's box."""


def load_people(shared: Path, detector: YoloDetector) -> Tuple[np.ndarray, List[List[Sprite]]]:
    """The empty room and, per visit of a person, the cut-outs of that person."""
    cap = cv2.VideoCapture(str(shared / VIDEO))
    frames, boxes = [], []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        d = detector.detect(f, 640, 0.3, 0.7, 50, [0])
        frames.append(f)
        boxes.append(d.xyxy[np.argmax(d.scores)] if len(d) and d.scores.max() >= 0.6 else None)
    if not frames:
        raise ValueError(f"{shared / VIDEO}: expected a readable video, got no frames")
    empty = [f for f, b, in zip(frames, boxes) if b is None]
    room = np.median(np.stack(empty[::3]), axis=0).astype(np.uint8)
    visits: List[List[Sprite]] = []
    run: List[Sprite] = []
    h, w = room.shape[:2]
    for f, b in zip(frames + [frames[-1]], boxes + [None]):
        if b is None:
            if len(run) >= 20:
                visits.append(run)
            run = []
            continue
        x1, y1, x2, y2 = (int(v) for v in b)
        if x1 <= 2 or y1 <= 2 or x2 >= w - 2 or y2 >= h - 2:
            continue  # cut off by the frame edge
        diff = cv2.GaussianBlur(cv2.absdiff(f, room).max(axis=2), (5, 5), 0)
        m = np.zeros((h, w), np.uint8)
        m[y1:y2, x1:x2] = (diff[y1:y2, x1:x2] > 28).astype(np.uint8)
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
        n, lab, stats, _ = cv2.connectedComponentsWithStats(m)
        if n < 2:
            continue
        k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        bx, by, bw, bh, area = stats[k]
        if area < 0.3 * (x2 - x1) * (y2 - y1):
            continue
        run.append((f[by:by + bh, bx:bx + bw].copy(), lab[by:by + bh, bx:bx + bw] == k))
    return room, visits


def compose(room: np.ndarray, people: Sequence[List[Sprite]], fps: float, duration_s: float,
            seed: int, layout: str = "room") -> Tuple[List[np.ndarray], List[Tuple[float, ...]]]:
    """Frames and MOTChallenge ground truth of the people walking across the room.

    ``room``: the six people, full size (120-264 px), back and forth along near-horizontal paths.
    ``square``: a camera looking down on an open square (as PETS09-S2L1): each person twice (the second copy
    recoloured a little: a look-alike), small (48-144 px), walking in every direction and turning at the edges.
    """
    if layout not in ("room", "square"):
        raise ValueError(f"compose: layout expected 'room' or 'square', got {layout!r}")
    rng = np.random.default_rng(seed)
    h, w = room.shape[:2]
    floor = FLOOR_Y if layout == "room" else SQUARE_FLOOR_Y
    walkers = []
    copies = 1 if layout == "room" else 2
    for copy in range(copies):
        for sprites in people:
            x, y = rng.uniform(60, w - 60), rng.uniform(*floor)  # this draw order keeps comp1 and comp2 as built
            if layout == "room":
                vx, vy = rng.choice([-1, 1]) * rng.uniform(45, 110), rng.uniform(-12, 12)
            else:
                a, v = rng.uniform(0, 2 * np.pi), rng.uniform(25, 60)
                vx, vy = v * np.cos(a), v * np.sin(a)
            phase = int(rng.integers(len(sprites)))
            gain = None if copy == 0 else rng.uniform(0.75, 1.25, 3)  # the copy: recoloured
            walkers.append(dict(pid=len(walkers) + 1, sprites=sprites, x=x, y=y, vx=vx, vy=vy, gain=gain,
                                phase=phase))
    frames, gt = [], []
    for n in range(int(round(fps * duration_s))):
        t = n / fps
        img = room.copy()
        placed = []
        for wk in walkers:
            x, y = wk["x"] + wk["vx"] * t, wk["y"] + wk["vy"] * t
            x = 40 + abs((x - 40) % (2 * (w - 80)) - (w - 80))  # back and forth between x 40 and w - 40
            span = floor[1] - floor[0]
            y = floor[0] + abs((y - floor[0]) % (2 * span) - span)
            pix, mask = wk["sprites"][(wk["phase"] + int(t * SOURCE_FPS)) % len(wk["sprites"])]
            if wk["gain"] is not None:
                pix = np.clip(pix * wk["gain"], 0, 255).astype(np.uint8)
            if layout == "room":
                ph = 120.0 + (y - floor[0]) * 0.9  # nearer (lower) people are taller
            else:
                ph = 48.0 + (y - floor[0]) * 0.35
            s = ph / pix.shape[0]
            pw = max(2, int(round(pix.shape[1] * s)))
            ph_i = max(2, int(round(ph)))
            x1, y1 = int(round(x - pw / 2)), int(round(y - ph_i))
            placed.append((y, wk["pid"], x1, y1, cv2.resize(pix, (pw, ph_i), interpolation=cv2.INTER_AREA),
                           cv2.resize(mask.astype(np.uint8), (pw, ph_i), interpolation=cv2.INTER_NEAREST) > 0))
        placed.sort(key=lambda p: p[0])  # far first, near on top
        cover = np.zeros((h, w), bool)
        rows = []
        for _, pid, x1, y1, pix, mask in reversed(placed):  # near first: what is in front is known
            full = np.zeros((h, w), bool)
            xa, ya, xb, yb = max(x1, 0), max(y1, 0), min(x1 + pix.shape[1], w), min(y1 + pix.shape[0], h)
            full[ya:yb, xa:xb] = mask[ya - y1:yb - y1, xa - x1:xb - x1]
            total = int(mask.sum())
            vis = float((full & ~cover).sum()) / total if total else 0.0
            cover |= full
            if vis >= MIN_VISIBILITY and xb - xa >= 2 and yb - ya >= 2:
                rows.append((n + 1, pid, float(xa), float(ya), float(xb - xa), float(yb - ya), 1, 1, round(vis, 3)))
        for _, pid, x1, y1, pix, mask in placed:
            xa, ya, xb, yb = max(x1, 0), max(y1, 0), min(x1 + pix.shape[1], w), min(y1 + pix.shape[0], h)
            m = mask[ya - y1:yb - y1, xa - x1:xb - x1]
            img[ya:yb, xa:xb][m] = pix[ya - y1:yb - y1, xa - x1:xb - x1][m]
        noise = rng.normal(0, 2.0, img.shape)
        frames.append(np.clip(img + noise, 0, 255).astype(np.uint8))
        gt += sorted(rows, key=lambda r: r[1])
    return frames, gt


def main(argv: List[str] | None = None) -> int:
    """Build the composite check set and its manifest."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "out" / "composite"))
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--duration", type=float, default=12.0,
                    help="seconds per sequence (the square layout's 7 fps sequences run 3x as long)")
    ap.add_argument("--layout", choices=("room", "square"), default="room",
                    help="room: comp1/comp2 (stop 16); square: sq3/sq4, small people seen from above, 2 x 6")
    ap.add_argument("--seeds", default="",
                    help="comma-separated path seeds (default 1,2 for room, 3,4 for square); other seeds build "
                         "fresh check sequences named comp<seed> / sq<seed>")
    args = ap.parse_args(argv)
    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    seeds = seeds or ([3, 4] if args.layout == "square" else [1, 2])
    shared, out = Path(args.shared).resolve(), Path(args.out)
    if not (shared / VIDEO).is_file():
        sys.stderr.write(f"make_composites: {shared / VIDEO} is absent\n")
        return 1
    room, people = load_people(shared, YoloDetector(str(shared / COCO), "cpu"))
    print(f"{len(people)} people, {[len(p) for p in people]} cut-outs each")
    out.mkdir(parents=True, exist_ok=True)
    real = {"model": str(shared / COCO), "classes": ["person"], "osnet": str(shared / OSNET), "kind": "real"}
    tool = shared / "tools" / "make_pan.py"
    seqs: List[Dict[str, object]] = []
    if args.layout == "square":
        for seed in seeds:
            base = f"sq{seed}"
            names = (base, f"{base}-7fps", f"{base}-pan", f"{base}-7fps-pan")
            for name in names:
                if (out / name).exists():
                    shutil.rmtree(out / name)
            for name, fps in ((base, 25.0), (f"{base}-7fps", 7.0)):
                frames, gt = compose(room, people, fps, args.duration if fps > 10 else 3 * args.duration, seed,
                                     "square")
                write_sequence(out / name, frames, gt, name=name, frame_rate=fps)
            make_pan(tool, out / base, out / f"{base}-pan", 4)
            make_pan(tool, out / f"{base}-7fps", out / f"{base}-7fps-pan", 8)
            seqs += [{"name": name, "dir": str(out / name), **real} for name in names]
        (out / "devset.json").write_text(json.dumps({"sequences": seqs}, indent=1) + "\n")
        print(f"manifest: {out / 'devset.json'} ({len(seqs)} sequences)")
        return 0
    for seed in seeds:
        base = f"comp{seed}"
        for name in (base, f"{base}-8fps", f"{base}-pan", f"{base}-8fps-pan"):
            if (out / name).exists():
                shutil.rmtree(out / name)
        frames, gt = compose(room, people, 25.0, args.duration, seed)
        write_sequence(out / base, frames, gt, name=base, frame_rate=25.0)
        subsample(out / base, out / f"{base}-8fps", 3)
        make_pan(tool, out / base, out / f"{base}-pan", 4)
        make_pan(tool, out / f"{base}-8fps", out / f"{base}-8fps-pan", 6)
        for name in (base, f"{base}-8fps", f"{base}-pan", f"{base}-8fps-pan"):
            seqs.append({"name": name, "dir": str(out / name), **real})
    (out / "devset.json").write_text(json.dumps({"sequences": seqs}, indent=1) + "\n")
    print(f"manifest: {out / 'devset.json'} ({len(seqs)} sequences)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
