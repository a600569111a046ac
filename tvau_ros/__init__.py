"""tvau_ros: text-guided fine-grained video anomaly understanding for ROS 2.

The ``core``, ``data``, ``metrics`` and ``export`` subpackages never import rclpy;
``nodes`` holds the thin ROS 2 adapters.
"""

__version__ = "0.1.0"
