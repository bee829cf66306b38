#!/usr/bin/env python3
"""Mutation check: plant known bugs, one at a time, in a copy of the repository and check that the tests catch each.

For every planted bug (a "mutant") the script edits a temporary copy of the tree (never the checkout), runs only
the tests that guard that behaviour with the repository's ``.venv`` python and ``PYTHONPATH`` pointing at the copy
(it verifies that ``import mot_ros`` really loads the copy), and reports a table: bug, tests run, tests failed,
caught. Before any mutant it runs the same tests on the unmodified copy: a test that already fails there cannot
catch anything, so such a mutant is reported as an error, as is a mutant whose target text is not found exactly
once. The exit status is 0 only when every mutant was caught.

Run it with ``make mutation`` (also part of ``make bench``); it is not part of CI. On a 2-core machine the whole
list takes about 15-25 minutes.

Usage:
    python scripts/mutation_check.py [--only NAME ...] [--list] [--markdown FILE] [--json FILE] [--keep]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "install", "log", "out", "__pycache__", ".pytest_cache",
                                ".hypothesis", "runs", "*.egg-info", ".gl", ".whl")
NODE = "mot_ros/ros/tracker_node.py"
DEEPSORT = "mot_ros/core/tracking/deepsort.py"
TRACK = "mot_ros/core/tracking/track.py"
CODEC = "mot_ros/core/image_codec.py"
CONVERSIONS = "mot_ros/ros/conversions.py"


@dataclass(frozen=True)
class Edit:
    """Replace the single match of ``pattern`` (a regular expression, MULTILINE) in ``path`` by ``replacement``."""

    path: str
    pattern: str
    replacement: str


@dataclass(frozen=True)
class Mutant:
    """One planted bug: its edits and the tests that must catch it."""

    name: str
    description: str
    edits: Tuple[Edit, ...]
    tests: Tuple[str, ...]
    origin: str = "H6"


@dataclass
class Result:
    """The outcome for one mutant."""

    mutant: Mutant
    status: str  # caught | NOT CAUGHT | error: ...
    tests_run: int = 0
    tests_failed: int = 0
    seconds: float = 0.0
    detail: str = ""
    failed_names: List[str] = field(default_factory=list)


MUTANTS: Tuple[Mutant, ...] = (
    # -- the eight bugs of issue 12 -------------------------------------------------------------------------------
    Mutant("qos_auto_keeps_old_subscription",
           "qos_reliability auto updates its bookkeeping but keeps the old subscription",
           (Edit(NODE, r"^(\s+)if old is not None and rel == self\._sub_reliability:\n\s+return\n",
                 "\\g<0>\\1if old is not None:  # MUTANT: bookkeeping only\n\\1    self._sub_reliability = rel\n"
                 "\\1    return\n"),),
           ("test/test_node.py::test_auto_qos_matches_best_effort_and_reliable_publishers",), "issue 12"),
    Mutant("draws_after_last_subscriber_left",
           "the annotated image keeps being drawn after the last subscriber leaves",
           (Edit(NODE, r"self\._pub_img\.get_subscription_count\(\) > 0:",
                 "(self._pub_img.get_subscription_count() > 0 or bool(self.stats.stage_ms.get('draw'))):"),),
           ("test/test_node.py::test_annotated_image_only_with_subscriber",), "issue 12"),
    Mutant("new_id_every_frame", "the tracker hands out a new ID every frame",
           (Edit(DEEPSORT, r"track_id=t\.track_id,", "track_id=self.ids.new(),"),),
           ("test/test_offline_video.py::test_video_round_trip", "test/test_offline_bag.py::test_bag_round_trip",
            "test/test_offline_mot.py::test_mot_with_model"), "issue 12"),
    Mutant("detection_header_not_copied", "Detection2D.header is not copied from the input",
           (Edit(CONVERSIONS, r"Detection2D\(header=header, id=", "Detection2D(id="),),
           ("test/test_node.py::test_input_encodings",), "issue 12"),
    Mutant("tracks_never_confirmed", "tentative tracks are never confirmed",
           (Edit(TRACK, r"if self\.state == TrackState\.TENTATIVE and self\.hits >= n_init:",
                 "if False:  # MUTANT"),
            Edit(TRACK, r"if self\.state != TrackState\.TENTATIVE or self\.hits < n_init:",
                 "if True:  # MUTANT")),
           ("test/test_offline_video.py::test_video_round_trip", "test/test_node.py::test_input_encodings"),
           "issue 12"),
    Mutant("conf_threshold_ignored", "conf_threshold is ignored: every detection above the floor starts a track",
           (Edit(DEEPSORT, r"high = valid & \(scores >= cfg\.conf_threshold\)", "high = valid  # MUTANT"),),
           ("test/test_node.py::test_parameter_changes_take_effect_and_bad_ones_are_refused",), "issue 12"),
    Mutant("ids_reused_after_reset", "a tracker reset starts the IDs from 1 again",
           (Edit(DEEPSORT, r"(def reset\(self\) -> None:\n(\s+)\"\"\"[^\n]*\"\"\"\n)",
                 "\\1\\2self.ids.next_id = 1  # MUTANT\n"),),
           ("test/test_reliability.py",), "issue 12"),
    Mutant("queue_instead_of_newest_wins", "frames queue for the worker instead of the newest one winning",
           (Edit(NODE, r"^(\s+)if self\._slot is not None:\n\s+self\.stats\.record_dropped\(\)[^\n]*\n",
                 "\\1while self._slot is not None and self._running:  # MUTANT: wait for the worker\n"
                 "\\1    self._slot_cv.wait(0.05)\n"),),
           ("test/test_node.py::test_newest_frame_wins_and_drops_are_counted",), "issue 12"),
    # -- more: tracker, codec, conversions, parameters, node, test infrastructure --------------------------------
    Mutant("nn_budget_ignored", "the tracker keeps every appearance sample (nn_budget ignored)",
           (Edit(DEEPSORT, r"budget = cfg\.nn_budget or None", "budget = None  # MUTANT"),),
           ("test/test_reliability.py::test_soak_10000_frames_memory_flat_ids_monotonic",)),
    Mutant("codec_uyvy_yuyv_swapped", "yuv422 (UYVY) and yuyv (YUY2) byte orders swapped in the decoder",
           (Edit(CODEC, r"cv2\.COLOR_YUV2BGR_UYVY\)(.*?)cv2\.COLOR_YUV2BGR_YUY2\)",
                 "cv2.COLOR_YUV2BGR_YUY2)\\1cv2.COLOR_YUV2BGR_UYVY)"),),
           ("test/test_core_codec.py",)),
    Mutant("codec_16bit_keeps_low_byte", "16-bit images keep the low byte instead of the high byte",
           (Edit(CODEC, r"img\.astype\(np\.uint16\) >> 8", "img.astype(np.uint16) & 0xFF"),),
           ("test/test_core_codec.py",)),
    Mutant("bbox_centre_is_corner", "Detection2D bbox centre x is the box's left edge",
           (Edit(CONVERSIONS, r"bbox\.center\.position\.x = float\(\(x1 \+ x2\) / 2\.0\)",
                 "bbox.center.position.x = float(x1)"),),
           ("test/test_node.py::test_input_encodings",)),
    Mutant("range_check_skipped", "parameter ranges are not enforced",
           (Edit("mot_ros/core/config.py", r"if rng is not None and not \(rng\[0\] <= value <= rng\[1\]\):",
                 "if False:  # MUTANT"),),
           ("test/test_node.py::test_parameter_changes_take_effect_and_bad_ones_are_refused",
            "test/test_offline_errors.py::test_bad_parameters")),
    Mutant("bad_frame_counted_as_failure", "an undecodable frame is counted as failed, not bad",
           (Edit(NODE, r"self\.stats\.record_bad\(\)", "self.stats.record_failure(exc)"),),
           ("test/test_node.py::test_bad_frames_are_survived_and_counted",)),
    Mutant("latency_in_seconds", "latency is reported in seconds under a _ms key",
           (Edit(NODE, r"return lag \* 1e3 if", "return lag if"),),
           ("test/test_node.py::test_diagnostics_content_and_latency",)),
    Mutant("qos_switch_duplicates", "frames that arrive through both subscriptions of a QoS switch count twice",
           (Edit(NODE, r"if self\._recent_samples\.repeat\(", "if False and self._recent_samples.repeat("),),
           ("test/test_node.py::test_qos_switch_while_frames_flow_loses_and_duplicates_nothing",
            "test/test_qos_dedupe.py")),
    Mutant("dedupe_only_while_switching", "only the samples that arrive while both subscriptions live are remembered",
           (Edit(NODE, r"if self\._recent_samples\.repeat\(",
                 "if self._retired_sub is not None and self._recent_samples.repeat("),),
           ("test/test_qos_dedupe.py",), "issue 12"),
    Mutant("inactive_node_keeps_subscription", "deactivate leaves the input subscription alive",
           (Edit(NODE, r"^(\s+)if self\._sub is not None:\n\s+self\.destroy_subscription\(self\._sub\)\n",
                 "\\1if self._sub is not None:  # MUTANT: not destroyed\n"),),
           ("test/test_node.py::test_lifecycle_transitions",)),
    Mutant("label_info_not_latched", "label_info is VOLATILE: late subscribers never get it",
           (Edit("mot_ros/ros/qos.py", r"(LABEL_INFO_QOS = QoSProfile\(depth=1, durability=DurabilityPolicy\.)"
                 r"TRANSIENT_LOCAL", "\\1VOLATILE"),),
           ("test/test_node.py::test_late_subscriber_gets_label_info",)),
    Mutant("spinner_swallows_callback_error", "the test spinner swallows a callback's exception again",
           (Edit("mot_ros/ros/spinning.py", r"^(\s+)self\._error = exc\n", "\\1return  # MUTANT\n"),),
           ("test/test_node_spinner.py",)),
    Mutant("spinner_stops_before_callbacks_finish",
           "the test spinner shuts the executor down while callbacks are still queued (the test_node.py stall)",
           (Edit("mot_ros/ros/spinning.py", r"concurrent\.futures\.wait\(pending, timeout=STOP_TIMEOUT_SEC\)",
                 "set(), set()  # MUTANT: no wait"),),
           ("test/test_node_spinner.py::test_a_node_spun_by_one_spinner_after_another_keeps_its_callbacks",),
           "issue 12"),
    Mutant("histogram_keeps_side_margins", "the histogram embedder reads the whole box width, background included",
           (Edit("mot_ros/core/embedders.py", r"STRIPES, BINS, MARGIN = 4, \(8, 4, 4\), 0\.2",
                 "STRIPES, BINS, MARGIN = 4, (8, 4, 4), 0.0  # MUTANT"),),
           ("test/test_core_histogram.py",), "issue 8"),
    Mutant("histogram_ignores_brightness", "the histogram embedder bins hue and saturation only (no value)",
           (Edit("mot_ros/core/embedders.py", r"STRIPES, BINS, MARGIN = 4, \(8, 4, 4\), 0\.2",
                 "STRIPES, BINS, MARGIN = 4, (8, 4, 1), 0.2  # MUTANT"),),
           ("test/test_core_histogram.py",), "issue 8"),
    Mutant("cmc_few_corners", "sparse flow tracks 100 corners again: behind contrasted people none is background",
           (Edit("mot_ros/core/tracking/cmc.py", r"SPARSE_FLOW_CORNERS = 400", "SPARSE_FLOW_CORNERS = 100  # MUTANT"),),
           ("test/test_tracking_core.py::test_cmc_finds_the_background_behind_contrasted_people",), "issue 8"),
    Mutant("cmc_any_roll", "a camera-motion estimate with a large roll is accepted",
           (Edit("mot_ros/core/tracking/cmc.py", r"MAX_ROTATION_DEG = 5\.0", "MAX_ROTATION_DEG = 180.0  # MUTANT"),),
           ("test/test_tracking_core.py::test_implausible_estimates_are_refused",), "issue 8"),
    Mutant("torch_mobilenet_unfolded", "the PyTorch MobileNet keeps its BatchNorm layers (one more kernel each)",
           (Edit("mot_ros/core/embedders.py", r"return fuse\(model\.eval\(\)\)", "return model  # MUTANT"),),
           ("test/test_backends.py::test_torch_mobilenet_folds_batchnorm",), "issue 8"),
    Mutant("full_view_not_moved_on", "a lost track's last full view stays where it was seen (no velocity)",
           (Edit("mot_ros/core/tracking/deepsort.py", r"views\[:, :2\] \+= views\[:, 4:6\] \* elapsed\[:, None\]",
                 "pass  # MUTANT"),),
           ("test/test_tracking_core.py::test_lost_size_gate_gives_a_walker_back_their_id_after_partial_boxes",),
           "issue 8"),
    Mutant("full_view_not_warped", "a lost track's last full view ignores camera motion",
           (Edit("mot_ros/core/tracking/deepsort.py", r"t\.full_view = view", "pass  # MUTANT"),),
           ("test/test_tracking_core.py::test_lost_size_gate_follows_the_camera",), "issue 8"),
    Mutant("full_view_from_covered_boxes", "a high-score box that somebody in front covers counts as a full view",
           (Edit("mot_ros/core/tracking/deepsort.py", r"FULL_VIEW_MAX_COVER = 0\.5",
                 "FULL_VIEW_MAX_COVER = 1.0  # MUTANT"),),
           ("test/test_tracking_core.py::test_lost_size_gate_ignores_views_that_another_box_covers",), "issue 8"),
    Mutant("coasting_inverted_boxes", "a coasting prediction shrunk through zero is published as an inverted box",
           (Edit("mot_ros/core/tracking/deepsort.py", r"if not matched and \(box\[2\] <= 0 or box\[3\] <= 0\):",
                 "if False:  # MUTANT"),),
           ("test/test_tracking_core.py::test_coasting_never_publishes_an_inverted_box",), "issue 8"),
    Mutant("distinct_look_not_unique", "a close look opens the gate even when somebody else looks as close",
           (Edit("mot_ros/core/tracking/deepsort.py", r"DISTINCT_RATIO = 2\.0", "DISTINCT_RATIO = 0.0  # MUTANT"),),
           ("test/test_tracking_core.py::test_distinct_appearance_refuses_an_ambiguous_look",), "issue 8"),
    Mutant("distinct_look_anywhere", "a close look opens the gate however far the detection is from the prediction",
           (Edit("mot_ros/core/tracking/deepsort.py",
                 r"near = \(dist <= box\[:, 3:4\] \* np\.sqrt\(tsu\[rows\]\)\[:, None\]\)",
                 "near = (dist >= 0)  # MUTANT"),),
           ("test/test_tracking_core.py::test_distinct_appearance_stays_near_the_prediction",), "issue 8"),
    Mutant("long_term_ignored", "a track lost long is compared with its recent EMA only, never its slow average",
           (Edit(TRACK, r"d = np\.minimum\(d, 1\.0 - features @ self\.long_term\)", "pass  # MUTANT"),),
           ("test/test_tracking_core.py::test_long_term_average_keeps_the_id_after_an_occluder_changed_the_recent_look",
            "test/test_tracking_core.py::test_track_long_term_average"), "issue 8"),
    Mutant("long_term_at_once", "the slow average counts from the first missed frame, whatever long_term_after says",
           (Edit(TRACK, r"if 0 < long_term_after < self\.time_since_update and", "if 0 < long_term_after and"),),
           ("test/test_tracking_core.py::test_long_term_average_waits_long_term_after_frames",
            "test/test_tracking_core.py::test_track_long_term_average"), "issue 8"),
    Mutant("last_seen_ignored", "a lost track is never matched where it was last seen",
           (Edit("mot_ros/core/tracking/deepsort.py",
                 r"if cfg\.last_seen_gate and feats is not None and unmatched_dets:", "if False:  # MUTANT"),),
           ("test/test_tracking_core.py::test_last_seen_gate_keeps_the_id_of_a_walker_who_stopped_while_hidden",),
           "issue 8"),
    Mutant("last_seen_not_unique", "a lost track takes a detection where it was last seen even when somebody else "
           "looks as close", (Edit("mot_ros/core/tracking/deepsort.py", r"LAST_SEEN_RATIO = 1\.25",
                                   "LAST_SEEN_RATIO = 0.0  # MUTANT"),),
           ("test/test_tracking_core.py::test_last_seen_gate_refuses_an_ambiguous_look",), "issue 8"),
    Mutant("last_seen_without_full_view", "a lost track is looked for where it was last matched only, not where its "
           "last full view was", (Edit("mot_ros/core/tracking/deepsort.py",
                                       r"if viewed:\n            ks = \[lost\[i\] for i in viewed\]",
                                       "if False:  # MUTANT\n            ks = [lost[i] for i in viewed]"),),
           ("test/test_tracking_core.py::test_last_seen_gate_also_looks_where_the_last_full_view_was",), "issue 8"),
    Mutant("last_seen_not_warped", "where a lost track was last seen ignores camera motion",
           (Edit("mot_ros/core/tracking/deepsort.py", r"t\.last_seen = view", "pass  # MUTANT"),),
           ("test/test_tracking_core.py::test_last_seen_gate_follows_the_camera",), "issue 8"),
    Mutant("max_age_s_ignored", "lost tracks die after max_age frames whatever the frame rate",
           (Edit("mot_ros/core/tracking/deepsort.py", r"if cfg\.max_age_s > 0 and self\.frame_period:",
                 "if False:  # MUTANT"),),
           ("test/test_core_tracker.py::test_max_age_s_keeps_lost_tracks_for_seconds",), "issue 8"),
    Mutant("gate_scale_ignored", "the Kalman gate stays DeepSORT's 95 % gate at every frame rate",
           (Edit("mot_ros/core/tracking/deepsort.py", r"return min\(GATE_SCALE_MAX, max\(1\.0, rate \* period\)\)",
                 "return 1.0  # MUTANT"),),
           ("test/test_core_tracker.py::test_gate_widens_below_gate_frame_rate",), "issue 8"),
    Mutant("lost_gate_scale_ignored", "lost tracks keep DeepSORT's 95 % gate",
           (Edit("mot_ros/core/tracking/deepsort.py", r"lost_scale = max\(scale, cfg\.lost_gate_scale\)",
                 "lost_scale = scale  # MUTANT"),),
           ("test/test_core_tracker.py::test_lost_tracks_get_a_wider_gate",), "issue 8"),
    Mutant("moving_gate_scale_ignored", "a moving camera leaves the gate at DeepSORT's 95 %",
           (Edit("mot_ros/core/tracking/deepsort.py", r"scale = max\(scale, cfg\.moving_gate_scale\)",
                 "pass  # MUTANT"),),
           ("test/test_core_tracker.py::test_gate_widens_while_the_camera_moves",), "issue 8"),
    Mutant("frame_period_not_measured", "the pipeline never tells the tracker the time between frames",
           (Edit("mot_ros/core/pipeline.py", r"tracker\.set_frame_period\(self\.frame_period\)",
                 "pass  # MUTANT"),),
           ("test/test_core_pipeline.py::test_frame_period_from_stamps_reaches_the_tracker",), "issue 8"),
    Mutant("signal_race_crashes", "a signal racing the executor's next wait set ends the node with a traceback",
           (Edit("mot_ros/ros/tracker_node.py", r"        if rclpy\.ok\(\):\n            raise\n", "        raise\n"),),
           ("test/test_node_process.py::test_signal_racing_the_executor_exits_cleanly",), "review"),
)


def copy_tree(dst: Path) -> None:
    """Copy the working tree (not .venv, .git or build outputs) to ``dst``."""
    shutil.copytree(REPO, dst, ignore=IGNORE, symlinks=True)


def child_env(copy: Path) -> Dict[str, str]:
    """Environment for the copy's tests: its code first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.pop("MOT_ROS_SHAPES_MODEL", None)  # the copy's own models/
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("YOLO_OFFLINE", "1")
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return env


