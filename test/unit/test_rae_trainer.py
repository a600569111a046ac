"""`tvau train rae` (stage 2) on synthetic dialogue clips and a tiny random-weight Qwen2.5-VL."""
import json

import numpy as np
import pytest
import torch

from tvau_ros.core.lvlm import LvlmAnswerer
from tvau_ros.core.lvlm.dialogue_data import DialogueClip, sample_indices
from tvau_ros.data.annotation.dialogue import TargetAnnotation, build_dialogue
from tvau_ros.train.rae_config import RaeTrainConfig, load_rae_config
from tvau_ros.train.rae_trainer import train_rae

MODEL = {"shape": "tiny", "trainable": "lora", "compact_vocab": True, "dtype": "float32"}
SMALL = dict(rae={"n_base": 2, "conv_channels": 4, "mlp_hidden": 8}, video={"min_pixels": 3136, "max_pixels": 4704},
             lora={"r": 2, "alpha": 4, "dropout": 0.1}, num_frames=6, batch_size=2, lr=5e-3, seed=3)


def _clip(i: int, abnormal: bool) -> DialogueClip:
    rng = np.random.default_rng(i)
    frames = rng.integers(0, 256, (6, 48, 64, 3), dtype=np.uint8)
    heat = np.zeros((6, 12, 16), np.float32)
    targets = []
    if abnormal:
        side = "left" if i % 2 else "right"
        for t in range(6):
            col = 2 * t if side == "left" else 14 - 2 * t
            heat[t, 4:8, col:col + 2] = 1.0
        targets = [TargetAnnotation(1, 1, 0, 5, "person",
                                    {"top_color": "red", "bottom_color": "blue", "size_class": "small"},
                                    {"entry_side": side, "exit_side": "inside", "entry_frame": 0, "exit_frame": 5,
                                     "turns": [], "speed_states": [{"start": 0, "end": 5, "state": "running"}]})]
    sample = build_dialogue(f"v{i}", "train", "S", 15.0, 6, 64, 48, targets)
    return DialogueClip(sample, frames, heat, sample_indices(6, 6), 15.0)


CLIPS = {"train": [_clip(i, i % 3 != 0) for i in range(4)], "validation": [_clip(10, True)]}


def _cfg(out, **kw) -> RaeTrainConfig:
    return RaeTrainConfig(**{"model": MODEL, "out_dir": str(out), "epochs": 3, **SMALL, **kw})


def test_training_writes_an_adapter_that_loads_and_answers(tmp_path):
    adapter = train_rae(_cfg(tmp_path / "out"), progress=False, clips=CLIPS)
    meta = json.loads((adapter / "tvau_lvlm.json").read_text())
    assert (meta["best"]["epoch"] >= 1
            and meta["parameters"]["trainable"] == meta["parameters"]["rae"] + meta["parameters"]["lora"])
    log = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3] and log[-1]["train_loss"] < log[0]["train_loss"]
    answerer = LvlmAnswerer.from_pretrained(meta["model_path"], adapter=adapter)
    assert answerer.lora is not None and answerer.rae is not None
    clip = CLIPS["train"][1]
    assert isinstance(answerer.generate(clip.frames, clip.heatmaps, clip.turns()[0][0], max_new_tokens=4), str)


def test_lora_training_leaves_the_base_model_untouched(tmp_path):
    train_rae(_cfg(tmp_path / "a", epochs=1), progress=False, clips=CLIPS)
    train_rae(_cfg(tmp_path / "b", epochs=2, lr=0.05), progress=False, clips=CLIPS)
    from safetensors.torch import load_file

    a, b = (load_file(str(tmp_path / "a" / "model" / "model.safetensors")),
            load_file(str(tmp_path / "b" / "model" / "model.safetensors")))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)     # same seed, frozen base
    ra, rb = (load_file(str(tmp_path / "a" / "adapter" / "rae.safetensors")),
              load_file(str(tmp_path / "b" / "adapter" / "rae.safetensors")))
    assert not all(torch.equal(ra[k], rb[k]) for k in ra)


