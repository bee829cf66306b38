"""Markdown tables of the benchmark's JSON result."""
from __future__ import annotations

from typing import Any, Dict, List

from .common import STAGES


def format_table(result: Dict[str, Any]) -> str:
    """Markdown tables of the JSON result."""
    lines: List[str] = []
    m = result["machine"]
    lines.append(f"Machine: {m['cpu']}, {m['cores']} cores, GPU: {m['gpu']}, torch threads {m['torch_threads']}, "
                 f"load {m['load_avg_start'][0]:.2f} at start")
    stages = result.get("stages") or []
    if stages:
        lines += ["", f"Stages, median / p95 ms (detector: {stages[0]['detector']}; embedder: "
                      f"{stages[0]['embedder']}; embed and associate fed the ground-truth boxes). pipeline = convert "
                      "+ detect + embed + associate + messages + publish (draw runs only while annotated_image has "
                      "a subscriber); with ROS / core = pipeline / (detect + embed + associate), per frame.", "",
                  "| size | objects | convert | detect | embed | associate | messages | publish | draw | "
                  "pipeline | pipeline / detect | with ROS / core |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in stages:
            cells = []
            for k in STAGES:
                s = r["stages"].get(k)
                cells.append(f"{s['median']:.2f} / {s['p95']:.2f}" if s else "-")
            ratio = f"{r['pipeline_over_detector']:.2f}" if r["pipeline_over_detector"] else "-"
            ros = f"{r['ros_over_core']:.3f}" if r.get("ros_over_core") else "-"
            lines.append(f"| {r['size']} | {r['objects']} | " + " | ".join(cells) +
                         f" | {r['pipeline']['median']:.1f} / {r['pipeline']['p95']:.1f} | {ratio} | {ros} |")
    app = result.get("appearance")
    if app:
        dets = app["detectors"]
        lines += ["", "Appearance at " + (f"{app['embedders'][0]['objects']} objects, "
                                          if app["embedders"] else "") + "median / p95 ms", ""]
        for k, v in dets.items():
            lines.append(f"- detector forward pass ({k}): {v['median']:.1f} / {v['p95']:.1f} ms")
        if app["embedders"]:
            lines += ["", "| embedder | dim | median | p95 | " + " | ".join(f"/ {k}" for k in dets) + " |",
                      "|---|---|---|---|" + "---|" * len(dets)]
            for r in app["embedders"]:
                lines.append(f"| {r['embedder']} | {r['dim']} | {r['median']:.1f} | {r['p95']:.1f} | " +
                             " | ".join(f"{r[f'over_{k}']:.2f}" if r.get(f"over_{k}") is not None else "-"
                                        for k in dets) + " |")
    a = result.get("association")
    if a:
        lines += ["", f"Association + Kalman at {a['tracks']} tracks ({a['embedding_dim']}-d appearance, nn_budget "
                      f"{a['nn_budget']}), median / p95 ms: {a['tracker']} as the pipeline runs it "
                      f"{a['ours']['median']:.2f} / {a['ours']['p95']:.2f}, with its modern stages off "
                      f"{a['stages_off']['median']:.2f} / {a['stages_off']['p95']:.2f}, deep-sort-realtime "
                      f"{a['deep_sort_realtime']['median']:.2f} / {a['deep_sort_realtime']['p95']:.2f} (same "
                      "decisions with the stages off: test/test_tracking_parity.py)"]
    for r in result.get("node") or []:
        lat = r["latency_ms"]
        st = r["node_stage_median_ms"]
        lines += ["", f"Node run '{r['name']}' ({r['model']}, {r['size']}, {r['objects']} objects, {r['rate_hz']} Hz "
                      f"for {r['seconds']} s, params {r['params']})",
                  f"- sent {r['sent']}, node received {r['node_received']}, processed {r['node_processed']}, "
                  f"dropped {r['node_dropped']}; results received {r['results']} ({r['processed_hz']} Hz)",
                  f"- latency stamp -> detections: p50 {lat['median']:.1f}, p95 {lat['p95']:.1f}, "
                  f"max {lat['max']:.1f} ms; first {r['trend_span_s']:.0f} s p50 "
                  f"{r['latency_first_ms']['median']:.1f} / p95 {r['latency_first_ms']['p95']:.1f}, last "
                  f"{r['trend_span_s']:.0f} s p50 {r['latency_last_ms']['median']:.1f} / p95 "
                  f"{r['latency_last_ms']['p95']:.1f}",
                  "- p50 per window: " + ", ".join(f"{x['from_s']:.0f}s {x['p50']}" for x in r["latency_windows"]),
                  "- node medians (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in st.items()),
                  f"- node total / (detect + embed + associate): {r['node_total_over_core']}; "
                  f"latency p95 / node total: {r['p95_over_processing']}"]
    if result.get("backends"):
        from .backends import format_lines as backend_lines

        lines += backend_lines(result["backends"])
    if result.get("depth3d"):
        from .depth3d import format_lines

        lines += format_lines(result["depth3d"])
    mem = result.get("memory")
    if mem:
        lines += ["", f"Memory: {mem['frames']} tracker frames, {mem['objects']} objects, {mem['ids_created']} IDs "
                      f"created, nn_budget {mem['nn_budget']}: RSS {mem['rss_start_mb']} -> {mem['rss_end_mb']} MB "
                      f"(growth {mem['growth_mb']} MB; {mem['growth_after_first_tenth_mb']} MB after the first "
                      f"tenth); update {mem['update_ms']['median']:.2f} / {mem['update_ms']['p95']:.2f} ms"]
    return "\n".join(lines)
