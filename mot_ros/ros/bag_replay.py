"""``bag_replay``: publish a rosbag2 bag's messages over rclpy at the recorded rate, with ``/clock``.

A stand-in for ``ros2 bag play`` where rosbag2 is not installed (it is not
available as PyPI wheels). It reads mcap or sqlite3 bags with ``rosbags`` and
publishes the stored CDR bytes unchanged, so every message arrives exactly as
recorded.

* ``--rate R`` scales the recorded timing (2.0 = twice as fast).
* ``/clock`` (rosgraph_msgs/Clock) carries the bag's log time, for nodes
  started with ``use_sim_time:=true`` (``--no-clock`` turns it off).
* ``--wait-for TOPIC`` is a **lock-step mode**: after each image it waits
  until a message with the same header stamp arrives on TOPIC (by default a
  vision_msgs/Detection2DArray, e.g. the tracker's ``detections``) before the
  next one goes out, never earlier than the recorded rate allows. The tracker
  node processes only the newest frame and drops older ones when it falls
  behind; lock-step guarantees that no frame is dropped, so a live run can be
  compared frame by frame with ``mot_track bag``. Frames whose result does not
  arrive within ``--wait-timeout`` are reported as missing.

Example::

    tracker_node --ros-args -p model:=yolov8n.pt -p use_sim_time:=true -r image:=/camera/image_raw &
    bag_replay my_bag --topics /camera/image_raw --rate 1.0
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

log = logging.getLogger(__name__)

Stamp = Tuple[int, int]


def import_msg_type(msgtype: str) -> Any:
    """The rclpy message class of ``pkg/msg/Type``.

    Raises:
        ValueError: When the package or type is not installed.
    """
    parts = msgtype.split("/")
    if len(parts) != 3:
        raise ValueError(f"message type: expected pkg/msg/Type, got {msgtype!r}")
    try:
        return getattr(importlib.import_module(f"{parts[0]}.{parts[1]}"), parts[2])
    except (ImportError, AttributeError):
        raise ValueError(f"message type {msgtype!r} is not installed in this Python environment") from None


def parse_remaps(remaps: Sequence[str]) -> Dict[str, str]:
    """``FROM:=TO`` pairs to a dict (raises ValueError on a malformed entry)."""
    out = {}
    for r in remaps:
        if ":=" not in r:
            raise ValueError(f"--remap: expected FROM:=TO, got {r!r}")
        a, b = r.split(":=", 1)
        out[a.strip()] = b.strip()
    return out


@dataclass
class ReplayStats:
    """What a replay did.

    Attributes:
        published: Messages published per output topic.
        missing: Stamps of frames whose lock-step result never arrived.
        wall_sec: Wall time of the replay.
    """

    published: Dict[str, int] = field(default_factory=dict)
    missing: List[Stamp] = field(default_factory=list)
    wall_sec: float = 0.0


class BagPlayer:
    """Publishes a bag's messages from a node; drive it with :meth:`play` from any thread.

    The node must be spun by an executor (for the lock-step subscription).

    Args:
        node: The node that owns the publishers.
        bag: Bag directory or .mcap/.db3 file.
        topics: Topics to publish (default: every image topic in the bag).
        rate: Playback speed factor (> 0).
        clock: Publish ``/clock`` from the bag's log times.
        clock_hz: ``/clock`` rate between messages.
        remap: Output topic names by bag topic.
        reliability: QoS reliability of the publishers.
        wait_for: Lock-step result topic (None: free-running at the recorded rate).
        wait_for_type: Message type of ``wait_for`` (must have a header).
        wait_timeout: Seconds to wait for each result.

    Raises:
        ValueError: Missing bag, unknown topic, or a type that is not installed.
    """

    def __init__(self, node: Node, bag: str | Path, topics: Sequence[str] = (), rate: float = 1.0,
                 clock: bool = True, clock_hz: float = 40.0, remap: Optional[Dict[str, str]] = None,
                 reliability: ReliabilityPolicy = ReliabilityPolicy.RELIABLE, wait_for: Optional[str] = None,
                 wait_for_type: str = "vision_msgs/msg/Detection2DArray", wait_timeout: float = 30.0) -> None:
        from rosbags.rosbag2 import Reader

        from ..core.bagio import IMAGE_TYPES, make_typestore, storage_format

        if not rate > 0:
            raise ValueError(f"--rate: expected a positive factor, got {rate}")
        self.node, self.rate, self.clock_hz, self.wait_timeout = node, float(rate), float(clock_hz), wait_timeout
        self.path = Path(bag)
        storage_format(self.path)  # clear error for a missing or non-bag path
        self.typestore = make_typestore()
        self._reader = Reader(self.path)
        self._reader.open()
        available = self._reader.topics
        if topics:
            wanted = [t if t in available or t.startswith("/") else "/" + t for t in topics]
            unknown = [t for t in wanted if t not in available]
            if unknown:
                self._reader.close()
                raise ValueError(f"bag {str(self.path)!r}: topic(s) {unknown} not found; topics: {sorted(available)}")
        else:
            wanted = sorted(t for t, i in available.items() if i.msgtype in IMAGE_TYPES)
            if not wanted:
                self._reader.close()
                raise ValueError(f"bag {str(self.path)!r}: no image topics; pass --topics (topics: "
                                 f"{sorted(available)})")
        remap = remap or {}
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=reliability,
                         durability=DurabilityPolicy.VOLATILE)
        self.connections = [c for c in self._reader.connections if c.topic in wanted]
        self.image_topics = {t for t in wanted if available[t].msgtype in IMAGE_TYPES}
        self.publishers: Dict[str, Any] = {}
        self.out_topic: Dict[str, str] = {}
        for t in wanted:
            self.out_topic[t] = remap.get(t, t)
            self.publishers[t] = node.create_publisher(import_msg_type(str(available[t].msgtype)),
                                                       self.out_topic[t], qos)
        self.clock_pub = node.create_publisher(Clock, "/clock", 10) if clock else None
        self.stats = ReplayStats(published={self.out_topic[t]: 0 for t in wanted})
        self.results: Dict[Stamp, Any] = {}
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self.wait_for = wait_for
        if wait_for:
            self._sub = node.create_subscription(import_msg_type(wait_for_type), wait_for, self._on_result,
                                                 QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))

    def _on_result(self, msg: Any) -> None:
        with self._cv:
            self.results[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = msg
            self._cv.notify_all()

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Ask :meth:`play` to return after the current message."""
        self._stop.set()
        with self._cv:
            self._cv.notify_all()

    def wait_for_subscribers(self, timeout: float = 10.0) -> bool:
        """Wait until every image publisher (and the lock-step topic) is matched; True when they are."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self._stop.is_set():
            ok = all(self.publishers[t].get_subscription_count() > 0 for t in self.image_topics)
            if self.wait_for:
                ok = ok and self._sub.get_publisher_count() > 0
            if ok:
                return True
            time.sleep(0.05)
        return False

    def _publish_clock(self, ns: int) -> None:
        if self.clock_pub is not None:
            msg = Clock()
            msg.clock.sec, msg.clock.nanosec = ns // 1_000_000_000, ns % 1_000_000_000
            self.clock_pub.publish(msg)

    def _sleep_until(self, wall: float, bag_ns_at: Callable[[float], int]) -> None:
        """Sleep until ``wall`` (monotonic), ticking /clock at clock_hz meanwhile."""
        period = 1.0 / self.clock_hz if self.clock_hz > 0 else None
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= wall:
                return
            step = wall - now if period is None else min(period, wall - now)
            time.sleep(step)
            if period is not None and self.clock_pub is not None:
                self._publish_clock(bag_ns_at(time.monotonic()))

    def play(self) -> ReplayStats:
        """Publish every message once, in log-time order; returns the statistics."""
        t_wall0 = time.monotonic()
        t_bag0: Optional[int] = None
        paused = 0.0  # wall seconds spent waiting for lock-step results beyond the schedule

        def bag_ns_at(wall: float) -> int:
            return int((t_bag0 or 0) + (wall - t_wall0 - paused) * self.rate * 1e9)

        for conn, t, raw in self._reader.messages(connections=self.connections):
            if self._stop.is_set():
                break
            if t_bag0 is None:
                t_bag0 = t
                t_wall0 = time.monotonic()
            target = t_wall0 + paused + (t - t_bag0) / 1e9 / self.rate
            self._sleep_until(target, bag_ns_at)
            self._publish_clock(t)
            self.publishers[conn.topic].publish(bytes(raw))
            self.stats.published[self.out_topic[conn.topic]] += 1
            if self.wait_for and conn.topic in self.image_topics:
                hdr = self.typestore.deserialize_cdr(raw, conn.msgtype).header
                key = (int(hdr.stamp.sec), int(hdr.stamp.nanosec))
                w0 = time.monotonic()
                end = w0 + self.wait_timeout
                with self._cv:
                    while key not in self.results and not self._stop.is_set() and time.monotonic() < end:
                        self._cv.wait(min(0.05, max(0.0, end - time.monotonic())))
                        self._publish_clock(t)
                    got = key in self.results
                if not got and not self._stop.is_set():
                    self.stats.missing.append(key)
                    log.warning("no result on %s for the frame stamped %d.%09d within %.1f s", self.wait_for,
                                key[0], key[1], self.wait_timeout)
                paused += time.monotonic() - w0  # the schedule (and /clock) stands still while waiting
        self.stats.wall_sec = time.monotonic() - t_wall0
        return self.stats

    def close(self) -> None:
        """Close the bag and destroy the publishers."""
        for p in self.publishers.values():
            self.node.destroy_publisher(p)
        if self.clock_pub is not None:
            self.node.destroy_publisher(self.clock_pub)
        if self.wait_for:
            self.node.destroy_subscription(self._sub)
        if self._reader.is_open:
            self._reader.close()


def build_parser() -> argparse.ArgumentParser:
    """The ``bag_replay`` argument parser."""
    p = argparse.ArgumentParser(prog="bag_replay", description=__doc__.split("\n\n")[0] + " See the module "
                                "docstring for lock-step mode.")
    p.add_argument("bag", help="bag directory (or .mcap/.db3 file)")
    p.add_argument("--topics", nargs="+", default=[], metavar="T",
                   help="topics to publish (default: every Image/CompressedImage topic)")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor (default 1.0)")
    p.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    p.add_argument("--clock-hz", type=float, default=40.0, help="/clock rate between messages (default 40)")
    p.add_argument("--remap", action="append", default=[], metavar="FROM:=TO", help="publish topic FROM as TO")
    p.add_argument("--qos", choices=("reliable", "best_effort"), default="reliable",
                   help="publisher reliability (default reliable)")
    p.add_argument("--wait-for", metavar="TOPIC",
                   help="lock-step: wait for a message with the same header stamp on TOPIC after each image")
    p.add_argument("--wait-for-type", default="vision_msgs/msg/Detection2DArray", metavar="TYPE",
                   help="message type of --wait-for (default vision_msgs/msg/Detection2DArray)")
    p.add_argument("--wait-timeout", type=float, default=30.0, help="seconds to wait for each result (default 30)")
    p.add_argument("--wait-subscribers", type=float, default=10.0, metavar="SEC",
                   help="wait up to SEC for subscribers before playing (default 10)")
    p.add_argument("--loop", action="store_true", help="play again from the start until interrupted")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``bag_replay``; exits 2 on bad input and 1 when lock-step results were missing."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    ros_args: List[str] = []
    if "--ros-args" in args_in:  # ros2 run passes node options after --ros-args
        i = args_in.index("--ros-args")
        args_in, ros_args = args_in[:i], args_in[i:]
    args = build_parser().parse_args(args_in)
    logging.basicConfig(level=logging.INFO, format="bag_replay: %(message)s", stream=sys.stderr)
    rclpy.init(args=["bag_replay", *ros_args] if ros_args else None)
    node = Node("bag_replay")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    player: Optional[BagPlayer] = None
    code = 0
    try:
        rel = ReliabilityPolicy.RELIABLE if args.qos == "reliable" else ReliabilityPolicy.BEST_EFFORT
        player = BagPlayer(node, args.bag, args.topics, args.rate, not args.no_clock, args.clock_hz,
                           parse_remaps(args.remap), rel, args.wait_for, args.wait_for_type, args.wait_timeout)
        if not player.wait_for_subscribers(args.wait_subscribers):
            log.warning("no subscriber matched within %.0f s; playing anyway", args.wait_subscribers)
        while True:
            stats = player.play()
            sys.stdout.write(f"published {dict(stats.published)} in {stats.wall_sec:.1f} s"
                             + (f"; missing results: {len(stats.missing)}" if args.wait_for else "") + "\n")
            if stats.missing:
                code = 1
            if not args.loop or player.stopped:
                break
            player.close()
            player = BagPlayer(node, args.bag, args.topics, args.rate, not args.no_clock, args.clock_hz,
                               parse_remaps(args.remap), rel, args.wait_for, args.wait_for_type, args.wait_timeout)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ValueError as exc:
        sys.stderr.write(f"bag_replay: error: {exc}\n")
        code = 2
    finally:
        if player is not None:
            player.stop()
            player.close()
        executor.shutdown(timeout_sec=5.0)
        spin.join(timeout=10.0)
        node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
