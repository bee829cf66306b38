"""The trackers behind the ``tracker`` parameter, by name.

Each entry has a one-line description, a factory ``(config, first_id) ->
TrackerBase`` that imports its library only when called, and the parameters
whose change needs a rebuild of the tracker (the pipeline rebuilds it with
``first_id`` = the old tracker's ``next_id``, so IDs keep counting up; every
other change goes to the live tracker's ``apply_config``).

The names are also the ``tracker`` parameter's choices in
:mod:`mot_ros.core.config` (``TRACKER_NAMES`` there); a test keeps the two equal.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Callable, Dict, FrozenSet, List, Tuple

from ..config import TRACKER_NAMES, Config
from .base import TrackerBase

Factory = Callable[[Config, int], TrackerBase]


@dataclass(frozen=True)
class TrackerInfo:
    """One registered tracker.

    Attributes:
        name: Registry name (value of the ``tracker`` parameter).
        description: One line for the README and ``mot_track compare``.
        target: ``module:Class`` of the implementation, imported on first use.
        rebuild_fields: Parameters whose change rebuilds the tracker (tracks restart, IDs continue).
    """

    name: str
    description: str
    target: str
    rebuild_fields: FrozenSet[str] = frozenset()

    def factory(self) -> Factory:
        """Return the implementation class (imports its module)."""
        module, cls = self.target.split(":")
        return getattr(import_module(module, __package__), cls)


_UL_REBUILD = frozenset({"ul_gmc_method", "ul_with_reid"})
_BOXMOT_REBUILD: FrozenSet[str] = frozenset()  # stock settings: none of our tracker parameters applies

_ENTRIES: Tuple[TrackerInfo, ...] = (
    TrackerInfo("deepsort", "mot_ros DeepSORT (ours, the default): appearance cascade or fused cost on our "
                "embeddings, ByteTrack second association, camera-motion compensation, EMA features, NSA Kalman, "
                "recovery", ".deepsort:DeepSortTracker"),
    TrackerInfo("deepsort_realtime", "deep-sort-realtime's DeepSort as its tutorial drives it, fed our embeddings",
                ".wrappers_deepsort_realtime:DeepSortRealtimeTracker",
                frozenset({"max_age", "n_init", "max_cosine_distance", "max_iou_distance", "nn_budget",
                           "gating_only_position"})),
    TrackerInfo("bytetrack", "ultralytics' BYTETracker (motion only, no appearance)",
                ".wrappers_ultralytics:ByteTrackTracker", _UL_REBUILD),
    TrackerInfo("botsort", "ultralytics' BOTSORT: ByteTrack with camera-motion compensation (ul_gmc_method) and "
                "optional re-ID on our embeddings (ul_with_reid)", ".wrappers_ultralytics:BotSortTracker",
                _UL_REBUILD),
    TrackerInfo("boxmot_strongsort", "boxmot StrongSORT (ECC camera-motion compensation, EMA appearance), "
                "fed our embeddings; AGPL-3.0", ".wrappers_boxmot:BoxmotStrongSort", _BOXMOT_REBUILD),
    TrackerInfo("boxmot_occluboost", "boxmot OccluBoost, fed our embeddings; AGPL-3.0",
                ".wrappers_boxmot:BoxmotOccluBoost", _BOXMOT_REBUILD),
    TrackerInfo("boxmot_hybridsort", "boxmot HybridSORT, fed our embeddings; AGPL-3.0",
                ".wrappers_boxmot:BoxmotHybridSort", _BOXMOT_REBUILD),
    TrackerInfo("boxmot_ocsort", "boxmot OC-SORT (motion only); AGPL-3.0",
                ".wrappers_boxmot:BoxmotOcSort", _BOXMOT_REBUILD),
    TrackerInfo("boxmot_botsort", "boxmot BoT-SORT (camera-motion compensation), fed our embeddings; AGPL-3.0",
                ".wrappers_boxmot:BoxmotBotSort", _BOXMOT_REBUILD),
    TrackerInfo("boxmot_bytetrack", "boxmot ByteTrack (motion only); AGPL-3.0",
                ".wrappers_boxmot:BoxmotByteTrack", _BOXMOT_REBUILD),
    TrackerInfo("boxmot_deepocsort", "boxmot Deep OC-SORT, fed our embeddings; AGPL-3.0",
                ".wrappers_boxmot:BoxmotDeepOcSort", _BOXMOT_REBUILD),
    TrackerInfo("boxmot_boosttrack", "boxmot BoostTrack, fed our embeddings; AGPL-3.0",
                ".wrappers_boxmot:BoxmotBoostTrack", _BOXMOT_REBUILD),
)

REGISTRY: Dict[str, TrackerInfo] = {e.name: e for e in _ENTRIES if e.name in TRACKER_NAMES}
"""Registered trackers by name, in the order of the ``tracker`` parameter's choices."""

if list(REGISTRY) != list(TRACKER_NAMES):  # pragma: no cover - a programming error, caught by the tests
    raise RuntimeError(f"tracker registry {sorted(REGISTRY)} and config.TRACKER_NAMES {sorted(TRACKER_NAMES)} "
                       f"differ")


def tracker_names() -> List[str]:
    """Return the registered tracker names (the ``tracker`` parameter's choices)."""
    return list(REGISTRY)


def tracker_info(name: str) -> TrackerInfo:
    """Return the registry entry of ``name``.

    Raises:
        ValueError: Unknown name; the message lists the valid ones.
    """
    info = REGISTRY.get(name)
    if info is None:
        raise ValueError(f"tracker: expected one of {tracker_names()}, got {name!r}")
    return info


def make_tracker(config: Config, first_id: int = 1) -> TrackerBase:
    """Build the tracker named by ``config.tracker``; its IDs start at ``first_id``.

    Raises:
        ValueError: Unknown tracker name (with the list of valid names), or a bad ``first_id``.
    """
    info = tracker_info(config.tracker)
    tracker = info.factory()(config, first_id)
    tracker.name = info.name
    return tracker


def needs_rebuild(old: Config, new: Config) -> bool:
    """Return True when going from ``old`` to ``new`` needs a new tracker instance (not just ``apply_config``)."""
    if old.tracker != new.tracker:
        return True
    return any(getattr(old, f) != getattr(new, f) for f in tracker_info(new.tracker).rebuild_fields)
