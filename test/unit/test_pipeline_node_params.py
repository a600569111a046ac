"""launch/params.yaml, the launch file and the nodes' declared parameters stay in step."""
import ast
from pathlib import Path

import pytest
import yaml

from tvau_ros.core.engine_registry import build_engine
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.core.pipeline_config import PipelineConfig, load_pipeline_config
from tvau_ros.nodes import heatmap_node, query_node, recorder_node, replay_node
from tvau_ros.nodes.bringup import default_params_file, node_command, ros_value

LAUNCH = Path(__file__).resolve().parents[2] / "launch"


@pytest.fixture(scope="module")
def params():
    return yaml.safe_load((LAUNCH / "params.yaml").read_text())


@pytest.mark.parametrize("node,module", [("tvau_heatmap", heatmap_node), ("tvau_query", query_node),
                                         ("tvau_replay", replay_node), ("tvau_recorder", recorder_node)])
def test_params_file_sets_exactly_the_declared_parameters_with_their_types(params, node, module):
    values = params[node]["ros__parameters"]
    assert set(values) == set(module.PARAMETERS), f"{node}: params.yaml and PARAMETERS differ"
    for name, value in values.items():
        default = module.PARAMETERS[name][0]
        assert type(value) is type(default), f"{node}.{name}: {value!r} vs default {default!r}"


def test_launch_file_parses_and_reads_the_graph_description():
    """The nodes, executables and parameters themselves: test/unit/test_launch_graph.py."""
    tree = ast.parse((LAUNCH / "tvau.launch.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "tvau_ros.nodes" in imported
    yaml.safe_load((LAUNCH / "tvau.rviz").read_text())


def test_bringup_commands_use_the_same_params_file():
    path = default_params_file()
    assert path == LAUNCH / "params.yaml"
    cmd = node_command("replay", path, {"source": "a.mp4", "loop": True, "rate": 2.0})
    assert cmd[1:] == ["-m", "tvau_ros.nodes.entry", "replay", "--ros-args", "--params-file", str(path),
                       "-p", "source:=a.mp4", "-p", "loop:=true", "-p", "rate:=2.0"]
    assert ros_value([0.0, 1]) == "[0.0, 1]"


def test_packaged_default_config_builds_a_working_pipeline():
    pipe = AnomalyPipeline.from_config()
    assert pipe.engine.model_id == "behaviour/generic" and pipe.cfg.ground.frame_id == "base_link"


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "tvau_ros" / "configs")
                                        .glob("pipeline_*.yaml")))
def test_every_shipped_pipeline_config_loads(path):
    cfg = load_pipeline_config(path)
    AnomalyPipeline(build_engine(cfg), PipelineConfig.from_dict(cfg))
