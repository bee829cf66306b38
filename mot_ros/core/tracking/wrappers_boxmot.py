"""``boxmot_<name>``: boxmot's trackers (AGPL-3.0), wrapped with their stock settings and fed our embeddings.

boxmot 25.0.0 is installed with ``pip install --no-deps -r
requirements-boxmot.txt`` (its declared dependencies would downgrade
opencv-python and replace ``lap`` with ``lapx``; the tracker classes need only
``rich`` beyond our venv). Each tracker is its public class (``boxmot.StrongSort``,
...) built with the defaults of its ``configs/trackers/<name>.yaml``
(``boxmot.trackers.config.load_tracker_defaults``) and updated with
``update(Detections(..., embeddings=ours), frame)``; the output's
``detection_indices`` give ``det_index``.

**No re-ID backend is ever built.** boxmot builds one lazily (and its ONNX
backend pip-installs a pinned onnxruntime) when an appearance tracker gets no
embeddings. Appearance trackers are constructed with ``reid_model`` set to
:class:`_NoReID`, a stand-in whose ``get_features`` raises, so boxmot's lazy
construction never runs; and ``update`` refuses a frame without embeddings
before boxmot sees it. ``test/test_tracking_registry.py`` proves that nothing
is installed.

Their thresholds are boxmot's own (stock settings, e.g. StrongSORT
``min_conf`` 0.6); the pipeline gives them every detection above the
detector floor. Only ``publish_coasting`` and ``box_source`` of our schema apply.
"""
from __future__ import annotations

import logging
from typing import Any, List, Optional

import numpy as np

from ..config import Config
from ..types import Detections, TrackedObject
from .base import TrackerBase

INSTALL_HINT = "pip install --no-deps -r requirements-boxmot.txt"

FORGET_AFTER_FRAMES = 1000
"""A library ID not output for this many frames is dropped from the ID map (longer than any stock max_age)."""


class _NoReID:
    """A ``reid_model`` that refuses to compute features: boxmot must never build or run a re-ID backend."""

    def get_features(self, boxes: Any, image: Any) -> Any:
        """Refuse (mot_ros always supplies the embeddings)."""
        raise RuntimeError("boxmot asked for re-ID features; mot_ros supplies its own embeddings and never runs "
                           "boxmot's re-ID backends")


BOXMOT_CLASSES = {"strongsort": "StrongSort", "occluboost": "OccluBoost", "hybridsort": "HybridSort",
                  "ocsort": "OcSort", "botsort": "BotSort", "bytetrack": "ByteTrack", "deepocsort": "DeepOcSort",
                  "boosttrack": "BoostTrack"}
"""boxmot tracker name -> its public class (``boxmot.<Class>``), for the ones wrapped here."""


def build_boxmot_tracker(library: str) -> Any:
    """Build boxmot's tracker ``library`` with its stock settings (appearance trackers: :class:`_NoReID`).

    Raises:
        ValueError: boxmot is not installed, or ``library`` is not one of ``BOXMOT_CLASSES``.
    """
    if library not in BOXMOT_CLASSES:
        raise ValueError(f"boxmot tracker: expected one of {list(BOXMOT_CLASSES)}, got {library!r}")
    try:
        import boxmot
        from boxmot.trackers.config import load_tracker_defaults
    except ImportError as exc:
        raise ValueError(f"tracker: the boxmot_* trackers need the boxmot package (AGPL-3.0), installed with "
                         f"'{INSTALL_HINT}'; it cannot be imported: {exc}") from exc
    cls = getattr(boxmot, BOXMOT_CLASSES[library])  # imports the module, which configures boxmot's logger
    logging.getLogger("boxmot").setLevel(logging.WARNING)  # it logs every construction at INFO on stderr
    kwargs = dict(load_tracker_defaults(library))
    if getattr(cls, "accepts_embeddings", False):
        kwargs["reid_model"] = _NoReID()
    return cls(**kwargs)


