"""The repository in a ROS 2 workspace, driven by the real command-line tools.

A copy of the checkout (the files git tracks or would track) goes to ``ws/src/<name>``; then
``colcon list`` / ``colcon info`` must show both packages, and ``colcon build`` (slow) must build
``tvau_msgs`` with cmake and ``tvau_ros`` with setuptools against the ROS 2 wheels of this venv,
giving an install space whose ``heatmap_node`` starts.
"""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ros_workspace import PACKAGES, REPO, copy_tracked_checkout

VENV = Path(sys.prefix)
COLCON = VENV / "bin" / "colcon"

pytestmark = pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(),
                                reason="needs a git checkout to copy")


def tool_env() -> dict:
    """The environment of a ROS user's shell with this venv's wheels as the underlay."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COLCON_PREFIX_PATH")}
    env.update(PATH=f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(VENV),
               AMENT_PREFIX_PATH=str(VENV), CMAKE_PREFIX_PATH=str(VENV), MAKEFLAGS="-j2")
    return env


def colcon(ws: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(COLCON), "--log-base", str(ws / "log"), *args], cwd=ws, env=tool_env(),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module", params=["tvau_ros", "patrol_anomaly"])
def workspace(request, tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    copy_tracked_checkout(ws / "src" / request.param)
    return ws, request.param


def test_colcon_list_and_info_show_both_packages(workspace):
    ws, name = workspace
    listed = colcon(ws, "list", "--topological-order")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert rows == [[pkg, f"src/{name}/{PACKAGES[pkg]}", kind]
                    for pkg, kind in (("tvau_msgs", "(ros.ament_cmake)"), ("tvau_ros", "(ros.ament_python)"))]
    info = colcon(ws, "info", "tvau_ros")
    assert info.returncode == 0, info.stderr
    run_deps = next(line for line in info.stdout.splitlines() if line.strip().startswith("run:")).split()[1:]
    assert "tvau_msgs" in run_deps and "rclpy" in run_deps


@pytest.mark.slow
def test_colcon_build_installs_both_packages_and_the_node_starts(tmp_path_factory, tmp_path):
    ws = tmp_path_factory.mktemp("ws_build")
    copy_tracked_checkout(ws / "src" / "tvau_ros")
    built = colcon(ws, "build", "--event-handlers", "console_direct-", "--cmake-args", "-DBUILD_TESTING=OFF",
                   f"-DPython3_EXECUTABLE={sys.executable}", timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    install = ws / "install"
    assert (install / "tvau_ros" / "share" / "tvau_ros" / "launch" / "params.yaml").is_file()
    for model in ("tvau_ahd_dinov2s_minilm.safetensors", "tvau_scene_generic.safetensors", "tvau_scene_generic.yaml"):
        assert (install / "tvau_ros" / "share" / "tvau_ros" / "models" / model).is_file(), model
    for executable in ("heatmap_node", "replay_node", "recorder_node", "tvau"):
        assert os.access(install / "tvau_ros" / "lib" / "tvau_ros" / executable, os.X_OK), executable

    # a shell that sourced the install space imports both packages from there (cwd outside the checkout)
    probe = ("import tvau_msgs.msg, tvau_ros; from ament_index_python.packages import get_package_share_directory as s;"
             "print(tvau_msgs.__file__); print(tvau_ros.__file__); print(s('tvau_ros')); print(s('tvau_msgs'))")
    sourced = subprocess.run(["bash", "-c", f'. "{install}/local_setup.sh" && "{sys.executable}" -c "{probe}"'],
                             env=tool_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert sourced.returncode == 0, sourced.stderr
    paths = sourced.stdout.split()
    assert all(p.startswith(str(install)) for p in paths), paths

    node = subprocess.Popen(["bash", "-c", f'. "{install}/local_setup.sh" && exec "{install}/tvau_ros/lib/tvau_ros/'
                             'heatmap_node" --ros-args -p autostart:=true -r __node:=tvau_heatmap_colcon'],
                            env=tool_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in node.stdout:
            lines.append(line)
            if line.strip() == "READY":
                break
        assert lines and lines[-1].strip() == "READY", "".join(lines)
        assert any("configured: engine behaviour/generic" in line for line in lines), "".join(lines)
        node.send_signal(signal.SIGINT)
        rest, _ = node.communicate(timeout=30)
        assert node.returncode == 0, "".join(lines) + rest
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
