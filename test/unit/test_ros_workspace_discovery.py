"""A ROS 2 workspace with this repository in ``src/`` finds both packages, with either crawler.

colcon (``colcon list`` / ``colcon info``: colcon-core's recursive crawl + colcon-ros) and
rosdep (``rosdep install --from-paths``: ``rosdep2.catkin_packages.find_catkin_packages_in``,
i.e. catkin_pkg's ``find_packages``) both stop descending at a folder that is a package. The
repository root therefore holds no package.xml / setup.py; ``tvau_ros``'s manifest lives in
``ros/tvau_ros`` next to ``tvau_msgs/`` (README, "Build with colcon").
"""
import argparse
import tomllib

import pytest
from catkin_pkg.packages import find_packages
from colcon_core.package_discovery import add_package_discovery_arguments
from colcon_core.package_selection import get_package_descriptors
from colcon_core.topological_order import topological_order_packages
from rosdep2.catkin_packages import find_catkin_packages_in

from ros_workspace import PACKAGES, REPO, fresh_clone_entries, link_checkout

# the repository under its own name and under another one (the crawlers must not care)
NAMES = ["tvau_ros", "patrol_anomaly"]


@pytest.fixture(params=NAMES)
def workspace(request, tmp_path):
    src = tmp_path / "ws" / "src"
    link_checkout(src, request.param)
    return src, request.param


def colcon_packages(src):
    parser = argparse.ArgumentParser()
    add_package_discovery_arguments(parser)
    descriptors = get_package_descriptors(parser.parse_args(["--base-paths", str(src)]))
    return [d.descriptor for d in topological_order_packages(descriptors)]


def test_a_fresh_clone_has_no_build_products_and_both_package_folders():
    names = {p.name for p in fresh_clone_entries()}
    assert {"ros", "tvau_msgs", "tvau_ros", "launch", "models", "test"} <= names
    assert not names & {"build", ".venv", "data", "outputs"}


def test_the_repository_root_is_not_a_package_so_crawlers_descend_into_it():
    assert not (REPO / "package.xml").exists() and not (REPO / "setup.py").exists(), (
        "a package.xml or setup.py at the root makes colcon and rosdep stop there and miss tvau_msgs")
    tools = tomllib.loads((REPO / "pyproject.toml").read_text())  # tool configuration only
    assert not {"project", "build-system"} & set(tools) and "ruff" in tools["tool"]


def test_colcon_finds_both_packages_in_dependency_order_with_their_dependencies(workspace):
    src, name = workspace
    found = colcon_packages(src)
    assert [(d.name, d.type) for d in found] == [("tvau_msgs", "ros.ament_cmake"), ("tvau_ros", "ros.ament_python")]
    assert {d.name: d.path.relative_to(src / name).as_posix() for d in found} == PACKAGES
    deps = {d.name: {kind: set(map(str, names)) for kind, names in d.dependencies.items()} for d in found}
    assert "tvau_msgs" in deps["tvau_ros"]["run"]
    assert {"rclpy", "sensor_msgs", "launch_ros", "python3-numpy"} <= deps["tvau_ros"]["run"]
    assert {"rosidl_default_generators", "ament_cmake", "std_msgs"} <= deps["tvau_msgs"]["build"]
    assert "rosidl_default_runtime" in deps["tvau_msgs"]["run"]


def test_rosdeps_crawler_finds_both_packages_and_their_keys(workspace):
    src, name = workspace
    assert sorted(find_catkin_packages_in(str(src))) == ["tvau_msgs", "tvau_ros"]
    packages = {pkg.name: (path, pkg) for path, pkg in find_packages(str(src)).items()}
    assert {n: path for n, (path, _) in packages.items()} == {n: f"{name}/{p}" for n, p in PACKAGES.items()}
    ros_exec = {d.name for d in packages["tvau_ros"][1].exec_depends}
    assert {"tvau_msgs", "rclpy", "launch_ros"} <= ros_exec
    msgs_build = {d.name for d in packages["tvau_msgs"][1].build_depends + packages["tvau_msgs"][1].buildtool_depends}
    assert {"rosidl_default_generators", "ament_cmake"} <= msgs_build


def test_colcon_and_rosdep_read_the_same_dependencies(workspace):
    src, _ = workspace
    colcon = {d.name: set(map(str, d.dependencies["run"])) for d in colcon_packages(src)}
    for pkg in find_packages(str(src)).values():
        run = {d.name for d in pkg.exec_depends + pkg.build_export_depends}
        assert colcon[pkg.name] == run, pkg.name