def check_imports_copy(python: str, copy: Path) -> None:
    """Fail unless ``import mot_ros`` (and a submodule) in the test environment loads the copy's files."""
    code = "import mot_ros.ros.conversions as m, mot_ros.core.tracking as t; print(m.__file__); print(t.__file__)"
    out = subprocess.run([python, "-c", code], cwd=copy, env=child_env(copy), capture_output=True, text=True,
                         timeout=300)
    files = out.stdout.split()
    if out.returncode != 0 or len(files) != 2 or not all(Path(f).resolve().is_relative_to(copy.resolve())
                                                         for f in files):
        raise SystemExit(f"mutation_check: the tests would not import the copy at {copy}: {out.stdout!r} "
                         f"{out.stderr[-2000:]!r}")


def apply(copy: Path, mutant: Mutant) -> Tuple[Optional[str], Dict[Path, str]]:
    """Apply the mutant's edits to ``copy``; return (error or None, original texts to restore)."""
    originals: Dict[Path, str] = {}
    for e in mutant.edits:
        path = copy / e.path
        if not path.is_file():
            return f"error: {e.path} does not exist", originals
        text = path.read_text()
        originals.setdefault(path, text)
        n = len(re.findall(e.pattern, text, flags=re.MULTILINE | re.DOTALL))
        if n != 1:
            return f"error: target /{e.pattern}/ found {n} times in {e.path} (expected once)", originals
        new = re.sub(e.pattern, e.replacement, text, count=1, flags=re.MULTILINE | re.DOTALL)
        if new == text:
            return f"error: the edit of {e.path} changed nothing", originals
        path.write_text(new)
    return None, originals


