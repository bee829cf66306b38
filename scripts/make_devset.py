#!/usr/bin/env python3
"""Build the tracking development set under ``out/devset/`` (deterministic).

usage: make_devset.py [--out out/devset] [--shared ../shared] [--only NAME[,NAME...]] [--holdout | --rates]

Writes MOTChallenge sequences (``img1/``, ``gt/gt.txt``, ``seqinfo.ini``) and
``devset.json``, the manifest that ``scripts/sweep_trackers.py`` reads: one
entry per sequence with its directory, detector and classes. Nothing here is
committed (``out/`` is git-ignored); the real sequences in ``../shared`` are
referenced in place, never copied.

Sequences:

* real (TUD-Campus, 640x480, 25 fps, COCO int8 YOLOv8n, persons): TUD-Campus and
  its three moving-camera versions from ``../shared/data/mot``; new here: an 8 fps
  version (every third frame), an 8 fps version panning at 6 px/frame, and a
  25 fps version panning at 10 px/frame (``../shared/tools/make_pan.py``).
* synthetic (640x480, shapes detector, exact ground truth from
  ``mot_ros.core.synthetic.dev_scene``): occlusion, crossing look-alikes, faded
  low-confidence shapes, a panning and shaking camera, and a mixed scene; the
  same motion sampled at 30, 15 and 7 fps for the mixed and the panning scenes.
"""
from __future__ import annotations

import argparse
import configparser
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mot_ros.core.mot_format import write_sequence  # noqa: E402
from mot_ros.core.synthetic import dev_scene  # noqa: E402

COCO = "data/models/yolov8n_coco_int8.onnx"
OSNET = "data/models/osnet_x0_25_msmt17.onnx"
SHAPES = str(REPO / "models" / "shapes_yolov8n.pt")
SYN_DURATION_S = 6.0

# (name, scene kind, fps, seed)
SYNTHETIC = [
    ("syn-occlusion-30fps", "occlusion", 30, 1),
    ("syn-occlusion-10fps", "occlusion", 10, 1),
    ("syn-crossing-30fps", "crossing", 30, 2),
    ("syn-crossing-7fps", "crossing", 7, 2),
    ("syn-lowconf-30fps", "lowconf", 30, 3),
    ("syn-mixed-30fps", "mixed", 30, 4),
    ("syn-mixed-15fps", "mixed", 15, 4),
    ("syn-mixed-7fps", "mixed", 7, 4),
    ("syn-pan-30fps", "pan", 30, 5),
    ("syn-pan-15fps", "pan", 15, 5),
    ("syn-pan-7fps", "pan", 7, 5),
]


