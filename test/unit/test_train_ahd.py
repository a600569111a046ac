"""AHD training on a small hand-made feature cache, and the evaluation's clip subsampling.

The research probes' tests are in research/tests."""
import json

import numpy as np
import pytest
import torch

from tvau_ros.core.checkpoint import load_ahd_checkpoint
from tvau_ros.data.dataset import TrackSpan
from tvau_ros.evaluation.ahd_benchmark import ClipSubsample
from tvau_ros.train.ahd_trainer import focal_dice_loss, frame_max_loss, select_training_videos, train_ahd
from tvau_ros.train.config import TrainConfig, load_train_config
from tvau_ros.train.features import encoder_settings, _stored

from feature_cache import DIMS, MODEL, VIDEOS
from feature_cache import write_cache as _write_cache

def test_one_shot_keeps_one_abnormal_video_per_type_and_all_normal(tmp_path):
    cache = _write_cache(tmp_path, VIDEOS)
    assert [v["name"] for v in select_training_videos(cache, "one_shot")] == ["a1", "a3", "n1"]
    assert len(select_training_videos(cache, "fine_tuned")) == 4


def test_training_lowers_the_validation_loss_and_writes_a_loadable_checkpoint(tmp_path):
    cache = _write_cache(tmp_path / "cache", VIDEOS)
    cfg = TrainConfig(model=MODEL, out_dir=str(tmp_path / "out"), epochs=15, batch_size=4, lr=0.02, seed=1)
    path = train_ahd(cfg, cache, progress=False)
    log = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    assert len(log) == 15 and log[-1]["val_loss"] < log[0]["val_loss"]
    ckpt = load_ahd_checkpoint(path)
    assert ckpt.extra["train_videos"] == ["a1", "a2", "a3", "n1"]
    assert ckpt.dims == DIMS and ckpt.model_id.endswith("fine_tuned")
    head = ckpt.build_head()
    tokens, targets = cache.load(cache.videos("validation"))
    with torch.no_grad():
        prob = torch.softmax(10.0 * head.class_maps(tokens.float()), dim=-3)[:, :, 1]
    assert float(prob[0, :, 1, 2].mean()) > float(prob[0, :, 0, 0].mean())  # abnormal cell scores higher


