"""The tvau node graph, described once: read by ``launch/tvau.launch.py`` and by ``tvau bringup``.

The description holds the launch arguments (name, default, meaning, type), the nodes (package,
executable, node name, the argument that enables them, parameters taken from the arguments on top
of ``launch/params.yaml``, remappings, command-line arguments) and each lifecycle node's
transitions. A reader turns it into launch actions or into processes; neither adds nodes or
parameters of its own, so the two cannot drift (``test/unit/test_launch_graph.py``).

No ROS import here: the launch file, the CLI and the tests all load it. A new node (e.g. the
query service node) is one more ``NodeSpec`` in ``NODES``, a section in ``launch/params.yaml``
and an entry point in ``ros/tvau_ros/setup.py``; both readers then start it.

>>> values = resolve_arguments({"source": __file__, "rate": "0.5"}, default_params=__file__)
>>> [spec.name for spec in selected_nodes(values)]
['tvau_heatmap', 'tvau_replay']
>>> node_overrides(NODES[0], values), node_overrides(NODES[2], values)["rate"]
({'autostart': False}, 0.5)
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class GraphArgumentError(ValueError):
    """A launch / bringup argument with a bad value (the message names it and the value)."""


@dataclass(frozen=True)
class Argument:
    """A launch argument (``name:=value``) and ``tvau bringup --name value`` option.

    ``kind``: ``str``; ``float``; ``bool`` (``true`` / ``false``); ``file`` (an existing file);
    ``path`` (an existing file or folder); ``dir`` (a folder, created by the node that writes it).
    """

    name: str
    description: str
    default: str = ""
    kind: str = "str"
    choices: tuple[str, ...] = ()


ARGUMENTS: tuple[Argument, ...] = (
    Argument("params", "node parameters file ('' = this package's launch/params.yaml)", kind="file"),
    Argument("camera_topic", "camera image topic ('' = image_topic / topic in params)"),
    Argument("config", "pipeline config YAML for the heatmap node ('' = config in params)", kind="file"),
    Argument("engine", "heatmap engine ('' = params / config)", choices=("", "behaviour", "ahd", "motion_baseline")),
    Argument("scene", "behaviour engine: the waypoint's scene model, a name in scene_dir or a path "
                      "('' = params / config; the generic model when none is set)"),
    Argument("scene_dir", "behaviour engine: folder of scene models, where ~/learn_normal saves ('' = params / config)",
             kind="dir"),
    Argument("checkpoint", "AHD checkpoint: a path, or a model name in models/ ('' = params / config)"),
    Argument("source", "replay this video / image folder / rosbag2 as the camera", kind="path"),
    Argument("rate", "replay speed factor ('' = params; 0 = as fast as possible)", kind="float"),
    Argument("loop", "loop the replay", default="false", kind="bool"),
    Argument("record", "write annotated.mp4, events.jsonl, summary.json to this folder", kind="dir"),
    Argument("rviz", "start rviz2 with launch/tvau.rviz", default="false", kind="bool"),
)

# lifecycle transition -> the primary state it ends in (launch waits for it before the next one)
TRANSITION_GOAL = {"configure": "inactive", "activate": "active", "deactivate": "inactive",
                   "cleanup": "unconfigured"}


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph.

    ``when``: the argument that must be set (non-empty / true) for the node to start (None: always).
    ``from_arguments``: (argument, parameter) pairs, set only when the argument is given, on top of
    the params file; ``fixed``: parameters always set. ``module``: what ``tvau bringup`` runs
    (``python -m tvau_ros.nodes.entry <key>``); None: start ``executable`` from PATH.
    ``arguments`` may use ``{share}`` (the package's share folder, or the source checkout).
    """

    key: str
    package: str
    executable: str
    name: str
    module: str | None = None
    when: str | None = None
    from_arguments: tuple[tuple[str, str], ...] = ()
    fixed: tuple[tuple[str, object], ...] = ()
    remappings: tuple[tuple[str, str], ...] = ()
    arguments: tuple[str, ...] = ()
    lifecycle: tuple[str, ...] = ()
    uses_params: bool = True
    hosts: tuple[str, ...] = ()  # other nodes the same process runs (their params-file sections)


# every node executable of this package: key -> (executable, module); the graph starts some of them
EXECUTABLES = {
    "heatmap": ("heatmap_node", "tvau_ros.nodes.heatmap_node"),
    "query": ("query_node", "tvau_ros.nodes.query_node"),
    "heatmap_query": ("heatmap_query_node", "tvau_ros.nodes.heatmap_and_query"),
    "replay": ("replay_node", "tvau_ros.nodes.replay_node"),
    "recorder": ("recorder_node", "tvau_ros.nodes.recorder_node"),
}