def test_language_model_mode_trains_the_llm_and_keeps_the_vision_tower(tmp_path):
    cfg = _cfg(tmp_path / "lm", epochs=1, model={**MODEL, "trainable": "language_model"})
    adapter = train_rae(cfg, progress=False, clips=CLIPS)
    meta = json.loads((adapter / "tvau_lvlm.json").read_text())
    assert meta["lora"] is None and meta["parameters"]["lora"] == 0
    assert meta["parameters"]["trainable"] > 10 * meta["parameters"]["rae"]
    reference = train_rae(_cfg(tmp_path / "ref", epochs=1), progress=False, clips=CLIPS).parent / "model"
    from safetensors.torch import load_file

    trained, initial = (load_file(str(tmp_path / "lm" / "model" / "model.safetensors")),
                        load_file(str(reference / "model.safetensors")))
    vision = [k for k in trained if k.startswith("visual.")]         # checkpoint names: visual.*, model.*, lm_head
    language = [k for k in trained if k.startswith("model.layers.")]
    assert vision and language and trained.keys() == initial.keys()
    assert all(torch.equal(trained[k], initial[k]) for k in vision)
    assert not any(torch.equal(trained[k], initial[k]) for k in language if k.endswith("proj.weight"))


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    import tvau_ros.train.rae_trainer as trainer
    from safetensors.torch import load_file

    train_rae(_cfg(tmp_path / "straight"), progress=False, clips=CLIPS)
    evaluate, calls = trainer.evaluate_loss, []

    def killed_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(trainer, "evaluate_loss", killed_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train_rae(_cfg(tmp_path / "resumed"), progress=False, clips=CLIPS)
    monkeypatch.setattr(trainer, "evaluate_loss", evaluate)
    train_rae(_cfg(tmp_path / "resumed"), progress=False, clips=CLIPS)
    log = [json.loads(line) for line in (tmp_path / "resumed" / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3]
    for name in ("rae.safetensors", "adapter_model.safetensors"):
        s, r = (load_file(str(tmp_path / "straight" / "adapter" / name)),
                load_file(str(tmp_path / "resumed" / "adapter" / name)))
        assert s.keys() == r.keys() and all(torch.equal(s[k], r[k]) for k in s), name
    longer = _cfg(tmp_path / "resumed", epochs=5)
    with pytest.raises(ValueError, match=r"last.pt is a run of 6 steps and this config asks for 10"):
        train_rae(longer, progress=False, clips=CLIPS)


def test_bad_training_configs_name_the_setting(tmp_path):
    cases = [
        ({"model": {"shape": "tiny", "trainable": "everything"}}, "model.trainable must be one of"),
        ({"model": {"trainable": "lora"}}, "needs a model_path"),
        ({"model": {**MODEL, "layers": 3}}, r"unknown model setting\(s\) \['layers'\]"),
        ({"heatmap_mode": "both"}, "heatmap_mode must be one of"),
        ({"rae": {"width": 2}}, r"unknown RAE setting\(s\) \['width'\]"),
        ({"lora": {"r": 0}}, "lora r must be a positive integer"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"lr": "fast"}, "lr must be a positive number"),
        ({"lr": 0}, "lr must be a positive number"),
        ({"epochs": True}, "epochs must be a positive integer"),
        ({"weight_decay": -0.1}, "weight_decay must be a number >= 0, got -0.1"),
        ({"grad_clip": True}, "grad_clip must be a number >= 0"),
        ({"seed": 1.5}, "seed must be an integer >= 0"),
        ({"limit": 0}, "limit must be a positive integer or null"),
        ({"max_side": "big"}, "max_side must be a positive integer or null"),
        ({"dataset": 3}, "dataset must be a non-empty string"),
        ({"val_dialogues": ["a.jsonl"]}, "val_dialogues must be a path or null"),
        ({"train_dataset": 5}, "train_dataset must be a path or null, got 5"),
        ({"lora": [1, 2]}, "lora must be a mapping"),
    ]
    for override, message in cases:
        path = tmp_path / "bad.yaml"
        import yaml

        path.write_text(yaml.safe_dump({"model": MODEL, **override}))
        with pytest.raises(ValueError, match=message):
            load_rae_config(path)
    path.write_text("epochs: 2\nbatch: 3\n")
    with pytest.raises(ValueError, match=r"unknown training setting\(s\) \['batch'\]"):
        load_rae_config(path)


def test_cli_errors_are_one_line_naming_the_value(tmp_path, capsys):
    from tvau_ros.cli import main

    assert main(["train", "rae", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "training config not found" in capsys.readouterr().err
    good = tmp_path / "rae.yaml"
    import yaml

    good.write_text(yaml.safe_dump({"model": MODEL, "dataset": str(tmp_path)}))
    assert main(["train", "rae", "--config", str(good), "--set", "lora.r=0"]) == 2
    assert "lora r must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["train", "rae", "--config", str(good), "--model-path", str(tmp_path / "no_qwen"),
                 "--train-dialogues", str(tmp_path / "none.jsonl"), "--val-dialogues", ""]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.jsonl" in err
