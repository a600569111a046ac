"""Synthetic benchmark generator: configs, determinism, statistics, every anomaly type,
and trajectory facts measured from masks."""
import json
from pathlib import Path

import numpy as np
import pytest

from tvau_data_fixtures import TINY, generated_root, tiny_config  # noqa: E402

from tvau_ros.data import load_dataset  # noqa: E402
from tvau_ros.data.synthetic import (ANOMALY_TYPES, LAYOUTS, ConfigError, GenerateError,  # noqa: E402
                                     generate_dataset, load_generator_config, plan_jobs)
from tvau_ros.data.synthetic.camera import Camera  # noqa: E402
from tvau_ros.data.synthetic.config import config_from_dict  # noqa: E402
from tvau_ros.data.synthetic.scene import make_scene_spec  # noqa: E402
from tvau_ros.data.synthetic.trajectory import mask_track, trajectory_facts  # noqa: E402
from tvau_ros.data.synthetic.video import VideoJob, render_job  # noqa: E402


def test_packaged_configs_are_open_set_and_varied():
    cfg = load_generator_config("default")
    types = [set(s.anomaly_types) for s in cfg.splits.values()]
    assert sum(len(t) for t in types) >= 12
    assert not (types[0] & types[1] or types[0] & types[2] or types[1] & types[2])
    assert len(LAYOUTS) >= 12 and cfg.scenes >= len(LAYOUTS)
    assert cfg.width >= 320 and cfg.height >= 240
    videos = {k: s.videos for k, s in cfg.splits.items()}
    assert videos == {"train": 150, "validation": 40, "test": 80}
    jobs = plan_jobs(cfg)
    assert all(100 <= j.num_frames <= 300 for j in jobs)
    assert {t for j in jobs for t in j.anomaly_types} == set().union(*types)
    smoke = load_generator_config("smoke")
    assert sum(j.num_frames for j in plan_jobs(smoke)) < 500


def test_config_errors_name_the_problem(tmp_path):
    bad = dict(TINY, splits=dict(TINY["splits"], test={"videos": 1, "abnormal_fraction": 1.0,
                                                       "anomaly_types": ["running"]}))
    with pytest.raises(ConfigError, match="'running' is in both train and test"):
        config_from_dict(bad, "x.yaml")
    with pytest.raises(ConfigError, match="unknown anomaly type 'flying'"):
        config_from_dict(dict(TINY, splits={"train": {"videos": 1, "anomaly_types": ["flying"]}}), "x.yaml")
    with pytest.raises(ConfigError, match="unknown key.*colour"):
        config_from_dict(dict(TINY, colour=1), "x.yaml")
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yaml: invalid YAML"):
        load_generator_config(str(path))
    with pytest.raises(ConfigError, match="available: default, smoke"):
        load_generator_config("no_such_config")


def _snapshot(root: Path) -> dict:
    out = {}
    for p in sorted((root / "ubnormal").rglob("*")):
        if p.suffix in (".png", ".txt", ".json"):
            out[str(p.relative_to(root))] = p.read_bytes()
    for p in sorted((root / "shanghaitech").rglob("*.npy")):
        out[str(p.relative_to(root))] = p.read_bytes()
    return out


def test_same_seed_gives_identical_labels_masks_and_meta(tmp_path_factory):
    one = generated_root(tmp_path_factory, seed=5, workers=1)
    two = generated_root(tmp_path_factory, seed=5, workers=2)
    a, b = _snapshot(one), _snapshot(two)
    assert any(k.endswith("_gt.png") for k in a) and any(k.endswith("_tracks.txt") for k in a)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_other_seed_gives_other_videos(tmp_path):
    cfg = tiny_config(splits={"test": {"videos": 1, "abnormal_fraction": 1.0, "anomaly_types": ["cycling"]}},
                      frames=[20, 20])
    metas = []
    for seed in (1, 2):
        generate_dataset(cfg, tmp_path / str(seed), seed=seed, progress=False)
        metas.append(load_dataset(tmp_path / str(seed), "test")[0].meta)
    assert metas[0]["targets"] != metas[1]["targets"] or metas[0]["camera"] != metas[1]["camera"]


def test_stats_match_what_the_readers_load(tmp_path_factory):
    root = generated_root(tmp_path_factory)
    stats = json.loads((root / "stats.json").read_text())
    for split in ("train", "validation", "test"):
        samples = load_dataset(root, split)
        s = stats["splits"][split]
        assert s["videos"] == len(samples) == TINY["splits"][split]["videos"]
        assert s["frames"] == sum(x.num_frames for x in samples)
        assert s["abnormal_frames"] == sum(int(x.frame_labels.sum()) for x in samples)
        assert s["anomaly_types"] == sorted({t["category"] for x in samples for t in x.meta["targets"]})
        assert set(s["anomaly_types"]) <= set(TINY["splits"][split]["anomaly_types"])
        assert s["mean_target_size_px"] > 0 or not s["targets"]
    with pytest.raises(GenerateError, match="already holds generated data"):
        generate_dataset(tiny_config(), root, progress=False)


