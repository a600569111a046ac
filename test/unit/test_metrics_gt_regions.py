"""Ground-truth regions from object-id masks of VideoSample-like videos."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from tvau_ros.metrics import gt_regions_from_masks, mask_region_box


def load_fake_videos():
    """test/fixtures/metrics/fake_videos.py, imported once by path (fixtures are no package)."""
    name = "metrics_fake_videos"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parents[1] / "fixtures" / "metrics" / "fake_videos.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


fake = load_fake_videos()


def test_largest_component_or_all_pixels():
    mask = np.zeros((20, 20), np.int32)
    mask[2:8, 3:6] = 4        # 18 pixels
    mask[15:17, 15:17] = 4    # 4 stray pixels of the same id
    mask[0:20, 10] = 9        # another object
    assert mask_region_box(mask, 4) == (3.0, 2.0, 5.0, 7.0)
    assert mask_region_box(mask, 4, "all") == (3.0, 2.0, 16.0, 16.0)
    assert mask_region_box(mask, 9) == (10.0, 0.0, 10.0, 19.0)
    assert mask_region_box(mask, 5) is None
    with pytest.raises(ValueError, match="region mode"):
        mask_region_box(mask, 4, "biggest")


def test_regions_of_all_tracks_with_object_ids():
    boxes = {(1, 1): (0, 0, 3, 3), (1, 2): (1, 1, 4, 4), (2, 2): (10, 10, 12, 14)}
    video = fake.FakeVideo("v", 6, boxes=boxes)
    normal = fake.FakeVideo("n", 4)
    result = gt_regions_from_masks([video, normal])
    got = sorted((r.video, r.frame, r.track, r.box) for r in result.regions)
    assert got == [("v", 1, 1, (0.0, 0.0, 3.0, 3.0)), ("v", 2, 1, (1.0, 1.0, 4.0, 4.0)),
                   ("v", 2, 2, (10.0, 10.0, 12.0, 14.0))]
    assert result.empty_frames == 0 and result.empty_tracks == []


class GappyVideo(fake.FakeVideo):
    """Declares spans longer than the masks show (frames with no pixel of the object)."""

    @property
    def tracks(self):
        return [fake.Span(1, 0, 3), fake.Span(7, 1, 2)]


def test_frames_without_pixels_and_empty_tracks_are_counted():
    video = GappyVideo("g", 5, boxes={(1, 0): (0, 0, 2, 2), (1, 3): (0, 0, 2, 2)})
    result = gt_regions_from_masks([video])
    assert [r.frame for r in result.regions] == [0, 3]
    assert result.empty_frames == 2 + 2 and result.empty_tracks == ["g:7"]


def test_track_outside_the_video_is_an_error():
    class Broken(fake.FakeVideo):
        tracks = [fake.Span(1, 3, 9)]

    with pytest.raises(ValueError, match="'b': track 1 spans frames 3..9, outside 0..4"):
        gt_regions_from_masks([Broken("b", 5)])