def _head_tensors(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_an_interrupted_run_resumes_to_the_same_weights_as_an_uninterrupted_one(tmp_path, monkeypatch):
    import tvau_ros.train.ahd_trainer as trainer

    cache = _write_cache(tmp_path / "cache", VIDEOS)
    runs = {name: TrainConfig(model=MODEL, out_dir=str(tmp_path / name), epochs=3, batch_size=2, lr=0.02, seed=1)
            for name in ("straight", "again", "interrupted")}
    train_ahd(runs["straight"], cache, progress=False)
    train_ahd(runs["again"], cache, progress=False)
    straight = _head_tensors(tmp_path / "straight" / "ahd.safetensors")
    again = _head_tensors(tmp_path / "again" / "ahd.safetensors")
    assert all(torch.equal(straight[k], again[k]) for k in straight)  # the same seed gives the same weights

    evaluate, calls = trainer.evaluate_loss, []

    def killed_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # after epoch 1's state was saved, before epoch 2's
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(trainer, "evaluate_loss", killed_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train_ahd(runs["interrupted"], cache, progress=False)
    monkeypatch.setattr(trainer, "evaluate_loss", evaluate)
    train_ahd(runs["interrupted"], cache, progress=False)
    log = [json.loads(line) for line in (tmp_path / "interrupted" / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3]
    resumed = _head_tensors(tmp_path / "interrupted" / "ahd.safetensors")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    train_ahd(runs["interrupted"], cache, progress=False)  # finished: nothing left to do
    assert len((tmp_path / "interrupted" / "train_log.jsonl").read_text().splitlines()) == 3


def test_resuming_with_other_epochs_is_an_error_naming_both_schedules(tmp_path):
    cache = _write_cache(tmp_path / "cache", VIDEOS)
    cfg = TrainConfig(model=MODEL, out_dir=str(tmp_path / "out"), epochs=2, batch_size=4, seed=1)
    train_ahd(cfg, cache, progress=False)
    longer = TrainConfig(**{**cfg.to_dict(), "epochs": 5})
    with pytest.raises(ValueError,
                       match=r"last.pt is a run of 6 steps and this config asks for 15 \(5 epochs x 3 steps\)"):
        train_ahd(longer, cache, progress=False)
    train_ahd(longer, cache, resume=False, progress=False)  # --restart
    assert len((tmp_path / "out" / "train_log.jsonl").read_text().splitlines()) == 5


def test_training_on_two_frame_temporal_patches_scores_both_frames(tmp_path):
    cache = _write_cache(tmp_path / "cache", VIDEOS, temporal_patch=2)
    model = {**MODEL, "motion": False}
    cfg = TrainConfig(model=model, out_dir=str(tmp_path / "out"), epochs=15, batch_size=4, lr=0.02, seed=1)
    path = train_ahd(cfg, cache, progress=False)
    log = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["val_loss"] < log[0]["val_loss"]
    head = load_ahd_checkpoint(path).build_head()
    tokens, _ = cache.load(cache.videos("validation"))
    with torch.no_grad():
        maps = head.class_maps(tokens[:1].float())
    assert maps.shape == (1, 1, 2, 2, 3)
    assert head.heatmap(maps, frames=2).shape == (1, 2, 28, 42)  # one patch -> both frames, at 14 px per cell
    with pytest.raises(ValueError, match="model.motion needs both frames of a cached pair.*set model.motion to false"):
        train_ahd(TrainConfig(**{**cfg.to_dict(), "model": MODEL, "out_dir": str(tmp_path / "motion")}), cache,
                  progress=False)


def test_focal_dice_prefers_the_right_map():
    target = torch.zeros(1, 4, 4)
    target[0, 1:3, 1:3] = 1
    good = target * 0.9 + 0.05
    assert focal_dice_loss(good, target, 2.0, 0.75, 1.0) < focal_dice_loss(1 - good, target, 2.0, 0.75, 1.0)


def test_frame_max_loss_penalises_one_lit_cell_in_a_normal_frame_as_a_whole_frame():
    normal = torch.zeros(1, 12, 16)
    lit = torch.full((1, 12, 16), 0.01)
    lit[0, 3, 4] = 0.9  # a normal walker lit up
    # the per-cell focal term barely notices one cell of 192; the frame term scores it like a wrong frame
    assert focal_dice_loss(lit, normal, 2.0, 0.75, 1.0) < 0.01
    assert frame_max_loss(lit, normal) == pytest.approx(-np.log(0.1), rel=1e-4)


def test_frame_weight_adds_the_frame_term_to_training(tmp_path):
    cache = _write_cache(tmp_path / "cache", VIDEOS)
    cfgs = [TrainConfig(model=MODEL, out_dir=str(tmp_path / f"out{w}"), epochs=1, batch_size=4, seed=1, frame_weight=w)
            for w in (0.0, 1.0)]
    logs = []
    for cfg in cfgs:
        train_ahd(cfg, cache, progress=False)
        logs.append(json.loads((tmp_path / f"out{cfg.frame_weight}" / "train_log.jsonl").read_text().splitlines()[0]))
    assert logs[1]["train_loss"] > logs[0]["train_loss"]


def test_cache_is_reused_when_only_the_head_changes():
    a = encoder_settings({**MODEL, "mlp_hidden": 16, "motion": True}, "pretrained", 0, 12, 0.5)
    b = encoder_settings({**MODEL, "mlp_hidden": 128, "motion": False}, "pretrained", 0, 12, 0.5)
    c = encoder_settings({**MODEL, "input_size": [56, 56]}, "pretrained", 0, 12, 0.5)
    assert a == b != c
    assert encoder_settings(**_stored(a)) == a


def test_bad_training_config_names_the_key(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("regime: two_shot\n")
    with pytest.raises(ValueError, match="regime"):
        load_train_config(path)
    path.write_text("epochz: 3\n")
    with pytest.raises(ValueError, match="epochz"):
        load_train_config(path)


class _Video:
    name, height, width, meta, is_abnormal = "v", 4, 4, None, True
    num_frames = 20
    frame_labels = np.array([0] * 10 + [1] * 10, np.uint8)
    tracks = [TrackSpan(1, 10, 19)]

    def read_mask(self, frame):
        return np.full((4, 4), frame, np.int32)

    def read_frames(self, start=0, stop=None):
        stop = self.num_frames if stop is None else stop
        return np.arange(start, stop, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 3), np.uint8)


def test_clip_subsample_maps_frames_tracks_and_segments():
    view = ClipSubsample(_Video(), clip_len=4, stride=2)
    assert view.source_frames.tolist() == [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19]
    assert view.segments == [(0, 4), (4, 8), (8, 12)]
    assert view.frame_labels.tolist() == [0] * 6 + [1] * 6
    assert view.tracks == [TrackSpan(1, 6, 11)]
    assert int(view.read_mask(6)[0, 0]) == 10
    assert view.read_frames(4, 7)[:, 0, 0, 0].tolist() == [8, 9, 10]
    whole = ClipSubsample(_Video(), clip_len=4, stride=1)
    assert whole.segments == [(0, 20)] and whole.tracks == [TrackSpan(1, 10, 19)]


def test_clip_subsample_reads_each_segments_earlier_frames_as_context():
    view = ClipSubsample(_Video(), clip_len=4, stride=2, context=2)
    frames, spans = view.read_context_frames()
    assert frames[:, 0, 0, 0].tolist() == [0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 14, 15, 16, 17, 18, 19]
    assert spans == [(0, 0, 4), (4, 6, 10), (10, 12, 16)]  # the first clip has no earlier frame
    scored = np.concatenate([np.arange(a, b) for _, a, b in spans])
    assert frames[scored, 0, 0, 0].tolist() == view.source_frames.tolist()
    whole_frames, whole_spans = ClipSubsample(_Video(), clip_len=4, stride=1, context=2).read_context_frames()
    assert whole_spans == [(0, 0, 20)] and len(whole_frames) == 20


def test_cli_settings_override_nested_keys_and_reject_unknown_ones():
    import argparse

    from tvau_ros.cli import CliError
    from tvau_ros.cli.train_cmd import apply_settings, parse_setting

    cfg = TrainConfig(model=dict(MODEL))
    out = apply_settings(cfg, [parse_setting("model.input_size=[336, 448]"), parse_setting("pairs_per_video=16")])
    assert out.model["input_size"] == [336, 448] and out.pairs_per_video == 16
    assert out.model["layers"] == [1, 2] and cfg.model["input_size"] == [28, 42]  # others kept, original untouched
    with pytest.raises(CliError, match="unknown training setting"):
        apply_settings(cfg, [parse_setting("pairs=16")])
    with pytest.raises(CliError, match="'epochs' is not a section"):
        apply_settings(cfg, [parse_setting("epochs.x=1")])
    with pytest.raises(CliError, match="epochs must be >= 1"):
        apply_settings(cfg, [parse_setting("epochs=0")])
    with pytest.raises(argparse.ArgumentTypeError, match="expected KEY=VALUE"):
        parse_setting("epochs")


def test_bad_device_is_a_one_line_error_naming_it(monkeypatch):
    from tvau_ros.cli import CliError, check_device

    assert check_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CliError, match="--device cuda: no CUDA device is available"):
        check_device("cuda")
    with pytest.raises(CliError, match="--device 'gpu0': not a torch device"):
        check_device("gpu0")
    with pytest.raises(CliError, match="--device 'meta': only cpu and cuda"):
        check_device("meta")


