"""Without a tvau_msgs build the nodes say in one line which package to build (no traceback).

Each command runs in a real subprocess where tvau_msgs cannot be imported: either absent
(``sys.modules["tvau_msgs"] = None``, what Python does for a module that must not load) or
half-built (a ``tvau_msgs`` folder without the generated ``msg`` package, first on the path).
"""
import subprocess
import sys

import pytest

ABSENT = 'import sys; sys.modules["tvau_msgs"] = None; '
HINT = "colcon build --packages-select tvau_msgs"


@pytest.fixture
def half_built(tmp_path):
    (tmp_path / "tvau_msgs").mkdir()
    (tmp_path / "tvau_msgs" / "__init__.py").write_text("")
    return tmp_path


def run(prelude: str, code: str, pythonpath: str | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=60,
                          env=env)


ENTRY = 'sys.argv = ["{0}", "--ros-args"]; import runpy; sys.argv.insert(1, "{1}"); ' \
        'runpy.run_module("tvau_ros.nodes.entry", run_name="__main__")'
CLI = 'from tvau_ros.cli import main; sys.exit(main({0}))'


@pytest.mark.parametrize("key,executable", [("heatmap", "heatmap_node"), ("recorder", "recorder_node"),
                                            ("replay", "replay_node")])
def test_node_executables_say_which_package_to_build(key, executable):
    result = run(ABSENT, ENTRY.format(executable, key))
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{executable}: error: the ROS interface package tvau_msgs "
                                                   "is not built or not on the path") and HINT in lines[0], lines


def test_a_half_built_tvau_msgs_gets_the_same_line(half_built):
    result = run("import sys; ", ENTRY.format("heatmap_node", "heatmap"), pythonpath=str(half_built))
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No module named 'tvau_msgs.msg'" in lines[0] and HINT in lines[0], lines


@pytest.mark.parametrize("argv,prefix", [
    (["node", "heatmap", "--autostart"], "tvau: error: the ROS interface package tvau_msgs"),
    (["bringup", "--camera-topic", "/x"], "tvau: error: bringup: the ROS interface package tvau_msgs"),
])
def test_the_cli_says_it_in_one_line_with_exit_2(argv, prefix):
    result = run(ABSENT, CLI.format(argv))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix) and HINT in lines[0], lines
    assert result.stdout == ""
