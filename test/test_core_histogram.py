"""The default appearance embedder: colour histograms of four stripes of the box's middle (no ROS)."""
from __future__ import annotations

import numpy as np

from conftest import SHARED_DATA, needs_shared

from mot_ros.core.embedders import HistogramEmbedder, make_embedder
from mot_ros.core.mot_format import load_rows, read_image


def _person(top: tuple, bottom: tuple, side: tuple = (90, 160, 90)) -> np.ndarray:
    """A 200x100 BGR 'person': top and bottom halves in two colours, background-coloured side columns."""
    img = np.zeros((200, 100, 3), np.uint8)
    img[:, :] = side
    img[:100, 15:85] = top
    img[100:, 15:85] = bottom
    return img


def _embed(img: np.ndarray) -> np.ndarray:
    return make_embedder("histogram", "cpu").embed(img, np.array([[0, 0, img.shape[1], img.shape[0]]], np.float32))[0]


def test_shape_norm_and_empty() -> None:
    e = make_embedder("histogram", "cpu")
    assert isinstance(e, HistogramEmbedder) and e.dim == 512
    f = e.embed(_person((0, 0, 200), (200, 0, 0)), np.array([[0, 0, 100, 200], [10, 10, 12, 11]], np.float32))
    assert f.shape == (2, 512) and f.dtype == np.float32
    assert np.allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)  # a 2x1 box still gives a feature
    assert e.embed(_person((0, 0, 200), (200, 0, 0)), np.zeros((0, 4), np.float32)).shape == (0, 512)


def test_side_margins_are_ignored() -> None:
    """The outer columns of a box (background beside a standing person) do not change the feature."""
    a = _embed(_person((0, 0, 200), (200, 0, 0), side=(90, 160, 90)))
    b = _embed(_person((0, 0, 200), (200, 0, 0), side=(250, 250, 250)))
    assert float(a @ b) > 0.999


def test_body_parts_and_brightness_tell_people_apart() -> None:
    """Swapped upper and lower clothing, or dark against light grey, are different people."""
    red_blue = _embed(_person((0, 0, 200), (200, 0, 0)))
    blue_red = _embed(_person((200, 0, 0), (0, 0, 200)))
    dark = _embed(_person((40, 40, 40), (40, 40, 40)))
    light = _embed(_person((200, 200, 200), (200, 200, 200)))
    assert 1.0 - float(red_blue @ blue_red) > 0.5  # one global histogram could not tell these apart
    assert 1.0 - float(dark @ light) > 0.5  # hue x saturation alone could not either
    rng = np.random.default_rng(0)
    noisy = [np.clip(_person((0, 0, 170), (170, 0, 0)) + rng.normal(0, 6, (200, 100, 3)), 0, 255).astype(np.uint8)
             for _ in range(2)]
    assert 1.0 - float(_embed(noisy[0]) @ _embed(noisy[1])) < 0.05  # the same person in two noisy frames


@needs_shared
def test_separates_the_people_of_tud_campus_at_the_default_gate() -> None:
    """At max_cosine_distance 0.2, most views of one person match and few of different people do (TUD-Campus)."""
    seq = SHARED_DATA / "mot" / "TUD-Campus"
    gt = load_rows(seq / "gt" / "gt.txt", min_columns=7)
    e = make_embedder("histogram", "cpu")
    feats, ids, frames = [], [], []
    for f in range(1, 72, 2):
        rows = gt[gt[:, 0] == f]
        boxes = np.c_[rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]].astype(np.float32)
        feats.append(e.embed(read_image(seq / "img1" / f"{f:06d}.jpg"), boxes))
        ids += rows[:, 1].astype(int).tolist()
        frames += [f] * len(rows)
    x, ida, fra = np.concatenate(feats), np.array(ids), np.array(frames)
    d = 1.0 - x @ x.T
    gap = np.abs(fra[:, None] - fra[None, :])
    pairs = (gap > 0) & (gap <= 30)
    same, other = d[pairs & (ida[:, None] == ida[None, :])], d[pairs & (ida[:, None] != ida[None, :])]
    assert np.mean(same <= 0.2) > 0.7, np.mean(same <= 0.2)
    assert np.mean(other <= 0.2) < 0.05, np.mean(other <= 0.2)