NODES: tuple[NodeSpec, ...] = (
    # the heatmap node and the query node in one process: the query service answers from the
    # heatmap node's own pipeline (evidence store, episodes); tvau_query's parameters come from
    # its params-file section
    NodeSpec("heatmap_query", "tvau_ros", "heatmap_query_node", "tvau_heatmap", "tvau_ros.nodes.heatmap_and_query",
             hosts=("tvau_query",),
             from_arguments=(("camera_topic", "image_topic"), ("config", "config"), ("engine", "engine"),
                             ("checkpoint", "checkpoint"), ("scene", "scene"), ("scene_dir", "scene_dir")),
             fixed=(("autostart", False),),  # the transitions below come from the reader instead
             lifecycle=("configure", "activate")),
    NodeSpec("recorder", "tvau_ros", "recorder_node", "tvau_recorder", "tvau_ros.nodes.recorder_node",
             when="record", from_arguments=(("record", "out_dir"),)),
    NodeSpec("replay", "tvau_ros", "replay_node", "tvau_replay", "tvau_ros.nodes.replay_node",
             when="source", from_arguments=(("source", "source"), ("camera_topic", "topic"), ("rate", "rate"),
                                            ("loop", "loop"))),
    NodeSpec("rviz", "rviz2", "rviz2", "rviz2", when="rviz", arguments=("-d", "{share}/launch/tvau.rviz"),
             uses_params=False),
)


def node_spec(key: str) -> NodeSpec:
    """The node described under ``key`` (heatmap_query, recorder, replay, rviz)."""
    for spec in NODES:
        if spec.key == key:
            return spec
    raise KeyError(f"no node {key!r} in the graph (known: {', '.join(s.key for s in NODES)})")


def _convert(arg: Argument, text: str) -> object:
    text = str(text).strip()
    if arg.choices and text not in arg.choices:
        raise GraphArgumentError(f"{arg.name}: {text!r} is not one of {', '.join(c for c in arg.choices if c)}")
    if arg.kind == "bool":
        if text.lower() not in ("true", "false", "1", "0", ""):
            raise GraphArgumentError(f"{arg.name}: expected true or false, got {text!r}")
        return text.lower() in ("true", "1")
    if not text:
        return ""
    if arg.kind == "float":
        try:
            value = float(text)
        except ValueError:
            raise GraphArgumentError(f"{arg.name}: not a number: {text!r}") from None
        if not math.isfinite(value) or value < 0:
            raise GraphArgumentError(f"{arg.name}: must be a finite number >= 0, got {text}")
        return value
    if arg.kind in ("file", "path", "dir"):
        path = Path(text).expanduser().resolve()
        if arg.kind == "file" and not path.is_file():
            raise GraphArgumentError(f"{arg.name}: no such file: {text}")
        if arg.kind == "path" and not path.exists():
            raise GraphArgumentError(f"{arg.name}: no such file or folder: {text}")
        if arg.kind == "dir" and path.exists() and not path.is_dir():
            raise GraphArgumentError(f"{arg.name}: not a folder: {text}")
        return str(path)
    return text


def resolve_arguments(values: Mapping[str, str], default_params: str) -> dict[str, object]:
    """Typed, checked argument values (defaults filled in); GraphArgumentError names a bad one.

    ``default_params``: the params file used when ``params`` is empty.
    """
    unknown = set(values) - {a.name for a in ARGUMENTS}
    if unknown:
        raise GraphArgumentError(f"unknown argument(s): {', '.join(sorted(unknown))}")
    resolved = {}
    for arg in ARGUMENTS:
        text = values.get(arg.name)
        resolved[arg.name] = _convert(arg, arg.default if text is None else text)
    if not resolved["params"]:
        resolved["params"] = _convert(next(a for a in ARGUMENTS if a.name == "params"), default_params)
    return resolved


def selected_nodes(resolved: Mapping[str, object]) -> list[NodeSpec]:
    """The nodes to start, in start order (a replay starts last: it waits for its subscribers)."""
    return [spec for spec in NODES if spec.when is None or resolved.get(spec.when)]


def node_overrides(spec: NodeSpec, resolved: Mapping[str, object]) -> dict[str, object]:
    """Parameters set on top of the params file: the given arguments, then the fixed ones."""
    out = {param: resolved[arg] for arg, param in spec.from_arguments if resolved.get(arg) not in ("", None, False)}
    out.update(spec.fixed)
    return out


def node_arguments(spec: NodeSpec, share: str) -> list[str]:
    """Command-line arguments of ``spec`` with ``{share}`` filled in."""
    return [a.format(share=share) for a in spec.arguments]
