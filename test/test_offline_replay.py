"""Live replay: a bag played over real DDS (with /clock) into the live tracker node gives the offline result."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from conftest import Spinner
from mot_ros.core.synthetic import crossing_scene
from mot_ros.core import bagio
from mot_ros.tools.mot_track import main

TOPIC = "/cam/image"
NS = "replay_test"
START_NS = 1_700_000_000_000_000_000
Boxes = Dict[Tuple[int, int], List[Tuple[str, str, Tuple[float, float, float, float]]]]


def _boxes(msgs) -> Boxes:  # type: ignore[no-untyped-def]
    out: Boxes = {}
    for m in msgs:
        key = (int(m.header.stamp.sec), int(m.header.stamp.nanosec))
        items = []
        for d in m.detections:
            cx, cy, w, h = d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y
            items.append((d.id, d.results[0].hypothesis.class_id, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)))
        out[key] = sorted(items)
    return out


def test_replay_into_live_node_matches_offline(tmp_path: Path, shapes_model: str, spinner: Spinner) -> None:
    import rclpy
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from mot_ros.ros.bag_replay import BagPlayer
    from mot_ros.ros.tracker_node import TrackerNode

    frames = [f.image for f in crossing_scene(320, 240, 12)]
    src = bagio.write_image_bag(tmp_path / "in", TOPIC, frames, start_ns=START_NS, period_ns=100_000_000,
                                stamp_offset_ns=10_000_000)
    out = tmp_path / "offline"
    assert main(["bag", str(src), "--topic", TOPIC, "-o", str(out), "--model", shapes_model, "--quiet",
                 "--annotated", "none"]) == 0
    offline = _boxes(m for _, m in bagio.read_topic(out, TOPIC + "/detections"))
    assert len(offline) == len(frames)

    node = TrackerNode("tracker_node", namespace=NS, parameter_overrides=[
        Parameter("model", value=shapes_model), Parameter("use_sim_time", value=True),
        Parameter("qos_reliability", value="reliable")])
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    spinner.add(node)
    player_node = rclpy.create_node("bag_replay_test")
    spinner.add(player_node)
    player = BagPlayer(player_node, src, remap={TOPIC: f"/{NS}/image"}, rate=4.0, wait_for=f"/{NS}/detections",
                       wait_timeout=20.0)
    try:
        assert player.wait_for_subscribers(10.0)
        stats = player.play()
        assert stats.missing == [] and stats.published[f"/{NS}/image"] == len(frames)
        live = _boxes(player.results.values())
        assert node.stats.dropped == 0 and node.stats.processed == len(frames)
        # the node ran on the bag's clock
        assert node.get_clock().now().nanoseconds >= START_NS
    finally:
        player.close()
        spinner.remove(player_node)
        player_node.destroy_node()
        spinner.remove(node)
        node.trigger_deactivate()
        node.trigger_cleanup()
        node.destroy_node()
    assert set(live) == set(offline)
    for key in offline:
        a, b = offline[key], live[key]
        assert [(i, c) for i, c, _ in a] == [(i, c) for i, c, _ in b], key  # same IDs and classes
        for (_, _, ba), (_, _, bb) in zip(a, b):
            assert ba == pytest.approx(bb, abs=1.0)
    assert len({i for v in offline.values() for i, _, _ in v}) >= 3


def test_bag_replay_cli_bad_bag(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "mot_ros.ros.bag_replay", str(tmp_path / "missing_bag")],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert p.returncode == 2
    assert p.stderr.strip().splitlines()[-1].startswith("bag_replay: error: bag ")
    assert "missing_bag" in p.stderr
