"""Entry points of the node executables (``heatmap_node``, ``query_node``, ``heatmap_query_node``,
``replay_node``, ``recorder_node``).

Each imports its node module and runs it; when the interface package ``tvau_msgs`` is not built
(or not on the path), it says so in one line and exits 1 instead of an ImportError traceback.
``python -m tvau_ros.nodes.entry heatmap [--ros-args ...]`` is what ``tvau bringup`` starts.
"""
from __future__ import annotations

import importlib
import sys
from types import ModuleType

from tvau_ros.nodes.graph import EXECUTABLES

BUILD_HINT = ("build it: `colcon build --packages-select tvau_msgs` and source install/setup.bash "
              "in a ROS workspace, or `bash scripts/setup.sh` for the venv")


class MissingInterfaces(ImportError):
    """tvau_msgs cannot be imported; the message says which package to build."""


def interfaces_error(exc: ImportError) -> MissingInterfaces | None:
    """A one-line MissingInterfaces when ``exc`` comes from importing tvau_msgs, else None.

    >>> str(interfaces_error(ModuleNotFoundError("No module named 'tvau_msgs'", name="tvau_msgs")))[:58]
    'the ROS interface package tvau_msgs is not built or not on'
    >>> interfaces_error(ModuleNotFoundError("No module named 'torch'", name="torch")) is None
    True
    """
    if "tvau_msgs" not in f"{exc.name or ''} {exc}":
        return None
    return MissingInterfaces(f"the ROS interface package tvau_msgs is not built or not on the path ({exc}); "
                             f"{BUILD_HINT}")


def load_node_module(key: str) -> ModuleType:
    """Import the module of node ``key``; MissingInterfaces when tvau_msgs is missing."""
    try:
        return importlib.import_module(EXECUTABLES[key][1])
    except ImportError as exc:
        missing = interfaces_error(exc)
        if missing is None:
            raise
        raise missing from None


def run(key: str, argv: list[str] | None = None) -> int:
    """Run node ``key`` (``argv``: ROS arguments; default ``sys.argv``)."""
    try:
        module = load_node_module(key)
    except MissingInterfaces as exc:
        print(f"{EXECUTABLES[key][0]}: error: {exc}", file=sys.stderr)
        return 1
    return int(module.main(argv) or 0)


def heatmap_node() -> None:
    sys.exit(run("heatmap"))


def query_node() -> None:
    sys.exit(run("query"))


def heatmap_query_node() -> None:
    sys.exit(run("heatmap_query"))


def replay_node() -> None:
    sys.exit(run("replay"))


def recorder_node() -> None:
    sys.exit(run("recorder"))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m tvau_ros.nodes.entry heatmap|replay|recorder [--ros-args ...]")
    sys.exit(run(sys.argv[1], [sys.argv[0], *sys.argv[2:]]))
