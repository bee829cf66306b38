"""Where mot_ros's installed data lives: ``share/mot_ros`` found through the ament index.

A colcon install space and the development venv (``scripts/bootstrap.sh`` registers it) both put
``share/mot_ros`` on the ament index, so installed code never depends on the checkout's layout.
A source tree that is on neither (``PYTHONPATH=.``) falls back to the checkout itself, which holds
the same files at the same relative paths.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

PACKAGE = "mot_ros"
DEMO_VIDEO = "data/demo_shapes.mp4"
"""The demo input, relative to the share directory."""
SHAPES_MODEL = "models/shapes_yolov8n.pt"
"""The committed synthetic-shapes detector, relative to the share directory."""
MOBILENET_INT8 = "models/mobilenetv2_int8.xml"
"""The int8 MobileNet embedder for OpenVINO (``scripts/quantize_embedder.py``), relative to the share directory."""
FASTDDS_PROFILE = "config/fastdds_large_images.xml"
"""The Fast DDS profile for large images, relative to the share directory."""


def _ament_share(package: str) -> Optional[Path]:
    try:
        from ament_index_python.packages import get_package_share_directory
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory(package))
    except (LookupError, OSError, ValueError):
        # PackageNotFoundError is a KeyError; an unset AMENT_PREFIX_PATH raises EnvironmentError (OSError)
        return None


def _source_tree() -> Optional[Path]:
    root = Path(__file__).resolve().parents[2]
    return root if (root / "package.xml").is_file() and (root / "setup.py").is_file() else None


def share_dir() -> Path:
    """``share/mot_ros`` from the ament index, else the source checkout; ValueError when neither exists."""
    found = _ament_share(PACKAGE) or _source_tree()
    if found is None:
        raise ValueError(
            f"share directory of {PACKAGE} not found: expected {PACKAGE} on the ament index (AMENT_PREFIX_PATH="
            f"{os.environ.get('AMENT_PREFIX_PATH', '')!r}); source the install space's setup.sh or run "
            "scripts/bootstrap.sh")
    return found


def share_path(relative: str) -> Path:
    """A file or directory under ``share/mot_ros`` (it may not exist: callers check and name it)."""
    return share_dir() / relative
