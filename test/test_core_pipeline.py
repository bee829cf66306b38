"""The whole ROS-free pipeline with the real shapes detector."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from mot_ros.core.config import Config
from mot_ros.core.detector import ModelError, YoloDetector, resolve_device
from mot_ros.core.pipeline import Pipeline
from mot_ros.core.synthetic import crossing_scene
from mot_ros.core.types import Detections

FRAMES = list(crossing_scene(640, 480, n_frames=40))


@pytest.fixture(scope="module")
def pipeline(shapes_model: str) -> Pipeline:
    return Pipeline(Config(model=shapes_model, device="cpu", imgsz=320, embedder_size=64))


def test_detector_finds_the_shapes(pipeline: Pipeline) -> None:
    det = pipeline.detect(FRAMES[0].image)
    assert len(det) == 3
    assert sorted(det.classes.tolist()) == [0, 1, 2]
    assert pipeline.names == {0: "circle", 1: "square", 2: "triangle"}


def test_tracks_and_timings(pipeline: Pipeline) -> None:
    pipeline.reset()
    ids = set()
    for i, f in enumerate(FRAMES):
        r = pipeline.process(f.image, stamp=10.0 + i * 0.1)
        if i >= 3:
            assert len(r.tracks) >= 2
        ids |= {t.track_id for t in r.tracks}
    assert len(ids) == 3, f"expected 3 stable IDs over the crossing, got {sorted(ids)}"
    assert set(r.timings_ms) == {"detect", "embed", "associate"}
    ann = pipeline.annotate(FRAMES[-1].image, r)
    assert ann.shape == FRAMES[-1].image.shape and not np.array_equal(ann, FRAMES[-1].image)


def test_time_jump_back_resets_tracker(pipeline: Pipeline, caplog: pytest.LogCaptureFixture) -> None:
    pipeline.reset()
    for i in range(5):
        pipeline.process(FRAMES[i].image, stamp=100.0 + i * 0.1)
    before = {t.track_id for t in pipeline.process(FRAMES[5].image, stamp=100.5).tracks}
    pipeline.process(FRAMES[6].image, stamp=100.5)  # repeated stamp: processed normally
    r = pipeline.process(FRAMES[7].image, stamp=100.45)  # small reorder: processed normally
    assert not r.reset
    with caplog.at_level(logging.WARNING):
        r = pipeline.process(FRAMES[8].image, stamp=50.0)  # a bag looping
    assert r.reset and "time jumped back" in caplog.text
    for i in range(9, 12):
        r = pipeline.process(FRAMES[i].image, stamp=50.0 + i * 0.1)
    after = {t.track_id for t in r.tracks}
    assert after and min(after) > max(before), "IDs restart above the old ones, never reused"
    r = pipeline.process(FRAMES[12].image, stamp=None)  # zero/unknown stamps never reset
    assert not r.reset


def test_frame_period_from_stamps_reaches_the_tracker(shapes_model: str) -> None:
    """max_age_s needs the frame rate: the median gap of the stamps, None without stamps, restarted by a jump."""
    p = Pipeline(Config(model=shapes_model, device="cpu", embedder="histogram", n_init=1, max_age=30,
                        max_age_s=3.0), load_detector=False)
    det = Detections(np.array([[100, 100, 160, 220]], np.float32), [0.9], [0])
    none = Detections(np.zeros((0, 4), np.float32), np.zeros(0), np.zeros(0, int))
    p.process(FRAMES[0].image, stamp=None, detections=det)
    assert p.frame_period is None and p.tracker.frame_period is None
    stamps = [10.0, 10.04, 10.08, 10.20, 10.24]  # 25 fps with one dropped frame pair
    for s in stamps:
        p.process(FRAMES[0].image, stamp=s, detections=det)
    assert p.frame_period == pytest.approx(0.04) and p.tracker.frame_period == pytest.approx(0.04)
    for i in range(1, 61):  # 2.4 s hidden at 25 fps: longer than max_age frames, shorter than max_age_s
        p.process(FRAMES[0].image, stamp=10.24 + 0.04 * i, detections=none)
    assert p.num_tracks == 1 and p.lost_track_frames == 75  # 3 s at 25 fps
    p.process(FRAMES[0].image, stamp=1.0, detections=det)  # a bag looping: the rate is measured again
    assert p.frame_period is None and p.lost_track_frames == 30
    p.reset()
    assert p.frame_period is None


def test_given_detections_and_class_filter(shapes_model: str) -> None:
    p = Pipeline(Config(model=shapes_model, device="cpu", embedder="histogram", classes=["square"], n_init=1))
    det = Detections(np.array([[10, 10, 50, 50], [100, 100, 160, 160]], np.float32), [0.9, 0.8], [0, 1])
    r = p.process(FRAMES[0].image, detections=det)
    assert [t.class_id for t in r.tracks] == [1]
    assert p.class_map() == {1: "square"}


def test_only_detections_the_tracker_reads_are_embedded(shapes_model: str) -> None:
    """Low-score detections (second association, IoU only) cost no embedding."""
    from mot_ros.core.embedders import HistogramEmbedder

    class Recording(HistogramEmbedder):
        boxes: list = []

        def embed(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
            self.boxes.append(np.array(xyxy))
            return super().embed(frame, xyxy)

    emb = Recording()
    cfg = Config(model=shapes_model, device="cpu", embedder="histogram", conf_threshold=0.5, low_conf_threshold=0.1)
    p = Pipeline(cfg, load_detector=False, embedder=emb)
    xyxy = np.array([[10, 10, 50, 50], [100, 100, 160, 160], [200, 200, 260, 260]], np.float32)
    det = Detections(xyxy, [0.9, 0.2, 0.6], [0, 1, 2])
    for _ in range(3):
        r = p.process(FRAMES[0].image, detections=det)
    assert len(emb.boxes) == 3 and all(np.array_equal(b, xyxy[[0, 2]]) for b in emb.boxes)
    assert sorted(t.det_index for t in r.tracks) == [0, 2]  # a low box never starts a track


def test_runtime_config_and_refused_reload(pipeline: Pipeline, shapes_model: str) -> None:
    old = pipeline.config
    pipeline.apply_config(old.replace(conf_threshold=0.99, low_conf_threshold=0.5))
    assert pipeline.detection_floor == 0.5 and len(pipeline.detect(FRAMES[0].image)) == 3  # detector at the floor
    pipeline.apply_config(old.replace(conf_threshold=0.99, low_conf_threshold=0.99))
    assert len(pipeline.detect(FRAMES[0].image)) == 0
    with pytest.raises(ModelError, match="model"):
        pipeline.apply_config(old.replace(model="/does/not/exist.pt"))
    with pytest.raises(ValueError, match="unknown class name 'dog'"):
        pipeline.apply_config(old.replace(classes=("dog",)))
    assert pipeline.config.conf_threshold == 0.99 and pipeline.detector is not None  # unchanged by refusals
    for i in range(4):
        pipeline.process(FRAMES[i].image)
    pipeline.apply_config(old.replace(embedder="mobilenet"))
    assert pipeline.embedder.name == "mobilenet"
    for i in range(4, 8):  # the stored appearance came from another embedder: no crash, tracks restart
        r = pipeline.process(FRAMES[i].image)
    assert r.tracks
    pipeline.apply_config(old)
    assert pipeline.embedder.name == "histogram" and len(pipeline.detect(FRAMES[0].image)) == 3


def test_model_faults(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model: file 'yolov8n.pt' not found.*never downloads"):
        YoloDetector("yolov8n.pt", "cpu")
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"\x00not a model" * 100)
    with pytest.raises(ModelError, match="could not load"):
        YoloDetector(str(bad), "cpu")
    with pytest.raises(ModelError, match="is a directory"):
        YoloDetector(str(tmp_path), "cpu")


def test_cuda_requested_without_gpu() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ModelError, match="no CUDA GPU is available.*device:=cpu"):
        resolve_device("cuda:0")


def test_bad_frame_shape_rejected(pipeline: Pipeline) -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        pipeline.process(np.zeros((10, 10), np.uint8))


def test_segmentation_model_boxes_used_and_classifier_refused(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    from ultralytics import YOLO

    seg, cls = tmp_path / "seg.pt", tmp_path / "cls.pt"
    YOLO("yolov8n-seg.yaml").save(str(seg))  # untrained, built offline from the yaml
    YOLO("yolov8n-cls.yaml").save(str(cls))
    with caplog.at_level(logging.WARNING):
        d = YoloDetector(str(seg), "cpu")
    assert d.task == "segment" and "using its boxes" in caplog.text
    assert isinstance(d.detect(FRAMES[0].image, imgsz=64), Detections)
    with pytest.raises(ModelError, match="'classify' model; expected a detection model"):
        YoloDetector(str(cls), "cpu")
