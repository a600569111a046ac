"""Bad dataset files each give a DatasetError that names the file and the problem."""

import cv2
import numpy as np
import pytest

from tvau_data_fixtures import generated_root, make_real_shanghaitech, one_video_root  # noqa: E402

from tvau_ros.data import DatasetError, TrackSpan, load_shanghaitech, load_ubnormal  # noqa: E402
from tvau_ros.data.ubnormal import parse_tracks_file  # noqa: E402


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return generated_root(tmp_path_factory)


@pytest.fixture
def one(source, tmp_path):
    """A root holding one generated abnormal test video; returns (root, name, paths)."""
    name = (source / "ubnormal" / "abnormal_test_video_names.txt").read_text().split()[0]
    root = one_video_root(source, tmp_path / "ub", name)
    mp4 = next(root.glob(f"Scene*/{name}.mp4"))
    ann = mp4.parent / f"{name}_annotations"
    return root, name, mp4, ann


def test_the_untouched_copy_loads(one):
    root, name, _, _ = one
    (s,) = load_ubnormal(root, "test")
    assert s.name == name and s.tracks


def test_truncated_video(one):
    root, _, mp4, _ = one
    data = mp4.read_bytes()
    mp4.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=rf"{mp4.name}: cannot open video \(truncated or corrupt"):
        load_ubnormal(root, "test")


def test_corrupt_video(one):
    root, _, mp4, _ = one
    data = bytearray(mp4.read_bytes())
    data[2000:len(data) // 2] = bytes(len(data) // 2 - 2000)
    mp4.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=rf"{mp4.name}: .*(truncated or corrupt)"):
        (s,) = load_ubnormal(root, "test")
        s.read_frames()


def test_missing_mask_file(one):
    root, name, _, ann = one
    victim = sorted(ann.glob("*_gt.png"))[3]
    victim.unlink()
    with pytest.raises(DatasetError, match=rf"{victim.name}: missing mask file for abnormal frame"):
        load_ubnormal(root, "test")


def test_mask_of_the_wrong_size(one):
    root, _, _, ann = one
    victim = sorted(ann.glob("*_gt.png"))[0]
    cv2.imwrite(str(victim), np.zeros((120, 160), np.uint8))
    with pytest.raises(DatasetError, match=rf"{victim.name}: mask is 160x120, expected 320x240"):
        load_ubnormal(root, "test")
    (s,) = load_ubnormal(root, "test", validate_masks=False)
    with pytest.raises(DatasetError, match=rf"{victim.name}: mask is 160x120"):
        s.read_mask(int(victim.name.split("_")[-2]))


def test_corrupt_mask_file(one):
    root, _, _, ann = one
    victim = sorted(ann.glob("*_gt.png"))[1]
    victim.write_bytes(b"not a png at all, just text" * 3)
    with pytest.raises(DatasetError, match=rf"{victim.name}: not a valid PNG"):
        load_ubnormal(root, "test")


def test_single_row_tracks_file(one):
    root, name, _, ann = one
    tracks = ann / f"{name}_tracks.txt"
    first = tracks.read_text().splitlines()[0]
    tracks.write_text(first)  # one row, no newline: np.loadtxt would give a 1-D array here
    oid, start, end = (int(v) for v in first.split(","))
    assert parse_tracks_file(tracks) == [TrackSpan(oid, start, end)]
    (s,) = load_ubnormal(root, "test")
    assert s.tracks == [TrackSpan(oid, start, end)]
    assert s.frame_labels.sum() == end - start + 1


def test_malformed_tracks_files(one):
    root, name, _, ann = one
    tracks = ann / f"{name}_tracks.txt"
    tracks.write_text("1,5\n")
    with pytest.raises(DatasetError, match=rf"{tracks.name}:1: 2 values in '1,5'; expected 3"):
        load_ubnormal(root, "test")
    tracks.write_text("1,5,x\n")
    with pytest.raises(DatasetError, match=rf"{tracks.name}:1: non-numeric value"):
        load_ubnormal(root, "test")
    tracks.write_text("1,9,4\n")
    with pytest.raises(DatasetError, match=rf"{tracks.name}:1: invalid track 1,9,4"):
        load_ubnormal(root, "test")
    tracks.write_text("1,0,99999\n")
    with pytest.raises(DatasetError, match=rf"{tracks.name}: track 1 ends at frame 99999 but .* has \d+ frames"):
        load_ubnormal(root, "test")
    tracks.write_text("\n")
    with pytest.raises(DatasetError, match=rf"{tracks.name}: tracks file has no rows"):
        load_ubnormal(root, "test")
    tracks.unlink()
    with pytest.raises(DatasetError, match=rf"{tracks.name}: missing tracks file for abnormal video"):
        load_ubnormal(root, "test")


def test_missing_split_files_and_videos(one):
    root, name, mp4, _ = one
    with pytest.raises(DatasetError, match="no split file abnormal_training_video_names.txt"):
        load_ubnormal(root, "train")
    mp4.unlink()
    with pytest.raises(DatasetError, match=rf"video {name} listed in the split files not found"):
        load_ubnormal(root, "test")


def test_bad_meta_json(one):
    root, name, _, ann = one
    meta = ann / f"{name}_meta.json"
    meta.write_text("{not json")
    with pytest.raises(DatasetError, match=rf"{meta.name}: cannot parse meta JSON"):
        load_ubnormal(root, "test")


def test_bad_shanghaitech_files(tmp_path):
    root = make_real_shanghaitech(tmp_path / "st")
    test = root / "testing"
    pix = test / "test_pixel_mask" / "01_0014.npy"
    np.save(pix, np.zeros((10, 24, 32), np.uint8))
    with pytest.raises(DatasetError,
                       match=r"01_0014.npy: pixel mask has shape \(10, 24, 32\), expected \(10, 48, 64\)"):
        load_shanghaitech(root)
    pix.unlink()
    with pytest.raises(DatasetError, match=r"test_pixel_mask/01_0014.npy: missing mask file"):
        load_shanghaitech(root)
    np.save(pix, np.zeros((10, 48, 64), np.uint8))
    labels = test / "test_frame_mask" / "01_0014.npy"
    np.save(labels, np.zeros(7))
    with pytest.raises(DatasetError, match=r"01_0014.npy: frame mask has shape \(7,\), expected \(10,\)"):
        load_shanghaitech(root)
    np.save(labels, np.zeros(10))
    labels.write_bytes(b"garbage")
    with pytest.raises(DatasetError, match=r"01_0014.npy: cannot read .npy mask"):
        load_shanghaitech(root)
    np.save(labels, np.zeros(10))
    frame = test / "frames" / "01_0014" / "004.jpg"
    frame.write_bytes(frame.read_bytes()[:40])
    (s,) = load_shanghaitech(root)
    with pytest.raises(DatasetError, match=r"004.jpg: cannot decode frame image"):
        s.read_frames()
    frame.unlink()
    with pytest.raises(DatasetError, match=r"frame numbering has a gap: expected frame 4, found 005.jpg"):
        load_shanghaitech(root)
