"""The registry's deepsort tracker and drawing on synthetic boxes (no detector, no ROS)."""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import pytest

from mot_ros.core.config import Config
from mot_ros.core.drawing import Trails, draw_tracks, id_color, label_text
from mot_ros.core.tracking import TrackerBase, make_tracker
from mot_ros.core.types import Detections, TrackedObject

RNG = np.random.default_rng(3)
APPEAR = {k: v / np.linalg.norm(v) for k, v in enumerate(RNG.normal(size=(4, 32)).astype(np.float32))}


def deepsort(config: Config) -> TrackerBase:
    """The registry's deepsort tracker with ``config``."""
    return make_tracker(config.replace(tracker="deepsort"))


def step(tracker: TrackerBase, boxes: Dict[int, Tuple[float, float, float, float]]) -> List[TrackedObject]:
    keys = sorted(boxes)
    det = Detections(np.array([boxes[k] for k in keys], np.float32).reshape(-1, 4), np.full(len(keys), 0.9),
                     np.array(keys) % 3)
    emb = np.array([APPEAR[k] for k in keys], np.float32).reshape(len(keys), 32)
    return tracker.update(det, emb)


def moving(k: int, t: int) -> Tuple[float, float, float, float]:
    x = 50 + 6 * t if k == 0 else 500 - 6 * t
    y = 200 + (8 if k == 1 else 0)
    return (x, y, x + 60, y + 60)


def test_ids_persist_and_cross() -> None:
    tr = deepsort(Config(n_init=3, box_source="detection"))
    ids: Dict[int, set] = {0: set(), 1: set()}
    for t in range(70):
        out = step(tr, {0: moving(0, t), 1: moving(1, t)})
        for o in out:
            k = 0 if abs((o.xyxy[0]) - moving(0, t)[0]) < 1 else 1
            ids[k].add(o.track_id)
        if t >= 2:
            assert len(out) == 2  # confirmed after n_init=3 frames
    assert len(ids[0]) == 1 and len(ids[1]) == 1 and ids[0] != ids[1]


def test_id_survives_occlusion_shorter_than_max_age() -> None:
    tr = deepsort(Config(max_age=30))
    first = None
    for t in range(40):
        visible = not (15 <= t < 30)  # 15 frames hidden
        out = step(tr, {0: moving(0, t)} if visible else {})
        if t == 10:
            first = out[0].track_id
        if t >= 31:
            assert [o.track_id for o in out] == [first]


def test_track_dies_after_max_age_and_ids_keep_counting() -> None:
    tr = deepsort(Config(max_age=5, n_init=1))
    a = step(tr, {0: moving(0, 0)})[0].track_id
    for _ in range(8):
        step(tr, {})
    assert tr.num_tracks == 0
    b = step(tr, {0: moving(0, 0)})[0].track_id
    assert b > a
    tr.reset()
    c = step(tr, {0: moving(0, 0)})[0].track_id
    assert c > b  # reset never reuses IDs


def _survives(tracker: TrackerBase, hidden: int) -> bool:
    """Whether a confirmed track hidden for ``hidden`` frames still exists afterwards (same box, no motion)."""
    box = {0: (100.0, 100.0, 160.0, 220.0)}
    for _ in range(5):
        step(tracker, box)
    for _ in range(hidden):
        step(tracker, {})
    return tracker.num_tracks == 1


@pytest.mark.parametrize("period, hidden, alive", [
    (None, 31, False),  # no stamps: max_age frames alone
    (1 / 25, 31, True),  # 25 fps: 3 s is 75 frames
    (1 / 25, 75, True),
    (1 / 25, 76, False),
    (1 / 7, 30, True),  # 7 fps: 3 s is 21 frames, max_age 30 is longer and wins
    (1 / 7, 31, False),
])
def test_max_age_s_keeps_lost_tracks_for_seconds(period: float, hidden: int, alive: bool) -> None:
    tr = deepsort(Config(max_age=30, max_age_s=3.0, n_init=1))
    tr.set_frame_period(period)
    assert _survives(tr, hidden) is alive


def test_max_age_s_zero_counts_frames_only() -> None:
    tr = deepsort(Config(max_age=30, max_age_s=0.0, n_init=1))
    tr.set_frame_period(1 / 25)
    assert not _survives(tr, 31)
    with pytest.raises(ValueError, match="seconds > 0"):
        tr.set_frame_period(0.0)


def test_a_track_kept_by_max_age_s_takes_its_object_back() -> None:
    tr = deepsort(Config(max_age=30, max_age_s=3.0, n_init=1, box_source="detection"))
    tr.set_frame_period(1 / 25)
    first = step(tr, {0: moving(0, 0)})[0].track_id
    for t in range(1, 4):
        step(tr, {0: moving(0, t)})
    for _ in range(50):  # two seconds behind an obstacle at 25 fps
        step(tr, {})
    out = step(tr, {0: moving(0, 4)})  # comes back where it was hidden (stopped behind it)
    assert [o.track_id for o in out] == [first]


