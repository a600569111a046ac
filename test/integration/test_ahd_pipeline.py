"""Proof of life of the shipped AHD: the real DINOv2-S encoder + trained head inside the same
AnomalyPipeline the node runs, on the bundled generated clip with one anomaly (a runner)."""
import numpy as np
import pytest

from tvau_ros.core.engine_registry import build_engine, shipped_model
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.core.pipeline_config import PipelineConfig, load_pipeline_config
from tvau_ros.io.sample_clip import generate_sample_clip

CONFIG = "tvau_ros/configs/pipeline_ahd.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    clip = generate_sample_clip(tmp_path_factory.mktemp("clip") / "sample.mp4", frames=48, anomaly_start=16)
    import cv2

    cap = cv2.VideoCapture(str(clip.path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame[:, :, ::-1].copy())
    cfg = load_pipeline_config(CONFIG)
    pipe = AnomalyPipeline(build_engine(cfg), PipelineConfig.from_dict(cfg))
    evidence = [pipe.push(f, stamp_ns=int(i * 1e9 / clip.fps), frame_id="cam") for i, f in enumerate(frames)]
    evidence.append(pipe.finish())
    return clip, frames, [e for e in evidence if e is not None]


def test_shipped_checkpoint_is_found_by_name():
    assert shipped_model("tvau_ahd_dinov2s_minilm").is_file()


def test_heatmaps_cover_every_frame_in_range(run):
    clip, frames, evidence = run
    heatmaps = np.concatenate([e.heatmaps for e in evidence])
    assert heatmaps.shape[0] == len(frames)
    assert np.isfinite(heatmaps).all() and heatmaps.min() >= 0.0 and heatmaps.max() <= 1.0
    assert evidence[0].model_id.startswith("tvau_ahd_dinov2_minilm")
    assert evidence[0].class_maps is not None and evidence[0].class_maps.shape[1] == 2


def test_heat_concentrates_on_the_runner(run):
    """Pixel level, in the abnormal frames: the heatmap is much hotter on the runner's mask
    than on the rest of the frame. (Frame-level scores are not asserted: on this plaza clip,
    unlike the benchmark it was trained on, the shipped model also fires on normal frames.)"""
    import cv2

    clip, _, evidence = run
    inside, outside = [], []
    for e in evidence:
        for index, heat in zip(e.new_frame_indices, e.heatmaps, strict=True):
            mask = cv2.resize(clip.masks[index], heat.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
            if clip.labels[index] and mask.any():
                inside.append(heat[mask].mean())
                outside.append(heat[~mask].mean())
    assert len(inside) > 10
    assert np.mean(inside) > 3 * np.mean(outside)
