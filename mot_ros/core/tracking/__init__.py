"""Multi-object trackers behind one interface (:class:`TrackerBase`) and one registry.

``make_tracker(config, first_id=1)`` builds the tracker named by the
``tracker`` parameter; ``tracker_names()`` lists the valid names.
"""
from .base import IdMap, TrackerBase
from .registry import REGISTRY, TrackerInfo, make_tracker, needs_rebuild, tracker_info, tracker_names

__all__ = ["IdMap", "REGISTRY", "TrackerBase", "TrackerInfo", "make_tracker", "needs_rebuild", "tracker_info",
           "tracker_names"]
