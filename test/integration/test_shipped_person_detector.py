"""The shipped person detector (models/tvau_person_detector.*), turned on by the shipped config,
finds the people of rendered videos it never saw (smoke-config scenes and seeds)."""
import cv2
import numpy as np
import pytest

from tvau_ros.core.behaviour.person_detector import MOTION_GAP
from tvau_ros.core.engine_registry import build_engine, shipped_model
from tvau_ros.core.pipeline_config import load_pipeline_config
from tvau_ros.data.synthetic.config import load_generator_config
from tvau_ros.data.synthetic.generate import plan_jobs
from tvau_ros.data.synthetic.video import render_job
from tvau_ros.train.person_detector import actor_box_table, frame_boxes, precision_recall

CONFIG = "tvau_ros/configs/pipeline_detector.yaml"


def rendered_people(seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """RGB frames of one smoke-config test video and every actor's box (x, y, w, h) per frame."""
    job = next(j for j in plan_jobs(load_generator_config("smoke"), seed=seed) if j.split == "test")
    result = render_job(job, actor_boxes=True)
    frames = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in result.frames])
    table = actor_box_table(result.actor_boxes, frames.shape[2], frames.shape[1])
    return frames, [frame_boxes(table, t) for t in range(len(frames))]


@pytest.fixture(scope="module")
def engine():
    return build_engine(load_pipeline_config(CONFIG))


def test_the_detector_config_loads_the_shipped_detector(engine):
    assert engine.status.detector == str(shipped_model("tvau_person_detector")) and not engine.status.detector_warning


def test_the_shipped_detector_finds_people_in_videos_it_never_saw(engine):
    detected, truth = [], []
    for seed in (7, 11):
        frames, boxes = rendered_people(seed)
        detected += [engine.detector.detect(frames[t], frames[max(t - MOTION_GAP, 0)])[0] for t in range(len(frames))]
        truth += boxes
    precision, recall = precision_recall(detected, truth)
    assert sum(len(b) for b in truth) > 200
    assert precision >= 0.75 and recall >= 0.6, (precision, recall)  # measured 0.88 / 0.69
