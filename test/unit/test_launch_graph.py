"""launch/tvau.launch.py and ``tvau bringup`` start the graph of tvau_ros.nodes.graph, the same way.

``launch`` / ``launch_ros`` are not installable here, so the launch file runs against small
stand-in modules that record what it constructs (a mock inside this unit test); the recorded nodes
are compared with the description and with the commands ``tvau bringup`` builds from it.
"""
import importlib.util
import sys
import types
from pathlib import Path

import pytest
import yaml
from lifecycle_msgs.msg import Transition

from tvau_ros.nodes import bringup, graph

REPO = Path(__file__).resolve().parents[2]
PARAMS = str(REPO / "launch" / "params.yaml")


class Recorded:
    """A stand-in launch class: keeps its constructor arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def _class(name):
    return type(name, (Recorded,), {})


class LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context.get(self.name, next(a.default for a in graph.ARGUMENTS if a.name == self.name))


@pytest.fixture
def launch_file(monkeypatch):
    """The launch module, loaded against stand-in launch / launch_ros modules."""
    modules = {
        "launch": {"LaunchDescription": _class("LaunchDescription")},
        "launch.actions": {n: _class(n) for n in ("DeclareLaunchArgument", "EmitEvent", "OpaqueFunction",
                                                  "RegisterEventHandler")},
        "launch.events": {"matches_action": lambda action: ("matches", action)},
        "launch.substitutions": {"LaunchConfiguration": LaunchConfiguration},
        "launch_ros": {}, "launch_ros.actions": {"LifecycleNode": _class("LifecycleNode"), "Node": _class("Node")},
        "launch_ros.event_handlers": {"OnStateTransition": _class("OnStateTransition")},
        "launch_ros.events": {}, "launch_ros.events.lifecycle": {"ChangeState": _class("ChangeState")},
        "ament_index_python.packages": {"get_package_share_directory": lambda name: str(REPO)},
    }
    for name, attrs in modules.items():
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs))
    spec = importlib.util.spec_from_file_location("tvau_launch_under_test", REPO / "launch" / "tvau.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def launched(launch_file, context: dict) -> list:
    """The actions the launch file's OpaqueFunction returns for the argument values ``context``."""
    description = launch_file.generate_launch_description()
    opaque = [e for e in description.args[0] if type(e).__name__ == "OpaqueFunction"]
    assert len(opaque) == 1
    return opaque[0].kwargs["function"](context)


def nodes_of(actions) -> list:
    return [a for a in actions if type(a).__name__ in ("Node", "LifecycleNode")]


CASES = [
    {},
    {"camera_topic": "/front/image_raw"},
    {"source": __file__, "record": "/tmp/tvau_launch_test_out", "rate": "0.5", "loop": "true",
     "config": str(REPO / "tvau_ros" / "configs" / "pipeline_ahd.yaml"), "engine": "ahd"},
    {"rviz": "true", "params": PARAMS, "checkpoint": "tvau_ahd_dinov2s_minilm"},
]


def test_declared_arguments_are_the_descriptions(launch_file):
    description = launch_file.generate_launch_description()
    declared = [e.args + tuple(e.kwargs.values()) for e in description.args[0]
                if type(e).__name__ == "DeclareLaunchArgument"]
    assert declared == [(a.name, a.default, a.description) for a in graph.ARGUMENTS]


@pytest.mark.parametrize("context", CASES)
def test_launch_nodes_are_the_descriptions_with_the_same_parameters_as_bringup(launch_file, context):
    resolved = graph.resolve_arguments(context, default_params=PARAMS)
    specs = graph.selected_nodes(resolved)
    nodes = nodes_of(launched(launch_file, context))
    assert [n.kwargs["name"] for n in nodes] == [s.name for s in specs]
    for node, spec in zip(nodes, specs, strict=True):
        kw = node.kwargs
        assert (kw["package"], kw["executable"]) == (spec.package, spec.executable)
        assert type(node).__name__ == ("LifecycleNode" if spec.lifecycle else "Node")
        assert kw["remappings"] == list(spec.remappings)
        assert kw["arguments"] == graph.node_arguments(spec, str(REPO))
        if not spec.uses_params:
            assert "parameters" not in kw
            continue
        params_file, overrides = kw["parameters"]
        assert params_file == resolved["params"] == PARAMS
        assert overrides == graph.node_overrides(spec, resolved)
        # tvau bringup starts the same node with the same parameters file, overrides and name
        cmd = bringup.spec_command(spec, resolved)
        assert cmd[cmd.index("--params-file") + 1] == params_file
        given = dict(cmd[i + 1].split(":=", 1) for i, a in enumerate(cmd) if a == "-p")
        assert given == {k: bringup.ros_value(v) for k, v in overrides.items()}
        remaps = [tuple(cmd[i + 1].split(":=", 1)) for i, a in enumerate(cmd) if a == "-r"]
        assert remaps == [*spec.remappings, ("__node", spec.name)]


