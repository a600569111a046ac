"""Write images to a rosbag2 (.mcap or .db3) with rosbags: test fixtures, clip conversion.

>>> import tempfile, numpy as np
>>> from tvau_ros.io.sources import open_source
>>> bag = write_image_bag(tempfile.mkdtemp() + "/bag", np.zeros((3, 4, 6, 3), np.uint8), fps=10)
>>> [f.time_ns for f in open_source(bag)]
[0, 100000000, 200000000]
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

NS_PER_S = 1_000_000_000
STORAGE = ("mcap", "sqlite3")


def write_image_bag(path: str | Path, images: Iterable[np.ndarray], *, fps: float = 30.0, start_ns: int = 0,
                    topic: str = "/camera/image_raw", frame_id: str = "camera_optical_frame",
                    storage: str = "mcap", compressed: bool = False, extra_topic: str | None = None,
                    stamps_ns: Sequence[int] | None = None) -> Path:
    """Write RGB frames as sensor_msgs/Image (bgr8) or CompressedImage (png) messages.

    Stamps (header and record time) are ``start_ns + i / fps``, or ``stamps_ns[i]`` when given. ``extra_topic`` adds a
    std_msgs/String topic beside the images (as real bags have). Returns the bag folder.
    """
    import cv2
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    if storage not in STORAGE:
        raise ValueError(f"bag storage must be one of {STORAGE}, got {storage!r}")
    ts = get_typestore(Stores.ROS2_JAZZY)
    types = ts.types
    Header, Time = types["std_msgs/msg/Header"], types["builtin_interfaces/msg/Time"]
    msgtype = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    path = Path(path)
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        conn = writer.add_connection(topic, msgtype, typestore=ts)
        other = writer.add_connection(extra_topic, "std_msgs/msg/String", typestore=ts) if extra_topic else None
        for i, rgb in enumerate(images):
            stamp = int(stamps_ns[i]) if stamps_ns is not None else start_ns + int(round(i * NS_PER_S / fps))
            header = Header(stamp=Time(sec=stamp // NS_PER_S, nanosec=stamp % NS_PER_S), frame_id=frame_id)
            bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
            if compressed:
                ok, png = cv2.imencode(".png", bgr)
                msg = types[msgtype](header=header, format="png", data=png.ravel())
            else:
                h, w = bgr.shape[:2]
                msg = types[msgtype](header=header, height=h, width=w, encoding="bgr8", is_bigendian=0,
                                     step=w * 3, data=bgr.ravel())
            writer.write(conn, stamp, ts.serialize_cdr(msg, msgtype))
            if other is not None:
                text = types["std_msgs/msg/String"](data=f"frame {i}")
                writer.write(other, stamp + 1, ts.serialize_cdr(text, "std_msgs/msg/String"))
    return path
