"""Test-wide environment: ROS traffic stays on this machine, in a domain of its own, logging to tmp."""
import os
import sys
import tempfile

# Shared test fixtures (test/fixtures, test/fixtures/data) are importable through pytest.ini's
# `pythonpath`; no test edits sys.path.

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="tvau_ros_log_"))
os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker("integration")
        elif "/unit/" in str(item.fspath):
            item.add_marker("unit")
