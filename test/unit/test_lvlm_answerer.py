"""LvlmAnswerer on a tiny random-weight Qwen2.5-VL and the real Qwen tokenizer (offline): forward,
generate, streaming, LoRA save / load / merge, what trains, bad folders and bad inputs."""
import json
import re
import threading

import numpy as np
import pytest
import torch

from tvau_ros.core.backbones.qwen_tokenizer import build_qwen_tokenizer
from tvau_ros.core.lvlm import AnswererSettings, LoraSettings, LvlmAnswerer, LvlmFilesError
from tvau_ros.core.lvlm.answerer import LORA_TARGETS, tint_frames
from tvau_ros.core.lvlm.chat import TextCodec
from tvau_ros.core.lvlm.tiny import qwen2_5_vl_config
from tvau_ros.core.lvlm.video import VideoSettings
from tvau_ros.core.rae import RAEConfig

VIDEO = VideoSettings(min_pixels=56 * 56, max_pixels=56 * 84)
RAE = RAEConfig(n_base=2, conv_channels=4, mlp_hidden=8)
QUESTION = "Is there any anomaly in the video?"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return build_qwen_tokenizer(tmp_path_factory.mktemp("qwen_tok"))


@pytest.fixture(scope="module")
def base_state():
    from transformers import Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(0)
    return Qwen2_5_VLForConditionalGeneration(qwen2_5_vl_config("tiny")).state_dict()


def _answerer(tokenizer, base_state, mode="rae", lora=True, seed=1):
    from transformers import Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration(qwen2_5_vl_config("tiny"))
    model.load_state_dict(base_state)
    torch.manual_seed(seed)
    answerer = LvlmAnswerer(model.eval().requires_grad_(False), TextCodec(tokenizer),
                            AnswererSettings(heatmap_mode=mode, rae=RAE, video=VIDEO))
    if lora:
        answerer.attach_lora(LoraSettings(r=2, alpha=4, dropout=0.0))
        with torch.no_grad():  # a fresh LoRA B is zero; make the adapter change the output
            for name, p in answerer.model.named_parameters():
                if "lora_B" in name:
                    p.normal_(std=0.5)
    return answerer


def _clip(seed=0, frames=6):
    rng = np.random.default_rng(seed)
    heat = np.zeros((frames, 12, 16), np.float32)
    for t in range(frames):
        heat[t, 4:8, 2 * t:2 * t + 4] = 1.0           # a target moving right
    return rng.integers(0, 256, (frames, 60, 80, 3), dtype=np.uint8), heat


def _logits(answerer, frames, heat, turns=((QUESTION, None),)):
    answerer.train(False)
    clip = answerer.prepare_clip(frames, heat)
    with torch.no_grad():
        batch = answerer.embed([clip], [answerer.sequence(clip, list(turns))])
        return answerer.model(inputs_embeds=batch["inputs_embeds"], attention_mask=batch["attention_mask"],
                              position_ids=batch["position_ids"]).logits


def test_only_lora_and_rae_receive_gradients(tokenizer, base_state):
    answerer = _answerer(tokenizer, base_state)
    frames, heat = _clip()
    clip = answerer.prepare_clip(frames, heat)
    seq = answerer.sequence(clip, [(QUESTION, "Yes."), ("Where?", "On the left.")])
    answerer.train(True)
    loss = answerer.loss([clip], [seq])
    assert torch.isfinite(loss)
    loss.backward()
    trainable = dict(answerer.trainable_parameters())
    assert trainable and all("lora_" in n or n.startswith("rae.") for n in trainable)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in trainable.items() if "lora_A" not in n)
    frozen = [n for n, p in answerer.model.named_parameters() if not p.requires_grad]
    assert any(".visual." in n for n in frozen) and any("embed_tokens" in n for n in frozen)
    assert all(p.grad is None for n, p in answerer.model.named_parameters() if not p.requires_grad)
    lora_modules = {n.rsplit(".lora_", 1)[0] for n in trainable if "lora_" in n}
    assert len(lora_modules) == 2 * 4                              # 2 layers x q, k, v, o
    assert all(re.fullmatch(LORA_TARGETS, m.replace("base_model.model.", "")) for m in lora_modules)
    counts = answerer.parameter_count()
    assert counts["trainable"] == counts["rae"] + counts["lora"] and counts["rae"] == RAE.parameter_count(64)


