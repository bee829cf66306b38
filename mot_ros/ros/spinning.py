"""Spin rclpy nodes in a background thread (tools and tests).

Why not ``MultiThreadedExecutor.spin()`` in a thread: rclpy's executors (7.x, Jazzy) hand each ready callback
to a thread pool as a task that first claims the callback group, then triggers the executor's guard
condition, and only then enters the ``try``/``finally`` that releases the group. ``Executor.shutdown()``
waits only for tasks already inside that block and then destroys the guard condition; a task still queued in
the pool then claims the group, raises InvalidHandle on the destroyed guard, and never releases the group.
The node's default (mutually exclusive) callback group stays taken for good: none of its subscriptions or
timers is ever added to a wait set again, by any later executor. A node that outlives one spinner and is spun
by the next (a module-scoped node in function-scoped test spinners) then receives nothing. See README, Tests.

:class:`BackgroundSpinner` therefore runs its own loop on the public ``Executor.wait_for_ready_callbacks``
and dispatches the ready callbacks to a pool that it owns, so that :meth:`BackgroundSpinner.stop` can
let every dispatched callback finish before the executor (and its guard condition) is shut down.
"""
from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from typing import List, Optional

from rclpy.exceptions import InvalidHandle
from rclpy.executors import (ConditionReachedException, Executor, ExternalShutdownException, MultiThreadedExecutor,
                             ShutdownException, SingleThreadedExecutor, TimeoutException)
from rclpy.node import Node
from rclpy.task import Task

log = logging.getLogger(__name__)


MAX_WAIT_SET_RACES = 1000
"""More wait-set InvalidHandles than this in one spinner's life is not a race but a stuck entity: an error."""
WAIT_SET_FUNCTIONS = frozenset({"wait_for_ready_callbacks", "_wait_for_ready_callbacks"})
"""Executor functions that build the wait set (no user callback runs inside them)."""
DEFAULT_THREADS = 4
"""Callback threads of a spinner made without an executor, or with a MultiThreadedExecutor."""
BUSY_WAIT_PAUSE_SEC = 0.001
"""The executor's wait loop asks its condition once per pass. Asked again within this long, the loop is not blocking
(a guard condition retriggered while its callback group is busy, or an entity destroyed mid-wait): the spin thread
then sleeps this long, so that it neither burns a core nor starves the other Python threads of the GIL (a test's
``Popen.wait`` was seen starved for 10 minutes)."""
STOP_TIMEOUT_SEC = 10.0
"""Longest wait in :meth:`BackgroundSpinner.stop` for the spin thread, and then for the dispatched callbacks."""


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
    """Nodes spun in a daemon thread; ``stop()`` finishes the dispatched callbacks, then shuts the executor down.

    An exception raised by a callback ends the spinning (as ``Executor.spin`` does), is logged at once
    with its traceback, kept in :attr:`error`, and raised again by :meth:`stop`, so a crashing callback
    fails the caller instead of showing up later as a silent timeout. rclpy's InvalidHandle raised while the
    executor builds its wait set (an entity destroyed by another thread meanwhile) is a race, not a callback's
    error: spinning goes on (up to ``MAX_WAIT_SET_RACES`` times).

    Args:
        executor: The executor whose wait set is used (default: a new SingleThreadedExecutor). Only its
            ``wait_for_ready_callbacks`` is used; the callbacks run on this spinner's own threads.
        num_threads: Threads that run callbacks concurrently; 1 runs them in the spin thread. Default:
            ``DEFAULT_THREADS`` without an executor or with a MultiThreadedExecutor, else 1.
    """

    def __init__(self, executor: Optional[Executor] = None, num_threads: Optional[int] = None) -> None:
        if num_threads is None:
            num_threads = DEFAULT_THREADS if executor is None or isinstance(executor, MultiThreadedExecutor) else 1
        if num_threads < 1:
            raise ValueError(f"num_threads must be at least 1, got {num_threads}")
        self.executor = executor if executor is not None else SingleThreadedExecutor()
        self._pool = (concurrent.futures.ThreadPoolExecutor(num_threads, thread_name_prefix="spinner_callback")
                      if num_threads > 1 else None)
        self._dispatched: List[concurrent.futures.Future] = []
        self._dispatched_lock = threading.Lock()
        self._error: Optional[BaseException] = None
        self._error_lock = threading.Lock()
        self._races = 0
        self._last_check = 0.0  # monotonic time of the wait loop's last condition check
        self._halt = threading.Event()  # set by stop() or by a callback's exception: the spin loop ends
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
        while not self._halt.is_set():
            try:
                # the same arguments every time, so that rclpy keeps its generator of ready callbacks
                handler, _, _ = self.executor.wait_for_ready_callbacks(None, None, self._wait_done)
            except (ConditionReachedException, TimeoutException):
                continue  # stop() or a callback's error set _halt: the loop condition ends it
            except (ShutdownException, ExternalShutdownException):
                return  # the executor or the rclpy context was shut down: the normal way out
            except BaseException as exc:  # noqa: B902  (kept and raised again in stop())
                if self._stopping.is_set():
                    return  # a race with the teardown: not a callback's error
                if _destroyed_while_waiting(exc) and self._races < MAX_WAIT_SET_RACES:
                    self._races += 1
                    continue  # a node or entity was destroyed while the executor built its wait set: go on
                self._fail(exc)
                return
            if self._pool is None:
                self._run(handler)
            else:
                with self._dispatched_lock:
                    self._dispatched = [f for f in self._dispatched if not f.done()]
                    self._dispatched.append(self._pool.submit(self._run, handler))

    def _wait_done(self) -> bool:
        """Tell the executor's wait loop to end (halted); pause first when it comes back at once (busy looping)."""
        now = time.monotonic()
        if now - self._last_check < BUSY_WAIT_PAUSE_SEC:
            time.sleep(BUSY_WAIT_PAUSE_SEC)
            now = time.monotonic()
        self._last_check = now
        return self._halt.is_set()

    def _run(self, handler: Task) -> None:
        """Run one ready callback (rclpy's task: claims the callback group, takes the data, calls, releases)."""
        handler()
        exc = handler.exception()
        if exc is not None:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        with self._error_lock:
            if self._error is not None or self._stopping.is_set():
                return
            self._error = exc
        log.error("a callback raised; spinning stopped (raised again by stop())", exc_info=exc)
        self._halt.set()
        self.executor.wake()

    def add(self, node: Node) -> Node:
        """Spin ``node`` too; returns it."""
        self.executor.add_node(node)
        return node

    def remove(self, node: Node) -> None:
        """Stop spinning ``node``."""
        self.executor.remove_node(node)

    def stop(self) -> None:
        """End the spinning, let every dispatched callback finish, then shut the executor down.

        Do this before rclpy.shutdown. The order matters: a callback still queued when the executor's guard
        condition is destroyed would leave its node's callback group taken for good (see the module docstring).

        Raises:
            BaseException: The exception a callback raised while spinning, if any.
        """
        self._stopping.set()
        self._halt.set()
        self.executor.wake()
        self._thread.join(timeout=STOP_TIMEOUT_SEC)
        if self._pool is not None:
            with self._dispatched_lock:
                pending = list(self._dispatched)
                self._dispatched = []
            _, not_done = concurrent.futures.wait(pending, timeout=STOP_TIMEOUT_SEC)
            if not_done:
                log.warning(f"{len(not_done)} callback(s) still running {STOP_TIMEOUT_SEC:.0f} s after stop()")
            self._pool.shutdown(wait=False)
        self.executor.shutdown(timeout_sec=5.0)
        if self._error is not None:
            error, self._error = self._error, None
            raise error
