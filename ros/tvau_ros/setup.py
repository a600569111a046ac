"""ament_python / pip build of tvau_ros.

This folder is the ROS package ``tvau_ros`` (package.xml + setup.py). ``tvau_ros``, ``launch``
and ``models`` here are links to the repository's top-level folders: the repository root holds
no package manifest, so that colcon's and rosdep's crawlers, which stop descending at a package,
also find ``tvau_msgs`` (see the README, "Build with colcon").
"""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "tvau_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["configs/*.yaml", "prompts/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*")),
        (f"share/{PACKAGE}/models", glob("models/*")),
    ],
    python_requires=">=3.10",
    install_requires=["numpy", "pyyaml"],
    zip_safe=False,
    maintainer="tvau_ros maintainers",
    description="Text-guided fine-grained video anomaly understanding for ROS 2",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "tvau = tvau_ros.cli:main",
            # one line instead of a traceback when tvau_msgs is not built (tvau_ros/nodes/entry.py)
            "heatmap_node = tvau_ros.nodes.entry:heatmap_node",
            "query_node = tvau_ros.nodes.entry:query_node",
            "heatmap_query_node = tvau_ros.nodes.entry:heatmap_query_node",
            "replay_node = tvau_ros.nodes.entry:replay_node",
            "recorder_node = tvau_ros.nodes.entry:recorder_node",
        ],
    },
)
