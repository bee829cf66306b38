"""Spin an rclpy executor in a background thread (tools and tests)."""
from __future__ import annotations

import logging
import threading
from typing import Optional

from rclpy.exceptions import InvalidHandle
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, ShutdownException
from rclpy.node import Node

log = logging.getLogger(__name__)


MAX_WAIT_SET_RACES = 1000
"""More wait-set InvalidHandles than this in one spinner's life is not a race but a stuck entity: an error."""
WAIT_SET_FUNCTIONS = frozenset({"wait_for_ready_callbacks", "_wait_for_ready_callbacks"})
"""Executor functions that build the wait set (no user callback runs inside them)."""


def _destroyed_while_waiting(exc: BaseException) -> bool:
    """Tell whether ``exc`` is rclpy's InvalidHandle raised while the executor built its wait set, not in a callback.

    Destroying a node, subscription or publisher while another thread spins can invalidate an entity that the
    executor is adding to its wait set; rclpy then raises InvalidHandle from the executor itself.
    """
    if not isinstance(exc, InvalidHandle):
        return False
    tb = exc.__traceback__
    names = set()
    while tb is not None:
        names.add(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return bool(names & WAIT_SET_FUNCTIONS)


class BackgroundSpinner:
    """An executor spinning in a daemon thread; ``stop()`` shuts it down and joins the thread.

    An exception raised by a callback ends the spinning (as ``Executor.spin`` does), is logged at once
    with its traceback, kept in :attr:`error`, and raised again by :meth:`stop`, so a crashing callback
    fails the caller instead of showing up later as a silent timeout. rclpy's InvalidHandle raised while the
    executor builds its wait set (an entity destroyed by another thread meanwhile) is a race, not a callback's
    error: spinning goes on (up to ``MAX_WAIT_SET_RACES`` times).

    Args:
        executor: The executor to spin (default: a 4-thread MultiThreadedExecutor).
    """

    def __init__(self, executor: Optional[Executor] = None) -> None:
        self.executor = executor if executor is not None else MultiThreadedExecutor(num_threads=4)
        self._error: Optional[BaseException] = None
        self._races = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    @property
    def error(self) -> Optional[BaseException]:
        """The exception that ended the spinning (a callback's), or None."""
        return self._error

    @property
    def spinning(self) -> bool:
        """True while the background thread spins."""
        return self._thread.is_alive()

    def _spin(self) -> None:
        while True:
            try:
                self.executor.spin()
                return
            except (ShutdownException, ExternalShutdownException):
                return  # the executor or the rclpy context was shut down: the normal way out
            except BaseException as exc:  # noqa: B902  (kept and raised again in stop())
                if self._stopping.is_set():
                    return  # a race with executor.shutdown() tearing down its wait set: not a callback's error
                if _destroyed_while_waiting(exc) and self._races < MAX_WAIT_SET_RACES:
                    self._races += 1
                    continue  # a node or entity was destroyed while the executor built its wait set: go on
                self._error = exc
                log.error("a callback raised; spinning stopped (raised again by stop())", exc_info=exc)
                return

    def add(self, node: Node) -> Node:
        """Spin ``node`` too; returns it."""
        self.executor.add_node(node)
        return node

    def remove(self, node: Node) -> None:
        """Stop spinning ``node``."""
        self.executor.remove_node(node)

    def stop(self) -> None:
        """Shut the executor down and join its thread (do this before rclpy.shutdown).

        Raises:
            BaseException: The exception a callback raised while spinning, if any.
        """
        self._stopping.set()
        self.executor.shutdown(timeout_sec=5.0)
        self._thread.join(timeout=10.0)
        if self._error is not None:
            error, self._error = self._error, None
            raise error
