"""Thin ROS 2 adapters around the ROS-free core: message conversion, nodes, QoS helpers."""
