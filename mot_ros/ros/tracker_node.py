"""``tracker_node``: a managed node that tracks objects in an image topic.

The node is thin: it converts messages, hands the newest frame to
:class:`mot_ros.core.pipeline.Pipeline` on a worker thread, and publishes the
results. Counters and /diagnostics live in :mod:`.diagnostics`, QoS matching in
:mod:`.qos`. See the README for topics, parameters and guarantees.
"""
from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Optional, Tuple, Union

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray, LabelInfo

from ..core.config import FIELD_BY_NAME, Config, check_value
from ..core.image_codec import FrameError, image_to_bgr
from ..core.pipeline import Pipeline
from .conversions import bgr_to_image, label_info_msg, stamp_to_sec, tracks_to_msg
from .depth_io import DepthIO
from .diagnostics import Stats, diagnostics_msg
from .params import (allowed_model_dirs, check_model_path, config_from_node, declare_parameters, param_value,
                     read_values)
from .qos import (ANNOTATED_DEPTH, DETECTIONS_DEPTH, DIAGNOSTICS_DEPTH, LABEL_INFO_QOS, SampleMemory, input_qos,
                  wanted_reliability)

Msg = Union[Image, CompressedImage]
MAX_LATENCY_SEC = 600.0
"""Stamp-to-publish lags outside [MIN_LATENCY_SEC, this] mean another clock domain and are not reported."""
MIN_LATENCY_SEC = -1.0
"""A stamp up to this far in the future still counts as this node's clock domain (small clock skew)."""
DEDUPE_WINDOW_SEC = 2.0
"""After a QoS switch the old subscription lives this long (until the new one is surely matched), and frames
seen through both subscriptions are de-duplicated."""
DEDUPE_MEMORY = 256
"""Samples remembered for de-duplication across a QoS switch (more than 2 s of any camera's frames)."""
MAX_SEQUENCE_GAP = 100000
"""A larger jump in a publisher's sequence numbers is a restart, not lost frames."""
WORKER_WAIT_SEC = 0.5
"""The worker re-checks for a stop request at least this often while no frame is waiting."""
WORKER_JOIN_TIMEOUT_SEC = 10.0
"""Longest wait for the frame in progress when the node deactivates."""
INPUT_WATCH_PERIOD_SEC = 1.0
"""Period of the input check (publishers, QoS match, no-input warning)."""
FRAME_LOG_THROTTLE_SEC = 5.0
"""Per-frame warnings and errors are logged at most this often."""
NO_INPUT_LOG_THROTTLE_SEC = 30.0
"""The no-input warning is logged at most this often."""


