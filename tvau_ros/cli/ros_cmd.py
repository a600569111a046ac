"""``tvau node heatmap|query|heatmap_query|replay|recorder`` and ``tvau bringup``: the ROS 2 nodes.

``tvau node NAME [options] [--ros-args ...]`` runs one node in this process; the options are
shortcuts for ``-p name:=value`` and anything after ``--ros-args`` goes to ROS unchanged.
``tvau bringup`` starts the node graph that ``ros2 launch tvau_ros tvau.launch.py`` starts on a
full ROS install: both read ``tvau_ros.nodes.graph``, and bringup's options are its launch
arguments (see ``tvau_ros.nodes.bringup``).
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

from tvau_ros.cli import CliError


def _ros_argv(args: argparse.Namespace, shortcuts: dict) -> list[str]:
    from tvau_ros.nodes.bringup import ros_value

    argv = ["tvau", "--ros-args"]
    if args.params_file:
        argv += ["--params-file", args.params_file]
    for name, value in shortcuts.items():
        if value is not None and value is not False:
            argv += ["-p", f"{name}:={ros_value(value)}"]
    return argv + list(args.ros_args or [])


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params-file", metavar="YAML", help="ROS parameters file (e.g. launch/params.yaml)")
    parser.add_argument("--ros-args", nargs=argparse.REMAINDER, default=[],
                        help="ROS arguments, passed on unchanged (-p name:=value, -r from:=to, ...)")


def _node_main(key: str) -> Callable[[list[str] | None], int]:
    """``main`` of node ``key``; a missing tvau_msgs build is a one-line CliError."""
    from tvau_ros.nodes.entry import MissingInterfaces, load_node_module

    try:
        return load_node_module(key).main
    except MissingInterfaces as exc:
        raise CliError(str(exc)) from None


def _node_heatmap(args: argparse.Namespace) -> int:
    return _node_main("heatmap")(_ros_argv(args, {"autostart": args.autostart, "image_topic": args.image_topic,
                                 "config": args.config, "engine": args.engine, "checkpoint": args.checkpoint}))


def _query_shortcuts(args: argparse.Namespace) -> dict:
    return {"answerer": args.answerer, "timeout_s": args.timeout, "image_topic": args.image_topic,
            "config": args.config}


def _node_query(args: argparse.Namespace) -> int:
    from tvau_ros.nodes.query_node import main

    return main(_ros_argv(args, _query_shortcuts(args)))


def _node_heatmap_query(args: argparse.Namespace) -> int:
    from tvau_ros.nodes.heatmap_and_query import main

    return main(_ros_argv(args, {**_query_shortcuts(args), "autostart": args.autostart, "engine": args.engine,
                                 "checkpoint": args.checkpoint}))


def _add_query_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--answerer", help="grounded (default) | qwen2_5_vl | package.module:callable")
    parser.add_argument("--timeout", type=float, help="seconds before an answer is given up (default 10)")
    parser.add_argument("--image-topic", help="camera topic (default /camera/image_raw)")
    parser.add_argument("--config", help="pipeline config YAML")


def _node_replay(args: argparse.Namespace) -> int:
    return _node_main("replay")(_ros_argv(args, {"source": args.source, "topic": args.topic, "rate": args.rate,
                                 "loop": args.loop}))


def _node_recorder(args: argparse.Namespace) -> int:
    return _node_main("recorder")(_ros_argv(args, {"out_dir": args.out}))


def _bringup(args: argparse.Namespace) -> int:
    from tvau_ros.nodes.bringup import BringupError, bringup
    from tvau_ros.nodes.graph import ARGUMENTS, GraphArgumentError

    values = {}
    for arg in ARGUMENTS:
        value = getattr(args, arg.name)
        if value not in (None, False):
            values[arg.name] = "true" if value is True else str(value)
    try:
        return bringup(values, exit_when_done=not args.keep_running)
    except (GraphArgumentError, BringupError, FileNotFoundError) as exc:
        raise CliError(f"bringup: {exc}") from None


def _add_graph_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per launch argument of the graph description (``name:=value`` in ros2 launch)."""
    from tvau_ros.nodes.graph import ARGUMENTS

    for arg in ARGUMENTS:
        flag = "--" + arg.name.replace("_", "-")
        if arg.kind == "bool":
            parser.add_argument(flag, dest=arg.name, action="store_true", help=arg.description)
        else:
            options = {"choices": [c for c in arg.choices if c]} if arg.choices else {
                "metavar": {"file": "FILE", "path": "PATH", "dir": "DIR", "float": "X"}.get(arg.kind, arg.name.upper())}
            parser.add_argument(flag, dest=arg.name, help=arg.description, **options)


def register(subparsers: argparse._SubParsersAction) -> None:
    node = subparsers.add_parser("node", help="run a ROS 2 node (heatmap, query, heatmap_query, replay, recorder)",
                                 description=__doc__.split("\n\n")[0])
    nodes = node.add_subparsers(dest="node", metavar="NODE", required=True)

    heat = nodes.add_parser("heatmap", help="the anomaly heatmap lifecycle node")
    heat.add_argument("--autostart", action="store_true", help="configure and activate at start-up")
    heat.add_argument("--image-topic", help="camera topic (default /camera/image_raw)")
    heat.add_argument("--config", help="pipeline config YAML")
    heat.add_argument("--engine", choices=("motion_baseline", "ahd"))
    heat.add_argument("--checkpoint", help="AHD checkpoint path")
    _add_common(heat)
    heat.set_defaults(func=_node_heatmap)

    query = nodes.add_parser("query", help="the query service node, fed by the heatmap node's topics")
    _add_query_options(query)
    _add_common(query)
    query.set_defaults(func=_node_query)

    both = nodes.add_parser("heatmap_query", help="the heatmap and query nodes in one process (shared evidence)")
    _add_query_options(both)
    both.add_argument("--autostart", action="store_true", help="configure and activate the heatmap node at start-up")
    both.add_argument("--engine", choices=("motion_baseline", "ahd"))
    both.add_argument("--checkpoint", help="AHD checkpoint path")
    _add_common(both)
    both.set_defaults(func=_node_heatmap_query)

    replay = nodes.add_parser("replay", help="publish a video / image folder / rosbag2 as a camera")
    replay.add_argument("source", nargs="?", help="video file, image folder or bag (or -p source:=...)")
    replay.add_argument("--topic", help="image topic (default /camera/image_raw)")
    replay.add_argument("--rate", type=float, help="speed factor (0 = as fast as possible)")
    replay.add_argument("--loop", action="store_true")
    _add_common(replay)
    replay.set_defaults(func=_node_replay)

    rec = nodes.add_parser("recorder", help="record overlays + events to a folder")
    rec.add_argument("--out", help="output folder")
    _add_common(rec)
    rec.set_defaults(func=_node_recorder)

    up = subparsers.add_parser("bringup", help="start the node graph of launch/tvau.launch.py (no ros2 launch needed)",
                               description="Start the tvau nodes like launch/tvau.launch.py does: the same "
                               "graph description (tvau_ros/nodes/graph.py), arguments and params.yaml.")
    _add_graph_arguments(up)
    up.add_argument("--keep-running", action="store_true", help="do not stop when the replay ends")
    up.set_defaults(func=_bringup)
