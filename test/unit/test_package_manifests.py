"""The package.xml files list exactly what the code imports or starts, with keys from ros/rosdep_keys.yaml.

tvau_ros: every ROS package and Python module imported by ``tvau_ros/`` and ``launch/`` (plus the
packages whose executables the launch file starts) is an ``exec_depend`` (or, for Python modules
without a rosdep key, a pip requirement), and nothing else is; test-only imports are
``test_depend``s. tvau_msgs: its dependencies are the packages its interfaces and CMakeLists use.
Every key is in ros/rosdep_keys.yaml, which says where rosdistro defines it.
"""
import ast
import re
import sys
from pathlib import Path

import pytest
import yaml
from catkin_pkg.package import parse_package

from tvau_ros.nodes import graph

REPO = Path(__file__).resolve().parents[2]
TVAU_ROS = parse_package(REPO / "ros" / "tvau_ros" / "package.xml")
TVAU_MSGS = parse_package(REPO / "tvau_msgs" / "package.xml")
TABLE = yaml.safe_load((REPO / "ros" / "rosdep_keys.yaml").read_text())
WORKSPACE = {"tvau_ros", "tvau_msgs"}
ROS_KEYS = {k for k, v in TABLE["keys"].items() if v["defined_in"].startswith("jazzy/")}
LOCAL = ({p.stem for folder in ("test", "research", "training") for p in (REPO / folder).rglob("*.py")}
         | {p.name for p in (REPO / "test").rglob("*") if p.is_dir()} | {"research", "training"})