def restore(originals: Dict[Path, str]) -> None:
    """Put the original texts back."""
    for path, text in originals.items():
        path.write_text(text)


def junit_outcomes(xml: Path, messages: Optional[Dict[str, str]] = None) -> Dict[str, bool]:
    """Test id (``test/file.py::name[param]``) -> passed, from a pytest junit file (failure texts into ``messages``)."""
    out: Dict[str, bool] = {}
    if not xml.is_file():
        return out
    for case in ET.parse(xml).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        tid = f"{module}.py::{case.get('name')}"
        if case.find("skipped") is not None:
            continue
        bad = [e for e in (case.find("failure"), case.find("error")) if e is not None]
        out[tid] = not bad
        if bad and messages is not None:
            err = case.find("system-err")
            tail = (err.text or "")[-1500:] if err is not None else ""
            text = "; ".join((e.get("message") or "")[:300] for e in bad)
            messages[tid] = text + (f"\n    stderr: {tail}" if tail else "")
    return out


def selected(outcomes: Dict[str, bool], tests: Sequence[str]) -> Dict[str, bool]:
    """Keep the outcomes that belong to the selections ``tests`` (files or file::test, parameters included)."""
    def belongs(tid: str, sel: str) -> bool:
        return tid == sel or tid.startswith(sel + "[") or ("::" not in sel and tid.startswith(sel + "::"))
    return {tid: ok for tid, ok in outcomes.items() if any(belongs(tid, s) for s in tests)}


