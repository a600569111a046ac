"""Recorded inputs and offline outputs (ROS-free).

- ``sources``: video files, image folders and rosbag2 files (.mcap / .db3) as frame iterators.
- ``writers``: H.264 MP4, per-frame heatmaps (npz), events (JSON Lines).
- ``offline``: drive the pipeline over a source and write all outputs (``tvau run``).
- ``summary``: frames / fps / anomalies-with-time-spans summaries from event records.
- ``sample_clip``: a small generated clip with one anomaly (demos and tests).
- ``bag_writer``: write frames to a rosbag2.
"""
