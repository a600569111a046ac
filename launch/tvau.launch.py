"""Launch the tvau node graph on a ROS 2 install (Jazzy / Humble) with launch_ros.

    ros2 launch tvau_ros tvau.launch.py camera_topic:=/front/image_raw
    ros2 launch tvau_ros tvau.launch.py source:=/data/patrol.mcap record:=/tmp/tvau_out rviz:=true

The graph (arguments, nodes, their parameters on top of params.yaml, remappings, lifecycle
transitions) is not written here: it is ``tvau_ros.nodes.graph``, which ``tvau bringup`` reads
too, so both start the same nodes the same way. Arguments: ``ros2 launch tvau_ros tvau.launch.py
--show-args`` (camera_topic, params, config, engine, checkpoint, source, rate, loop, record, rviz);
an empty argument leaves params.yaml's value in force. A bad argument (e.g. a params file that does
not exist) stops the launch with one line naming it.

The heatmap node is a lifecycle node: this file sends its transitions (configure, then activate
once it is inactive), as ``tvau bringup`` does through the node's change_state service.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

from tvau_ros.nodes import graph

if TYPE_CHECKING:
    from launch import LaunchContext


def _change_state(node: LifecycleNode, transition: str) -> EmitEvent:
    return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                       transition_id=getattr(Transition, f"TRANSITION_{transition.upper()}")))


def _lifecycle_actions(node: LifecycleNode, transitions: Sequence[str]) -> list:
    """The first transition right after the node starts; each next one once the previous one's goal state is reached."""
    actions = []
    for previous, transition in zip(transitions, transitions[1:], strict=False):
        actions.append(RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, goal_state=graph.TRANSITION_GOAL[previous],
            entities=[_change_state(node, transition)])))
    return actions + [node, _change_state(node, transitions[0])]


def _nodes(context: LaunchContext) -> list:
    """The graph's nodes for the resolved arguments."""
    share = get_package_share_directory("tvau_ros")
    values = {arg.name: LaunchConfiguration(arg.name).perform(context) for arg in graph.ARGUMENTS}
    resolved = graph.resolve_arguments(values, default_params=os.path.join(share, "launch", "params.yaml"))
    actions = []
    for spec in graph.selected_nodes(resolved):
        options = dict(package=spec.package, executable=spec.executable, name=spec.name, output="screen",
                       remappings=list(spec.remappings), arguments=graph.node_arguments(spec, share))
        if spec.uses_params:
            options["parameters"] = [resolved["params"], graph.node_overrides(spec, resolved)]
        if spec.lifecycle:
            actions += _lifecycle_actions(LifecycleNode(namespace="", **options), spec.lifecycle)
        else:
            actions.append(Node(**options))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        *(DeclareLaunchArgument(arg.name, default_value=arg.default, description=arg.description)
          for arg in graph.ARGUMENTS),
        OpaqueFunction(function=_nodes),
    ])
