"""The LVLM path end to end as a user runs it: `tvau data generate` + `tvau data annotate` on the
smoke benchmark, `tvau train rae` (one process and torchrun), the Table 2/3 ablation runner and the
GPU benchmark's CPU mode, each in its own process, on a tiny random-weight Qwen2.5-VL."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TINY = {"model": {"shape": "tiny", "trainable": "language_model", "compact_vocab": True, "dtype": "float32"},
        "rae": {"n_base": 2, "conv_channels": 4, "mlp_hidden": 16}, "video": {"min_pixels": 3136, "max_pixels": 6272},
        "num_frames": 6, "max_side": 80, "epochs": 1, "batch_size": 2, "lr": 1e-3}


def _run(args, timeout=600):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("lvlm_smoke")
    done = _run([sys.executable, "-m", "tvau_ros.cli", "data", "generate", "--config", "smoke", "--out", str(root),
                 "--no-progress"])
    assert done.returncode == 0, done.stderr
    for split in ("train", "test"):
        done = _run([sys.executable, "-m", "tvau_ros.cli", "data", "annotate", "--dataset", str(root), "--split", split,
                     "--out", str(root / f"ann_{split}.jsonl")])
        assert done.returncode == 0, done.stderr
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "dataset": str(root), "train_dialogues": str(root / "ann_train.jsonl"),
                                      "val_dialogues": None}))
    return root, config


def test_train_rae_cli_writes_an_adapter_that_answers(smoke, tmp_path):
    root, config = smoke
    done = _run([sys.executable, "-m", "tvau_ros.cli", "train", "rae", "--config", str(config), "--out",
                 str(tmp_path / "out"), "--quiet", "--set", "heatmap_mode=rae",
                 # the training dialogues' videos under train_dataset, not dataset
                 "--set", f"dataset={tmp_path / 'no_videos'}", "--set", f"train_dataset={root}"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"train: adapter {tmp_path / 'out' / 'adapter'}" in done.stdout
    from tvau_ros.core.lvlm import LvlmAnswerer
    from tvau_ros.core.lvlm.evaluate import evaluate_dialogues

    answerer = LvlmAnswerer.from_pretrained(tmp_path / "out" / "model", adapter=tmp_path / "out" / "adapter")
    records, scores = evaluate_dialogues(answerer, root / "ann_test.jsonl", root, num_frames=6, max_new_tokens=8)
    assert scores["dialogues"] == sum(r["kind"] == "judgment" for r in records) > 0
    assert {"video", "kind", "question", "prediction", "references", "abnormal"} <= set(records[0])
    bad = _run([sys.executable, "-m", "tvau_ros.cli", "train", "rae", "--config", str(config), "--out",
                str(tmp_path / "bad"), "--model-path", str(tmp_path / "no_such_qwen")])
    assert bad.returncode == 2 and "no_such_qwen does not exist or is not a folder" in bad.stderr
    assert bad.stderr.strip().count("\n") == 0


@pytest.mark.slow
def test_train_rae_under_torchrun_writes_one_adapter(smoke, tmp_path):
    root, config = smoke
    torchrun = Path(sys.executable).with_name("torchrun")
    done = _run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "tvau_ros.cli", "train", "rae",
                 "--config", str(config), "--out", str(tmp_path / "out"), "--epochs", "2", "--quiet"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("train: adapter") == 1
    log = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    assert (tmp_path / "out" / "adapter" / "rae.safetensors").is_file()


@pytest.mark.slow
def test_ablation_runner_trains_and_scores_three_variants(smoke, tmp_path):
    root, config = smoke
    done = _run([sys.executable, "-m", "tvau_ros.train.rae_ablation", "--config", str(config),
                 "--test-dialogues", str(root / "ann_test.jsonl"), "--out", str(tmp_path / "abl"), "--seed", "3",
                 "--quiet"])
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    rows = report["rows"]
    assert report["config"]["seed"] == 3
    assert [r["variant"] for r in rows] == ["w/o AHD", "w/o RAE", "full"]
    assert rows[0]["parameters"] == rows[2]["parameters"] > rows[1]["parameters"]   # the RAE's parameters
    assert all(0 <= r["yes_no_accuracy"] <= 100 for r in rows)
    assert "| full |" in done.stdout and (tmp_path / "abl" / "full" / "predictions.jsonl").is_file()
    bad = _run([sys.executable, "-m", "tvau_ros.train.rae_ablation", "--config", str(config), "--test-dialogues",
                str(root / "ann_test.jsonl"), "--out", str(tmp_path / "x"), "--variants", "full,half"])
    assert bad.returncode == 2 and "unknown variant(s) ['half']" in bad.stderr


def test_gpu_benchmark_cpu_mode_runs_the_same_code_path():
    done = _run([sys.executable, "scripts/gpu_lvlm_bench.py", "--tiny", "--stand-in-tokenizer"])
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"shape"')]
    assert [r["lora"] for r in rows] == ["separate", "merged"]
    assert all(r["generated_tokens"] == 4 and r["ttft_s"] > 0 and r["decode_tokens_per_s"] > 0 for r in rows)
    assert rows[0]["parameters"]["rae"] > 0 and rows[0]["parameters"]["lora"] > 0
    assert "| tiny" in done.stdout
    if not _cuda_available():
        gpu = _run([sys.executable, "scripts/gpu_lvlm_bench.py"])
        assert gpu.returncode == 2 and "no CUDA device is available" in gpu.stderr


@pytest.mark.parametrize("args,message", [
    (["--frames", "0"], "--frames must be >= 1, got 0"),
    (["--new-tokens", "-3"], "--new-tokens must be >= 1, got -3"),
    (["--budget-s", "0"], "--budget-s must be > 0"),
    (["--shapes", "7b,13b"], "--shapes '7b,13b': expected 7b and/or 3b"),
    (["--sizes", "448x448,640"], "got '640'"),
])
def test_gpu_benchmark_refuses_bad_arguments_in_one_line(args, message):
    done = _run([sys.executable, "scripts/gpu_lvlm_bench.py", *args])
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()