class _BoxmotTracker(TrackerBase):
    """Common wrapper: ``_library`` is boxmot's tracker name (a key of ``BOXMOT_CLASSES``)."""

    _library = ""

    def __init__(self, config: Config, first_id: int = 1) -> None:
        super().__init__(config, first_id)
        self._t = build_boxmot_tracker(self._library)
        self._frame = 0
        self._seen: dict = {}  # library ID -> last frame it was output (to forget dead IDs)

    @property
    def needs_appearance(self) -> bool:
        """When boxmot's tracker uses embeddings in its stock settings."""
        return bool(self._t.requirements.embeddings)

    @property
    def needs_frame(self) -> bool:
        """When it needs the image (camera-motion compensation, frame size)."""
        req = self._t.requirements
        return bool(req.frame or req.frame_dimensions_only)

    @property
    def num_tracks(self) -> int:
        """Tracks boxmot keeps alive."""
        for attr in ("tracks", "trackers", "active_tracks"):
            v = getattr(self._t, attr, None)
            if isinstance(v, list):
                return len(v)
        return 0

    def reset(self) -> None:
        """Reset boxmot's tracker; its IDs restart, ours keep counting up."""
        self._t.reset()
        self.ids.forget()
        self._seen.clear()

    def update(self, detections: Detections, embeddings: Optional[np.ndarray] = None,
               frame: Optional[np.ndarray] = None) -> List[TrackedObject]:
        """Advance one frame through boxmot's ``update`` with a boxmot ``Detections`` and the frame."""
        import torch
        from boxmot.structures import Boxes
        from boxmot.structures import Detections as BoxmotDetections

        embs = None
        if self.needs_appearance:
            if embeddings is None or len(embeddings) != len(detections):
                raise ValueError(f"update: expected one embedding per detection ({len(detections)}), "
                                 f"got {'none' if embeddings is None else len(embeddings)}")
            embs = torch.from_numpy(np.ascontiguousarray(embeddings, np.float32).reshape(len(detections), -1))
        if self.needs_frame and frame is None:
            raise ValueError(f"update: {self.name} needs the frame (camera-motion compensation), got None")
        self._frame += 1
        xyxy = np.ascontiguousarray(detections.xyxy, np.float32)
        dets = BoxmotDetections(geometry=Boxes(torch.from_numpy(xyxy)),
                                scores=torch.from_numpy(np.clip(detections.scores, 0.0, 1.0).astype(np.float32)),
                                class_ids=torch.from_numpy(np.maximum(detections.classes, 0).astype(np.int64)),
                                sample_id=f"frame{self._frame}", embeddings=embs)
        tracks = self._t.update(dets, frame)
        boxes = tracks.geometry.values.detach().cpu().numpy()
        lib_ids = tracks.track_ids.tolist()
        scores = tracks.scores.tolist()
        classes = tracks.class_ids.tolist()
        det_idx = tracks.detection_indices.tolist()
        use_det_box = self.config.box_source == "detection"
        out: List[TrackedObject] = []
        for box, lib_id, score, cls, idx in zip(boxes, lib_ids, scores, classes, det_idx):
            matched = idx >= 0
            if not matched and not self.config.publish_coasting:
                continue
            b = detections.xyxy[idx] if matched and use_det_box else box
            self._seen[int(lib_id)] = self._frame
            out.append(TrackedObject(track_id=self.ids.get(int(lib_id)), class_id=int(cls), score=float(score),
                                     xyxy=tuple(float(v) for v in b), matched=matched,
                                     time_since_update=0 if matched else 1, det_index=int(idx)))
        if self._frame % FORGET_AFTER_FRAMES == 0:  # boxmot never reuses an ID: forget the long-unseen ones
            self._seen = {k: f for k, f in self._seen.items() if self._frame - f < FORGET_AFTER_FRAMES}
            self.ids.forget(keep=set(self._seen))
        return out


def _wrapper(library: str) -> type:
    cls = BOXMOT_CLASSES[library]
    doc = f"boxmot's ``{cls}`` (``{library}``) with its stock settings."
    return type(f"Boxmot{cls}", (_BoxmotTracker,), {"_library": library, "name": f"boxmot_{library}",
                                                    "__doc__": doc, "__module__": __name__})


BoxmotStrongSort = _wrapper("strongsort")
BoxmotOccluBoost = _wrapper("occluboost")
BoxmotHybridSort = _wrapper("hybridsort")
BoxmotOcSort = _wrapper("ocsort")
BoxmotBotSort = _wrapper("botsort")
BoxmotByteTrack = _wrapper("bytetrack")
BoxmotDeepOcSort = _wrapper("deepocsort")
BoxmotBoostTrack = _wrapper("boosttrack")
