"""ROS-free core of tvau_ros (never imports rclpy).

Submodules are imported explicitly (``from tvau_ros.core.ahd import ...``) so that importing
``tvau_ros.core`` stays cheap: torch and transformers load only where a module needs them.

- ``backbones``: the ``VisionTextBackbone`` protocol and its implementations
  (DINOv2-S + MiniLM on CPU by default, Qwen2.5-VL from a local folder).
- ``ahd``: the Anomaly Heatmap Decoder (paper eq. 2-8) and the torch inference engine.
- ``prompts``: normal / abnormal prompt ensembles.
- ``clip``: uint8 frames -> normalized model input.
- ``checkpoint``: AHD checkpoint I/O (safetensors + JSON header).
"""
