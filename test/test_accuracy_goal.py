"""The accuracy goal: on TUD-Campus our defaults beat every peer on IDF1 and HOTA (needs ../shared/data).

The detector runs once over the 71 frames; ours, deep-sort-realtime and ultralytics' ByteTrack and BoT-SORT
classes then track the same detections.
"""
from __future__ import annotations

from conftest import COCO_MODEL, SHARED_DATA, needs_shared

from mot_ros.core.config import Config
from mot_ros.core.mot_format import read_seqinfo
from mot_ros.tools.compare import compare


@needs_shared
def test_defaults_beat_peers_on_tud_campus() -> None:
    info = read_seqinfo(SHARED_DATA / "mot" / "TUD-Campus")
    config = Config(model=str(COCO_MODEL), classes=("person",), device="cpu")
    trackers = ["deepsort", "deepsort_realtime", "bytetrack", "botsort"]  # ours and the libraries it wraps
    runs = {r.system: r.metrics for r in compare(info, config, trackers).runs}
    ours = runs.pop("deepsort")
    for peer, m in runs.items():
        assert ours["IDF1"] > m["IDF1"], f"IDF1: ours {ours['IDF1']:.3f} vs {peer} {m['IDF1']:.3f}"
        assert ours["HOTA"] > m["HOTA"], f"HOTA: ours {ours['HOTA']:.3f} vs {peer} {m['HOTA']:.3f}"
