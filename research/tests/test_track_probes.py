"""Tests of the research track probes (research/track_probe.py, oracle_tracks.py, learnt_tracks.py,
appearance_probe.py, token_knn_probe.py): real code on small made-up clips, no sys.path edits."""
import json

import numpy as np
import pytest
import torch

from research.appearance_probe import box_crops
from research.learnt_tracks import PersonDetector, decode, detector_loss, heatmap_targets, precision_recall
from research.oracle_tracks import oracle_table
from research.tests.probe_runner import run_probe
from research.token_knn_probe import token_knn_probe
from research.track_probe import (
    FEATURES,
    distance_scorer,
    edge_boxes,
    evaluate_split,
    knn_scorer,
    person_gate,
    track_features,
    video_tracks,
)
from tvau_ros.data.dataset import TrackSpan, VideoSample
from tvau_ros.data.synthetic import load_generator_config
from tvau_ros.data.synthetic.scene import make_scene_spec
from tvau_ros.data.synthetic.video import VideoJob, render_job

from feature_cache import VIDEOS, write_cache


def test_oracle_table_marks_the_frames_where_the_target_shows():
    cfg = load_generator_config("smoke")
    spec = make_scene_spec(0, 1, 320, 240)
    job = VideoJob("abnormal_scene_1_scenario_0", "test", 0, 0, spec, 24, 12.0, ["running"], (4, 6), 0.0, cfg.effects)
    boxed = render_job(job, actor_boxes=True)
    table = oracle_table(boxed)
    target_frames = set(table[table[:, 6] > 0, 0].astype(int))
    assert target_frames == set(np.flatnonzero(boxed.frame_labels)) - {
        f for f in range(24) if not (boxed.labels[f] > 0).any()}  # labelled frames where it shows


def _moving_blocks_video():
    """A 40-frame clip: block A walks right at 1 px/frame, block B (the abnormal target,
    frames 20+) rushes left at 6 px/frame; both 20 px tall."""
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
    from tvau_ros.data.dataset import TrackSpan, VideoSample


    frames = np.zeros((5, 120, 320, 3), np.uint8)
    masks = np.zeros((5, 120, 320), np.int32)
    masks[:, 80:100, 0:8] = 1  # a target at the left edge
    video = VideoSample("edge", "s", "test", 5, 120, 320, 15.0, np.ones(5, np.uint8), [TrackSpan(1, 0, 4)],
                        frame_reader=lambda a, b, s: frames[a:b:s], mask_reader=lambda f: masks[f])
    table = video_tracks(video, lambda f: [np.array([[-4.0, 78.0, 14.0, 24.0]], np.float32)] * len(f))
    assert table[:, 2:6].tolist() == [[0, 78, 10, 24]] * 5  # x from -4 clipped to 0, width 14 -> 10
    assert table[:, 6].tolist() == [1.0] * 5  # the whole target inside (a negative x would wrap the mask slice)


def test_track_probe_edge_boxes_are_those_the_frame_border_cuts():

    # (frame, track, x, y, w, h, target) in a 120x320 frame: left, top, right, bottom edge, inside
    table = np.array([[0, 1, 0, 50, 8, 20, 0], [0, 2, 100, 0, 8, 20, 0], [0, 3, 312, 50, 8, 20, 0],
                      [0, 4, 100, 100, 8, 20, 0], [0, 5, 150, 50, 8, 20, 0]], np.float32)
    assert edge_boxes(table, 120, 320, 1).tolist() == [True, True, True, True, False]
    assert edge_boxes(table, 120, 320, 50).tolist() == [True, True, True, True, True]
    assert not edge_boxes(table, 120, 320, -1).any()  # a negative margin: every box is scored


def test_person_detector_targets_decode_back_to_their_boxes_and_a_few_steps_fit_them():
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

    cache = write_cache(tmp_path / "cache", VIDEOS)
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
    ("token_knn_probe.py", ["{cache}", "--layers", "9"],
     "--layers 9 is not in the cache (cached blocks: [1, 4, 8, 12])"),
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
    (tmp_path / "empty").mkdir()
    (tmp_path / "cache").mkdir()
    index = {"settings": {"encoder": {"layers": [1, 4, 8, 12]}}, "videos": []}
    (tmp_path / "cache" / "index.json").write_text(json.dumps(index))
    argv = [a.format(missing=tmp_path / "missing", empty=tmp_path / "empty", cache=tmp_path / "cache") for a in args]
    done = run_probe(script.removesuffix(".py"), argv)
    assert done.returncode != 0 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
