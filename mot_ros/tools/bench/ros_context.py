"""The benchmark's own rclpy node: publishers of the stage section and the node section's feed."""
from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Tuple


class RosContext:
    """rclpy, one node with the publishers and subscribers the benchmark uses, spun in a thread."""

    def __init__(self) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        from ...ros.spinning import BackgroundSpinner

        rclpy.init(args=[])  # the benchmark's command line is not ROS arguments
        self._rclpy = rclpy
        self.node = Node("mot_ros_bench")
        self.pub_det = self.node.create_publisher(Detection2DArray, "bench_detections", 10)
        self.pub_img = self.node.create_publisher(Image, "bench_annotated", 2)
        self.pub_in = self.node.create_publisher(Image, "image", QoSProfile(depth=5,
                                                                            reliability=ReliabilityPolicy.RELIABLE))
        self.lock = threading.Lock()
        self.received: List[Tuple[float, float]] = []  # (arrival wall time, input stamp)
        self.diag: Dict[str, str] = {}
        self.node.create_subscription(Detection2DArray, "detections", self._on_det, 100)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.spinner = BackgroundSpinner(SingleThreadedExecutor())
        self.spinner.add(self.node)

    def _on_det(self, msg: Any) -> None:
        now = time.time()
        with self.lock:
            self.received.append((now, msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9))

    def _on_diag(self, msg: Any) -> None:
        for st in msg.status:
            if "tracking" in st.name:
                with self.lock:
                    self.diag = {kv.key: kv.value for kv in st.values}

    def close(self) -> None:
        self.spinner.stop()
        self.node.destroy_node()
        self._rclpy.try_shutdown()
