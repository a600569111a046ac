"""ONNX export of encoder + AHD and the onnxruntime engine (ROS-free; never imports rclpy).

- ``onnx_export.export_ahd_onnx(engine, path)``: one graph, input ``clip`` (T, 3, H, W)
  normalized, outputs ``heatmap`` (T, H, W) and ``class_maps`` (T', 2, H', W').
- ``ort_engine.OrtAHDEngine(path, providers=None)``: same interface as
  ``tvau_ros.core.ahd.TorchAHDEngine``.
"""
