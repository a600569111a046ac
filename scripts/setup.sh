#!/usr/bin/env bash
# One-shot, idempotent setup of tvau_ros on a fresh Debian 12 / Python 3.11 machine:
# venv + pinned Python deps (torch CPU, ML stack, ROS 2 Jazzy wheels) + tvau_msgs built into
# the venv + tvau_ros installed editable. A second run with nothing changed only checks a stamp.
#
# Environment: TVAU_VENV (default: <repo>/.venv), TVAU_PYTHON (default: python3.11 or python3).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TVAU_VENV:-$REPO/.venv}"
BUILD="$REPO/build"
PKG="$REPO/ros/tvau_ros"   # the ROS package tvau_ros: package.xml + setup.py (links to tvau_ros/, launch/, models/)
STAMP="$VENV/.tvau_setup_stamp"
# build/ holds cmake's copy of tvau_msgs (with a setup.py): keep colcon and rosdep out of it when
# this checkout sits in a workspace's src/.
mkdir -p "$BUILD" && touch "$BUILD/COLCON_IGNORE"

die() { echo "setup: error: $*" >&2; exit 1; }

for tool in cmake g++ make; do
  command -v "$tool" >/dev/null 2>&1 \
    || die "'$tool' not found; install it with: sudo apt-get install -y cmake g++ make"
done
PYTHON="${TVAU_PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
[ -n "$PYTHON" ] || die "no python3 found; install Python 3.11 (the ROS 2 Jazzy wheels are built for cp311)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || die "$PYTHON is $("$PYTHON" -V 2>&1); the ROS 2 Jazzy wheels need Python 3.11 (set TVAU_PYTHON)"

fingerprint() {
  cat "$REPO"/requirements/*.txt "$PKG/setup.py" "$PKG/package.xml" "$REPO/scripts/setup.sh" \
      "$REPO"/tvau_msgs/CMakeLists.txt "$REPO"/tvau_msgs/package.xml \
      "$REPO"/tvau_msgs/msg/* "$REPO"/tvau_msgs/srv/* "$REPO"/tvau_msgs/action/* \
    | sha256sum | cut -d' ' -f1
}
WANT="$(fingerprint)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/tvau" ]; then
  echo "setup: $VENV is up to date"
  exit 0
fi

start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1
echo "setup: installing Python dependencies into $VENV (first run: a few minutes)"
"$PY" -m pip install -q -r "$REPO/requirements/requirements.txt" -c "$REPO/requirements/constraints.txt"
"$PY" -m pip install -q --no-deps -r "$REPO/requirements/requirements-nodeps.txt"

# The message wheels hard-code their builder's include dirs in these cmake exports.
PY_INCLUDE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
NP_INCLUDE="$("$PY" -c 'import numpy; print(numpy.get_include())')"
for f in "$VENV"/share/*/cmake/export_*__rosidl_generator_pyExport.cmake; do
  sed -i "s#/opt/python/cp311-cp311/include/python3.11;/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$PY_INCLUDE;$NP_INCLUDE#g" "$f"
done

echo "setup: building tvau_msgs"
export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
cmake -S "$REPO/tvau_msgs" -B "$BUILD/tvau_msgs" -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$PY" -DCMAKE_BUILD_TYPE=Release >"$BUILD.tvau_msgs.log" 2>&1 \
  || { tail -n 30 "$BUILD.tvau_msgs.log" >&2; die "cmake configure of tvau_msgs failed (log: $BUILD.tvau_msgs.log)"; }
cmake --build "$BUILD/tvau_msgs" -j2 >>"$BUILD.tvau_msgs.log" 2>&1 \
  && cmake --install "$BUILD/tvau_msgs" >>"$BUILD.tvau_msgs.log" 2>&1 \
  || { tail -n 30 "$BUILD.tvau_msgs.log" >&2; die "building tvau_msgs failed (log: $BUILD.tvau_msgs.log)"; }

echo "setup: installing tvau_ros (editable)"
"$PY" -m pip install -q --no-deps --no-build-isolation -e "$PKG"

AMENT_PREFIX_PATH="$VENV" "$PY" -c 'import rclpy, tvau_msgs.msg, tvau_msgs.srv, tvau_ros' \
  || die "import check failed: rclpy / tvau_msgs / tvau_ros do not import from $VENV"
echo "$WANT" > "$STAMP"
echo "setup: done in $(( $(date +%s) - start )) s; activate with: source $VENV/bin/activate"
