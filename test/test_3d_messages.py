"""The 3D messages, without DDS.

The vision_msgs 3D messages built into the venv match vision_msgs 4.1.1 field
for field, and the 3D outputs' messages are built as documented.
"""
from __future__ import annotations

import numpy as np

from mot_ros.core.depth3d import Object3D


def test_vision_msgs_3d_fields_match_4_1_1() -> None:
    from vision_msgs.msg import BoundingBox3D, Detection3D, Detection3DArray

    expect = {
        Detection3DArray: [("header", "std_msgs/Header"), ("detections", "sequence<vision_msgs/Detection3D>")],
        Detection3D: [("header", "std_msgs/Header"), ("results", "sequence<vision_msgs/ObjectHypothesisWithPose>"),
                      ("bbox", "vision_msgs/BoundingBox3D"), ("id", "string")],
        BoundingBox3D: [("center", "geometry_msgs/Pose"), ("size", "geometry_msgs/Vector3")],
    }
    for cls, fields in expect.items():
        assert list(cls.get_fields_and_field_types().items()) == fields, cls.__name__


def _obj(tid: int = 4) -> Object3D:
    cov = np.diag([0.01, 0.02, 0.03, 0.1, 0.2, 0.3])
    return Object3D(tid, 1, 0.8, np.array([0.5, -0.2, 3.0]), np.array([1.0, 0.0, -0.5]), cov,
                    np.array([0.4, 0.6, 0.2]))


def test_detections_3d_odometry_and_markers_messages() -> None:
    from std_msgs.msg import Header
    from visualization_msgs.msg import Marker

    from mot_ros.core.drawing import id_color
    from mot_ros.ros.depth_io import detections_3d_msg, markers_msg, odometry_msgs

    h = Header(frame_id="camera_color_optical_frame")
    h.stamp.sec = 7
    arr = detections_3d_msg(h, [_obj()])
    d = arr.detections[0]
    assert arr.header == h and d.header == h and d.id == "4"
    assert d.results[0].hypothesis.class_id == "1" and abs(d.results[0].hypothesis.score - 0.8) < 1e-6
    assert (d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.center.position.z) == (0.5, -0.2, 3.0)
    assert (d.bbox.size.x, d.bbox.size.y, d.bbox.size.z) == (0.4, 0.6, 0.2)
    cov = np.array(d.results[0].pose.covariance).reshape(6, 6)
    np.testing.assert_allclose(np.diag(cov)[:3], [0.01, 0.02, 0.03])
    assert detections_3d_msg(h, []).detections == []
    od = odometry_msgs(h, [_obj()])[0]
    assert od.child_frame_id == "track_4" and od.header == h
    assert (od.twist.twist.linear.x, od.twist.twist.linear.z) == (1.0, -0.5)
    np.testing.assert_allclose(np.diag(np.array(od.twist.covariance).reshape(6, 6))[:3], [0.1, 0.2, 0.3])
    m = markers_msg(h, [_obj(), _obj(9)], {1: "square"}).markers
    assert m[0].action == Marker.DELETEALL
    assert [x.ns for x in m[1:4]] == ["mot_boxes", "mot_labels", "mot_velocity"]
    assert m[2].text == "square #4"
    b, g, r = id_color(9)
    cube9 = next(x for x in m if x.ns == "mot_boxes" and x.id == 9)
    assert (round(cube9.color.r * 255), round(cube9.color.g * 255), round(cube9.color.b * 255)) == (r, g, b)
    arrow = m[3]
    assert [(p.x, p.y, p.z) for p in arrow.points] == [(0.5, -0.2, 3.0), (1.5, -0.2, 2.5)]
