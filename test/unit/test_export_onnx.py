"""ONNX export of DINOv2 + a random AHD: onnxruntime matches torch; CLI export and bench."""
import json

import numpy as np
import pytest
import torch

from tvau_ros.cli import main
from tvau_ros.core.ahd import AHDConfig, TorchAHDEngine
from tvau_ros.core.backbones.dinov2_minilm import DinoV2MiniLMBackbone
from tvau_ros.core.checkpoint import save_ahd_checkpoint
from tvau_ros.export.onnx_export import export_ahd_onnx
from tvau_ros.core.ahd_ort import OrtAHDEngine, resolve_providers


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    config = AHDConfig(input_size=(56, 84), clip_len=4, cache_dir=str(tmp / "cache"))
    backbone = DinoV2MiniLMBackbone(config.layers, cache_dir=config.cache_dir)
    engine = TorchAHDEngine.from_config(config, backbone=backbone, text_features=torch.randn(2, 384), seed=1)
    with torch.no_grad():  # make the fusion non-uniform so the parity check covers every layer's weight
        engine.head.layer_weights.copy_(torch.tensor([0.5, -1.0, 2.0, 1.5]))
    onnx_path = export_ahd_onnx(engine, tmp / "graph.onnx")
    checkpoint = save_ahd_checkpoint(tmp / "ahd.safetensors", engine.head, config, engine.model_id)
    return engine, onnx_path, checkpoint, tmp


def test_onnxruntime_matches_torch(exported):
    engine, onnx_path, _, _ = exported
    ort_engine = OrtAHDEngine(onnx_path, providers=["cpu"])
    frames = np.random.default_rng(0).integers(0, 256, (4, 90, 120, 3), dtype=np.uint8)
    ref, got = engine.infer(frames), ort_engine.infer(frames)
    assert got.heatmap.shape == ref.heatmap.shape == (4, 90, 120)  # back at the frames' size
    preprocessed = engine.preprocess(frames)
    ref_model, got_model = engine.infer_preprocessed(preprocessed), ort_engine.infer_preprocessed(preprocessed)
    assert got_model.heatmap.shape == (4, 56, 84)
    assert np.abs(got_model.heatmap - ref_model.heatmap).max() <= 1e-4
    assert got.class_maps.shape == ref.class_maps.shape == (4, 2, 4, 6)
    assert np.abs(got.heatmap - ref.heatmap).max() <= 1e-4
    assert np.abs(got.class_maps - ref.class_maps).max() <= 1e-4
    assert ref.heatmap.std() > 1e-3  # a real map, not a constant that trivially matches
    # the frame axis is dynamic: a 6-frame clip runs on the graph traced with 4
    six = np.random.default_rng(1).integers(0, 256, (6, 56, 84, 3), dtype=np.uint8)
    assert np.abs(ort_engine.infer(six).heatmap - engine.infer(six).heatmap).max() <= 1e-4


def test_engine_interface_and_metadata(exported):
    engine, onnx_path, _, _ = exported
    ort_engine = OrtAHDEngine(onnx_path)
    assert ort_engine.input_size == engine.input_size == (56, 84)
    assert ort_engine.clip_len == 4 and ort_engine.config == engine.config
    assert ort_engine.pixel_mean == engine.pixel_mean and ort_engine.model_id == engine.model_id
    out = ort_engine.infer(np.zeros((4, 56, 84, 3), np.uint8))
    assert np.isfinite(out.heatmap).all() and out.heatmap.shape == (4, 56, 84)
    with pytest.raises(ValueError, match="NaN"):
        ort_engine.infer_preprocessed(np.full((4, 3, 56, 84), np.nan, np.float32))


def test_engines_fit_the_pipeline_protocol(exported):
    from tvau_ros.core.ahd_spec import load_ahd_engine
    from tvau_ros.core.engine import HeatmapEngine

    engine, onnx_path, checkpoint, tmp = exported
    assert isinstance(engine, HeatmapEngine) and engine.clip_length == 4 + engine.config.motion_stride
    loaded = load_ahd_engine(onnx_path, "onnxruntime")
    assert isinstance(loaded, HeatmapEngine) and loaded.clip_length == engine.clip_length
    with pytest.raises(FileNotFoundError, match="tvau export onnx --checkpoint"):
        load_ahd_engine(checkpoint, "onnxruntime")  # no ahd.onnx next to ahd.safetensors
    with pytest.raises(ValueError, match="unknown AHD backend 'tf'"):
        load_ahd_engine(checkpoint, "tf")


def test_provider_selection():
    assert resolve_providers(None)[-1] == "CPUExecutionProvider"
    assert resolve_providers(["cpu"]) == ["CPUExecutionProvider"]
    with pytest.raises(ValueError, match="provider 'nonexistent' is not available"):
        resolve_providers(["nonexistent"])


def test_missing_or_foreign_onnx_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="ONNX model not found"):
        OrtAHDEngine(tmp_path / "none.onnx")
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "plain",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    foreign = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(foreign))
    with pytest.raises(ValueError, match="plain.onnx: no 'tvau_ahd' metadata"):
        OrtAHDEngine(foreign)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="garbage.onnx: onnxruntime cannot load this model"):
        OrtAHDEngine(garbage)


def test_cli_export_from_checkpoint_with_verify(exported, capsys):
    _, _, checkpoint, tmp = exported
    out = tmp / "cli.onnx"
    assert main(["export", "onnx", "--checkpoint", str(checkpoint), "--out", str(out), "--verify"]) == 0
    printed = capsys.readouterr().out
    assert "verified: max |heatmap torch - onnxruntime|" in printed and out.is_file()


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["export", "onnx", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "give --checkpoint FILE, or --random-init" in capsys.readouterr().err
    assert main(["export", "onnx", "--checkpoint", str(tmp_path / "none.safetensors"),
                 "--out", str(tmp_path / "x.onnx")]) == 2
    assert "AHD checkpoint not found" in capsys.readouterr().err


def test_cli_bench_torch_and_onnxruntime(exported, tmp_path, capsys):
    _, onnx_path, checkpoint, _ = exported
    report = tmp_path / "bench.json"
    code = main(["bench", "ahd", "--checkpoint", str(checkpoint), "--onnx", str(onnx_path), "--runtime", "torch",
                 "onnxruntime", "--iters", "2", "--warmup", "0", "--threads", "1", "--json", str(report)])
    assert code == 0
    rows = json.loads(report.read_text())
    assert [r["runtime"] for r in rows] == ["torch", "onnxruntime"]
    for row in rows:
        assert row["input_size"] == [56, 84] and row["fps"] > 0
        assert row["latency_ms_p95"] >= row["latency_ms_p50"] > 0 and row["peak_rss_mb"] > 50
    printed = capsys.readouterr().out
    assert "torch" in printed and "onnxruntime" in printed


def test_onnxruntime_deployment_never_imports_torch(exported):
    import subprocess
    import sys

    _, onnx_path, _, _ = exported
    code = (
        "import sys, numpy as np\n"
        "from tvau_ros.core.ahd_spec import load_ahd_engine\n"
        f"engine = load_ahd_engine({str(onnx_path)!r}, 'onnxruntime', providers=['cpu'])\n"
        "out = engine.infer(np.zeros((engine.clip_length, 48, 64, 3), np.uint8))\n"
        "print(out.heatmap.shape, out.class_maps.shape[1], 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "(5, 48, 64) 2 False"
