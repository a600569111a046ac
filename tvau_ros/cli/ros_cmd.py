"""``tvau node heatmap|query|heatmap_query|replay|recorder`` and ``tvau bringup``: the ROS 2 nodes.

``tvau node NAME [options] [--ros-args ...]`` runs one node in this process; the options are
shortcuts for ``-p name:=value`` and anything after ``--ros-args`` goes to ROS unchanged.
``tvau bringup`` starts the nodes from ``launch/params.yaml`` like ``ros2 launch tvau_ros
tvau.launch.py`` does on a full ROS install (see ``tvau_ros.nodes.bringup``).
"""
from __future__ import annotations

import argparse

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


def _node_heatmap(args: argparse.Namespace) -> int:
    from tvau_ros.nodes.heatmap_node import main

    return main(_ros_argv(args, {"autostart": args.autostart, "image_topic": args.image_topic,
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
    from tvau_ros.nodes.replay_node import main

    return main(_ros_argv(args, {"source": args.source, "topic": args.topic, "rate": args.rate,
                                 "loop": args.loop}))


def _node_recorder(args: argparse.Namespace) -> int:
    from tvau_ros.nodes.recorder_node import main

    return main(_ros_argv(args, {"out_dir": args.out}))


def _bringup(args: argparse.Namespace) -> int:
    from tvau_ros.nodes.bringup import bringup, default_params_file

    try:
        params = args.params or default_params_file()
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    if args.source:
        from pathlib import Path

        if not Path(args.source).exists():
            raise CliError(f"no such file or folder: {args.source}")
    heat = {k: v for k, v in (("config", args.config), ("engine", args.engine), ("checkpoint", args.checkpoint))
            if v}
    replay = {"rate": args.rate} if args.rate is not None else {}
    if args.loop:
        replay["loop"] = True
    return bringup(params, source=args.source, camera_topic=args.camera_topic, record=args.record,
                   heatmap_overrides=heat, replay_overrides=replay,
                   exit_when_done=not args.loop and not args.keep_running)


def register(subparsers) -> None:
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

    up = subparsers.add_parser("bringup", help="start the nodes from launch/params.yaml (no ros2 launch needed)",
                               description="Start the tvau nodes like launch/tvau.launch.py does.")
    up.add_argument("--params", metavar="YAML", help="parameters file (default: launch/params.yaml)")
    up.add_argument("--source", help="replay this video / image folder / bag as the camera")
    up.add_argument("--camera-topic", help="camera topic for the heatmap node (and the replay)")
    up.add_argument("--record", metavar="DIR", help="write annotated.mp4, events.jsonl, summary.json here")
    up.add_argument("--config", help="pipeline config YAML for the heatmap node")
    up.add_argument("--engine", choices=("motion_baseline", "ahd"))
    up.add_argument("--checkpoint", help="AHD checkpoint path")
    up.add_argument("--rate", type=float, help="replay speed factor")
    up.add_argument("--loop", action="store_true", help="loop the replay (runs until Ctrl-C)")
    up.add_argument("--keep-running", action="store_true", help="do not stop when the replay ends")
    up.set_defaults(func=_bringup)
