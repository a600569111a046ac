"""The person detector and its fusion with foreground blobs: groups split, people who stop kept,
files that cannot be used named, and the engine on foreground alone when the detector is off."""
import numpy as np
import pytest
import torch

from tvau_ros.core.behaviour.engine import BehaviourConfig, BehaviourEngine
from tvau_ros.core.behaviour.foreground import Blob
from tvau_ros.core.behaviour.object_fusion import FusionConfig, fuse_detections
from tvau_ros.core.behaviour.person_detector import (PersonDetector, PersonDetectorError, PersonDetectorNet,
                                                     decode)
from tvau_ros.core.behaviour.scene_model import SceneModel
from tvau_ros.core.engine_registry import build_engine
from tvau_ros.core.pipeline_config import load_pipeline_config
from tvau_ros.core.types import NS_PER_S
from tvau_ros.train.person_detector import detector_loss, heatmap_targets, precision_recall

NONE = np.zeros((0, 4), np.float32)


def blob(x, y, w, h):
    return Blob((x, y, w, h), np.ones((h, w), bool), w * h)


def test_a_blob_holding_two_people_is_split_into_their_boxes():
    group = blob(10, 10, 24, 30)
    boxes = np.array([[9, 10, 12, 30], [22, 10, 12, 30]], np.float32)
    pieces = fuse_detections([group], boxes, np.array([0.9, 0.9]), (80, 100))
    assert len(pieces) == 2 and sum(p.area for p in pieces) == 23 * 30  # the column between the boxes is left out
    left, right = sorted(pieces, key=lambda p: p.box[0])
    assert left.box[0] == 10 and right.box[0] + right.box[2] == 34 and left.box[0] + left.box[2] <= right.box[0]


def test_one_detection_or_none_leaves_the_blob_as_it_is():
    car = blob(5, 5, 40, 15)
    one = fuse_detections([car], np.array([[5, 5, 10, 15]], np.float32), np.array([0.9]), (60, 80))
    assert [b.box for b in one] == [car.box]
    assert [b.box for b in fuse_detections([car], NONE, np.zeros(0), (60, 80))] == [car.box]


def test_a_confident_person_with_no_foreground_becomes_an_object_and_a_weak_one_does_not():
    walker = blob(50, 10, 8, 20)
    still = np.array([[10, 30, 8, 20]], np.float32)
    kept = fuse_detections([walker], still, np.array([0.8]), (60, 80), FusionConfig(standalone_score=0.5))
    assert [b.box for b in kept] == [(50, 10, 8, 20), (10, 30, 8, 20)]
    assert 0.6 * 8 * 20 < kept[1].area < 8 * 20 and kept[1].continues_only  # an ellipse in the box
    assert len(fuse_detections([walker], still, np.array([0.4]), (60, 80))) == 1


def test_detections_outside_the_image_are_cut_or_ignored():
    boxes = np.array([[-20, -20, 10, 10], [75, 50, 20, 20]], np.float32)
    fused = fuse_detections([], boxes, np.array([0.9, 0.9]), (60, 80))
    assert [b.box for b in fused] == [(75, 50, 5, 10)]


def test_decode_finds_the_peak_box_and_the_targets_put_a_centre_where_the_box_is():
    box = np.array([[20, 8, 8, 24]], np.float32)
    heat, regress, mask = heatmap_targets([box], (12, 16))
    out = torch.full((1, 5, 12, 16), -10.0)
    out[0, 0] = torch.logit(heat[0, 0].clamp(1e-4, 1 - 1e-4))
    out[0, 1:] = regress[0]
    boxes, scores = decode(out, 0.5)[0]
    np.testing.assert_allclose(boxes, box, atol=1e-4)
    assert scores[0] > 0.99
    assert detector_loss(out, heat, regress, mask) < 0.05 < detector_loss(torch.zeros_like(out), heat, regress, mask)
    assert precision_recall([boxes], [box]) == (1.0, 1.0)


def test_a_saved_detector_loads_with_its_card_and_bad_files_are_named(tmp_path):
    torch.manual_seed(0)
    detector = PersonDetector(PersonDetectorNet(width=8), threshold=0.4)
    path = tmp_path / "det.safetensors"
    detector.save(path, {"trained_on": "nothing"})
    loaded = PersonDetector.load(path)
    assert loaded.threshold == 0.4 and loaded.card["trained_on"] == "nothing" and loaded.source == str(path)
    frame = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)  # not a multiple of the stride
    for got, want in zip(loaded.detect(frame, frame), detector.detect(frame, frame), strict=True):
        np.testing.assert_allclose(got, want)
    with pytest.raises(PersonDetectorError, match="missing.safetensors does not exist"):
        PersonDetector.load(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not weights")
    with pytest.raises(PersonDetectorError, match="bad.safetensors cannot be read"):
        PersonDetector.load(tmp_path / "bad.safetensors")


def test_a_missing_detector_leaves_the_engine_on_foreground_and_says_so(tmp_path):
    cfg = load_pipeline_config(overrides={"engine": "behaviour",
                                          "behaviour": {"detector": str(tmp_path / "gone.safetensors")}})
    engine = build_engine(cfg)
    assert engine.detector is None and engine.status.detector == "off"
    assert "gone.safetensors does not exist" in engine.status.detector_warning
    frames = np.zeros((3, 60, 80, 3), np.uint8)
    assert engine.infer(frames, [i * NS_PER_S // 15 for i in range(3)]).heatmap.shape == (3, 60, 80)


class TwoPeople:
    """A stand-in detector (unit test only): the two walkers' true boxes."""

    motion_gap, source = 2, "test"

    def __init__(self):
        self.x = None  # not in the picture yet

    def detect(self, frame, earlier):
        if self.x is None:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        return np.array([[self.x, 20, 6, 18], [self.x + 7, 20, 6, 18]], np.float32), np.array([0.9, 0.9], np.float32)


def test_two_people_walking_side_by_side_are_two_tracks_with_the_detector_and_one_without():
    grass = np.full((60, 80, 3), 90, np.uint8)

    def run(detector):
        engine = BehaviourEngine(BehaviourConfig(), SceneModel.empty(), detector=detector)
        seen = set()
        for i in range(60):
            frame = grass.copy()
            x = 5 + i // 2 if i >= 30 else 5
            if i >= 30:
                if detector is not None:
                    detector.x = x
                frame[20:38, x:x + 6] = 200
                frame[20:38, x + 7:x + 13] = 30  # the gap between them closes in the cleaned mask
            result = engine.infer(frame[None], [int(i * NS_PER_S / 15)])
            seen |= {r.object_id for r in result.regions[0]}
        return seen

    assert len(run(None)) == 1
    assert len(run(TwoPeople())) == 2