def test_heatmaps_reach_the_language_model_through_rae_only_in_rae_mode(tokenizer, base_state):
    frames, heat = _clip()
    still = np.zeros_like(heat)
    full = _answerer(tokenizer, base_state, "rae", lora=False)
    assert not torch.allclose(_logits(full, frames, heat), _logits(full, frames, still))
    blind = _answerer(tokenizer, base_state, "none", lora=False)
    assert torch.equal(_logits(blind, frames, heat), _logits(blind, frames, None))
    overlay = _answerer(tokenizer, base_state, "overlay", lora=False)
    assert overlay.rae is None and overlay.num_prompt_tokens(overlay.prepare_clip(frames, heat)) == 0
    assert not torch.allclose(_logits(overlay, frames, heat), _logits(overlay, frames, still))
    tinted = tint_frames(frames, heat, 0.6)
    assert ((tinted[:, :, :, 0] >= frames[:, :, :, 0]).mean() > 0.9
            and np.array_equal(tint_frames(frames, still), frames))


def test_generate_and_stream_give_the_same_greedy_answer(tokenizer, base_state):
    answerer = _answerer(tokenizer, base_state)
    frames, heat = _clip()
    text = answerer.generate(frames, heat, QUESTION, max_new_tokens=6)
    pieces = list(answerer.generate(frames, heat, QUESTION, max_new_tokens=6, stream=True))
    assert isinstance(text, str) and text and "".join(pieces).strip() == text  # random weights: non-empty gibberish
    follow_up = answerer.generate(frames, heat, "And where did it go?", history=[(QUESTION, "Yes.")], max_new_tokens=4)
    assert isinstance(follow_up, str)
    clip = answerer.prepare_clip(frames, heat)
    kwargs = answerer.generation_inputs(clip, [(QUESTION, "Yes."), ("And where did it go?", None)], 4)
    assert "And where did it go?" in tokenizer.decode(kwargs["input_ids"][0].tolist())


def test_closing_a_stream_stops_the_generation(tokenizer, base_state):
    answerer = _answerer(tokenizer, base_state, lora=False)
    answerer.eos_id = None           # random weights: never stop on their own before max_new_tokens
    frames, heat = _clip()
    steps = []
    answerer.model.register_forward_hook(lambda *_: steps.append(1))
    assert len(list(answerer.generate(frames, heat, QUESTION, max_new_tokens=40, stream=True))) > 1
    full, steps[:] = len(steps), []
    stream = answerer.generate(frames, heat, QUESTION, max_new_tokens=40, stream=True)
    next(stream)
    stream.close()                   # a cancelled query; returns once the generation has stopped
    still_running = [t for t in threading.enumerate() if t.name == "lvlm-generate"]
    for thread in still_running:
        thread.join(60)              # (so that the count below is final either way)
    assert not still_running and full == 40 and len(steps) < full / 2
    steps[:] = []
    answerer.generate(frames, heat, QUESTION, max_new_tokens=40, stream=True).close()   # never read
    assert not steps and not any(t.name == "lvlm-generate" for t in threading.enumerate())


