"""ONNX export of encoder + AHD (ROS-free; never imports rclpy).

- ``onnx_export.export_ahd_onnx(engine, path)``: one graph, input ``clip`` (T, 3, H, W)
  normalized, outputs ``heatmap`` (T, H, W) and ``class_maps`` (T', 2, H', W').
The engine that runs the exported graph is ``tvau_ros.core.ahd_ort.OrtAHDEngine`` (core, so
that core never imports this package).
"""
