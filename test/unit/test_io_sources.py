"""Recorded sources: video, image folder, rosbag2 (.mcap and .db3) and their errors."""
import cv2
import numpy as np
import pytest

from tvau_ros.core.types import NS_PER_S
from tvau_ros.io.bag_writer import write_image_bag
from tvau_ros.io.sources import SourceError, open_source
from tvau_ros.io.writers import Mp4Writer



def frames(n=6, h=48, w=64):
    out = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        out[i, :, :, 0] = 20 * i
        out[i, 10:20, 5 * i:5 * i + 10] = (0, 255, 0)
    return out


def write_bag(path, storage, images, topic="/cam/image_raw", compressed=False):
    return write_image_bag(path, images, fps=10, start_ns=50 * NS_PER_S, topic=topic, frame_id="bag_cam",
                           storage=storage, compressed=compressed, extra_topic="/chatter")


@pytest.mark.parametrize("storage,suffix", [("mcap", "mcap"), ("sqlite3", "db3")])
def test_bag_folder_and_bare_file_give_images_with_recorded_stamps(tmp_path, storage, suffix):
    images = frames()
    bag = write_bag(tmp_path / "bag", storage, images)
    for path in (bag, next(bag.glob(f"*.{suffix}"))):
        src = open_source(path)
        assert (src.kind, src.topic, src.frame_count) == ("bag", "/cam/image_raw", 6)
        assert src.fps == pytest.approx(10.0)
        got = list(src)
        assert [f.time_ns for f in got] == [50 * NS_PER_S + i * NS_PER_S // 10 for i in range(6)]
        assert got[0].frame_id == "bag_cam"
        np.testing.assert_array_equal(np.stack([f.image for f in got]), images)


def test_bag_with_compressed_images_and_explicit_topic(tmp_path):
    images = frames(3)
    bag = write_bag(tmp_path / "bag", "mcap", images, topic="/cam/compressed", compressed=True)
    got = list(open_source(bag, topic="/cam/compressed"))
    np.testing.assert_array_equal(np.stack([f.image for f in got]), images)  # png: lossless
    with pytest.raises(SourceError, match="no image topic '/nope'.*/cam/compressed"):
        open_source(bag, topic="/nope")


def test_video_frames_and_media_time(tmp_path):
    path = tmp_path / "v.mp4"
    with Mp4Writer(path, fps=12.5) as writer:
        for image in frames(10):
            writer.write(image)
    src = open_source(path)
    assert src.kind == "video" and src.fps == pytest.approx(12.5)
    got = list(src)
    assert len(got) == 10 and got[0].image.shape == (48, 64, 3)
    assert got[3].time_ns == 240_000_000
    assert abs(int(got[5].image[0, 0, 0]) - 100) < 8  # red channel ramp survives H.264


def test_image_folder_in_natural_order(tmp_path):
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"frame_{i}.png"), np.full((4, 4, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(tmp_path, fps=5)
    assert [int(f.image[0, 0, 0]) for f in src] == [1, 2, 10]


@pytest.mark.parametrize("name,content,kind,match", [
    ("missing.mp4", None, None, "no such file or folder"),
    ("corrupt.mp4", b"\x00garbage" * 100, None, "cannot read video .*corrupt.mp4"),
    ("corrupt.mcap", b"\x00garbage" * 100, None, "cannot read bag .*corrupt.mcap"),
    ("empty_dir", "dir", None, "no image files"),
    ("file.mp4", b"x", "frames", "needs a folder"),
])
def test_errors_name_the_path(tmp_path, name, content, kind, match):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=match):
        open_source(path, kind)


def test_corrupt_image_in_a_folder_fails_when_reached(tmp_path):
    cv2.imwrite(str(tmp_path / "0.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "1.png").write_bytes(b"not a png")
    src = iter(open_source(tmp_path))
    next(src)
    with pytest.raises(SourceError, match="cannot read image .*1.png"):
        next(src)
