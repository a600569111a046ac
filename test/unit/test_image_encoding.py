"""Conversion round trips for every supported encoding, row padding, byte order and bad input."""
import numpy as np
import pytest

from tvau_ros.core.image_encoding import ENCODINGS, decode_image, encode_image, to_rgb8

RNG = np.random.default_rng(3)


def _random_image(encoding, height=5, width=7):
    dtype, channels = ENCODINGS[encoding]
    shape = (height, width) if channels == 1 else (height, width, channels)
    if dtype == np.float32:
        return RNG.random(shape, dtype=np.float32)
    return RNG.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_round_trip(encoding):
    image = _random_image(encoding)
    raw = encode_image(image, encoding)
    back = decode_image(raw.data, raw.height, raw.width, encoding, raw.step, raw.is_bigendian)
    assert back.dtype == image.dtype
    np.testing.assert_array_equal(back, image)


@pytest.mark.parametrize("encoding", ["rgb8", "mono16", "32FC1", "bgra8"])
def test_row_padding_in_step_is_dropped(encoding):
    image = _random_image(encoding)
    raw = encode_image(image, encoding)
    pad = 13
    rows = np.frombuffer(raw.data, np.uint8).reshape(raw.height, raw.step)
    padded = np.concatenate([rows, np.full((raw.height, pad), 0xAB, np.uint8)], axis=1)
    back = decode_image(padded.tobytes(), raw.height, raw.width, encoding, raw.step + pad)
    np.testing.assert_array_equal(back, image)


@pytest.mark.parametrize("encoding", ["mono16", "16UC1", "32FC1"])
def test_big_endian_data(encoding):
    image = _random_image(encoding)
    raw = encode_image(image, encoding, is_bigendian=True)
    assert raw.data != encode_image(image, encoding).data
    back = decode_image(raw.data, raw.height, raw.width, encoding, raw.step, is_bigendian=True)
    np.testing.assert_array_equal(back, image)
    assert back.dtype.isnative


def test_unsupported_encoding_names_it_and_lists_supported():
    with pytest.raises(ValueError, match=r"unsupported image encoding 'yuv422'.*rgb8.*32FC1"):
        decode_image(b"\0" * 8, 2, 2, "yuv422", 4)


@pytest.mark.parametrize(
    "height, width, step, length, message",
    [
        (0, 4, 12, 0, "zero-size"),
        (2, 4, 12, 23, "data length 23"),
        (2, 4, 10, 20, "step 10 is smaller"),
    ],
)
def test_inconsistent_fields_are_rejected(height, width, step, length, message):
    with pytest.raises(ValueError, match=message):
        decode_image(b"\0" * length, height, width, "rgb8", step)


def test_encode_rejects_wrong_dtype_and_channels():
    with pytest.raises(ValueError, match="dtype"):
        encode_image(np.zeros((2, 2, 3), np.float32), "rgb8")
    with pytest.raises(ValueError, match="channel"):
        encode_image(np.zeros((2, 2), np.uint8), "rgb8")


def test_to_rgb8_channel_orders():
    rgb = np.array([[[10, 20, 30]]], np.uint8)
    assert to_rgb8(rgb[:, :, ::-1], "bgr8").tolist() == rgb.tolist()
    bgra = np.array([[[30, 20, 10, 255]]], np.uint8)
    assert to_rgb8(bgra, "bgra8").tolist() == rgb.tolist()
    assert to_rgb8(np.array([[0x1234]], np.uint16), "mono16").tolist() == [[[0x12] * 3]]
    assert to_rgb8(np.array([[0.5]], np.float32), "32FC1").tolist() == [[[128] * 3]]