class TrackerNode(LifecycleNode):
    """Managed node: configure loads the models and creates the publishers, activate starts the input.

    Args:
        node_name: ROS node name.
        **kwargs: Passed to ``LifecycleNode`` (e.g. ``parameter_overrides``).
    """

    def __init__(self, node_name: str = "tracker_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_parameters(self)
        # run-time model changes are confined to these (read-only model_dirs, else the start-up models' dirs)
        self._model_dirs = allowed_model_dirs(read_values(self))
        self.config: Optional[Config] = None
        self.pipeline: Optional[Pipeline] = None
        self.stats = Stats()
        self._slot: Optional[Msg] = None
        self._slot_cv = threading.Condition()
        self._running = False
        # the timers' callbacks and _stop_io exclude each other: a transition may come from another thread than
        # the executor's (a test, a composing process), and an input check still running must not re-subscribe
        # after the input was torn down, nor publish diagnostics on a publisher being destroyed
        self._io_lock = threading.Lock()
        self._worker: Optional[threading.Thread] = None
        self._sub = None
        self._sub_reliability: Optional[ReliabilityPolicy] = None
        self._pub_det = self._pub_img = self._pub_label = self._pub_diag = None
        self._timers: List[Any] = []
        self._input_topic = "image"
        self._single_publisher = False
        self._publisher_gids: FrozenSet[bytes] = frozenset()
        self._last_seq: Optional[int] = None
        self._dedupe_until = 0.0
        self._retired_sub = None  # the subscription replaced by a QoS switch, destroyed after DEDUPE_WINDOW_SEC
        self._recent_samples = SampleMemory(DEDUPE_MEMORY)
        self.active_tracks = 0
        self.lost_track_frames: Optional[int] = None
        self._depth: Optional[DepthIO] = None  # the 3D stage (use_depth)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    # -- read-only state for tests and tools ------------------------------------
    @property
    def model_dirs(self) -> Tuple[Path, ...]:
        """Directories from which run-time changes of model and embedder_model may load files."""
        return self._model_dirs

    @property
    def input_reliability(self) -> Optional[ReliabilityPolicy]:
        """Reliability of the current input subscription (None while inactive)."""
        return self._sub_reliability

    @property
    def input_publisher_gids(self) -> FrozenSet[bytes]:
        """The endpoint GIDs of the input topic's publishers, as last seen by the input check."""
        return self._publisher_gids

    @property
    def is_receiving(self) -> bool:
        """True while the input subscription and the worker exist (the node is active)."""
        return self._sub is not None and self._worker is not None

    @property
    def annotated_subscriber_count(self) -> int:
        """Subscribers of ``annotated_image`` (0 while unconfigured)."""
        return self._pub_img.get_subscription_count() if self._pub_img is not None else 0

    # -- lifecycle ------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.config = config_from_node(self)
            self.pipeline = Pipeline(self.config)
        except ValueError as exc:  # includes ModelError: the message names the parameter
            self.get_logger().error(f"configure failed: {exc}")
            self.config = None
            return TransitionCallbackReturn.FAILURE
        self._pub_det = self.create_lifecycle_publisher(Detection2DArray, "detections", DETECTIONS_DEPTH)
        self._pub_img = self.create_lifecycle_publisher(Image, "annotated_image", ANNOTATED_DEPTH)
        self._pub_label = self.create_lifecycle_publisher(LabelInfo, "label_info", LABEL_INFO_QOS)
        self._pub_diag = self.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", DIAGNOSTICS_DEPTH)
        self.get_logger().info(
            f"configured: model={self.config.model} device={self.pipeline.device} embedder={self.config.embedder} "
            f"classes={list(self.config.classes) or 'all'}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.config is None:
            self.get_logger().error("activate: the node is not configured")
            return TransitionCallbackReturn.FAILURE
        ret = super().on_activate(state)  # switches the lifecycle publishers on
        if ret != TransitionCallbackReturn.SUCCESS:
            return ret
        c = self.config
        self._input_topic = "image/compressed" if c.compressed else "image"
        self._publish_label_info()
        self._make_subscription()
        if c.use_depth and self.pipeline is not None:
            self._depth = DepthIO(self, c, self.pipeline.names)
            self._depth.start()
        self._running = True
        self._worker = threading.Thread(target=self._work, name="mot_ros_worker", daemon=True)
        self._worker.start()
        self.stats.restart_input_clock()
        self._timers = [self.create_timer(c.diagnostics_period, self._on_diagnostics),
                        self.create_timer(INPUT_WATCH_PERIOD_SEC, self._watch_input)]
        self.get_logger().info(f"active: subscribed to {self.resolve_topic_name(self._input_topic)} "
                               f"({c.qos_reliability} -> {self._sub_reliability.name})")
        return ret

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_io()
        return super().on_deactivate(state)  # switches the lifecycle publishers off

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.close()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.close()
        return TransitionCallbackReturn.SUCCESS

    def close(self) -> None:
        """Stop the input and the worker, destroy the publishers and free the models; safe in any state."""
        self._stop_io()
        self._release()

    def _stop_io(self) -> None:
        with self._io_lock:  # a running input check or diagnostics callback ends first; later ones do nothing
            self._running = False
        with self._slot_cv:
            self._slot_cv.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=WORKER_JOIN_TIMEOUT_SEC)
            self._worker = None
        for t in self._timers:
            self.destroy_timer(t)
        self._timers = []
        if self._sub is not None:
            self.destroy_subscription(self._sub)
            self._sub = None
        self._destroy_retired_subscription()
        if self._depth is not None:  # after the worker stopped
            self._depth.stop()
            self._depth = None
        self._slot = None

    def _release(self) -> None:
        for name in ("_pub_det", "_pub_img", "_pub_label", "_pub_diag"):
            pub = getattr(self, name)
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
                setattr(self, name, None)
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
    def _make_subscription(self) -> None:
        assert self.config is not None
        topic = self.resolve_topic_name(self._input_topic)
        rel = wanted_reliability(self.config.qos_reliability, self.get_publishers_info_by_topic(topic))
        old = self._sub
        if old is not None and rel == self._sub_reliability:
            return
        msg_type = CompressedImage if self.config.compressed else Image
        # make before break: frames in flight reach one of the two; duplicates are dropped by sequence number
        self._sub = self.create_subscription(msg_type, self._input_topic, self._on_image,
                                             input_qos(rel, self.config.qos_depth))
        self._sub_reliability = rel
        if old is not None:
            # the new subscription is not matched to the publishers at once: keep the old one until it surely
            # is, or frames published in between would reach neither
            self._destroy_retired_subscription()
            self._retired_sub = old
            self._dedupe_until = time.monotonic() + DEDUPE_WINDOW_SEC
            self.get_logger().info(f"input QoS: switched to {rel.name} to match the publishers of {topic}")

    def _on_image(self, msg: Msg, info: Dict[str, Any]) -> None:
        seq = info.get("publication_sequence_number")
        if self._recent_samples.repeat(info.get("source_timestamp"), seq):
            return  # the same frame through the other subscription of a QoS switch
        self.stats.record_received()
        if seq:
            # With one publisher, a gap in its sequence numbers is frames lost before reaching us
            # (the DDS queue overflowed or the network lost them): count them, never lose silently.
            # While both subscriptions of a QoS switch live, frames may arrive out of order (one through each):
            # gaps are not counted then, and the highest number seen is kept.
            last = self._last_seq
            switching = self._retired_sub is not None
            if self._single_publisher and not switching and last is not None and last < seq <= last + MAX_SEQUENCE_GAP:
                self.stats.record_lost(seq - last - 1)
            self._last_seq = max(seq, last) if switching and last is not None else seq
        with self._slot_cv:
            if self._slot is not None:
                self.stats.record_dropped()  # superseded before processing: stale, never queued
            self._slot = msg
            self._slot_cv.notify()

    def _destroy_retired_subscription(self) -> None:
        if self._retired_sub is not None:
            self.destroy_subscription(self._retired_sub)
            self._retired_sub = None

    def _watch_input(self) -> None:
        with self._io_lock:
            if self._running and self.config is not None:
                self._check_input()

    def _check_input(self) -> None:
        assert self.config is not None
        if self._retired_sub is not None and time.monotonic() >= self._dedupe_until:
            self._destroy_retired_subscription()
        topic = self.resolve_topic_name(self._input_topic)
        infos = self.get_publishers_info_by_topic(topic)
        n_pub = len(infos)
        gids = frozenset(bytes(i.endpoint_gid) for i in infos)
        if gids != self._publisher_gids:  # sequence numbers are per publisher: restart gap counting
            self._publisher_gids, self._single_publisher, self._last_seq = gids, n_pub == 1, None
        if self.config.qos_reliability == "auto":
            self._make_subscription()
            if self._depth is not None:
                self._depth.match_qos()
        silent = self.stats.seconds_since_input()
        if n_pub and silent > self.config.no_input_warn_sec:
            rels = sorted({i.qos_profile.reliability.name for i in infos})
            self.get_logger().warning(
                f"{topic} has {n_pub} publisher(s) (reliability {rels}) but no frame arrived for {silent:.0f} s; "
                f"this subscription is {self._sub_reliability.name if self._sub_reliability else '?'} and expects "
                f"{'sensor_msgs/CompressedImage' if self.config.compressed else 'sensor_msgs/Image'}. Check the "
                f"message type, qos_reliability and the Fast DDS profile for large images (README).",
                throttle_duration_sec=NO_INPUT_LOG_THROTTLE_SEC)

    # -- processing -----------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._slot_cv:
                while self._running and self._slot is None:
                    self._slot_cv.wait(WORKER_WAIT_SEC)
                if not self._running:
                    return
                msg, self._slot = self._slot, None
            try:
                self._process(msg)
            except Exception as exc:  # last line of defence: the worker must never die
                self._frame_failed("frame skipped", exc)

    def _frame_failed(self, what: str, exc: Exception) -> None:
        error = self.stats.record_failure(exc)
        self.get_logger().error(f"{what}: {error}", throttle_duration_sec=FRAME_LOG_THROTTLE_SEC)

    def _process(self, msg: Msg) -> None:
        pipeline, config = self.pipeline, self.config
        if pipeline is None or config is None:
            return
        t0 = time.perf_counter()
        try:
            frame = image_to_bgr(msg)
        except FrameError as exc:
            self.stats.record_bad()
            self.get_logger().warning(f"skipping bad frame on {self.resolve_topic_name(self._input_topic)}: {exc}",
                                      throttle_duration_sec=FRAME_LOG_THROTTLE_SEC)
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
                self.stats.record_timing("draw", drew)
        except Exception as exc:  # one bad frame must never kill the node
            self._frame_failed("frame failed in the pipeline and was skipped", exc)
            return
        timings = dict(result.timings_ms)
        timings.update(convert=(t1 - t0) * 1e3, messages=(t3 - t2) * 1e3,
                       total=(time.perf_counter() - t0) * 1e3 - drew)
        if self._depth is not None:  # after the 2D outputs: 3D never delays or loses them
            t5 = time.perf_counter()
            try:
                self._depth.process(msg.header, result.tracks, (frame.shape[1], frame.shape[0]))
            except Exception as exc:
                self._depth.record_error(exc)
            timings["depth3d"] = (time.perf_counter() - t5) * 1e3
        self.stats.record_success(timings, self._latency_ms(stamp_to_sec(msg.header)))
        self.active_tracks = pipeline.num_tracks
        self.lost_track_frames = pipeline.lost_track_frames

    def _latency_ms(self, stamp: float) -> Optional[float]:
        """Stamp-to-publish latency, or None when the stamp is from another clock domain."""
        if stamp <= 0:
            return None
        # Only stamps from this node's clock domain give a latency (a bag replayed without
        # use_sim_time, or a camera with its own epoch, would not).
        lag = self.get_clock().now().nanoseconds * 1e-9 - stamp
        return lag * 1e3 if MIN_LATENCY_SEC <= lag <= MAX_LATENCY_SEC else None

    def _publish_label_info(self) -> None:
        if self._pub_label is None or self.pipeline is None or self.config is None:
            return
        header = Header(frame_id="", stamp=self.get_clock().now().to_msg())
        self._pub_label.publish(label_info_msg(header, self.pipeline.class_map(), self.config.conf_threshold))

    def _on_diagnostics(self) -> None:
        with self._io_lock:
            if self._running and self._pub_diag is not None and self.config is not None:
                self._publish_diagnostics()

    def _publish_diagnostics(self) -> None:
        assert self.config is not None and self._pub_diag is not None
        device = self.pipeline.device if self.pipeline else ""
        arr = diagnostics_msg(
            self.stats.snapshot(), name=self.get_name(), stamp=self.get_clock().now().to_msg(),
            input_topic=self.resolve_topic_name(self._input_topic),
            max_consecutive_failures=self.config.max_consecutive_failures, active_tracks=self.active_tracks,
            device=device, input_reliability=self._sub_reliability.name if self._sub_reliability else "",
            lost_track_frames=self.lost_track_frames)
        if self._depth is not None:
            arr.status.append(self._depth.diagnostic_status(self.get_name(), device))
        self._pub_diag.publish(arr)

    # -- parameters -----------------------------------------------------------
    def _on_set_parameters(self, params: List[Parameter]) -> SetParametersResult:
        changes: Dict[str, Any] = {}
        try:
            for p in params:
                if p.name not in FIELD_BY_NAME:
                    continue  # e.g. use_sim_time
                changes[p.name] = check_value(p.name, param_value(p))
                check_model_path(p.name, changes[p.name], self._model_dirs)
            if not changes or self.config is None:
                if self.config is None and changes:
                    Config(**{**read_values(self), **changes})  # cross-field checks
                return SetParametersResult(successful=True)
            new = self.config.replace(**changes)
            if self.pipeline is not None:
                self.pipeline.apply_config(new)  # builds new models first; raises to refuse
            self.config = new
            if self._depth is not None and self.pipeline is not None:
                self._depth.apply_config(new, self.pipeline.names)
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
    except RuntimeError:
        # SIGINT/SIGTERM shut the context down between two waits: rclpy then fails to build the next wait set
        # (RCLError "the given context is not valid", a RuntimeError) instead of raising ExternalShutdownException
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            node.close()
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown()
        if rclpy.ok():
            rclpy.try_shutdown()
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
