"""``python -m mot_ros.tools.bench``: stage-by-stage benchmark of mot_ros (``make bench``).

A benchmark, not a test: nothing here asserts a time. It prints a table and
writes JSON with four parts, all measured in one run on one machine:

1. **Stages.** Synthetic scenes (``mot_ros.core.synthetic.random_scene``) at
   each ``--sizes`` with each ``--objects`` count. Per frame it times convert
   (``sensor_msgs/Image`` -> BGR), detect (the detector on the same frame),
   embed and associate (``Pipeline.process`` fed the ground-truth boxes, so
   exactly N objects reach them), messages (``Detection2DArray``), publish
   (rclpy, no subscriber) and draw (annotated image and its message). The
   whole pipeline (all but draw) is compared with the detector alone.
2. **Appearance.** Every embedder setting on the same frames with
   ``--embed-objects`` objects, as a ratio to the detector's forward pass, and
   deep-sort-realtime's own tracker against ours at the largest object count.
3. **Node.** ``tracker_node`` in its own process over DDS, fed at ``--rate`` Hz
   for ``--node-seconds`` by this process; latency from the input stamp to the
   arrival of its ``detections``, processed and dropped counts, the latency
   trend, and the node's own per-stage timings from ``/diagnostics``.
4. **Memory.** Resident memory of a tracker over ``--memory-frames`` frames of
   synthetic detections with random appearance vectors and churning IDs.

Detector for the stages: the COCO YOLOv8n int8 ONNX when present (onnxruntime,
as a robot without a GPU would run it), else an untrained ``yolov8n.yaml``
(PyTorch, same architecture and cost, random weights). The appearance section
also times the PyTorch YOLOv8n, the faster of the two on a CPU.
"""
from __future__ import annotations

from .cli import build_parser, main, parse_node_runs
from .common import parse_ints, parse_sizes, summary

__all__ = ["build_parser", "main", "parse_ints", "parse_node_runs", "parse_sizes", "summary"]
