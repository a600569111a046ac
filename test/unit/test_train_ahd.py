"""AHD training on a small hand-made feature cache, and the evaluation's clip subsampling."""
import json

import numpy as np
import pytest
import torch

from tvau_ros.core.checkpoint import load_ahd_checkpoint
from tvau_ros.data.dataset import TrackSpan
from tvau_ros.evaluation.ahd_benchmark import ClipSubsample
from tvau_ros.train.ahd_trainer import focal_dice_loss, frame_max_loss, select_training_videos, train_ahd
from tvau_ros.train.config import TrainConfig, load_train_config
from tvau_ros.train.features import FeatureCache, encoder_settings, _stored

DIMS = {"num_layers": 2, "visual_dim": 8, "text_dim": 4, "patch_size": 14, "temporal_patch": 1}
MODEL = {"backbone": "dinov2_minilm", "layers": [1, 2], "input_size": [28, 42], "clip_len": 2,
         "motion": True, "mlp_hidden": 16, "logit_scale": 10.0}


def _write_cache(root, videos, temporal_patch=1):
    """Tokens whose first channel marks abnormal cells, so a head can learn the targets. With
    ``temporal_patch`` 2 each (t - k, t) pair is one temporal step, as a Qwen2.5-VL cache holds it."""
    rng = np.random.default_rng(0)
    entries = []
    for split, name, abnormal, category in videos:
        targets = np.zeros((3, 2, 2, 3), np.float16)
        if abnormal:
            targets[:, :, 1, 2] = 1.0
        steps = 2 // temporal_patch
        tokens = rng.normal(size=(3, 2, steps, 2, 3, 8)).astype(np.float16)
        tokens[..., 0] = targets[:, None, :steps] * 3.0
        (root / split).mkdir(parents=True, exist_ok=True)
        labels = np.full((3, 2), int(abnormal), np.uint8)
        np.savez(root / f"{split}/{name}.npz", tokens=tokens, targets=targets, labels=labels)
        entries.append({"name": name, "split": split, "file": f"{split}/{name}.npz", "abnormal": abnormal,
                        "categories": [category] if abnormal else [], "pairs": 3})
    text = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
    dims = {**DIMS, "temporal_patch": temporal_patch}
    (root / "index.json").write_text(json.dumps({"settings": {}, "dims": dims, "grid": [2, 3],
                                                 "text_features": text, "videos": entries}))
    return FeatureCache(root)


VIDEOS = [("train", "a1", True, "running"), ("train", "a2", True, "running"), ("train", "a3", True, "falling"),
          ("train", "n1", False, None), ("validation", "v1", True, "jumping"), ("validation", "v2", False, None)]


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
    straight, again = _head_tensors(tmp_path / "straight" / "ahd.safetensors"), _head_tensors(tmp_path / "again" / "ahd.safetensors")
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
    with pytest.raises(ValueError, match=r"last.pt is a run of 6 steps and this config asks for 15 \(5 epochs x 3 steps\)"):
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
        train_ahd(TrainConfig(**{**cfg.to_dict(), "model": MODEL, "out_dir": str(tmp_path / "motion")}), cache, progress=False)


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


def test_in_type_probe_trains_on_half_the_videos_and_scores_the_other_half(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))
    from cached_pairs_auc import cached_pairs_auc
    from in_type_probe import split_in_halves

    videos = [("train", f"a{i}", True, "running") for i in range(4)] + [("train", f"n{i}", False, None) for i in range(2)]
    cache = _write_cache(tmp_path / "cache", videos)
    halves = split_in_halves(cache.root, "train", tmp_path / "halves")
    assert [v["name"] for v in halves.videos("train")] == ["a0", "a2", "n0"]
    assert [v["name"] for v in halves.videos("validation")] == ["a1", "a3", "n1"]
    assert halves.load(halves.videos("validation"))[0].shape[0] == 9  # the original token files
    cfg = TrainConfig(model=MODEL, out_dir=str(tmp_path / "out"), epochs=15, batch_size=4, lr=0.02, seed=1)
    result = cached_pairs_auc(str(train_ahd(cfg, halves, progress=False)), str(halves.root))
    assert result["frames"] == 9 and result["frame_auc"] == 100.0  # the marked cells are learnable
    assert result["target_above_other"] == 1.0 and result["target_max_median"] > result["other_max_median"]


