"""The behaviour engine: scene-adaptive, object-centric anomaly scoring on CPU (docs/behaviour.md).

``foreground`` (background model, blobs) -> ``objects`` (tracks over seconds) -> ``attributes``
(speed, place, heading, dwell, shape, ... per track) -> ``scene_model`` (this scene's normal,
scoring) -> ``engine`` (the ``HeatmapEngine``); ``learning`` fits scene models from footage.
"""
