"""The background spinner used by the tests and the benchmark.

A callback's exception is never swallowed, and stop() never leaves a node's callback group taken.
"""
from __future__ import annotations

import threading
import time
from typing import List

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor

from mot_ros.ros.spinning import BUSY_WAIT_PAUSE_SEC, BackgroundSpinner

from conftest import wait_for

pytestmark = pytest.mark.ros


@pytest.mark.parametrize("single", [False, True])
def test_callback_exception_is_raised_by_stop(ros: None, single: bool) -> None:
    spinner = BackgroundSpinner(SingleThreadedExecutor() if single else None)
    node = rclpy.create_node(f"spinner_crash_{int(single)}")
    fired = threading.Event()

    def crash() -> None:
        fired.set()
        raise ZeroDivisionError("planted callback failure")

    node.create_timer(0.01, crash)
    spinner.add(node)
    try:
        assert fired.wait(20.0), "the timer never fired"
        assert wait_for(lambda: spinner.error is not None, 20.0), "the callback's exception was not kept"
        assert wait_for(lambda: not spinner.spinning, 20.0), "spinning goes on after a callback raised"
        with pytest.raises(ZeroDivisionError, match="planted callback failure"):
            spinner.stop()
        spinner.stop()  # raised once; a second stop is quiet
    finally:
        node.destroy_node()


def test_clean_stop_raises_nothing(ros: None) -> None:
    spinner = BackgroundSpinner()
    node = rclpy.create_node("spinner_ok")
    ticks = []
    node.create_timer(0.01, lambda: ticks.append(1))
    spinner.add(node)
    try:
        assert wait_for(lambda: len(ticks) >= 3, 20.0)
        assert spinner.spinning and spinner.error is None
    finally:
        spinner.remove(node)
        spinner.stop()
        node.destroy_node()
    assert not spinner.spinning


def test_invalid_handle_inside_a_callback_is_kept(ros: None) -> None:
    """An InvalidHandle from a callback (a destroyed publisher) is the callback's error, not a teardown race."""
    from std_msgs.msg import String

    spinner = BackgroundSpinner()
    node = rclpy.create_node("spinner_invalid_handle")
    pub = node.create_publisher(String, "spinner_probe", 1)
    node.destroy_publisher(pub)
    node.create_timer(0.01, lambda: pub.publish(String(data="x")))
    spinner.add(node)
    try:
        assert wait_for(lambda: spinner.error is not None, 20.0), "the callback's InvalidHandle was not kept"
        with pytest.raises(Exception) as info:
            spinner.stop()
        assert type(info.value).__name__ == "InvalidHandle"
    finally:
        node.destroy_node()


def test_a_node_spun_by_one_spinner_after_another_keeps_its_callbacks(ros: None) -> None:
    """stop() lets every dispatched callback run before the executor goes, so a node that outlives a spinner works.

    rclpy's MultiThreadedExecutor, stopped while a callback was still queued in its pool, left that node's
    callback group taken for good: with the next spinner the node's timers and subscriptions never ran again
    (the stall of test_node.py's module-scoped tracker, README Tests).
    """
    from rclpy.callback_groups import ReentrantCallbackGroup
    from std_msgs.msg import String

    node = rclpy.create_node("spinner_survivor")
    ticks: List[int] = []
    heard: List[int] = []
    pub = node.create_publisher(String, "spinner_survivor_probe", 10)

    def busy() -> None:  # keeps the spinner's threads occupied, so that callbacks queue behind it
        threading.Event().wait(0.004)

    def tick() -> None:
        ticks.append(1)
        pub.publish(String(data="x"))

    crowd = ReentrantCallbackGroup()  # may run on every thread at once: a queue builds up whenever stop() comes
    for _ in range(6):
        node.create_timer(0.001, busy, callback_group=crowd)
    node.create_timer(0.001, tick)  # the node's default (mutually exclusive) group: the one that got stuck
    node.create_subscription(String, "spinner_survivor_probe", lambda m: heard.append(1), 10)
    try:
        for cycle in range(30):
            spinner = BackgroundSpinner()
            spinner.add(node)
            n_ticks, n_heard = len(ticks), len(heard)
            alive = wait_for(lambda: len(ticks) >= n_ticks + 5 and len(heard) >= n_heard + 5, 10.0)
            spinner.remove(node)
            spinner.stop()
            assert alive, f"spinner {cycle}: the node's callbacks no longer run (its callback group stayed taken)"
    finally:
        node.destroy_node()


def test_a_wait_loop_that_does_not_block_pauses(ros: None) -> None:
    """The wait loop's condition, asked again at once, sleeps: a non-blocking loop cannot starve other threads."""
    spinner = BackgroundSpinner()
    spinner.stop()
    assert spinner._wait_done() is True  # halted; the first ask after a while does not pause
    t0 = time.monotonic()
    for _ in range(20):
        spinner._wait_done()
    assert time.monotonic() - t0 >= 19 * BUSY_WAIT_PAUSE_SEC
