"""The real rosdep CLI on a workspace holding this checkout, offline.

rosdep's database cannot be downloaded here, so rosdep gets exactly the rules of
ros/rosdep_keys.yaml through a local sources list (and an empty rosdistro index; ROS package keys
map to their ros-jazzy-* Debian packages as rosdistro's jazzy/distribution.yaml would make them).
``rosdep keys --from-paths`` must list every key of both manifests (its crawler found both
packages) and ``rosdep install --simulate`` must resolve all of them on Ubuntu noble and Debian
bookworm. This checks that the manifests and the table agree; the table's own provenance is
described in ros/rosdep_keys.yaml.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from catkin_pkg.package import parse_package

from ros_workspace import PACKAGES, REPO, link_checkout

ROSDEP = Path(sys.prefix) / "bin" / "rosdep"
TABLE = yaml.safe_load((REPO / "ros" / "rosdep_keys.yaml").read_text())


def rosdep_rules() -> dict:
    rules = {}
    for key, entry in TABLE["keys"].items():
        if entry["defined_in"].startswith("jazzy/"):
            package = "ros-jazzy-" + key.replace("_", "-")
            rules[key] = {"ubuntu": [package], "debian": [package]}
        else:
            rules[key] = {os_name: entry[os_name] for os_name in ("ubuntu", "debian")}
    return rules


@pytest.fixture(scope="module")
def rosdep_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("rosdep")
    (root / "rules.yaml").write_text(yaml.safe_dump(rosdep_rules()))
    (root / "sources.list.d").mkdir()
    (root / "sources.list.d" / "10-tvau.list").write_text(f"yaml file://{root / 'rules.yaml'}\n")
    (root / "index.yaml").write_text("%YAML 1.1\n---\ndistributions: {}\ntype: index\nversion: 4\n")
    # without AMENT_PREFIX_PATH: --ignore-src would skip the keys this venv's ROS wheels provide
    env = {k: v for k, v in os.environ.items() if k != "AMENT_PREFIX_PATH"}
    env.update(ROSDEP_SOURCE_PATH=str(root / "sources.list.d"), ROS_HOME=str(root / "home"),
               ROSDISTRO_INDEX_URL=f"file://{root / 'index.yaml'}", ROS_DISTRO="jazzy", ROS_PYTHON_VERSION="3")
    updated = subprocess.run([str(ROSDEP), "update"], env=env, capture_output=True, text=True, timeout=120)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    src = root / "ws" / "src"
    link_checkout(src, "anomaly_stack")
    return env, src


def rosdep(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROSDEP), *args], env=env, capture_output=True, text=True, timeout=120)


def manifest_keys() -> set[str]:
    keys = set()
    for folder in PACKAGES.values():
        pkg = parse_package(REPO / folder / "package.xml")
        keys |= {d.name for d in pkg.build_depends + pkg.buildtool_depends + pkg.exec_depends + pkg.test_depends
                 + pkg.build_export_depends}
    return keys - set(PACKAGES)


def test_rosdep_keys_lists_the_keys_of_both_packages(rosdep_env):
    env, src = rosdep_env
    listed = rosdep(env, "keys", "--from-paths", str(src), "--ignore-src")
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) == manifest_keys()
    assert {"rosidl_default_generators", "rviz2", "python3-numpy"} <= set(listed.stdout.split())


@pytest.mark.slow  # rosdep asks dpkg / pip about every package: about 25 s each on 2 cores
@pytest.mark.parametrize("os_name", ["ubuntu:noble", "debian:bookworm"])
def test_rosdep_install_resolves_every_key(rosdep_env, os_name):
    env, src = rosdep_env
    simulated = rosdep(env, "install", "--from-paths", str(src), "--ignore-src", "--simulate", "-y",
                       f"--os={os_name}")
    assert simulated.returncode == 0, simulated.stdout + simulated.stderr
    assert "Cannot locate rosdep definition" not in simulated.stdout + simulated.stderr
    assert "ros-jazzy-rviz2" in simulated.stdout  # an apt package the launch file's rviz needs
