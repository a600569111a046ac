"""The ROS adapter decodes real sensor_msgs/Image messages (no DDS involved)."""
import numpy as np
import pytest
from sensor_msgs.msg import Image

from tvau_ros.nodes.image_conversion import image_to_numpy, image_to_rgb8, numpy_to_image


def test_padded_bgr8_message_decodes_to_rgb():
    rgb = np.arange(3 * 4 * 3, dtype=np.uint8).reshape(3, 4, 3)
    msg = Image(height=3, width=4, encoding="bgr8", step=16)
    rows = np.zeros((3, 16), np.uint8)
    rows[:, :12] = rgb[:, :, ::-1].reshape(3, 12)
    msg.data = rows.tobytes()
    np.testing.assert_array_equal(image_to_rgb8(msg), rgb)


def test_numpy_to_image_round_trip_32fc1():
    heat = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    msg = numpy_to_image(heat, "32FC1")
    assert (msg.encoding, msg.step, msg.is_bigendian) == ("32FC1", 16, 0)
    np.testing.assert_array_equal(image_to_numpy(msg), heat)


def test_unsupported_encoding_message():
    msg = Image(height=1, width=1, encoding="bayer_rggb8", step=1, data=b"\0")
    with pytest.raises(ValueError, match="bayer_rggb8"):
        image_to_numpy(msg)
