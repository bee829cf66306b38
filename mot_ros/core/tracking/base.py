"""The one interface every tracker implements, and the ID mapping shared by the wrappers.

A tracker turns one frame's detections (plus, when it asks for them, one
appearance embedding per detection and the BGR frame) into the confirmed
tracks to publish. Each returned :class:`~mot_ros.core.types.TrackedObject`
carries ``det_index``: the index into that frame's detections of the
detection matched to the track, or -1 while the track coasts.

Rules (tested for every registered tracker):

* ``needs_appearance`` False: the pipeline makes no embedding call and passes
  ``embeddings=None``.
* ``needs_frame`` False: ``frame`` may be None (offline runs on cached
  detections still pass it when they have it).
* ``reset()`` drops every track; IDs keep counting up, never reused.
* A tracker built with ``first_id=N`` hands out IDs N, N+1, ... so that a
  switch of tracker at run time continues the ID sequence (``next_id``).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Dict, Hashable, List, Optional

import numpy as np

from ..config import Config
from ..types import Detections, TrackedObject


class TrackerBase(ABC):
    """Base class of every tracker behind the ``tracker`` parameter.

    Args:
        config: The validated parameters.
        first_id: The first track ID this instance hands out.
    """

    name: str = ""
    """Registry name (the value of the ``tracker`` parameter)."""

    def __init__(self, config: Config, first_id: int = 1) -> None:
        self.config = config
        self.ids = IdMap(first_id)
        self.frame_period: Optional[float] = None
        """Seconds between the frames this tracker is fed (measured by the pipeline from the stamps); None when
        unknown. Trackers that count time in frames may use it to turn seconds into frames."""

    def set_frame_period(self, seconds: Optional[float]) -> None:
        """Tell the tracker the time between its frames (None: unknown)."""
        if seconds is not None and not seconds > 0:
            raise ValueError(f"set_frame_period: expected seconds > 0 or None, got {seconds}")
        self.frame_period = seconds

    @property
    def needs_appearance(self) -> bool:
        """True when ``update`` uses embeddings (may depend on the config)."""
        return False

    def appearance_mask(self, detections: Detections) -> Optional[np.ndarray]:
        """Detections whose embeddings ``update`` reads (boolean mask), or None for all of them.

        The pipeline embeds only these; the other rows of ``embeddings`` are zeros.
        """
        return None

    @property
    def needs_frame(self) -> bool:
        """True when ``update`` uses the image (camera-motion compensation, library re-ID)."""
        return False

    def prefetch(self, frame: np.ndarray) -> None:
        """Start the work that needs only the frame (camera motion) while the detector runs; a no-op by default.

        The next ``update`` with this same frame picks it up. The pipeline calls it before detecting.
        """

    @abstractmethod
    def update(self, detections: Detections, embeddings: Optional[np.ndarray] = None,
               frame: Optional[np.ndarray] = None) -> List[TrackedObject]:
        """Advance one frame; return the confirmed tracks to publish (with ``det_index``)."""

    @abstractmethod
    def reset(self) -> None:
        """Drop all tracks; IDs keep counting up (no reuse)."""

    def apply_config(self, config: Config) -> None:
        """Apply settings that need no rebuild (the registry rebuilds on any other change)."""
        self.config = config

    @property
    @abstractmethod
    def num_tracks(self) -> int:
        """Tracks alive (tentative, confirmed and lost)."""

    @property
    def next_id(self) -> int:
        """The ID the next new track will get."""
        return self.ids.next_id


class IdMap:
    """Maps a library's own track IDs to this instance's public IDs, counting up from ``first_id``.

    Libraries such as ultralytics keep a process-wide ID counter; the map gives
    every tracker instance its own sequence and lets a new instance continue
    where the previous one stopped.
    """

    def __init__(self, first_id: int = 1) -> None:
        if first_id < 1:
            raise ValueError(f"first_id: expected an integer >= 1, got {first_id}")
        self.next_id = int(first_id)
        self._map: Dict[Hashable, int] = {}

    def new(self) -> int:
        """Hand out the next ID (for trackers that create their own tracks)."""
        i = self.next_id
        self.next_id += 1
        return i

    def get(self, key: Hashable) -> int:
        """Public ID of the library's track ``key``; new keys get the next ID."""
        i = self._map.get(key)
        if i is None:
            i = self._map[key] = self.new()
        return i

    def forget(self, keep: "set[Hashable] | None" = None) -> None:
        """Drop mappings (all, or all but ``keep``); forgotten keys never get their old ID back."""
        if keep is None:
            self._map.clear()
        else:
            self._map = {k: v for k, v in self._map.items() if k in keep}
