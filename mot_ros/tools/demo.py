"""``mot_demo``: run the tracker node end to end over DDS on a video, offline.

Starts ``tracker_node`` as its own process (exactly as ``ros2 run`` would),
publishes the video's frames on ``image`` and records ``detections`` and
``annotated_image``, then writes an annotated video and a MOTChallenge tracks
file. Frames are sent one at a time, each after the previous one's result, so
nothing is dropped and the run is reproducible.
"""
from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np

from ..core.resources import DEMO_VIDEO, SHAPES_MODEL, share_path
from ..ros.command import tracker_node_command

log = logging.getLogger("mot_demo")


def parse_assignments(items: List[str]) -> Dict[str, str]:
    """``["name:=value", ...]`` (``--set``) -> {name: value}; ValueError naming the bad item."""
    out = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name.strip():
            raise ValueError(f"--set: expected NAME:=VALUE, got {item!r}")
        out[name.strip()] = value
    return out


def run_demo(video: Path, model: Path, out_dir: Path, params: List[str], extra: List[str],
             timeout: float = 60.0) -> Dict[str, object]:
    """Run the node on ``video``; return a summary dict."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    from ..core.image_codec import image_to_bgr
    from ..ros.conversions import bgr_to_image

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise ValueError(f"--input: cannot open video {str(video)!r}; expected a readable video file")
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    frames: List[np.ndarray] = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    if not frames:
        raise ValueError(f"--input: video {str(video)!r} has no readable frames")
    out_dir.mkdir(parents=True, exist_ok=True)

    cmd = tracker_node_command({"model": str(model), "qos_reliability": "reliable", **parse_assignments(extra)},
                               params_files=params)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    node_log: List[str] = []
    threading.Thread(target=lambda: [node_log.append(line.rstrip()) for line in proc.stdout],  # type: ignore
                     daemon=True).start()
    rclpy.init(args=[])  # our command line (e.g. --set name:=value) is not ROS arguments
    node = Node("mot_demo_player")
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(Image, "image", qos)
    results: Dict[int, Detection2DArray] = {}
    annotated: Dict[int, np.ndarray] = {}
    key = lambda h: h.stamp.sec * 1_000_000_000 + h.stamp.nanosec  # noqa: E731
    node.create_subscription(Detection2DArray, "detections", lambda m: results.__setitem__(key(m.header), m), qos)
    node.create_subscription(Image, "annotated_image",
                             lambda m: annotated.__setitem__(key(m.header), image_to_bgr(m)), qos)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    try:
        deadline = time.monotonic() + timeout
        while pub.get_subscription_count() == 0 or node.count_subscribers("annotated_image") == 0 or \
                node.count_publishers("annotated_image") == 0:
            ex.spin_once(timeout_sec=0.1)
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("tracker_node did not come up:\n" + "\n".join(node_log[-20:]))
        t_start = time.monotonic()
        dt_ns = int(1e9 / fps)
        for i, frame in enumerate(frames):
            msg = bgr_to_image(frame)
            stamp = 1_000_000_000 + i * dt_ns  # a fixed epoch keeps outputs reproducible
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
            msg.header.frame_id = "demo_camera"
            pub.publish(msg)
            deadline = time.monotonic() + timeout
            while not (stamp in results and stamp in annotated):
                ex.spin_once(timeout_sec=0.05)
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"no result for frame {i}:\n" + "\n".join(node_log[-20:]))
            if sys.stderr.isatty():
                sys.stderr.write(f"\rframe {i + 1}/{len(frames)}")
            elif (i + 1) % 25 == 0 or i + 1 == len(frames):
                sys.stderr.write(f"frame {i + 1}/{len(frames)}\n")
        elapsed = time.monotonic() - t_start
        if sys.stderr.isatty():
            sys.stderr.write("\n")
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()

    video_out = out_dir / "demo_annotated.mp4"
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(video_out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    tracks_out = out_dir / "demo_tracks.txt"
    ids = set()
    with tracks_out.open("w") as f:
        for i in range(len(frames)):
            stamp = 1_000_000_000 + i * int(1e9 / fps)
            writer.write(annotated[stamp])
            for d in results[stamp].detections:
                cx, cy, bw, bh = d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y
                ids.add(d.id)
                f.write(f"{i + 1},{d.id},{cx - bw / 2:.2f},{cy - bh / 2:.2f},{bw:.2f},{bh:.2f},"
                        f"{d.results[0].hypothesis.score:.4f},-1,-1,-1\n")
    writer.release()
    return {"frames": len(frames), "unique_ids": len(ids), "fps": len(frames) / elapsed,
            "video": str(video_out), "tracks": str(tracks_out), "node_exit": proc.returncode}


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``mot_demo``."""
    ap = argparse.ArgumentParser(prog="mot_demo", description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, default=None,
                    help=f"video to track (default: share/mot_ros/{DEMO_VIDEO}, the shipped demo)")
    ap.add_argument("--model", type=Path, default=None,
                    help=f"detector weights (default: share/mot_ros/{SHAPES_MODEL}, the shapes model)")
    ap.add_argument("--params", action="append", default=[], help="ROS params file for the node (repeatable)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME:=VALUE", help="extra node parameter")
    ap.add_argument("--output-dir", type=Path, default=Path("out"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    try:
        args.input = args.input or share_path(DEMO_VIDEO)
        args.model = args.model or share_path(SHAPES_MODEL)
        parse_assignments(args.set)
    except ValueError as exc:
        sys.stderr.write(f"mot_demo: {exc}\n")
        return 2
    for p in [args.input, args.model] + [Path(p) for p in args.params]:
        if not p.exists():
            sys.stderr.write(f"mot_demo: file {str(p)!r} not found\n")
            return 2
    try:
        s = run_demo(args.input, args.model.resolve(), args.output_dir, args.params, args.set)
    except (ValueError, RuntimeError) as exc:
        sys.stderr.write(f"mot_demo: {exc}\n")
        return 1
    sys.stdout.write(f"tracked {s['frames']} frames through tracker_node over DDS at {s['fps']:.1f} fps; "
                     f"{s['unique_ids']} unique track IDs\nannotated video: {s['video']}\ntracks (MOTChallenge "
                     f"rows): {s['tracks']}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
