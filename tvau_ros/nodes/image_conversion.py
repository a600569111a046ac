"""``sensor_msgs/Image`` <-> numpy.

Uses cv_bridge when a real ROS 2 install provides it, the project's own decoder
(:mod:`tvau_ros.core.image_encoding`) otherwise. Both give the same arrays.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from tvau_ros.core.image_encoding import (
    decode_compressed,
    decode_image,
    encode_image,
    to_rgb8,
    _layout,
)

if TYPE_CHECKING:
    from std_msgs.msg import Header

try:  # cv_bridge exists in real ROS installs, not on PyPI (the PyPI package is ROS 1 code).
    from cv_bridge import CvBridge  # type: ignore

    _BRIDGE = CvBridge()
except Exception:  # noqa: BLE001 - any import/ABI failure means "no usable cv_bridge"
    _BRIDGE = None


def image_to_numpy(msg: Image) -> np.ndarray:
    """Decode an Image message to an array in its own encoding (ValueError on bad input)."""
    _layout(msg.encoding)  # same error for both back ends
    if _BRIDGE is not None:
        return np.array(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="passthrough"), copy=True)
    return decode_image(msg.data, msg.height, msg.width, msg.encoding, msg.step, bool(msg.is_bigendian))


def image_to_rgb8(msg: Image) -> np.ndarray:
    """Decode an Image message to (H, W, 3) uint8 RGB."""
    return to_rgb8(image_to_numpy(msg), msg.encoding)


def compressed_to_rgb8(msg: CompressedImage) -> np.ndarray:
    return decode_compressed(msg.data, msg.format)


def numpy_to_image(array: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """Build an Image message (no row padding, native little-endian layout)."""
    raw = encode_image(array, encoding)
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width, msg.encoding = raw.height, raw.width, raw.encoding
    msg.step, msg.is_bigendian = raw.step, int(raw.is_bigendian)
    msg.data = raw.data
    return msg