def test_stream_reraises_a_generation_failure(tokenizer, base_state, monkeypatch):
    answerer = _answerer(tokenizer, base_state, lora=False)
    frames, heat = _clip()

    def broken(**kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(answerer.model, "generate", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        list(answerer.generate(frames, heat, QUESTION, stream=True))


def test_adapter_save_load_and_merge_reproduce_the_outputs(tokenizer, base_state, tmp_path):
    frames, heat = _clip()
    trained = _answerer(tokenizer, base_state, seed=1)
    expected = _logits(trained, frames, heat)
    plain = _answerer(tokenizer, base_state, seed=2, lora=False)
    assert not torch.allclose(_logits(plain, frames, heat), expected)   # adapter and RAE matter
    trained.save_adapter(tmp_path / "adapter")
    assert {"tvau_lvlm.json", "rae.safetensors", "adapter_config.json", "adapter_model.safetensors"} <= {
        p.name for p in (tmp_path / "adapter").iterdir()}
    plain.load_adapter(tmp_path / "adapter")
    assert plain.lora is not None and torch.allclose(_logits(plain, frames, heat), expected, atol=1e-5)
    plain.merge_lora()
    assert plain.lora is None and not any("lora_" in n for n, _ in plain.model.named_parameters())
    assert torch.allclose(_logits(plain, frames, heat), expected, atol=1e-4)


def _save_model_folder(base_state, folder):
    from transformers import Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration(qwen2_5_vl_config("tiny"))
    model.load_state_dict(base_state)
    model.save_pretrained(str(folder))
    return folder


def test_from_pretrained_loads_a_model_folder_and_adapter(tokenizer, base_state, tmp_path):
    folder = _save_model_folder(base_state, tmp_path / "qwen")
    trained = _answerer(tokenizer, base_state, seed=3)
    # settings travel in tvau_lvlm.json
    trained.save_adapter(tmp_path / "adapter")
    loaded = LvlmAnswerer.from_pretrained(folder, adapter=tmp_path / "adapter", dtype="float32")
    assert loaded.settings == trained.settings and loaded.lora == trained.lora
    frames, heat = _clip(1)
    assert torch.allclose(_logits(loaded, frames, heat), _logits(trained, frames, heat), atol=1e-5)
    assert (loaded.generate(frames, heat, QUESTION, max_new_tokens=5)
            == trained.generate(frames, heat, QUESTION, max_new_tokens=5))


def test_the_query_service_loads_it_by_name_from_a_model_folder(tokenizer, base_state, tmp_path):
    from tvau_ros.core.dialogue.answerers import GeneratorAnswerer, build_answerer

    with pytest.raises(ValueError, match="model_path"):
        build_answerer("qwen2_5_vl")
    with pytest.raises(LvlmFilesError, match=str(tmp_path / "missing")):
        build_answerer("qwen2_5_vl", model_path=str(tmp_path / "missing"))
    folder = _save_model_folder(base_state, tmp_path / "qwen")
    if not torch.cuda.is_available():   # a GPU device asked for on a machine without one: a clear error
        with pytest.raises(ValueError, match=r"device 'cuda' is not available here \(0 CUDA device"):
            build_answerer("qwen2_5_vl", model_path=str(folder), device="cuda")
    with pytest.raises(ValueError, match="not a torch device"):
        build_answerer("qwen2_5_vl", model_path=str(folder), device="gpu0")
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        build_answerer("qwen2_5_vl", model_path=str(folder), dtype="fp8")
    answerer = build_answerer("qwen2_5_vl", model_path=str(folder), dtype="float32")
    assert isinstance(answerer, GeneratorAnswerer) and answerer.name == "qwen2_5_vl"
    frames, heat = _clip(2)
    assert isinstance(answerer.generator.generate(frames, heat, QUESTION, max_new_tokens=3), str)


def test_bad_qwen_folders_name_the_file(tmp_path, base_state):
    with pytest.raises(LvlmFilesError, match="does not exist"):
        LvlmAnswerer.from_pretrained(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LvlmFilesError, match=r"empty/config.json is missing"):
        LvlmAnswerer.from_pretrained(empty)
    folder = _save_model_folder(base_state, tmp_path / "qwen")
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])                     # a download cut short
    with pytest.raises(LvlmFilesError, match=r"model.safetensors is incomplete"):
        LvlmAnswerer.from_pretrained(folder)
    weights.unlink()
    with pytest.raises(LvlmFilesError, match="neither model.safetensors nor model.safetensors.index.json"):
        LvlmAnswerer.from_pretrained(folder)
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "model-00001-of-00002.safetensors"}}))
    with pytest.raises(LvlmFilesError, match=r"model-00001-of-00002.safetensors is missing"):
        LvlmAnswerer.from_pretrained(folder)
    (folder / "model.safetensors.index.json").unlink()
    _save_model_folder(base_state, folder)
    (folder / "tokenizer.json").write_text('{"version": "1.0", "trunc')   # a cut download
    with pytest.raises(LvlmFilesError, match=r"tokenizer.json is not readable JSON"):
        LvlmAnswerer.from_pretrained(folder)
    (folder / "tokenizer.json").unlink()
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "qwen2_vl"}))
    with pytest.raises(LvlmFilesError, match=r"config.json has model_type 'qwen2_vl'"):
        LvlmAnswerer.from_pretrained(folder)
    (folder / "config.json").write_text("{")
    with pytest.raises(LvlmFilesError, match=r"config.json is not readable JSON"):
        LvlmAnswerer.from_pretrained(folder)