def run_tests(python: str, copy: Path, tests: Sequence[str], xml: Path, timeout: float) -> Tuple[int, float, str]:
    """Run pytest on ``tests`` in ``copy``; return (exit code, seconds, output tail). 124 on timeout."""
    if xml.exists():
        xml.unlink()
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}", "-o", "junit_logging=all",
           *tests]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=copy, env=child_env(copy), capture_output=True, text=True, timeout=timeout)
        return p.returncode, time.monotonic() - t0, (p.stdout + p.stderr)[-3000:]
    except subprocess.TimeoutExpired as exc:
        return 124, time.monotonic() - t0, f"timed out after {timeout:.0f} s: {str(exc.stdout or '')[-1000:]}"


def check(mutants: Sequence[Mutant], python: str, timeout: float, keep: bool, log=sys.stderr) -> List[Result]:
    """Baseline, then every mutant; return the results."""
    tmp = Path(tempfile.mkdtemp(prefix="mot_ros_mutation_"))
    copy = tmp / "repo"
    results: List[Result] = []
    try:
        copy_tree(copy)
        check_imports_copy(python, copy)
        log.write(f"copy: {copy} (imports verified)\n")
        all_tests = sorted({t for m in mutants for t in m.tests})
        rc, secs, tail = run_tests(python, copy, all_tests, tmp / "baseline.xml", timeout * 3)
        why: Dict[str, str] = {}
        baseline = junit_outcomes(tmp / "baseline.xml", why)
        log.write(f"baseline: {sum(baseline.values())}/{len(baseline)} tests pass ({secs:.0f} s)\n")
        for tid, text in why.items():
            log.write(f"  baseline failure {tid}: {text}\n")
        if not baseline:
            raise SystemExit(f"mutation_check: the baseline run produced no results (exit {rc}):\n{tail}")
        for m in mutants:
            base = selected(baseline, m.tests)
            broken = sorted(t for t, ok in base.items() if not ok)
            if not base:
                results.append(Result(m, "error: no test of the selection ran on the unmodified copy"))
            elif broken:
                results.append(Result(m, "error: fails without the bug", detail=", ".join(broken)))
            else:
                err, originals = apply(copy, m)
                try:
                    if err:
                        results.append(Result(m, err))
                    else:
                        rc, secs, tail = run_tests(python, copy, m.tests, tmp / f"{m.name}.xml", timeout)
                        got = selected(junit_outcomes(tmp / f"{m.name}.xml"), m.tests)
                        failed = sorted(t for t, ok in got.items() if not ok)
                        if rc == 124:
                            status = "caught (timeout)"
                        elif rc == 1 and failed:
                            status = "caught"
                        elif rc == 0:
                            status = "NOT CAUGHT"
                        else:
                            status = f"error: pytest exit {rc}"
                        results.append(Result(m, status, len(got), len(failed), secs, tail if status != "caught"
                                              else "", failed))
                finally:
                    restore(originals)
            r = results[-1]
            log.write(f"{m.name}: {r.status} ({r.tests_failed}/{r.tests_run} tests failed, {r.seconds:.0f} s)"
                      f"{' ' + r.detail[-300:] if r.detail and not r.status.startswith('caught') else ''}\n")
            log.flush()
    finally:
        if keep:
            log.write(f"kept {tmp}\n")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return results


