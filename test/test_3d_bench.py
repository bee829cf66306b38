"""Smoke test of the benchmark's 3D section: it runs at a small size and reports every part. No time is asserted."""
from __future__ import annotations

import argparse

from mot_ros.tools.bench.depth3d import PARTS, bench_depth3d, format_lines


def test_depth3d_section_runs() -> None:
    res = bench_depth3d(argparse.Namespace(depth_objects=5, depth_frames=4, warmup=1, seed=0))
    assert res["objects"] == 5 and res["objects_3d_median"] == 5
    assert set(res["parts"]) == set(res["parts_cpu"]) == set(PARTS)
    assert res["total"]["n"] == 4
    text = "\n".join(format_lines(res))
    assert "3D stage (issue 10) at 5 tracks" in text and "| CPU |" in text