def test_zoom_probe_linear_probe_scores_frames_by_their_best_crop(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))
    from zoom_probe import candidate_boxes, follow_box, foreground_components, frame_max, linear_probe, pooled_features

    clip = np.full((12, 120, 160, 3), 90, np.uint8)
    for k in range(12):  # one block moving right; a still one is background
        clip[k, 50:70, 10 + 8 * k:18 + 8 * k] = 230
    clip[:, 10:20, 140:150] = 20
    (x0, y0, side), = candidate_boxes(clip, 11)
    assert x0 <= 98 and x0 + side >= 106 and y0 <= 50 and y0 + side >= 70 and side == 40
    # followed back 8 frames, the box is on the block again (8 px / frame to the left), not where it was
    bx, by, _ = follow_box(lambda f: foreground_components(clip, f), (x0, y0, side), 11, 8, 120, 160)
    assert bx <= 98 - 64 and bx + side >= 106 - 64

    rng = np.random.default_rng(0)
    root = tmp_path / "crops"
    entries = []
    for i in range(8):  # crops of abnormal frames carry a shifted channel; frame 2 has no crop
        split = "train" if i % 2 == 0 else "validation"
        owner = np.array([0, 0, 1, 3])
        frame_labels = np.array([[0, 1], [0, 0], [0, 0], [0, 1]], np.uint8)
        targets = np.zeros((4, 2, 2, 2), np.float16)
        targets[[0, 3], 1, 0, 0] = 1
        tokens = rng.normal(size=(4, 2, 2, 2, 2, 8)).astype(np.float16)
        tokens[[0, 3], ..., 0] += 10
        (root / split).mkdir(parents=True, exist_ok=True)
        np.savez(root / f"{split}/v{i}.npz", tokens=tokens, targets=targets, owner=owner, frame_labels=frame_labels)
        entries.append({"name": f"v{i}", "split": split, "file": f"{split}/v{i}.npz", "pairs": 4})
    (root / "index.json").write_text(json.dumps({"dims": DIMS, "grid": [2, 2], "text_features": [[1.0] * 4] * 2,
                                                "videos": entries}))
    assert pooled_features(np.zeros((3, 2, 2, 2, 2, 8), np.float16)).shape == (3, 48)
    assert pooled_features(np.zeros((3, 2, 2, 2, 2, 8), np.float16), np.ones((3, 2, 2, 2, 8), np.float16)).shape == (3, 80)
    result = linear_probe(FeatureCache(root), c=1.0)
    assert result["validation"] == {"crop_auc": 100.0, "frame_auc": 100.0}
    assert frame_max(np.array([0.3]), np.array([1]), 2).tolist() == [0.0, 0.3]


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


@pytest.mark.parametrize("args, message", [
    (["{cache}", "--crop", "15"], "--crop must be a positive multiple of 14, got 15"),
    (["{cache}", "--history", "4,x"], "--history must be comma-separated frame offsets, got '4,x'"),
    (["{cache}", "--history", "0"], "--history offsets must be >= 1, got '0'"),
    (["{missing}"], "not a feature cache (no index.json)"),
])
def test_zoom_probe_bad_arguments_exit_with_one_line_naming_the_value(tmp_path, args, message):
    import subprocess
    import sys
    from pathlib import Path

    cache = _write_cache(tmp_path / "cache", VIDEOS).root
    script = Path(__file__).resolve().parents[2] / "training" / "zoom_probe.py"
    argv = [a.format(cache=cache, missing=tmp_path / "missing") for a in args]
    done = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def _moving_blocks_video():
    """A 40-frame clip: block A walks right at 1 px/frame, block B (the abnormal target,
    frames 20+) rushes left at 6 px/frame; both 20 px tall."""
    from tvau_ros.data.dataset import TrackSpan, VideoSample

    frames = np.full((40, 120, 320, 3), 90, np.uint8)
    masks = np.zeros((40, 120, 320), np.int32)
    for k in range(40):
        frames[k, 20:40, 20 + k:28 + k] = 230
        frames[k, 80:100, 280 - 6 * k:288 - 6 * k] = 30
        masks[k, 80:100, 280 - 6 * k:288 - 6 * k] = 1 if k >= 20 else 0
    labels = (np.arange(40) >= 20).astype(np.uint8)
    return VideoSample("clip", "s", "test", 40, 120, 320, 15.0, labels, [TrackSpan(1, 20, 39)],
                       frame_reader=lambda a, b, s: frames[a:b:s], mask_reader=lambda f: masks[f])