def subsample(src: Path, dst: Path, step: int) -> None:
    """Keep every ``step``-th frame (1, 1+step, ...) of a sequence and renumber frames and ground truth."""
    ini = configparser.ConfigParser()
    ini.read(src / "seqinfo.ini")
    s = ini["Sequence"]
    n, fps = int(s["seqLength"]), float(s["frameRate"])
    keep = list(range(1, n + 1, step))
    (dst / "img1").mkdir(parents=True, exist_ok=True)
    (dst / "gt").mkdir(exist_ok=True)
    ext = s.get("imExt", ".jpg")
    for new, old in enumerate(keep, 1):
        shutil.copyfile(src / s.get("imDir", "img1") / f"{old:06d}{ext}", dst / "img1" / f"{new:06d}{ext}")
    renum = {old: new for new, old in enumerate(keep, 1)}
    rows = []
    for line in (src / "gt" / "gt.txt").read_text().splitlines():
        f = line.strip().split(",")
        if len(f) >= 6 and int(float(f[0])) in renum:
            f[0] = str(renum[int(float(f[0]))])
            rows.append(",".join(f))
    (dst / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    (dst / "seqinfo.ini").write_text(
        f"[Sequence]\nname={dst.name}\nimDir=img1\nframeRate={fps / step:g}\nseqLength={len(keep)}\n"
        f"imWidth={s['imWidth']}\nimHeight={s['imHeight']}\nimExt={ext}\n")


def make_pan(tool: Path, src: Path, dst: Path, px: float) -> None:
    """Run ``../shared/tools/make_pan.py`` (deterministic) on ``src``."""
    subprocess.run([sys.executable, str(tool), str(src), str(dst), "--px-per-frame", f"{px:g}"], check=True,
                   stdout=subprocess.DEVNULL)


HOLDOUT = (("TUD-pan4", 1, 4), ("TUD-pan7", 1, 7), ("TUD-pan14", 1, 14), ("TUD-8fps-pan3", 3, 3),
           ("TUD-8fps-pan10", 3, 10))
"""Held-out pans of TUD-Campus: (name, frame step, pixels per frame). Not in the development set: a default that a
sweep chose on the development set is checked here before it is kept (docs/tracking.md)."""


RATES = (("TUD-12.5fps", 2, 0), ("TUD-12.5fps-pan", 2, 5), ("TUD-6.25fps", 4, 0), ("TUD-6.25fps-pan", 4, 10),
         ("TUD-5fps", 5, 0), ("TUD-5fps-pan", 5, 12.5))
"""Frame rates the development set lacks (stop 20): TUD-Campus every 2nd, 4th and 5th frame, still and panning at
2.5 px per 25 fps frame: (name, frame step, pixels per frame). Built after ``gate_frame_rate`` was chosen, as a
check of it."""


def make_tud_set(out: Path, shared: Path, entries: Sequence[Tuple[str, int, float]], what: str) -> int:
    """Build TUD-Campus versions under ``out`` with their own ``devset.json``.

    ``entries``: (name, frame step, pixels per frame); 0 pixels copies the subsampled sequence unpanned.
    """
    mot, tool = shared / "data" / "mot", shared / "tools" / "make_pan.py"
    if not (mot / "TUD-Campus").is_dir():
        sys.stderr.write(f"make_devset: {mot / 'TUD-Campus'} is absent; the {what} set needs it\n")
        return 1
    out.mkdir(parents=True, exist_ok=True)
    real = {"model": str(shared / COCO), "classes": ["person"], "osnet": str(shared / OSNET), "kind": "real"}
    seqs: List[Dict[str, object]] = []
    for name, step, px in entries:
        src = mot / "TUD-Campus"
        if step > 1:
            src = out / f"_TUD-Campus-step{step}"
            if not src.is_dir():
                subsample(mot / "TUD-Campus", src, step)
        d = out / name
        if d.exists():
            shutil.rmtree(d)
        if px:
            make_pan(tool, src, d, px)
        else:
            shutil.copytree(src, d)
        seqs.append({"name": name, "dir": str(d), **real})
    (out / "devset.json").write_text(json.dumps({"sequences": seqs}, indent=1) + "\n")
    print(f"manifest: {out / 'devset.json'} ({len(seqs)} {what} sequences)")
    return 0


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "out" / "devset"))
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--only", default="", help="comma-separated sequence names to (re)build")
    ap.add_argument("--holdout", action="store_true",
                    help="build the held-out check set instead (five more pans of TUD-Campus, default out/holdout)")
    ap.add_argument("--rates", action="store_true",
                    help="build the frame-rate check set instead (TUD-Campus at 12.5, 6.25 and 5 fps, still and "
                         "panning, default out/rates)")
    args = ap.parse_args(argv)
    if args.rates:
        out = Path(args.out) if args.out != ap.get_default("out") else REPO / "out" / "rates"
        return make_tud_set(out, Path(args.shared).resolve(), RATES, "frame-rate")
    if args.holdout:
        out = Path(args.out) if args.out != ap.get_default("out") else REPO / "out" / "holdout"
        return make_tud_set(out, Path(args.shared).resolve(), HOLDOUT, "held-out")
    out, shared = Path(args.out), Path(args.shared).resolve()
    only = {s for s in args.only.split(",") if s}
    out.mkdir(parents=True, exist_ok=True)
    seqs: List[Dict[str, object]] = []

    def want(name: str) -> bool:
        return not only or name in only

    mot = shared / "data" / "mot"
    if (mot / "TUD-Campus").is_dir():
        real = {"model": str(shared / COCO), "classes": ["person"], "osnet": str(shared / OSNET), "kind": "real"}
        for name in ("TUD-Campus", "TUD-Campus-pan", "TUD-Campus-fastpan", "TUD-Campus-8fps-pan"):
            seqs.append({"name": name, "dir": str(mot / name), **real})
        tool = shared / "tools" / "make_pan.py"
        made = [("TUD-Campus-8fps", lambda d: subsample(mot / "TUD-Campus", d, 3)),
                ("TUD-Campus-8fps-pan6", lambda d: make_pan(tool, out / "TUD-Campus-8fps", d, 6)),
                ("TUD-Campus-midpan", lambda d: make_pan(tool, mot / "TUD-Campus", d, 10))]
        for name, build in made:
            d = out / name
            if want(name):
                if d.exists():
                    shutil.rmtree(d)
                build(d)
            seqs.append({"name": name, "dir": str(d), **real})
    else:
        sys.stderr.write(f"make_devset: {mot} is absent; building the synthetic sequences only\n")
    syn = {"model": SHAPES, "classes": [], "osnet": "", "kind": "synthetic"}
    for name, kind, fps, seed in SYNTHETIC:
        d = out / name
        if want(name):
            if d.exists():
                shutil.rmtree(d)
            frames, gt = [], []
            for img, rows in dev_scene(kind, seed=seed).frames(fps, SYN_DURATION_S):
                frames.append(img)
                gt += rows
            write_sequence(d, frames, gt, name=name, frame_rate=fps)
        seqs.append({"name": name, "dir": str(d), **syn})
    (out / "devset.json").write_text(json.dumps({"sequences": seqs}, indent=1) + "\n")
    for s in seqs:
        print(f"{s['name']:24s} {s['dir']}")
    print(f"manifest: {out / 'devset.json'} ({len(seqs)} sequences)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
