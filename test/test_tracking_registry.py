"""Every registered tracker against the interface rules (no detector, no ROS).

Each tracker runs through the real :class:`~mot_ros.core.pipeline.Pipeline`
on the synthetic crossing scene, fed the scene's true boxes in a shuffled order
each frame and a real (histogram) embedder that counts its calls.
"""
from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Set

import numpy as np
import pytest

from mot_ros.core.config import FIELD_BY_NAME, TRACKER_NAMES, Config
from mot_ros.core.embedders import HistogramEmbedder
from mot_ros.core.pipeline import Pipeline
from mot_ros.core.synthetic import crossing_scene
from mot_ros.core.tracking import REGISTRY, make_tracker, needs_rebuild, tracker_info, tracker_names
from mot_ros.core.types import Detections, FrameResult

NAMES = tracker_names()
FRAMES = list(crossing_scene(640, 480, n_frames=60))
FIRST_ID = 100


class CountingEmbedder(HistogramEmbedder):
    """The real histogram embedder, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        self.calls += 1
        return super().embed(frame, xyxy)


@dataclass
class Run:
    """One tracker's pass over the scene."""

    calls: int
    needs_appearance: bool
    results: List[FrameResult]
    truth: List[np.ndarray]  # per frame: the ground-truth ID of each detection, in the order given
    ids_by_object: Dict[int, Set[int]] = field(default_factory=dict)
    after_reset: List[int] = field(default_factory=list)
    next_id_before_reset: int = 0


_RUNS: Dict[str, Run] = {}


def detections_of(k: int, rng: np.random.Generator) -> tuple:
    objs = FRAMES[k].objects
    order = rng.permutation(len(objs))
    xyxy = np.array([objs[i].box() for i in order], np.float32)
    det = Detections(xyxy, np.full(len(objs), 0.9, np.float32), np.array([objs[i].cls for i in order]))
    return det, np.array([objs[i].obj_id for i in order])


def run(name: str) -> Run:
    """Track the scene with ``name`` (cached per tracker), then reset and track a few frames more."""
    if name in _RUNS:
        return _RUNS[name]
    emb = CountingEmbedder()
    cfg = Config(tracker=name, embedder="histogram", box_source="kalman")
    p = Pipeline(cfg, load_detector=False, embedder=emb, first_id=FIRST_ID)
    rng = np.random.default_rng(0)
    r = Run(0, p.tracker.needs_appearance, [], [])
    for k in range(len(FRAMES)):
        det, truth = detections_of(k, rng)
        res = p.process(FRAMES[k].image, stamp=k / 30, detections=det)
        r.results.append(res)
        r.truth.append(truth)
        for t in res.tracks:
            if t.det_index >= 0:
                r.ids_by_object.setdefault(int(truth[t.det_index]), set()).add(t.track_id)
    r.next_id_before_reset = p.next_id
    p.reset()
    for k in range(8):
        det, _ = detections_of(k, rng)
        r.after_reset += [t.track_id for t in p.process(FRAMES[k].image, detections=det).tracks]
    r.calls = emb.calls
    p.close()
    _RUNS[name] = r
    return r


def test_registry_names_are_the_parameter_choices() -> None:
    assert NAMES == list(TRACKER_NAMES) == list(FIELD_BY_NAME["tracker"].metadata["choices"])
    assert NAMES[:4] == ["deepsort", "deepsort_realtime", "bytetrack", "botsort"]
    assert all(REGISTRY[n].description for n in NAMES)


def test_unknown_tracker_is_refused_with_the_list() -> None:
    with pytest.raises(ValueError, match=r"tracker: expected one of \[.*'deepsort'.*'botsort'.*\], got 'sort9'"):
        Config(tracker="sort9")
    with pytest.raises(ValueError) as exc:
        tracker_info("sort9")
    assert all(n in str(exc.value) for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_first_id_is_honoured(name: str) -> None:
    t = make_tracker(Config(tracker=name), first_id=42)
    assert t.next_id == 42 and t.name == name
    with pytest.raises(ValueError, match="first_id"):
        make_tracker(Config(tracker=name), first_id=0)


@pytest.mark.parametrize("name", NAMES)
def test_embedder_runs_only_for_appearance_trackers(name: str) -> None:
    r = run(name)
    frames = len(FRAMES) + 8
    assert r.calls == (frames if r.needs_appearance else 0)
    if not r.needs_appearance:
        assert all("embed" not in res.timings_ms for res in r.results)


@pytest.mark.parametrize("name", NAMES)
def test_stable_ids_and_det_index(name: str) -> None:
    r = run(name)
    assert sorted(r.ids_by_object) == [1, 2, 3], f"{name}: objects tracked {sorted(r.ids_by_object)}"
    for obj, ids in r.ids_by_object.items():
        assert len(ids) == 1, f"{name}: object {obj} got IDs {sorted(ids)} (expected one across the crossing)"
    all_ids = [next(iter(v)) for v in r.ids_by_object.values()]
    assert len(set(all_ids)) == 3 and min(all_ids) >= FIRST_ID
    matched = 0
    for res, truth in zip(r.results, r.truth):
        for t in res.tracks:
            if t.det_index < 0:
                assert not t.matched
                continue
            matched += 1
            d = res.detections.xyxy[t.det_index]
            assert t.class_id == int(res.detections.classes[t.det_index])
            ix = max(0.0, min(d[2], t.xyxy[2]) - max(d[0], t.xyxy[0]))
            iy = max(0.0, min(d[3], t.xyxy[3]) - max(d[1], t.xyxy[1]))
            area = (d[2] - d[0]) * (d[3] - d[1])
            assert ix * iy > 0.5 * area, f"{name}: track {t.track_id} box {t.xyxy} is not on detection {d}"
    assert matched > 100


@pytest.mark.parametrize("name", NAMES)
def test_reset_keeps_ids_counting(name: str) -> None:
    r = run(name)
    assert r.after_reset, f"{name}: no track confirmed within 8 frames after the reset"
    assert min(r.after_reset) >= r.next_id_before_reset > max(max(v) for v in r.ids_by_object.values())


def test_switch_and_rebuild_continue_the_ids() -> None:
    emb = CountingEmbedder()
    p = Pipeline(Config(tracker="deepsort", embedder="histogram", n_init=1), load_detector=False, embedder=emb)
    rng = np.random.default_rng(1)
    seen: List[int] = []
    for name in ("deepsort", "bytetrack", "botsort", "deepsort_realtime", "deepsort"):
        p.apply_config(p.config.replace(tracker=name))
        assert p.tracker_name == name and p.tracker.name == name
        start = p.next_id
        for k in range(6):
            det, _ = detections_of(k, rng)
            ids = [t.track_id for t in p.process(FRAMES[k].image, detections=det).tracks]
            assert all(i >= start for i in ids)
            seen += [i for i in ids if i not in seen]
    assert seen == sorted(seen) and len(seen) >= 12
    # a parameter that needs a rebuild (botsort's GMC) restarts the tracks and continues the IDs
    p.apply_config(p.config.replace(tracker="botsort"))
    before = p.next_id
    assert needs_rebuild(p.config, p.config.replace(ul_gmc_method="none"))
    p.apply_config(p.config.replace(ul_gmc_method="none"))
    assert p.num_tracks == 0 and p.next_id == before
    assert not needs_rebuild(p.config, p.config.replace(ul_match_threshold=0.7, conf_threshold=0.5))
    p.close()


# -- boxmot: nothing is ever installed ---------------------------------------------------------

BOXMOT = [n for n in NAMES if n.startswith("boxmot_")]


def _freeze() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                          check=True).stdout


