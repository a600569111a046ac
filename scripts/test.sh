#!/usr/bin/env bash
# Lint, then run the test suite inside the project venv with ROS traffic confined to this machine.
# Extra arguments go to pytest (e.g. scripts/test.sh test/unit -k metrics); the 25 slowest tests
# are listed at the end (--durations=25). Markers: unit, integration, slow (pytest.ini).
#
# Lint: `ruff check .` with the venv's ruff (pinned in requirements/; rules in pyproject.toml).
# - No arguments (the whole suite: `make test`, CI): ruff runs first and a finding stops the run
#   with ruff's output, before pytest starts.
# - With arguments (a subset): ruff runs too but only reports how many findings there are, in one
#   line, and the tests run anyway, so one test can be run while other files are mid-edit.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TVAU_VENV:-$REPO/.venv}"
export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}"
export ROS_LOG_DIR="${ROS_LOG_DIR:-$(mktemp -d -t tvau_ros_log.XXXXXX)}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg
cd "$REPO"
RUFF="$VENV/bin/ruff"
if [ ! -x "$RUFF" ]; then
  echo "test: error: $RUFF not found; run make setup (ruff is pinned in requirements/requirements.txt)" >&2
  exit 1
fi
if [ $# -eq 0 ]; then
  echo "test: ruff check ."
  if ! "$RUFF" check --output-format concise .; then
    echo "test: error: ruff check . failed (output above; details: $RUFF check .); the tests were not run" >&2
    exit 1
  fi
else
  rc=0
  findings="$("$RUFF" check --quiet --output-format concise . 2>&1)" || rc=$?
  if [ "$rc" -eq 1 ]; then
    echo "test: ruff check . finds $(printf '%s\n' "$findings" | wc -l) problem(s); a subset run does not stop" \
         "on them (see them with $RUFF check .)"
  elif [ "$rc" -ne 0 ]; then
    echo "test: error: ruff could not check the repository: $findings" >&2
    exit 1
  fi
fi
echo "test: ROS_DOMAIN_ID=$ROS_DOMAIN_ID ROS_LOG_DIR=$ROS_LOG_DIR"
exec "$VENV/bin/python" -m pytest --durations=25 "$@"
