"""ROS-free conversion between raw image buffers (as in ``sensor_msgs/Image``) and numpy.

The functions take and return the message *fields* (data, height, width, encoding, step,
is_bigendian), so they are usable and testable without rclpy; ``tvau_ros.nodes.image_conversion``
wraps them for real messages.

>>> import numpy as np
>>> img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
>>> raw = encode_image(img, "rgb8")
>>> (raw.height, raw.width, raw.step)
(2, 3, 9)
>>> bool((decode_image(raw.data, raw.height, raw.width, "rgb8", raw.step) == img).all())
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# encoding -> (dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "8UC3": (np.dtype(np.uint8), 3),
    "mono16": (np.dtype(np.uint16), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
}
SUPPORTED = ", ".join(ENCODINGS)


@dataclass(frozen=True)
class RawImage:
    """The fields of a ``sensor_msgs/Image`` except the header."""

    data: bytes
    height: int
    width: int
    encoding: str
    step: int
    is_bigendian: bool = False


def _layout(encoding: str) -> tuple[np.dtype, int]:
    try:
        return ENCODINGS[encoding]
    except KeyError:
        raise ValueError(
            f"unsupported image encoding {encoding!r}; supported: {SUPPORTED}"
        ) from None


def decode_image(
    data: bytes | bytearray | memoryview | np.ndarray,
    height: int,
    width: int,
    encoding: str,
    step: int,
    is_bigendian: bool = False,
) -> np.ndarray:
    """Return an (H, W) or (H, W, C) array in native byte order (a copy, never a view of data).

    Row padding (``step`` larger than ``width * channels * itemsize``) is dropped.
    Raises ValueError for an unsupported encoding or fields inconsistent with the data length.
    """
    dtype, channels = _layout(encoding)
    if height <= 0 or width <= 0:
        raise ValueError(f"zero-size image: height={height} width={width}")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ValueError(
            f"step {step} is smaller than width*channels*itemsize = {row_bytes} for {encoding}"
        )
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8).ravel()
    if buf.size != step * height:
        raise ValueError(
            f"data length {buf.size} != step*height = {step}*{height} = {step * height} ({encoding})"
        )
    rows = buf.reshape(height, step)[:, :row_bytes]
    order = ">" if is_bigendian else "<"
    pixels = np.ascontiguousarray(rows).view(dtype.newbyteorder(order) if dtype.itemsize > 1 else dtype)
    pixels = pixels.astype(dtype, copy=True)  # native byte order, owned memory
    shape = (height, width) if channels == 1 else (height, width, channels)
    return pixels.reshape(shape)


def encode_image(array: np.ndarray, encoding: str, is_bigendian: bool = False) -> RawImage:
    """Pack an (H, W) or (H, W, C) array into message fields with no row padding."""
    dtype, channels = _layout(encoding)
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    got = 1 if array.ndim == 2 else (array.shape[2] if array.ndim == 3 else None)
    if got != channels:
        raise ValueError(f"array of shape {array.shape} does not fit {encoding} ({channels} channel(s))")
    if array.dtype != dtype:
        raise ValueError(f"array dtype {array.dtype} does not fit {encoding} (needs {dtype})")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"zero-size image: shape {array.shape}")
    order = ">" if is_bigendian else "<"
    packed = np.ascontiguousarray(array, dtype=dtype.newbyteorder(order) if dtype.itemsize > 1 else dtype)
    height, width = array.shape[:2]
    return RawImage(packed.tobytes(), height, width, encoding, width * channels * dtype.itemsize, is_bigendian)


def to_rgb8(array: np.ndarray, encoding: str) -> np.ndarray:
    """Convert a decoded image to (H, W, 3) uint8 RGB, the model's input format.

    16-bit images are scaled by 1/256; 32FC1 is assumed to hold values in [0, 1].
    """
    _layout(encoding)
    if encoding in ("rgb8", "8UC3"):
        return array
    if encoding == "bgr8":
        return array[:, :, ::-1]
    if encoding == "rgba8":
        return array[:, :, :3]
    if encoding == "bgra8":
        return array[:, :, 2::-1]
    if encoding in ("mono16", "16UC1"):
        array = (array >> 8).astype(np.uint8)
    elif encoding == "32FC1":
        array = (np.clip(np.nan_to_num(array), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(array[:, :, None], 3, axis=2)


def decode_compressed(data: bytes | bytearray | memoryview, fmt: str = "") -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` payload (jpeg/png) to (H, W, 3) uint8 RGB."""
    import cv2

    buf = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if image is None:
        raise ValueError(f"cannot decode compressed image (format {fmt!r}, {buf.size} bytes)")
    return image[:, :, ::-1]