def _shift_beyond_gate(tr: TrackerBase, box: Tuple[float, float, float, float]) -> float:
    """Return the sideways shift that puts ``box`` (the only track's last box) at 1.5x the 95 % gate's threshold.

    The squared Mahalanobis distance of the next prediction grows with the square of the shift. The shift exceeds
    0.7 x the box width, so the shifted box overlaps the old one by IoU < 0.2 and the IoU stage cannot take it.
    """
    t = tr.tracks[0]
    mean, cov = tr.kf.predict(t.mean[None], t.covariance[None])
    w, h = box[2] - box[0], box[3] - box[1]
    z = tr.kf.measurement(np.array([[box[0] + 10.0, box[1], w, h]], np.float32))  # 10 px to the right
    dx = 10.0 * float(np.sqrt(1.5 * 9.4877 / float(tr.kf.gating_distance(mean, cov, z)[0, 0])))
    assert dx > 0.7 * w
    return dx


def _jump_id(rate: float, period: float) -> Tuple[int, int]:
    """Return the IDs of a thin box before and right after it jumps sideways to 1.5x the gate's squared distance.

    The jump leaves the IoU stage (IoU < 0.2) and the recovery stage (the track was seen last frame) nothing to
    match: only the appearance cascade inside the Kalman gate can keep the ID.
    """
    tr = deepsort(Config(n_init=1, box_source="detection", gate_frame_rate=rate))
    tr.set_frame_period(period)
    box = (100.0, 100.0, 120.0, 300.0)  # 20 x 200
    for _ in range(6):
        before = step(tr, {0: box})[0].track_id
    dx = _shift_beyond_gate(tr, box)
    after = step(tr, {0: (box[0] + dx, box[1], box[2] + dx, box[3])})
    return before, after[0].track_id


@pytest.mark.parametrize("rate, period, kept", [
    (20.0, 1 / 10, True),  # 10 fps: the gate's threshold doubles
    (20.0, 1 / 7, True),
    (20.0, 1 / 25, False),  # at or above gate_frame_rate: DeepSORT's gate
    (20.0, None, False),  # no stamps, no frame rate
    (0.0, 1 / 10, False),  # off
])
def test_gate_widens_below_gate_frame_rate(rate: float, period: float, kept: bool) -> None:
    before, after = _jump_id(rate, period)
    assert (after == before) is kept


def _jump_after_loss_id(lost_scale: float) -> Tuple[int, int]:
    """Return the IDs of a thin box before and after one hidden frame, back 1.5x the gate's squared distance away.

    The track is then lost (2 frames since its last match): the IoU stage is not for it, the recovery stage needs
    IoU >= 0.2 and ``distinct_appearance`` is off, so only the appearance cascade inside the gate keeps the ID.
    """
    tr = deepsort(Config(n_init=1, box_source="detection", lost_gate_scale=lost_scale, distinct_appearance=0.0))
    tr.set_frame_period(1 / 25)  # gate_frame_rate leaves 25 fps alone
    box = (100.0, 100.0, 120.0, 300.0)  # 20 x 200
    for _ in range(6):
        before = step(tr, {0: box})[0].track_id
    step(tr, {})
    dx = _shift_beyond_gate(tr, box)
    after = step(tr, {0: (box[0] + dx, box[1], box[2] + dx, box[3])})
    return before, after[0].track_id


@pytest.mark.parametrize("lost_scale, kept", [(2.0, True), (1.0, False)])
def test_lost_tracks_get_a_wider_gate(lost_scale: float, kept: bool) -> None:
    before, after = _jump_after_loss_id(lost_scale)
    assert (after == before) is kept


def _jump_with_camera_id(shift: int, moving_scale: float) -> Tuple[int, int, float]:
    """Return the IDs of a thin box before and after a jump of 1.5x the gate's squared distance, and the camera shift.

    The frames show a blocky texture; in the jump's frame the camera pans ``shift`` pixels to the right (the scene
    moves left), so camera-motion compensation (sparse flow) warps the prediction by -``shift``. The box jumps from
    there; the track was seen last frame, so only the appearance cascade inside the gate can keep its ID.
    """
    rng = np.random.default_rng(5)
    texture = np.kron(rng.integers(0, 256, (50, 70)), np.ones((10, 10))).astype(np.uint8)  # 500 x 700

    def frame(x0: int) -> np.ndarray:
        return np.repeat(texture[10:490, x0:x0 + 640, None], 3, axis=2)

    tr = deepsort(Config(n_init=1, box_source="detection", moving_gate_scale=moving_scale, cmc="sparse_flow"))
    tr.set_frame_period(1 / 25)  # gate_frame_rate leaves 25 fps alone
    box = np.array([[300.0, 100.0, 320.0, 300.0]], np.float32)  # 20 x 200
    emb = APPEAR[0][None]
    for _ in range(6):
        before = tr.update(Detections(box, np.array([0.9]), np.array([0])), emb, frame(20))[0].track_id
    dx = _shift_beyond_gate(tr, tuple(box[0].tolist()))
    moved = box + np.array([dx - shift, 0.0, dx - shift, 0.0], np.float32)
    after = tr.update(Detections(moved, np.array([0.9]), np.array([0])), emb, frame(20 + shift))
    return before, after[0].track_id, tr.camera_shift