def test_track_probe_follows_boxes_and_scores_the_unusual_mover():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))
    from track_probe import FEATURES, evaluate_split, knn_scorer, person_gate, track_features, video_tracks

    video = _moving_blocks_video()
    table = video_tracks(video)
    # the first frames hold start-up ghosts (the background median has not seen the scene empty);
    # once it has, each block is one track
    assert len(np.unique(table[table[:, 0] >= 20, 1])) == 2
    target = table[:, 6] >= 0.3
    assert set(table[target, 0].astype(int)) == set(range(20, 40))  # boxes of labelled frames hold the mask
    features = track_features(table, 15.0)
    speed = features[:, FEATURES.index("speed")]
    late = table[:, 0] >= 25  # a full second of history
    assert np.all(speed[late & target] > 3.0) and np.all(speed[late & ~target] < 1.2)  # heights per second
    gate = person_gate(features, min_age_s=0.5, min_size_ratio=0.6)
    assert not gate[table[:, 0] < 7].any() and gate[late].all()  # new tracks wait half a second
    walker = table[:, 3] < 60  # block A's boxes: the normal bank
    result = evaluate_split([video], {"clip": table}, {"knn": knn_scorer(features[walker], 3)}, stride=1)
    assert result["target_recall"] == 100.0 and result["knn"]["box_auc"] > 90.0
    assert result["track_ids_per_target_video"] == 1.0  # one unbroken track holds the target


def test_track_probe_clips_a_detector_box_that_leaves_the_frame():
    import sys
    from pathlib import Path

    from tvau_ros.data.dataset import TrackSpan, VideoSample

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))
    from track_probe import video_tracks

    frames = np.zeros((5, 120, 320, 3), np.uint8)
    masks = np.zeros((5, 120, 320), np.int32)
    masks[:, 80:100, 0:8] = 1  # a target at the left edge
    video = VideoSample("edge", "s", "test", 5, 120, 320, 15.0, np.ones(5, np.uint8), [TrackSpan(1, 0, 4)],
                        frame_reader=lambda a, b, s: frames[a:b:s], mask_reader=lambda f: masks[f])
    table = video_tracks(video, lambda f: [np.array([[-4.0, 78.0, 14.0, 24.0]], np.float32)] * len(f))
    assert table[:, 2:6].tolist() == [[0, 78, 10, 24]] * 5  # x from -4 clipped to 0, width 14 -> 10
    assert table[:, 6].tolist() == [1.0] * 5  # the whole target inside (a negative x would wrap the mask slice)


def test_track_probe_edge_boxes_are_those_the_frame_border_cuts():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))
    from track_probe import edge_boxes

    # (frame, track, x, y, w, h, target) in a 120x320 frame: left, top, right, bottom edge, inside
    table = np.array([[0, 1, 0, 50, 8, 20, 0], [0, 2, 100, 0, 8, 20, 0], [0, 3, 312, 50, 8, 20, 0],
                      [0, 4, 100, 100, 8, 20, 0], [0, 5, 150, 50, 8, 20, 0]], np.float32)
    assert edge_boxes(table, 120, 320, 1).tolist() == [True, True, True, True, False]
    assert edge_boxes(table, 120, 320, 50).tolist() == [True, True, True, True, True]
    assert not edge_boxes(table, 120, 320, -1).any()  # a negative margin: every box is scored


def test_person_detector_targets_decode_back_to_their_boxes_and_a_few_steps_fit_them():
    import sys
    from pathlib import Path

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))
    from learnt_tracks import PersonDetector, decode, detector_loss, heatmap_targets, precision_recall

    boxes = [np.array([[40, 20, 12, 30], [100, 60, 20, 44]], np.float32), np.zeros((0, 4), np.float32)]
    heat, regress, mask = heatmap_targets(boxes, (30, 40))
    assert heat.shape == (2, 1, 30, 40) and float(mask.sum()) == 2 and float(heat[1].max()) == 0.0
    # a perfect network output (logits from the targets) decodes to the labelled boxes exactly
    logits = torch.cat([torch.logit(heat.clamp(1e-4, 1 - 1e-4)), regress], 1)
    decoded = decode(logits, 0.5)
    assert np.allclose(decoded[0][np.argsort(decoded[0][:, 0])], boxes[0], atol=1e-3) and len(decoded[1]) == 0
    assert precision_recall(decoded, boxes) == (1.0, 1.0)

    torch.manual_seed(0)
    net = PersonDetector(width=16)
    x = torch.zeros(2, 4, 120, 160)
    x[0, :3, 20:50, 40:52] = 1.0  # the two "people" as bright blocks
    x[0, :3, 60:104, 100:120] = 1.0
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = detector_loss(net(x), heat, regress, mask)
        first = first if first is not None else loss.item()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.2 * first