def imported_modules(paths) -> set[str]:
    """Top-level names of the modules ``paths`` import (absolute imports, anywhere in the file),
    plus packages located by name through ``installed_package_file("name", ...)``."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "installed_package_file"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                names.add(node.args[0].value)
    return names - set(sys.stdlib_module_names) - WORKSPACE.difference({"tvau_msgs"}) - LOCAL


def launched_packages() -> set[str]:
    """Packages of every node the launch file can start (it starts the graph description's nodes)."""
    return {spec.package for spec in graph.NODES}


def keys_for(modules: set[str]) -> tuple[set[str], set[str], set[str]]:
    """(rosdep keys, pip names, unknown modules) for imported top-level modules."""
    keys, pip, unknown = set(), set(), set()
    for module in modules:
        if module in ROS_KEYS or module == "tvau_msgs":
            keys.add(module)
        elif module in TABLE["python_modules"]:
            entry = TABLE["python_modules"][module]
            (pip.add(entry["pip"]) if isinstance(entry, dict) else keys.add(entry))
        else:
            unknown.add(module)
    return keys, pip, unknown


def product_imports() -> set[str]:
    return imported_modules([*(REPO / "tvau_ros").rglob("*.py"), *(REPO / "launch").glob("*.py")])


def names(deps) -> set[str]:
    return {d.name for d in deps}


def requirement_names() -> set[str]:
    found = set()
    for name in ("requirements.txt", "requirements-nodeps.txt"):
        for line in (REPO / "requirements" / name).read_text().splitlines():
            match = re.match(r"\s*([A-Za-z0-9_.-]+)", line)
            if match and not line.lstrip().startswith("#"):
                found.add(match.group(1).lower().replace("_", "-"))
    return found


def test_every_imported_module_is_known():
    _, _, unknown = keys_for(product_imports() | imported_modules((REPO / "test").rglob("*.py")))
    assert not unknown, f"imported but not in ros/rosdep_keys.yaml (ROS key or python_modules): {sorted(unknown)}"


def test_tvau_ros_exec_depends_are_exactly_the_imports_and_the_launched_executables():
    keys, _, _ = keys_for(product_imports())
    needed = keys | launched_packages() - {"tvau_ros"}
    declared = names(TVAU_ROS.exec_depends)
    assert not needed - declared, f"imported or launched but not an exec_depend: {sorted(needed - declared)}"
    assert not declared - needed, f"exec_depend that nothing imports or launches: {sorted(declared - needed)}"
    assert {"rviz2", "launch", "launch_ros"} <= declared
    assert not {"rclpy_lifecycle", "python3-pip"} & declared  # not ROS packages / not a runtime need


def test_tvau_ros_test_depends_cover_the_test_only_imports():
    test_keys, _, _ = keys_for(imported_modules((REPO / "test").rglob("*.py")))
    exec_keys = names(TVAU_ROS.exec_depends)
    needed = test_keys - exec_keys
    assert needed == names(TVAU_ROS.test_depends), "test_depend should be the keys only the tests import"


def test_pip_only_modules_are_pinned_requirements():
    _, pip, _ = keys_for(product_imports() | imported_modules((REPO / "test").rglob("*.py")))
    missing = {name for name in pip if name.lower() not in requirement_names()}
    assert not missing, f"imported, no rosdep key, and not in requirements/: {sorted(missing)}"


def test_tvau_ros_has_no_build_time_dependencies_and_declares_its_build_type():
    assert not TVAU_ROS.build_depends and not TVAU_ROS.buildtool_depends
    assert [e.content for e in TVAU_ROS.exports if e.tagname == "build_type"] == ["ament_python"]


def test_tvau_msgs_depends_on_exactly_what_its_interfaces_and_cmake_use():
    folder = REPO / "tvau_msgs"
    texts = [p.read_text() for sub in ("msg", "srv", "action") for p in sorted((folder / sub).glob("*"))]
    used = {m.group(1) for text in texts for m in re.finditer(r"^\s*([a-z_]+)/[A-Z]\w*", text, re.M)}
    if list((folder / "action").glob("*.action")):
        used.add("action_msgs")  # generated action types use action_msgs
    cmake = (folder / "CMakeLists.txt").read_text()
    found = set(re.findall(r"find_package\((\w+) REQUIRED\)", cmake))
    generate_deps = set(re.search(r"DEPENDENCIES ([\w ]+)\n", cmake).group(1).split())
    assert generate_deps == used
    assert found == used | {"ament_cmake", "rosidl_default_generators"}
    assert names(TVAU_MSGS.build_depends) == used and names(TVAU_MSGS.exec_depends) == used | {"rosidl_default_runtime"}
    assert names(TVAU_MSGS.buildtool_depends) == {"ament_cmake", "rosidl_default_generators"}
    assert [g.name for g in TVAU_MSGS.member_of_groups] == ["rosidl_interface_packages"]


@pytest.mark.parametrize("manifest", [TVAU_ROS, TVAU_MSGS], ids=["tvau_ros", "tvau_msgs"])
def test_every_key_is_in_the_rosdep_table(manifest):
    deps = (manifest.build_depends + manifest.buildtool_depends + manifest.exec_depends + manifest.test_depends
            + manifest.build_export_depends)
    unknown = names(deps) - set(TABLE["keys"]) - WORKSPACE
    assert not unknown, f"{manifest.name}: keys missing from ros/rosdep_keys.yaml: {sorted(unknown)}"


def test_the_rosdep_table_has_no_stale_keys_and_every_entry_says_where_it_is_defined():
    used = set()
    for manifest in (TVAU_ROS, TVAU_MSGS):
        used |= names(manifest.build_depends + manifest.buildtool_depends + manifest.exec_depends
                      + manifest.test_depends)
    assert set(TABLE["keys"]) == used - WORKSPACE
    for key, entry in TABLE["keys"].items():
        if entry["defined_in"].startswith("jazzy/"):
            assert set(entry) == {"defined_in", "wheel"}, key
        else:
            assert entry["defined_in"] == "rosdep/python.yaml" and {"ubuntu", "debian"} <= set(entry), key
    for module, entry in TABLE["python_modules"].items():
        assert isinstance(entry, dict) or entry in TABLE["keys"], module


@pytest.mark.parametrize("key", sorted(k for k, v in TABLE["keys"].items() if v.get("wheel")))
def test_ros_keys_marked_as_wheels_are_installed_jazzy_packages_here(key):
    manifest = Path(sys.prefix) / "share" / key / "package.xml"
    assert manifest.is_file(), f"{key}: marked wheel: true but {manifest} is missing"
    assert parse_package(manifest).name == key
