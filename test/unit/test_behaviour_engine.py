"""The behaviour engine through the pipeline: learning a scene's normal, scoring, labels, scene switching."""
import numpy as np
import pytest

from tvau_ros.core.behaviour.engine import BehaviourConfig, BehaviourEngine
from tvau_ros.core.behaviour.learning import learn_from_frames
from tvau_ros.core.behaviour.scene_model import SceneModel, SceneModelError
from tvau_ros.core.engine_registry import build_engine
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.core.pipeline_config import PipelineConfig, load_pipeline_config
from tvau_ros.core.types import NS_PER_S
from tvau_ros.io.sample_clip import render_sample_clip

FPS = 15.0
START = 1_000 * NS_PER_S


def stamps(n, offset=0):
    return [START + int((i + offset) * NS_PER_S / FPS) for i in range(n)]


def pipeline(scene: SceneModel | None = None, generic: SceneModel | None = None, **options) -> AnomalyPipeline:
    cfg = load_pipeline_config(overrides={"engine": "behaviour"})
    engine = BehaviourEngine(BehaviourConfig(**options), generic or SceneModel.empty(), scene)
    return AnomalyPipeline(engine, PipelineConfig.from_dict(cfg))


@pytest.fixture(scope="module")
def plaza():
    """A scene model learnt from 12 s of the sample plaza with walkers only."""
    frames, _ = render_sample_clip(frames=180, anomaly_start=10_000, walkers=4, seed=3)
    result = learn_from_frames(pipeline(), zip(frames, stamps(len(frames)), strict=True), "plaza")
    return result


def test_learning_gives_a_scene_model_with_its_card(plaza):
    model = plaza.model
    assert plaza.frames == 180 and model.name == "plaza" and not model.generic
    assert model.card["tracks"] >= 4 and model.card["frames"] == 180
    assert model.card["seconds"] == pytest.approx(11.9, abs=0.1)
    assert model.quantiles["fast/all"][3] > 100
    assert any("footage" in w for w in plaza.warnings)  # 12 s is short: said so


def test_the_runner_is_an_abnormal_fast_object_and_the_walkers_are_not(plaza):
    frames, masks = render_sample_clip(frames=90, anomaly_start=25, walkers=4, seed=3)
    pipe = pipeline(plaza.model)
    hits, false_hits, labels = 0, 0, set()
    evidence = [pipe.push(f, t) for f, t in zip(frames, stamps(len(frames)), strict=True)]
    for index, e in enumerate(evidence):
        for region in e.regions:
            on_runner = masks[index][region.box.y:region.box.y + region.box.height,
                                     region.box.x:region.box.x + region.box.width].any()
            hits += on_runner
            false_hits += not on_runner
            labels.add(region.label)
            assert region.attribute_unit == "body_heights_per_s" or region.label != "fast"
    runner_frames = int((masks.reshape(90, -1).max(1) > 0).sum())
    assert hits >= 0.6 * runner_frames and false_hits <= 3 and "fast" in labels
    assert evidence[-1].model_id == "behaviour/plaza"
    # the heatmap is the score painted on the runner's pixels
    peak = next(e for e in evidence if e.regions)
    assert peak.heatmap.max() == pytest.approx(max(r.peak_score for r in peak.regions), abs=1e-5)


def test_generic_model_is_said_in_the_model_id_and_a_scene_switch_applies_at_once(plaza):
    pipe = pipeline(generic=SceneModel.empty("generic"))
    frames, _ = render_sample_clip(frames=30, anomaly_start=10_000, seed=3)
    evidence = [pipe.push(f, t) for f, t in zip(frames, stamps(30), strict=True)]
    assert evidence[-1].model_id == "behaviour/generic"
    pipe.engine.set_scene_model(plaza.model)
    assert pipe.push(frames[0], stamps(31)[-1]).model_id == "behaviour/plaza"


def test_a_scene_model_from_another_camera_falls_back_to_the_generic_model(plaza):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (3, 240, 320, 3), dtype=np.uint8)
    engine = BehaviourEngine(BehaviourConfig(), SceneModel.empty("generic"), plaza.model)
    engine.infer(frames[:1], stamps(1))
    assert engine.model_id == "behaviour/generic" and "does not fit this camera" in engine.status.scene_warning


def test_learning_refuses_too_few_frames_and_footage_without_motion():
    frames, _ = render_sample_clip(frames=3, anomaly_start=10_000, seed=3)
    with pytest.raises(SceneModelError, match="only 3 frames"):
        learn_from_frames(pipeline(), zip(frames, stamps(3), strict=True), "short")
    still = np.repeat(render_sample_clip(frames=1, anomaly_start=10_000, walkers=0)[0], 60, axis=0)
    with pytest.raises(SceneModelError, match="no moving object"):
        learn_from_frames(pipeline(), zip(still, stamps(60), strict=True), "empty")


def test_hundreds_of_objects_cost_a_bounded_amount_and_are_counted():
    engine = BehaviourEngine(BehaviourConfig(max_objects=16), SceneModel.empty())
    grass = np.full((240, 320, 3), 90, np.uint8)
    for i in range(30):
        engine.infer(grass[None], stamps(1, i))
    confetti = grass.copy()
    for k in range(300):
        y, x = divmod(k, 20)
        confetti[4 + y * 15:10 + y * 15, 4 + x * 15:10 + x * 15] = 230
    result = engine.infer(confetti[None], stamps(1, 30))
    assert len(engine.tracker.tracks) <= 16 and engine.status.objects_dropped >= 280
    assert result.heatmap.shape == (1, 240, 320)


def test_registry_runs_on_the_generic_model_when_the_scene_model_is_missing(tmp_path):
    cfg = load_pipeline_config(overrides={"engine": "behaviour", "scene": "nowhere",
                                          "behaviour": {"scene_dir": str(tmp_path), "generic_model": "none"}})
    engine = build_engine(cfg)
    assert engine.model_id == "behaviour/none" and "nowhere.safetensors" in engine.status.scene_warning


def test_bad_behaviour_options_are_errors_naming_the_key():
    with pytest.raises(ValueError, match="behaviour.attributes: unknown"):
        BehaviourConfig.from_dict({"attributes": ["fast", "teleporting"]})
    with pytest.raises(ValueError, match="behaviour.work_side"):
        BehaviourConfig.from_dict({"work_side": 8})
