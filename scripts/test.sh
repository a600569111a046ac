#!/usr/bin/env bash
# Run the test suite inside the project venv with ROS traffic confined to this machine.
# Extra arguments go to pytest (e.g. scripts/test.sh test/unit -k metrics); the 25 slowest tests
# are listed at the end (--durations=25). Markers: unit, integration, slow (pytest.ini).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TVAU_VENV:-$REPO/.venv}"
export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}"
export ROS_LOG_DIR="${ROS_LOG_DIR:-$(mktemp -d -t tvau_ros_log.XXXXXX)}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg
cd "$REPO"
echo "test: ROS_DOMAIN_ID=$ROS_DOMAIN_ID ROS_LOG_DIR=$ROS_LOG_DIR"
exec "$VENV/bin/python" -m pytest --durations=25 "$@"
