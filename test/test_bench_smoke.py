"""Smoke test of the benchmark CLI at minimal sizes: it runs and writes its JSON. No timing is asserted."""
from __future__ import annotations

import json
from pathlib import Path

from mot_ros.tools import bench


def test_bench_runs_at_minimal_sizes(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    code = bench.main([
        "--output", str(out), "--sizes", "320x240", "--objects", "1,3", "--frames", "2", "--warmup", "1",
        "--detector", "none", "--embedder", "histogram", "--embedders", "histogram", "--embed-objects", "3",
        "--embed-dim", "16", "--association-frames", "8", "--memory-frames", "30", "--skip", "node",
    ])
    assert code == 0
    result = json.loads(out.read_text())
    assert [(r["size"], r["objects"]) for r in result["stages"]] == [("320x240", 1), ("320x240", 3)]
    assert {"convert", "embed", "associate", "messages", "publish", "draw"} <= set(result["stages"][0]["stages"])
    assert {"ours", "stages_off", "deep_sort_realtime"} <= set(result["association"])
    assert result["memory"]["frames"] == 30
    assert "| 320x240 | 3 |" in result["table"]


def test_bench_argument_errors_name_the_option() -> None:
    import argparse

    import pytest

    with pytest.raises(argparse.ArgumentTypeError, match="--sizes"):
        bench.parse_sizes("640by480")
    assert bench.parse_node_runs("a:imgsz=320;embedder=histogram") == [("a", {"imgsz": 320,
                                                                              "embedder": "histogram"})]
