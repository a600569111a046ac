"""The heatmap node and the query node in one process, sharing one pipeline and evidence store.

The default deployment of the query service: the query node answers from the heatmap node's
own ``AnomalyPipeline`` (its evidence store and episodes) with no copy over topics. Both nodes
spin in one multi-threaded executor; the heatmap node's camera callback and processing thread
run as they do alone, and questions are answered on the query node's workers.

Parameters go to each node by its name (``tvau_heatmap``, ``tvau_query``) from a params file
(``launch/params.yaml``) or ``-p node_name:param:=value``; a plain ``-p param:=value`` reaches
both. ``autostart`` configures and activates the heatmap node as ``heatmap_node`` does; until
it is configured, questions are answered with "the anomaly pipeline is not running yet".

Run: ``python -m tvau_ros.nodes.heatmap_and_query --ros-args -p autostart:=true``
"""
from __future__ import annotations

import sys

import rclpy
from rclpy.lifecycle import TransitionCallbackReturn

from tvau_ros.core.dialogue.evidence_view import PipelineSource
from tvau_ros.nodes.heatmap_node import HeatmapNode
from tvau_ros.nodes.query_node import QueryNode, executor_for, spin_nodes
from tvau_ros.nodes.shutdown import init_node_process


def query_node_arguments(argv: list[str]) -> list[str]:
    """The process's ROS arguments without a node rename (``-r __node:=NAME``, which launch and
    bringup give to name the heatmap node): the query node keeps its own name.

    >>> query_node_arguments(["prog", "--ros-args", "--params-file", "p.yaml", "-r", "__node:=tvau_heatmap",
    ...                       "-p", "x:=1", "--", "other"])
    ['--ros-args', '--params-file', 'p.yaml', '-p', 'x:=1']
    """
    out, inside, skip = [], False, False
    for i, arg in enumerate(argv):
        if arg == "--ros-args":
            inside = True
            continue
        if arg == "--":
            inside = False
            continue
        if not inside or skip:
            skip = False
            continue
        if arg in ("-r", "--remap") and i + 1 < len(argv) and argv[i + 1].split(":=")[0].endswith("__node"):
            skip = True
            continue
        out.append(arg)
    return ["--ros-args", *out]


def main(argv: list[str] | None = None) -> int:
    """Run both nodes until Ctrl-C; prints READY once both exist."""
    argv = list(argv if argv is not None else sys.argv)
    stop = init_node_process(argv)
    heatmap = HeatmapNode()
    try:
        query = QueryNode(source=PipelineSource(lambda: heatmap.pipeline), use_global_arguments=False,
                          cli_args=query_node_arguments(argv))
    except Exception as exc:  # noqa: BLE001 - a bad parameter (value or type): one line, exit 2
        print(f"tvau query node: error: {exc}", file=sys.stderr)
        heatmap.destroy_node()
        rclpy.try_shutdown()
        return 2

    def autostart() -> None:
        if heatmap.param("autostart"):
            if heatmap.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                heatmap.trigger_activate()
            else:
                heatmap.get_logger().error("autostart: not activated; the node stays unconfigured "
                                           "until it is configured again")

    return spin_nodes(executor_for(query, extra_threads=3), [query, heatmap], stop, on_start=autostart,
                      on_stop=heatmap._release)


if __name__ == "__main__":
    sys.exit(main())
