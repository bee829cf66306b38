"""``mot_track bag --depth-topic``: detections_3d from the depth and camera_info topics of a bag."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mot_ros.core.depth_synthetic import default_camera, rgbd_scene
from mot_ros.core import bagio
from mot_ros.tools.bag3d import register_3d_types, write_rgbd_bag
from mot_ros.tools.mot_track import main

from ros_harness import box_iou, det_boxes

COLOUR, DEPTH, INFO = "/camera/color/image_raw", "/camera/depth/image_raw", "/camera/color/camera_info"


@pytest.mark.parametrize("encoding,depth_size", [("16UC1", (320, 240)), ("32FC1", (640, 480))])
def test_bag_writes_detections_3d(tmp_path: Path, shapes_model: str, encoding: str, depth_size,  # type: ignore
                                  capsys: pytest.CaptureFixture) -> None:
    frames = list(rgbd_scene(depth_size=depth_size, n_frames=24))
    src = write_rgbd_bag(tmp_path / "in", frames, default_camera(), encoding)
    out = tmp_path / "out"
    rc = main(["bag", str(tmp_path / "in"), "--topic", COLOUR, "--depth-topic", DEPTH, "-o", str(out),
               "--model", shapes_model, "--quiet", "--annotated", "none", "--set", "embedder=histogram",
               "--set", "depth_extent_default=0.2", "--set", "device=cpu"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert src and "3d_objects=" in captured.out and "depth_bad=0" in captured.out
    store = bagio.make_typestore()
    register_3d_types(store)
    dets = bagio.read_topic(out, COLOUR + "/detections", store)
    d3 = bagio.read_topic(out, COLOUR + "/detections_3d", store)
    assert len(d3) == len(dets) == len(frames)  # one per colour frame, also when empty
    errs = []
    for (t2, m2), (t3, m3), fr in zip(dets, d3, frames):
        assert t2 == t3 and m3.header.stamp == m2.header.stamp
        assert m3.header.frame_id == "camera_color_optical_frame"
        ids2 = {d.id for d in m2.detections}
        assert {d.id for d in m3.detections} <= ids2
        boxes = {tid: box for tid, _, box in det_boxes(m2)}
        truth = {o.obj_id: o for o in fr.objects}
        for d in m3.detections:
            best = max(fr.shapes, key=lambda s: box_iou(boxes[d.id], s.box()))
            gt = truth[best.obj_id]
            p = d.bbox.center.position
            errs.append(np.linalg.norm(np.array([p.x, p.y, p.z]) - gt.position) / np.linalg.norm(gt.position))
    assert len(errs) > 100 and float(np.median(errs)) <= 0.03, np.median(errs)
    print(f"\n{encoding} {depth_size}: median 3D position error {100 * float(np.median(errs)):.2f} % of the distance "
          f"over {len(errs)} objects; {captured.out.strip().splitlines()[-2]}")


def test_bag_missing_depth_topic_is_a_clear_error(tmp_path: Path, shapes_model: str,
                                                  capsys: pytest.CaptureFixture) -> None:
    write_rgbd_bag(tmp_path / "in", list(rgbd_scene(n_frames=2)), default_camera())
    rc = main(["bag", str(tmp_path / "in"), "--topic", COLOUR, "--depth-topic", "/nope", "-o",
               str(tmp_path / "out"), "--model", shapes_model, "--quiet"])
    assert rc != 0
    err = capsys.readouterr().err
    assert "'/nope' not found" in err and DEPTH in err