def test_appearance_probe_crops_boxes_and_scores_an_unseen_shape_with_nan_rows_left_out():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))
    from appearance_probe import box_crops
    from track_probe import distance_scorer, evaluate_split

    frame = np.zeros((60, 80, 3), np.uint8)
    frame[0:10, 0:4] = 200  # a box in the corner: the crop is edge-padded, not shifted
    crops = box_crops(frame, np.array([[0, 0, 4, 10], [40, 30, 10, 10]]), 28)
    assert crops.shape == (2, 28, 28, 3)
    assert crops[0, 14, 14, 0] == 200 and crops[1].max() == 0
    bank = np.random.default_rng(0).normal(0, 0.05, (50, 8))
    score = distance_scorer(bank, 5)
    assert score(np.full((1, 8), 0.5))[0] > score(np.zeros((1, 8)))[0]

    video = _moving_blocks_video()
    table = np.array([[f, 1, 280 - 6 * f, 80, 8, 20, 1.0 if f >= 20 else 0.0] for f in range(40)], np.float32)
    outside = (np.arange(40) // 8) % 2 == 1  # frames stride 2 does not evaluate: NaN, left out of the box AUC
    label = (np.arange(40) >= 20).astype(float)
    features = {"clip": np.where(outside, np.nan, label)[:, None]}
    result = evaluate_split([video], {"clip": table}, {"s": lambda f: f[:, 0]}, stride=2, features=features)
    assert result["s"]["box_auc"] == 100.0 and result["s"]["micro_auc"] == 100.0


def test_token_knn_probe_scores_cells_unlike_normal_ones_higher(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))
    from token_knn_probe import token_knn_probe

    cache = _write_cache(tmp_path / "cache", VIDEOS)
    rng = np.random.default_rng(1)
    for entry in cache.index["videos"]:  # every cell near one token, an abnormal cell near another one
        with np.load(cache.root / entry["file"]) as data:
            arrays = dict(data)
        tokens = np.tile(np.eye(8, dtype=np.float16)[1], (3, 2, 2, 2, 3, 1)) + rng.normal(0, 0.05, (3, 2, 2, 2, 3, 8))
        tokens[..., 0] += 2.0 * arrays["targets"][:, None]
        np.savez(cache.root / entry["file"], **{**arrays, "tokens": tokens.astype(np.float16)})
    result = token_knn_probe(cache, [0, 1], ["appearance", "motion"], bank=1000, neighbours=1)
    assert result["frames"] == 6 and result["cell_auc"] > 90 and result["target_above_other"] == 1.0
    per_scene = token_knn_probe(cache, [0], ["appearance"], position=1.0, per_scene=True, bank=1000, neighbours=1)
    assert per_scene["cell_auc"] > 90  # the names hold no scene with normal pairs: the global bank serves


@pytest.mark.parametrize("script, args, message", [
    ("token_knn_probe.py", ["{missing}"], "feature cache index not found"),
    ("token_knn_probe.py", ["{cache}", "--layers", "9"], "--layers 9 is not in the cache (cached blocks: [1, 4, 8, 12])"),
    ("token_knn_probe.py", ["{cache}", "--parts", "colour"], "--parts 'colour': choose among appearance, motion"),
    ("token_knn_probe.py", ["{cache}", "--bank", "0"], "got 0, 3, 5 and 0.0"),
    ("track_probe.py", ["--neighbours", "0"], "--neighbours must be >= 1, got 0"),
    ("track_probe.py", ["--splits", "validation,tset"], "unknown split 'tset'"),
    ("track_probe.py", ["--dataset", "{missing}"], "is not a directory"),
    ("track_probe.py", ["--min-age", "-1"], "must be >= 0, got -1.0"),
    ("oracle_tracks.py", ["--dataset", "{missing}"], "is not a directory"),
    ("learnt_tracks.py", ["--epochs", "0"], "--epochs must be >= 1, got 0"),
    ("learnt_tracks.py", ["--threshold", "1.5"], "--threshold must be in (0, 1), got 1.5"),
    ("oracle_tracks.py", ["--dataset", "{empty}", "--config", "nope"], "--config nope: config 'nope' is neither"),
    ("appearance_probe.py", ["--crop", "50"], "--crop must be a positive multiple of 14, got 50"),
    ("appearance_probe.py", ["--bank", "0"], "--bank must be >= 1, got 0"),
    ("appearance_probe.py", ["--tracks", "{missing}"], "has no tracks/train"),
])
def test_track_probes_bad_arguments_exit_with_one_line_naming_the_value(tmp_path, script, args, message):
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "empty").mkdir()
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "index.json").write_text(json.dumps({"settings": {"encoder": {"layers": [1, 4, 8, 12]}}, "videos": []}))
    script = Path(__file__).resolve().parents[2] / "training" / script
    argv = [a.format(missing=tmp_path / "missing", empty=tmp_path / "empty", cache=tmp_path / "cache") for a in args]
    done = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