@pytest.mark.parametrize("shift, moving_scale, kept", [
    (8, 2.0, True),  # the camera moved: the gate doubles
    (8, 1.0, False),  # off
    (0, 2.0, False),  # the camera stood still: DeepSORT's gate
])
def test_gate_widens_while_the_camera_moves(shift: int, moving_scale: float, kept: bool) -> None:
    before, after, camera_shift = _jump_with_camera_id(shift, moving_scale)
    assert camera_shift == pytest.approx(shift, abs=0.5)
    assert (after == before) is kept


def test_gate_scale_follows_the_frame_period() -> None:
    tr = deepsort(Config(gate_frame_rate=20.0))
    for period, scale in ((None, 1.0), (1 / 30, 1.0), (1 / 20, 1.0), (1 / 10, 2.0), (1 / 8, 2.5), (1.0, 4.0)):
        tr.set_frame_period(period)
        assert tr.gate_scale == pytest.approx(scale)


def test_each_tracker_owns_its_ids() -> None:
    t1, t2 = deepsort(Config(n_init=1)), deepsort(Config(n_init=1))
    assert step(t1, {0: moving(0, 0)})[0].track_id == step(t2, {0: moving(0, 0)})[0].track_id == 1


def test_coasting_and_box_source() -> None:
    tr = deepsort(Config(n_init=1, publish_coasting=True, box_source="detection"))
    for t in range(5):
        out = step(tr, {0: moving(0, t)})
    assert out[0].matched and out[0].xyxy == pytest.approx(moving(0, 4))
    out = step(tr, {})
    assert len(out) == 1 and not out[0].matched and out[0].score == pytest.approx(0.9)
    tr2 = deepsort(Config(n_init=1, publish_coasting=False))
    step(tr2, {0: moving(0, 0)})
    assert step(tr2, {}) == []
    tr3 = deepsort(Config(n_init=1, box_source="kalman"))
    for t in range(3):
        out = step(tr3, {0: moving(0, t)})
    assert out[0].xyxy != pytest.approx(moving(0, 2), abs=1e-3)  # smoothed estimate
    assert out[0].xyxy == pytest.approx(moving(0, 2), abs=8)


def test_live_gate_changes_apply() -> None:
    tr = deepsort(Config(n_init=1, max_age=30))
    a = step(tr, {0: moving(0, 0)})[0].track_id
    tr.apply_config(Config(tracker="deepsort", n_init=1, max_age=3))  # applies to the live track too
    for _ in range(5):
        step(tr, {})
    assert tr.num_tracks == 0
    tr.apply_config(Config(tracker="deepsort", n_init=3, max_age=3))
    assert step(tr, {0: moving(0, 0)}) == [] and step(tr, {0: moving(0, 1)}) == []  # n_init 3: not yet
    assert [o.track_id for o in step(tr, {0: moving(0, 2)})] == [a + 1]


def test_mismatched_embeddings_rejected() -> None:
    tr = deepsort(Config())
    with pytest.raises(ValueError, match="one embedding per detection"):
        tr.update(Detections(np.zeros((2, 4)), np.ones(2), np.zeros(2)), np.zeros((1, 8), np.float32))


def test_degenerate_boxes_are_ignored() -> None:
    tr = deepsort(Config(n_init=1))
    det = Detections(np.array([[10, 10, 10, 50], [0, 0, 40, 40]], np.float32), np.ones(2), np.zeros(2))
    out = tr.update(det, np.stack([APPEAR[0], APPEAR[1]]))
    assert len(out) == 1 and out[0].xyxy == pytest.approx((0, 0, 40, 40))


def test_colors_and_drawing() -> None:
    assert id_color(5) == id_color(5)
    assert len({id_color(i) for i in range(1, 50)}) == 49
    img = np.full((120, 160, 3), 128, np.uint8)
    tracks = [TrackedObject(3, 0, 0.91, (10, 20, 60, 80)), TrackedObject(4, 7, 0.5, (100, 0, 170, 50), matched=False)]
    trails = Trails(5)
    for _ in range(3):
        trails.update(tracks)
    out = draw_tracks(img, tracks, {0: "person"}, trails)
    assert out.shape == img.shape and not np.array_equal(out, img) and np.array_equal(img, np.full_like(img, 128))
    assert tuple(int(v) for v in out[50, 10]) == id_color(3)  # box edge in the ID's colour
    assert label_text(tracks[0], {0: "person"}) == "person #3 0.91"
    assert label_text(tracks[1], {0: "person"}, show_score=False) == "7 #4"


def test_trails_are_bounded() -> None:
    trails = Trails(4)
    for i in range(100):
        trails.update([TrackedObject(i, 0, 1.0, (0, 0, 1, 1))])
    assert len(trails) <= 6
    assert len(trails.points(99)) == 1
