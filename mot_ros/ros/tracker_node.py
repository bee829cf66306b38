"""``tracker_node``: a managed node that tracks objects in an image topic.

The node is thin: it converts messages, hands the newest frame to
:class:`mot_ros.core.pipeline.Pipeline` on a worker thread, and publishes the
results. See the README for topics, parameters and guarantees.
"""
from __future__ import annotations

import gc
import threading
import time
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Union

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data)
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray, LabelInfo

from ..core.config import FIELD_BY_NAME, Config, check_value
from ..core.image_codec import FrameError
from ..core.pipeline import Pipeline
from .conversions import bgr_to_image, image_to_bgr, label_info_msg, stamp_to_sec, tracks_to_msg
from .params import config_from_node, declare_parameters, param_value

Msg = Union[Image, CompressedImage]
MAX_LATENCY_SEC = 600.0
"""Stamp-to-publish lags outside [-1 s, this] mean another clock domain and are not reported."""


def _percentile(values: List[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


class Stats:
    """Counters and rolling timings reported on /diagnostics. Thread-safe."""

    def __init__(self, window: int = 300) -> None:
        self._lock = threading.Lock()
        self.received = self.processed = self.dropped = self.bad = self.failed = self.lost = 0
        self.consecutive_failures = 0
        self.last_error = ""
        self.latency_ms: Deque[float] = deque(maxlen=window)
        self.stage_ms: Dict[str, Deque[float]] = {}
        self._rate_mark = (time.monotonic(), 0, 0)
        self.last_rx = time.monotonic()

    def add(self, **counts: int) -> None:
        with self._lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def timing(self, stage: str, ms: float) -> None:
        with self._lock:
            self.stage_ms.setdefault(stage, deque(maxlen=self.latency_ms.maxlen)).append(ms)

    def snapshot(self) -> Dict[str, Any]:
        """Counters, rates since the last snapshot, and timing percentiles."""
        with self._lock:
            now = time.monotonic()
            t0, rx0, pr0 = self._rate_mark
            dt = max(now - t0, 1e-6)
            self._rate_mark = (now, self.received, self.processed)
            lat = list(self.latency_ms)
            stages = {k: float(np.median(v)) for k, v in self.stage_ms.items() if v}
            return dict(received=self.received, processed=self.processed, dropped=self.dropped, bad=self.bad,
                        lost=self.lost,
                        failed=self.failed, consecutive_failures=self.consecutive_failures,
                        input_hz=(self.received - rx0) / dt, processed_hz=(self.processed - pr0) / dt,
                        latency_p50=_percentile(lat, 50), latency_p95=_percentile(lat, 95), stages=stages,
                        last_error=self.last_error)


class TrackerNode(LifecycleNode):
    """Managed node: configure loads the models, activate starts the topics.

    Args:
        node_name: ROS node name.
        **kwargs: Passed to ``LifecycleNode`` (e.g. ``parameter_overrides``).
    """

    def __init__(self, node_name: str = "tracker_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_parameters(self)
        self.config: Optional[Config] = None
        self.pipeline: Optional[Pipeline] = None
        self.stats = Stats()
        self._slot: Optional[Msg] = None
        self._slot_cv = threading.Condition()
        self._running = False
        self._worker: Optional[threading.Thread] = None
        self._sub = None
        self._sub_reliability: Optional[ReliabilityPolicy] = None
        self._pub_det = self._pub_img = self._pub_label = self._pub_diag = None
        self._timers: List[Any] = []
        self._input_topic = "image"
        self._single_publisher = False
        self._publisher_gids: frozenset = frozenset()
        self._last_seq: Optional[int] = None
        self._dedupe_until = 0.0
        self.active_tracks = 0
        self.add_on_set_parameters_callback(self._on_set_parameters)

    # -- lifecycle ------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.config = config_from_node(self)
            self.pipeline = Pipeline(self.config)
        except ValueError as exc:  # includes ModelError: the message names the parameter
            self.get_logger().error(f"configure failed: {exc}")
            self.config = None
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(
            f"configured: model={self.config.model} device={self.pipeline.device} embedder={self.config.embedder} "
            f"classes={list(self.config.classes) or 'all'}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self.config is not None
        c = self.config
        self._input_topic = "image/compressed" if c.compressed else "image"
        self._pub_det = self.create_publisher(Detection2DArray, "detections", 10)
        self._pub_img = self.create_publisher(Image, "annotated_image", 2)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        self._pub_label = self.create_publisher(LabelInfo, "label_info", latched)
        self._pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._publish_label_info()
        self._make_subscription()
        self._running = True
        self._worker = threading.Thread(target=self._work, name="mot_ros_worker", daemon=True)
        self._worker.start()
        self.stats.last_rx = time.monotonic()
        self._timers = [self.create_timer(c.diagnostics_period, self._on_diagnostics),
                        self.create_timer(1.0, self._watch_input)]
        self.get_logger().info(f"active: subscribed to {self.resolve_topic_name(self._input_topic)} "
                               f"({c.qos_reliability} -> {self._sub_reliability.name})")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_io()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_io()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_io()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _stop_io(self) -> None:
        self._running = False
        with self._slot_cv:
            self._slot_cv.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None
        for t in self._timers:
            self.destroy_timer(t)
        self._timers = []
        if self._sub is not None:
            self.destroy_subscription(self._sub)
            self._sub = None
        for name in ("_pub_det", "_pub_img", "_pub_label", "_pub_diag"):
            pub = getattr(self, name)
            if pub is not None:
                self.destroy_publisher(pub)
                setattr(self, name, None)
        self._slot = None

    def _release(self) -> None:
        if self.pipeline is not None:
            self.pipeline.close()
            self.pipeline = None
        self.config = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover
            pass

    # -- input ----------------------------------------------------------------
    def _publisher_reliability(self) -> Optional[ReliabilityPolicy]:
        infos = self.get_publishers_info_by_topic(self.resolve_topic_name(self._input_topic))
        if not infos:
            return None
        if all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE for i in infos):
            return ReliabilityPolicy.RELIABLE
        return ReliabilityPolicy.BEST_EFFORT

    def _wanted_reliability(self) -> ReliabilityPolicy:
        assert self.config is not None
        mode = self.config.qos_reliability
        if mode == "reliable":
            return ReliabilityPolicy.RELIABLE
        if mode == "best_effort":
            return ReliabilityPolicy.BEST_EFFORT
        # auto: BEST_EFFORT receives from every publisher, but large frames from a RELIABLE
        # publisher arrive far more often over a RELIABLE subscription, so match when all are.
        return self._publisher_reliability() or ReliabilityPolicy.BEST_EFFORT

    def _make_subscription(self) -> None:
        assert self.config is not None
        rel = self._wanted_reliability()
        old = self._sub
        if old is not None and rel == self._sub_reliability:
            return
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self.config.qos_depth, reliability=rel,
                         durability=qos_profile_sensor_data.durability)
        msg_type = CompressedImage if self.config.compressed else Image
        # make before break: frames in flight reach one of the two; duplicates are dropped by sequence number
        self._sub = self.create_subscription(msg_type, self._input_topic, self._on_image, qos)
        self._sub_reliability = rel
        if old is not None:
            self._dedupe_until = time.monotonic() + 2.0
            self.destroy_subscription(old)
            self.get_logger().info(f"input QoS: switched to {rel.name} to match the publishers of "
                                   f"{self.resolve_topic_name(self._input_topic)}")

    def _on_image(self, msg: Msg, info: Dict[str, Any]) -> None:
        seq = info.get("publication_sequence_number")
        if seq and self._last_seq is not None and seq <= self._last_seq and time.monotonic() < self._dedupe_until:
            return  # the same frame through the second subscription of a QoS switch
        self.stats.add(received=1)
        self.stats.last_rx = time.monotonic()
        if seq:
            # With one publisher, a gap in its sequence numbers is frames lost before reaching us
            # (the DDS queue overflowed or the network lost them): count them, never lose silently.
            last = self._last_seq
            if self._single_publisher and last is not None and last < seq <= last + 100000:
                self.stats.add(lost=seq - last - 1)
            self._last_seq = seq
        with self._slot_cv:
            if self._slot is not None:
                self.stats.add(dropped=1)  # superseded before processing: stale, never queued
            self._slot = msg
            self._slot_cv.notify()

    def _watch_input(self) -> None:
        if self.config is None:
            return
        topic = self.resolve_topic_name(self._input_topic)
        infos = self.get_publishers_info_by_topic(topic)
        n_pub = len(infos)
        gids = frozenset(bytes(i.endpoint_gid) for i in infos)
        if gids != self._publisher_gids:  # sequence numbers are per publisher: restart gap counting
            self._publisher_gids, self._single_publisher, self._last_seq = gids, n_pub == 1, None
        if self.config.qos_reliability == "auto":
            self._make_subscription()
        silent = time.monotonic() - self.stats.last_rx
        if n_pub and silent > self.config.no_input_warn_sec:
            rels = sorted({i.qos_profile.reliability.name for i in infos})
            self.get_logger().warning(
                f"{topic} has {n_pub} publisher(s) (reliability {rels}) but no frame arrived for {silent:.0f} s; "
                f"this subscription is {self._sub_reliability.name if self._sub_reliability else '?'} and expects "
                f"{'sensor_msgs/CompressedImage' if self.config.compressed else 'sensor_msgs/Image'}. Check the "
                f"message type, qos_reliability and the Fast DDS profile for large images (README).",
                throttle_duration_sec=30.0)

    # -- processing -----------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._slot_cv:
                while self._running and self._slot is None:
                    self._slot_cv.wait(0.5)
                if not self._running:
                    return
                msg, self._slot = self._slot, None
            try:
                self._process(msg)
            except Exception as exc:  # last line of defence: the worker must never die
                self.stats.add(failed=1, consecutive_failures=1)
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self.get_logger().error(f"frame skipped: {self.stats.last_error}", throttle_duration_sec=5.0)

    def _process(self, msg: Msg) -> None:
        pipeline, config = self.pipeline, self.config
        if pipeline is None or config is None:
            return
        t0 = time.perf_counter()
        try:
            frame = image_to_bgr(msg)
        except FrameError as exc:
            self.stats.add(bad=1)
            self.get_logger().warning(f"skipping bad frame on {self.resolve_topic_name(self._input_topic)}: {exc}",
                                      throttle_duration_sec=5.0)
            return
        t1 = time.perf_counter()
        try:
            result = pipeline.process(frame, stamp_to_sec(msg.header) or None)
            t2 = time.perf_counter()
            det_msg = tracks_to_msg(msg.header, result.tracks)
            t3 = time.perf_counter()
            self._pub_det.publish(det_msg)
            drew = 0.0
            if self._pub_img is not None and self._pub_img.get_subscription_count() > 0:
                t4 = time.perf_counter()
                self._pub_img.publish(bgr_to_image(pipeline.annotate(frame, result), msg.header))
                drew = (time.perf_counter() - t4) * 1e3
                self.stats.timing("draw", drew)
        except Exception as exc:  # one bad frame must never kill the node
            self.stats.add(failed=1, consecutive_failures=1)
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            self.get_logger().error(f"frame failed in the pipeline and was skipped: {self.stats.last_error}",
                                    throttle_duration_sec=5.0)
            return
        self.stats.consecutive_failures = 0
        self.stats.add(processed=1)
        for k, v in result.timings_ms.items():
            self.stats.timing(k, v)
        self.stats.timing("convert", (t1 - t0) * 1e3)
        self.stats.timing("messages", (t3 - t2) * 1e3)
        self.stats.timing("total", (time.perf_counter() - t0) * 1e3 - drew)
        stamp = stamp_to_sec(msg.header)
        if stamp > 0:
            # Only stamps from this node's clock domain give a latency (a bag replayed without
            # use_sim_time, or a camera with its own epoch, would not).
            lag = self.get_clock().now().nanoseconds * 1e-9 - stamp
            if -1.0 <= lag <= MAX_LATENCY_SEC:
                self.stats.latency_ms.append(lag * 1e3)
        self.active_tracks = pipeline.tracker.num_tracks

    def _publish_label_info(self) -> None:
        if self._pub_label is None or self.pipeline is None or self.config is None:
            return
        from std_msgs.msg import Header

        header = Header(frame_id="", stamp=self.get_clock().now().to_msg())
        self._pub_label.publish(label_info_msg(header, self.pipeline.class_map(), self.config.conf_threshold))

    def _on_diagnostics(self) -> None:
        if self._pub_diag is None or self.config is None:
            return
        s = self.stats.snapshot()
        level, message = DiagnosticStatus.OK, "tracking"
        if s["consecutive_failures"] >= self.config.max_consecutive_failures:
            level, message = DiagnosticStatus.ERROR, f"{s['consecutive_failures']} consecutive frames failed: " \
                                                     f"{s['last_error']}"
        elif s["received"] == 0:
            topic = self.resolve_topic_name(self._input_topic)
            level, message = DiagnosticStatus.WARN, f"no frames received on {topic}"
        values = {
            "input_hz": f"{s['input_hz']:.2f}", "processed_hz": f"{s['processed_hz']:.2f}",
            "frames_received": s["received"], "frames_processed": s["processed"],
            "frames_dropped": s["dropped"], "frames_bad": s["bad"], "frames_failed": s["failed"],
            "frames_lost_in_transport": s["lost"],
            "consecutive_failures": s["consecutive_failures"],
            "latency_p50_ms": f"{s['latency_p50']:.1f}", "latency_p95_ms": f"{s['latency_p95']:.1f}",
            "active_tracks": self.active_tracks,
            "device": self.pipeline.device if self.pipeline else "",
            "input_reliability": self._sub_reliability.name if self._sub_reliability else "",
        }
        for k, v in s["stages"].items():
            values[f"{k}_ms"] = f"{v:.2f}"
        if s["last_error"]:
            values["last_error"] = s["last_error"]
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: tracking", message=message,
                                  hardware_id=self.pipeline.device if self.pipeline else "")
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.get_clock().now().to_msg()
        self._pub_diag.publish(arr)

    # -- parameters -----------------------------------------------------------
    def _on_set_parameters(self, params: List[Parameter]) -> SetParametersResult:
        changes: Dict[str, Any] = {}
        try:
            for p in params:
                if p.name not in FIELD_BY_NAME:
                    continue  # e.g. use_sim_time
                changes[p.name] = check_value(p.name, param_value(p))
            if not changes or self.config is None:
                if self.config is None and changes:
                    from .params import read_values

                    Config(**{**read_values(self), **changes})  # cross-field checks
                return SetParametersResult(successful=True)
            new = self.config.replace(**changes)
            if self.pipeline is not None:
                self.pipeline.apply_config(new)  # builds new models first; raises to refuse
            self.config = new
            if {"classes", "conf_threshold", "model"} & set(changes):
                self._publish_label_info()
            self.get_logger().info(f"parameters updated: {changes}")
            return SetParametersResult(successful=True)
        except ValueError as exc:
            self.get_logger().warning(f"parameter change refused: {exc}")
            return SetParametersResult(successful=False, reason=str(exc))


def main(args: Optional[List[str]] = None) -> int:
    """Entry point of ``tracker_node``; exits non-zero when autostart's configure fails."""
    rclpy.init(args=args)
    node = None
    executor = SingleThreadedExecutor()
    code = 0
    try:
        try:
            node = TrackerNode()
        except (InvalidParameterTypeException, InvalidParameterValueException, ValueError) as exc:
            rclpy.logging.get_logger("tracker_node").fatal(f"invalid parameter: {exc}")
            return 2
        executor.add_node(node)
        if node.get_parameter("autostart").value:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().fatal("autostart: configure failed; exiting (see the error above)")
                return 1
            if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().fatal("autostart: activate failed; exiting")
                return 1
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node._stop_io()
            node._release()
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown()
        if rclpy.ok():
            rclpy.try_shutdown()
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