def test_every_launched_parameter_is_a_parameter_of_its_node_in_params_yaml(launch_file):
    sections = yaml.safe_load(Path(PARAMS).read_text())
    context = {"source": __file__, "record": "/tmp/x", "rate": "2", "loop": "true", "camera_topic": "/c",
               "config": PARAMS, "engine": "ahd", "checkpoint": "m"}
    for node in nodes_of(launched(launch_file, context)):
        if "parameters" in node.kwargs:
            known = sections[node.kwargs["name"]]["ros__parameters"]
            assert set(node.kwargs["parameters"][1]) <= set(known), node.kwargs["name"]


def test_lifecycle_transitions_follow_the_description(launch_file):
    actions = launched(launch_file, {})
    heatmap = next(n for n in nodes_of(actions) if n.kwargs["name"] == "tvau_heatmap")
    spec = graph.node_spec("heatmap_query")
    assert spec.lifecycle == ("configure", "activate")
    emitted = [a for a in actions if type(a).__name__ == "EmitEvent"]
    handlers = [a for a in actions if type(a).__name__ == "RegisterEventHandler"]
    # configure is emitted once the node action exists; activate when the node reaches "inactive"
    assert actions.index(emitted[0]) > actions.index(heatmap)
    first = emitted[0].kwargs["event"].kwargs
    assert first["transition_id"] == Transition.TRANSITION_CONFIGURE
    assert first["lifecycle_node_matcher"] == ("matches", heatmap)
    (handler,) = handlers
    assert actions.index(handler) < actions.index(heatmap)  # registered before the node can change state
    on_state = handler.args[0].kwargs
    assert on_state["target_lifecycle_node"] is heatmap and on_state["goal_state"] == "inactive"
    (then,) = on_state["entities"]
    assert then.kwargs["event"].kwargs["transition_id"] == Transition.TRANSITION_ACTIVATE


def test_a_missing_params_file_stops_the_launch_with_one_line(launch_file):
    with pytest.raises(graph.GraphArgumentError, match=r"^params: no such file: /nonexistent/params\.yaml$"):
        launched(launch_file, {"params": "/nonexistent/params.yaml"})


@pytest.mark.parametrize("values,message", [
    ({"params": "/nope.yaml"}, "params: no such file: /nope.yaml"),
    ({"config": "/nope/pipeline.yaml"}, "config: no such file: /nope/pipeline.yaml"),
    ({"source": "/nope/clip.mp4"}, "source: no such file or folder: /nope/clip.mp4"),
    ({"rate": "fast"}, "rate: not a number: 'fast'"),
    ({"rate": "-1"}, "rate: must be a finite number >= 0, got -1"),
    ({"engine": "yolo"}, "engine: 'yolo' is not one of behaviour, ahd, motion_baseline"),
    ({"loop": "maybe"}, "loop: expected true or false, got 'maybe'"),
    ({"record": __file__}, f"record: not a folder: {__file__}"),
    ({"camera": "/c"}, "unknown argument(s): camera"),
])
def test_bad_arguments_name_the_argument_and_the_value(values, message):
    with pytest.raises(graph.GraphArgumentError) as info:
        graph.resolve_arguments(values, default_params=PARAMS)
    assert str(info.value) == message


def test_setup_py_installs_every_executable_the_graph_starts_from_this_package():
    setup = (REPO / "ros" / "tvau_ros" / "setup.py").read_text()
    for spec in graph.NODES:
        if spec.package == "tvau_ros":
            assert f'"{spec.executable} = tvau_ros.nodes.entry:{spec.executable}"' in setup
            assert bringup.NODE_MODULES[spec.key] == spec.module


def test_params_yaml_has_a_section_for_every_node_that_reads_it():
    sections = yaml.safe_load(Path(PARAMS).read_text())
    assert {n for s in graph.NODES if s.uses_params for n in (s.name, *s.hosts)} == set(sections)
