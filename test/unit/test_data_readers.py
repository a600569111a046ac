"""UBnormal and ShanghaiTech readers on generated data and on hand-made real-layout data."""

import cv2
import numpy as np
import pytest

from tvau_data_fixtures import (generated_root, make_real_shanghaitech, make_real_ubnormal,  # noqa: E402
                                moving_square_frames)

from tvau_ros.data import DatasetError, TrackSpan, load_dataset, load_shanghaitech, load_ubnormal  # noqa: E402


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return generated_root(tmp_path_factory)


def test_ubnormal_round_trip(root):
    for split in ("train", "validation", "test"):
        listed = (root / "ubnormal" / f"abnormal_{ {'train': 'training'}.get(split, split)}_video_names.txt")
        abnormal_names = set(listed.read_text().split())
        for s in load_ubnormal(root, split):
            assert s.split == split and s.scene == s.meta["scene"] and s.fps == 15.0
            assert (s.height, s.width) == (240, 320)
            assert s.is_abnormal == (s.name in abnormal_names)
            meta_spans = [TrackSpan(t["object_id"], t["start"], t["end"]) for t in s.meta["targets"]]
            assert s.tracks == meta_spans
            frames = s.read_frames()
            assert frames.shape == (s.num_frames, 240, 320, 3) and frames.dtype == np.uint8
            for t in s.tracks:
                ids = {int(v) for f in range(t.start, t.end + 1) for v in np.unique(s.read_mask(f))}
                assert t.object_id in ids
            normal = np.flatnonzero(s.frame_labels == 0)
            if normal.size:
                assert not s.read_mask(int(normal[0])).any()


def test_partial_reads_match_a_full_read(root):
    s = max(load_ubnormal(root, "train"), key=lambda x: x.num_frames)
    full = s.read_frames()
    part = s.read_frames(5, 20, 3)
    assert part.shape[0] == 5
    assert np.abs(part.astype(int) - full[5:20:3].astype(int)).max() <= 2
    with pytest.raises(IndexError):
        s.read_frames(0, s.num_frames + 1)
    with pytest.raises(IndexError):
        s.read_mask(s.num_frames)


def test_shanghaitech_layout_holds_the_same_test_videos(root):
    sh = load_shanghaitech(root, "test")
    ub = {s.name: s for s in load_ubnormal(root, "test")}
    assert len(sh) == len(ub)
    for s in sh:
        twin = ub[s.meta["ubnormal_video"]]
        assert s.name.split("_")[0] == f"{int(twin.scene[5:]):02d}" and s.scene == twin.scene
        assert np.array_equal(s.frame_labels, twin.frame_labels)
        assert s.tracks == twin.tracks
        for f in np.flatnonzero(s.frame_labels)[:5]:
            assert np.array_equal(s.read_mask(int(f)), twin.read_mask(int(f)))
        a, b = s.read_frames(0, 3), twin.read_frames(0, 3)
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 6  # JPEG vs MPEG-4 of the same frames


def test_load_dataset_detects_the_layout(root, tmp_path):
    assert [s.name for s in load_dataset(root, "test")] == [s.name for s in load_ubnormal(root, "test")]
    assert len(load_dataset(root / "shanghaitech", "test")) == len(load_shanghaitech(root))
    with pytest.raises(DatasetError, match="neither a UBnormal layout"):
        load_dataset(tmp_path, "test")
    with pytest.raises(DatasetError, match="unknown split 'dev'"):
        load_dataset(root, "dev")


def test_real_ubnormal_layout(tmp_path):
    root = make_real_ubnormal(tmp_path / "UBnormal")
    samples = load_ubnormal(root, "test")
    by = {s.name: s for s in samples}
    ab, nm = by["abnormal_scene_3_scenario_2"], by["normal_scene_3_scenario_1"]
    assert ab.tracks == [TrackSpan(1, 3, 8)] and ab.meta is None and ab.scene == "Scene3"
    assert ab.frame_labels.tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    assert not nm.is_abnormal and nm.tracks == []
    _, masks = moving_square_frames(12)
    assert np.array_equal(ab.read_mask(5), masks[5].astype(np.int32))
    assert ab.read_frames().shape == (12, 48, 64, 3)
    # UBnormal's corrected tracks file takes precedence
    ann = root / "Scene3" / "abnormal_scene_3_scenario_2_annotations"
    (ann / "abnormal_scene_3_scenario_2_new_tracks.txt").write_text("1,4,6\n")
    assert load_ubnormal(root, "test")[0].tracks == [TrackSpan(1, 4, 6)]


def test_real_shanghaitech_layout(tmp_path):
    root = make_real_shanghaitech(tmp_path / "shanghaitech")
    (s,) = load_shanghaitech(root, "test")
    assert s.name == "01_0014" and s.scene == "Scene1" and s.num_frames == 10
    assert s.tracks == [TrackSpan(1, 4, 8)] and s.fps == 24.0
    assert s.read_mask(5).max() == 1 and not s.read_mask(2).any()
    assert s.read_frames(2, 4).shape == (2, 48, 64, 3)
    (train,) = load_shanghaitech(root, "train")
    assert train.name == "01_001" and not train.is_abnormal and train.read_frames().shape[0] == 10
    with pytest.raises(DatasetError, match="no validation split"):
        load_shanghaitech(root, "validation")
    frame = cv2.cvtColor(s.read_frames(5, 6)[0], cv2.COLOR_RGB2GRAY)
    assert frame[20:32][:, 19:27].mean() > 200  # the square of frame 5 sits at x = 19