def test_meta_ground_truth_is_complete(tmp_path_factory):
    root = generated_root(tmp_path_factory)
    colors = {"black", "white", "gray", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown"}
    sides = {"left", "right", "top", "bottom", "inside"}
    seen = 0
    for split in ("train", "validation", "test"):
        for s in load_dataset(root, split):
            assert s.meta["video"] == s.name and s.meta["num_frames"] == s.num_frames
            for t in s.meta["targets"]:
                seen += 1
                a, traj = t["attributes"], t["trajectory"]
                assert a["top_color"] in colors and a["bottom_color"] in colors
                assert set(a["accessories"]) <= {"backpack", "hat", "umbrella", "bag"}
                assert a["size_class"] in {"small", "medium", "large"}
                assert traj["entry_side"] in sides and traj["exit_side"] in sides
                states = traj["speed_states"]
                assert states[0]["start"] == t["start"] and states[-1]["end"] == t["end"]
                assert all(x["end"] + 1 == y["start"] for x, y in zip(states, states[1:], strict=False))
                mask = s.read_mask(t["start"])
                assert (mask == t["object_id"]).any() or t["visible_frames"] < t["end"] - t["start"] + 1
    assert seen >= 3


def test_every_anomaly_type_renders_a_visible_target():
    cfg = load_generator_config("smoke")
    specs = [make_scene_spec(0, i, 320, 240) for i in (1, 3)]  # one-way walkway; crossroads
    for k, name in enumerate(sorted(ANOMALY_TYPES)):
        spec = specs[0] if ANOMALY_TYPES[name].needs_one_way or k % 2 else specs[1]
        job = VideoJob(f"abnormal_scene_{spec.index}_scenario_{k}", "test", k, 0, spec, 36, 12.0, [name],
                       (1, 2), 0.0, cfg.effects)
        res = render_job(job)
        targets = res.meta["targets"]
        assert targets and {t["category"] for t in targets} == {name}
        for t in targets:
            span = res.labels[t["start"]:t["end"] + 1]
            assert (span == t["object_id"]).any(axis=(1, 2)).sum() >= 4, name
        assert res.frame_labels.any()
        assert len(res.frames) == 36 and res.frames[0].shape == (240, 320, 3)


def test_trajectory_facts_from_a_moving_mask():
    cam = Camera(160, 120, height_m=6.0, tilt_deg=30.0, hfov_deg=60.0)
    n = 45
    labels = np.zeros((n, 120, 160), np.uint8)
    for i in range(n):  # enters at the left border, goes right, then turns towards the camera
        if i < 30:
            x, y = -6 + 3 * i, 60
        else:
            x, y = -6 + 3 * 29, 60 + 3 * (i - 29)
        labels[i, max(0, y - 20):y, max(0, x):max(0, x + 8)] = 2
    track = mask_track(labels, 2, 0, n - 1)
    facts = trajectory_facts(track, cam, fps=15.0)
    assert facts["entry_side"] == "left"
    assert facts["exit_side"] == "inside"
    assert [t["direction"] for t in facts["turns"]] == ["right"]
    assert 24 <= facts["turns"][0]["frame"] <= 36
    # 3 px/frame at the image centre, 12 m away (0.087 m/px), 15 fps: about 3.9 m/s
    assert facts["speed_states"][0] == {"start": 0, "end": facts["speed_states"][0]["end"], "state": "running"}


def test_actor_boxes_cover_every_actor_and_change_no_pixel():
    cfg = load_generator_config("smoke")
    spec = make_scene_spec(0, 1, 320, 240)
    job = VideoJob("abnormal_scene_1_scenario_0", "test", 0, 0, spec, 24, 12.0, ["running"], (4, 6), 0.0, cfg.effects)
    plain, boxed = render_job(job), render_job(job, actor_boxes=True)
    assert plain.actor_boxes is None
    assert all(np.array_equal(a, b) for a, b in zip(plain.frames, boxed.frames, strict=True))
    assert np.array_equal(plain.labels, boxed.labels)
    actors = {actor for _, actor, _, _ in boxed.actor_boxes}
    assert len(actors) >= 3  # normal pedestrians too, not only the target
    for frame, _, (x0, y0, x1, y1), obj_id in boxed.actor_boxes:
        ys, xs = np.nonzero(boxed.labels[frame] == obj_id) if obj_id else ((), ())
        # a target's pixels
        assert all(x0 - 1 <= x <= x1 + 1 and y0 - 1 <= y <= y1 + 1 for x, y in zip(xs, ys, strict=True))
    # the oracle track table built from these boxes: research/tests/test_track_probes.py
