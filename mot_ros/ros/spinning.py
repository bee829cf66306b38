"""Spin an rclpy executor in a background thread (tools and tests)."""
from __future__ import annotations

import threading
from typing import Optional

from rclpy.executors import Executor, MultiThreadedExecutor
from rclpy.node import Node


class BackgroundSpinner:
    """An executor spinning in a daemon thread; ``stop()`` shuts it down and joins the thread.

    Args:
        executor: The executor to spin (default: a 4-thread MultiThreadedExecutor).
    """

    def __init__(self, executor: Optional[Executor] = None) -> None:
        self.executor = executor if executor is not None else MultiThreadedExecutor(num_threads=4)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # the executor was shut down while spinning
            pass

    def add(self, node: Node) -> Node:
        """Spin ``node`` too; returns it."""
        self.executor.add_node(node)
        return node

    def remove(self, node: Node) -> None:
        self.executor.remove_node(node)

    def stop(self) -> None:
        """Shut the executor down and join its thread (do this before rclpy.shutdown)."""
        self.executor.shutdown(timeout_sec=5.0)
        self._thread.join(timeout=10.0)
