"""Launch the tvau nodes on a ROS 2 install (Jazzy / Humble) with launch_ros.

    ros2 launch tvau_ros tvau.launch.py camera_topic:=/front/image_raw
    ros2 launch tvau_ros tvau.launch.py source:=/data/patrol.mcap record:=/tmp/tvau_out rviz:=true

Arguments: camera_topic, params (default: this package's launch/params.yaml), config
(pipeline YAML), source (replay a video / image folder / bag as the camera), record (write
annotated.mp4 + events.jsonl there), rviz (open launch/tvau.rviz). camera_topic and config
override params only when given (as in ``tvau bringup``), so by default params.yaml decides.

The heatmap node is a lifecycle node: this file configures it, then activates it once it is
inactive (its ``autostart`` parameter is turned off here, so the transitions come from launch).
``tvau bringup`` starts the same nodes from the same params.yaml where launch is unavailable.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition


def _nodes(context):
    """The nodes, from the resolved arguments: an empty argument leaves params.yaml's value in force."""
    params, camera_topic, source, record, config = (
        LaunchConfiguration(name).perform(context) for name in ("params", "camera_topic", "source", "record", "config"))
    heatmap_overrides = {"autostart": False}
    if camera_topic:
        heatmap_overrides["image_topic"] = camera_topic
    if config:
        heatmap_overrides["config"] = config
    heatmap = LifecycleNode(
        package="tvau_ros", executable="heatmap_node", name="tvau_heatmap", namespace="", output="screen",
        parameters=[params, heatmap_overrides],
    )
    configure = EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(heatmap),
                                            transition_id=Transition.TRANSITION_CONFIGURE))
    activate_when_inactive = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=heatmap, goal_state="inactive",
        entities=[EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(heatmap),
                                              transition_id=Transition.TRANSITION_ACTIVATE))],
    ))
    nodes = [activate_when_inactive, heatmap, configure]
    if record:
        nodes.append(Node(package="tvau_ros", executable="recorder_node", name="tvau_recorder", output="screen",
                          parameters=[params, {"out_dir": record}]))
    if source:
        replay_overrides = {"source": source, **({"topic": camera_topic} if camera_topic else {})}
        nodes.append(Node(package="tvau_ros", executable="replay_node", name="tvau_replay", output="screen",
                          parameters=[params, replay_overrides]))
    return nodes


def generate_launch_description():
    share = get_package_share_directory("tvau_ros")
    rviz = Node(
        package="rviz2", executable="rviz2", name="rviz2", output="screen",
        arguments=["-d", os.path.join(share, "launch", "tvau.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([
        DeclareLaunchArgument("camera_topic", default_value="",
                              description="camera image topic ('' = image_topic / topic in params)"),
        DeclareLaunchArgument("params", default_value=os.path.join(share, "launch", "params.yaml"),
                              description="node parameters file"),
        DeclareLaunchArgument("config", default_value="", description="pipeline config YAML ('' = config in params)"),
        DeclareLaunchArgument("source", default_value="", description="replay this video / folder / bag"),
        DeclareLaunchArgument("record", default_value="", description="record outputs to this folder"),
        DeclareLaunchArgument("rviz", default_value="false", description="start rviz2 with tvau.rviz"),
        OpaqueFunction(function=_nodes),
        rviz,
    ])