def test_bad_adapters_name_the_file(tokenizer, base_state, tmp_path):
    folder = _save_model_folder(base_state, tmp_path / "qwen")
    _answerer(tokenizer, base_state).save_adapter(tmp_path / "adapter")
    adapter = tmp_path / "adapter"
    lora = adapter / "adapter_model.safetensors"
    lora.write_bytes(lora.read_bytes()[:-10])
    with pytest.raises(LvlmFilesError, match="adapter_model.safetensors is incomplete"):
        LvlmAnswerer.from_pretrained(folder, adapter=adapter)
    (adapter / "rae.safetensors").unlink()
    with pytest.raises(LvlmFilesError, match="rae.safetensors is missing"):
        LvlmAnswerer.from_pretrained(folder, adapter=adapter)
    (adapter / "tvau_lvlm.json").unlink()
    with pytest.raises(LvlmFilesError, match="tvau_lvlm.json is missing"):
        LvlmAnswerer.from_pretrained(folder, adapter=adapter)
    other = _answerer(tokenizer, base_state)
    other.save_adapter(tmp_path / "wide")
    meta = json.loads((tmp_path / "wide" / "tvau_lvlm.json").read_text())
    (tmp_path / "wide" / "tvau_lvlm.json").write_text(json.dumps({**meta, "embed_dim": 3584}))
    with pytest.raises(LvlmFilesError, match="adapter made for an LLM of width 3584, this model's is 64"):
        LvlmAnswerer.from_pretrained(folder, adapter=tmp_path / "wide")
    meta["settings"]["rae"]["mlp_hidden"] = 16                      # weights of another shape
    (tmp_path / "wide" / "tvau_lvlm.json").write_text(json.dumps(meta))
    with pytest.raises(LvlmFilesError, match="rae.safetensors: does not fit this RAE"):
        LvlmAnswerer.from_pretrained(folder, adapter=tmp_path / "wide")


def test_bad_inputs_are_clear_errors(tokenizer, base_state):
    answerer = _answerer(tokenizer, base_state, lora=False)
    frames, heat = _clip()
    cases = [
        ((frames, heat[:4], QUESTION), "heatmaps cover 4 frames but the clip has 6"),
        ((frames, heat * np.nan, QUESTION), "NaN"),
        ((frames, heat * 3, QUESTION), r"must lie in \[0, 1\]"),
        ((frames, None, QUESTION), "needs heatmaps"),
        ((frames[:2], heat[:2], QUESTION), "at least 3 frames"),
        ((frames, heat, "  "), "non-empty string"),
        ((frames.astype(np.float32), heat, QUESTION), "uint8"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            answerer.generate(*args, max_new_tokens=2)
    with pytest.raises(ValueError, match="max_new_tokens must be a positive integer"):
        answerer.generate(frames, heat, QUESTION, max_new_tokens=0)
    with pytest.raises(ValueError, match="fps must be positive"):
        answerer.generate(frames, heat, QUESTION, fps=0)


def test_settings_round_trip_and_reject_unknown_keys():
    settings = AnswererSettings(heatmap_mode="none", rae=RAE, video=VIDEO)
    assert AnswererSettings.from_dict(settings.to_dict()) == settings
    assert AnswererSettings(heatmap_mode="overlay").rae is None
    with pytest.raises(ValueError, match=r"unknown answerer setting\(s\) \['colour'\]"):
        AnswererSettings.from_dict({"colour": 1})
    with pytest.raises(ValueError, match="heatmap_mode must be one of"):
        AnswererSettings(heatmap_mode="both")