def markdown(results: Sequence[Result]) -> str:
    """Format the result table in Markdown."""
    lines = ["| planted bug | from | tests run | tests failed | caught |", "|---|---|---|---|---|"]
    for r in results:
        m = r.mutant
        tests = "<br>".join(t.replace("test/", "") for t in m.tests)
        lines.append(f"| `{m.name}`: {m.description} | {m.origin} | {tests} | {r.tests_failed}/{r.tests_run} | "
                     f"{r.status} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutants")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"), help="python that runs the tests")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per mutant's test run")
    ap.add_argument("--markdown", type=Path, help="also write the table here")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = ap.parse_args(argv)
    mutants = list(MUTANTS)
    if args.only:
        unknown = set(args.only) - {m.name for m in MUTANTS}
        if unknown:
            ap.error(f"--only: unknown mutants {sorted(unknown)}; expected some of {[m.name for m in MUTANTS]}")
        mutants = [m for m in MUTANTS if m.name in args.only]
    if args.list:
        for m in mutants:
            sys.stdout.write(f"{m.name} ({m.origin}): {m.description}\n    tests: {' '.join(m.tests)}\n")
        return 0
    if not Path(args.python).is_file():
        ap.error(f"--python: {args.python!r} does not exist; run scripts/bootstrap.sh (make venv) first")
    t0 = time.monotonic()
    results = check(mutants, args.python, args.timeout, args.keep)
    table = markdown(results)
    sys.stdout.write(table)
    caught = sum(r.status.startswith("caught") for r in results)
    sys.stdout.write(f"\n{caught}/{len(results)} planted bugs caught in {(time.monotonic() - t0) / 60:.1f} min\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([dict(name=r.mutant.name, origin=r.mutant.origin, status=r.status,
                                              tests=list(r.mutant.tests), tests_run=r.tests_run,
                                              tests_failed=r.tests_failed, failed=r.failed_names,
                                              seconds=round(r.seconds, 1)) for r in results], indent=2))
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