def test_boxmot_installs_nothing_and_builds_no_reid(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("boxmot")
    import os

    from boxmot.reid import core as reid_core

    from mot_ros.core.tracking.wrappers_boxmot import build_boxmot_tracker

    freeze = _freeze()
    dists = {(d.metadata["Name"], d.version) for d in importlib.metadata.distributions()}
    for name in BOXMOT:  # import every module first (importing torch runs ldconfig, a process, legitimately)
        make_tracker(Config(tracker=name))
        _RUNS.pop(name, None)  # and track the scene again inside the guarded window below

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started: {args!r}")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)  # run, call, check_call, check_output
    monkeypatch.setattr(os, "system", refuse)
    monkeypatch.setattr(reid_core.ReID, "__init__", refuse)
    for name in BOXMOT:
        r = run(name)  # the whole scene, with our embeddings where the tracker uses appearance
        assert r.results
        lib = build_boxmot_tracker(name.removeprefix("boxmot_"))
        if not lib.requirements.embeddings:
            continue
        # boxmot given no embeddings would build its re-ID backend: ours refuses instead
        from boxmot.structures import Boxes
        from boxmot.structures import Detections as BoxmotDetections
        import torch

        dets = BoxmotDetections(geometry=Boxes(torch.tensor([[10.0, 10.0, 60.0, 60.0]])),
                                scores=torch.tensor([0.9]), class_ids=torch.tensor([0]), sample_id="f1")
        with pytest.raises(RuntimeError, match="never runs boxmot's re-ID"):
            lib.update(dets, FRAMES[0].image)
        wrapped = make_tracker(Config(tracker=name))
        with pytest.raises(ValueError, match="one embedding per detection"):
            wrapped.update(Detections(np.array([[10, 10, 60, 60]], np.float32), [0.9], [0]), None, FRAMES[0].image)
    monkeypatch.undo()
    assert {(d.metadata["Name"], d.version) for d in importlib.metadata.distributions()} == dists
    assert _freeze() == freeze


def test_boxmot_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    if not BOXMOT:
        pytest.skip("no boxmot trackers registered")
    monkeypatch.setitem(sys.modules, "boxmot", None)  # import boxmot -> ImportError
    with pytest.raises(ValueError, match="need the boxmot package.*--no-deps -r requirements-boxmot.txt"):
        make_tracker(Config(tracker=BOXMOT[0]))


def test_botsort_with_reid_runs_on_our_embeddings() -> None:
    emb = CountingEmbedder()
    cfg = Config(tracker="botsort", embedder="histogram", ul_with_reid=True, ul_gmc_method="none")
    p = Pipeline(cfg, load_detector=False, embedder=emb)
    assert p.tracker.needs_appearance and not p.tracker.needs_frame
    rng = np.random.default_rng(2)
    ids: Dict[int, Set[int]] = {}
    for k in range(len(FRAMES)):
        det, truth = detections_of(k, rng)
        for t in p.process(FRAMES[k].image, detections=det).tracks:
            ids.setdefault(int(truth[t.det_index]), set()).add(t.track_id)
    assert emb.calls == len(FRAMES)
    assert sorted(ids) == [1, 2, 3] and all(len(v) == 1 for v in ids.values()), ids
    p.close()


def test_new_embedder_restarts_only_appearance_trackers() -> None:
    rng = np.random.default_rng(3)
    for name, restarts in (("bytetrack", False), ("deepsort_realtime", True)):
        p = Pipeline(Config(tracker=name, embedder="histogram", n_init=1), load_detector=False,
                     embedder=CountingEmbedder())
        for k in range(5):
            det, _ = detections_of(k, rng)
            p.process(FRAMES[k].image, detections=det)
        assert p.num_tracks == 3
        p.apply_config(p.config.replace(embedder_size=96))  # a new embedder instance
        assert (p.num_tracks == 0) == restarts, name
        p.close()
