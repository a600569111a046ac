"""Video input and chat sequence of the LVLM path, against transformers' own Qwen2-VL code and the
real Qwen tokenizer."""
import json

import numpy as np
import pytest
import torch

from tvau_ros.core.backbones.qwen_tokenizer import build_qwen_tokenizer
from tvau_ros.core.lvlm.chat import IGNORE, CompactCodec, TextCodec, build_sequence, render_chat
from tvau_ros.core.lvlm.video import VideoSettings, prepare_video, smart_resize


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return build_qwen_tokenizer(tmp_path_factory.mktemp("qwen_tok"))


@pytest.mark.parametrize("size", [(480, 640), (240, 320), (576, 768), (1080, 1920), (50, 4000), (28, 28)])
def test_smart_resize_agrees_with_transformers(size):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as reference

    for bounds in ((128 * 28 * 28, 768 * 28 * 28), (3136, 18816), (56 * 56, 28 * 28 * 1280)):
        assert smart_resize(*size, 28, *bounds) == reference(*size, 28, *bounds)


def test_video_patches_equal_the_image_processor_for_a_still_clip():
    """A clip of two identical frames is what the image processor makes of one image: same
    normalisation, same patch order (no resize at a size that already fits)."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    frame = np.random.default_rng(0).integers(0, 256, (56, 84, 3), dtype=np.uint8)
    settings = VideoSettings(min_pixels=56 * 56, max_pixels=56 * 84)
    ours = prepare_video(np.stack([frame, frame]), settings)
    processor = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=56 * 84)
    ref = processor(images=[frame], return_tensors="pt")
    assert ours.grid_thw == tuple(ref["image_grid_thw"][0].tolist()) == (1, 4, 6)
    assert torch.allclose(ours.pixel_values, ref["pixel_values"].float(), atol=1e-5)
    assert ours.num_tokens == 6


def test_video_settings_read_the_model_folder(tmp_path):
    assert VideoSettings.from_folder(tmp_path) == VideoSettings()
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"min_pixels": 3136, "max_pixels": 12845056,
                                                                   "patch_size": 14}))
    assert VideoSettings.from_folder(tmp_path) == VideoSettings()      # image bounds are not the video's
    (tmp_path / "video_preprocessor_config.json").write_text(json.dumps({"size": {"shortest_edge": 4000,
                                                                                  "longest_edge": 9000}}))
    assert (VideoSettings.from_folder(tmp_path).min_pixels,
            VideoSettings.from_folder(tmp_path).max_pixels) == (4000, 9000)
    (tmp_path / "video_preprocessor_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="video_preprocessor_config.json: not readable JSON"):
        VideoSettings.from_folder(tmp_path)


@pytest.mark.parametrize("frames, message", [
    (np.zeros((4, 8, 8, 3), np.float32), "uint8"),
    (np.zeros((8, 8, 3), np.uint8), r"\(T, H, W, 3\)"),
    (np.zeros((0, 8, 8, 3), np.uint8), "no frames"),
])
def test_bad_frames_are_clear_errors(frames, message):
    with pytest.raises(ValueError, match=message):
        prepare_video(frames)


def test_chat_renders_the_qwen2_5_vl_format():
    text = render_chat([("Is there any anomaly?", "Yes."), ("Where?", None)])
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                    "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>Is there any anomaly?<|im_end|>\n"
                    "<|im_start|>assistant\nYes.<|im_end|>\n"
                    "<|im_start|>user\nWhere?<|im_end|>\n"
                    "<|im_start|>assistant\n")
    with pytest.raises(ValueError, match="only the last turn may be unanswered"):
        render_chat([("a", None), ("b", None)])


def test_sequence_places_video_then_anomaly_prompts_then_dialogue_and_labels_answers(tokenizer):
    codec = TextCodec(tokenizer)
    seq = build_sequence(codec, [("Is there any anomaly?", "Yes, there is."), ("Where?", "On the left.")], 5, 3)
    ids = seq.input_ids.tolist()
    k = ids.index(151656)                                           # <|video_pad|>
    assert ids[k - 1] == 151652 and ids[k:k + 5] == [151656] * 5 and ids[k + 5] == 151653   # vision start/end
    assert ids[k + 6:k + 9] == [151654] * 3                         # P_An slots (<|vision_pad|>)
    assert seq.video_mask.nonzero().flatten().tolist() == list(range(k, k + 5))
    assert seq.prompt_mask.nonzero().flatten().tolist() == [k + 6, k + 7, k + 8]
    assert seq.mm_token_type_ids.tolist().count(2) == 5
    labelled = [t for t in seq.labels.tolist() if t != IGNORE]
    assert tokenizer.decode(labelled) == "Yes, there is.<|im_end|>On the left.<|im_end|>"
    assert codec.decode(ids[k + 9:k + 9 + len(codec.encode("Is there any anomaly?"))]) == "Is there any anomaly?"
    open_end = build_sequence(codec, [("Is there any anomaly?", "Yes."), ("Where?", None)], 5, 0)
    assert tokenizer.decode(open_end.input_ids[-3:].tolist()) == "<|im_start|>assistant\n"
    assert (open_end.labels != IGNORE).sum() == len(codec.encode("Yes.")) + 1


def test_a_folder_chat_template_is_used_when_the_tokenizer_has_one(tokenizer):
    import copy

    tok = copy.deepcopy(tokenizer)
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}"
                         "{% if c['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>{% else %}"
                         "{{ c['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\nSURE: {% endif %}")
    codec = TextCodec(tok)
    assert render_chat([("Q?", None)], codec=codec).endswith("<|im_start|>assistant\nSURE: ")
    with pytest.raises(ValueError, match="does not render an answer after its generation prompt"):
        build_sequence(codec, [("Q?", "A.")], 2, 1)   # the answer would not follow "SURE: "
    seq = build_sequence(codec, [("Q?", None)], 2, 1)
    assert tok.decode(seq.input_ids.tolist()).endswith("<|im_start|>assistant\nSURE: ")


def test_compact_codec_round_trips_the_dialogue_vocabulary(tokenizer):
    texts = ["The person enters from the left at frame 12.", "Yes."]
    codec = CompactCodec.from_texts(tokenizer, texts)
    assert codec.vocab_size < 200
    ids = codec.encode(texts[0])
    assert max(ids) < codec.vocab_size and codec.decode(ids) == texts[0]
    other = "The person enters from the left at frame 907."
    assert codec.decode(codec.encode(other)) == other and codec.unknown == 0   # every digit is in the vocabulary
    assert codec.token_id("<|video_pad|>") < codec.vocab_size
    codec.encode("zebra")                                            # not in the vocabulary
    assert codec.unknown > 0
    seq = build_sequence(codec, [("Yes.", "The person enters from the left at frame 12.")], 4, 2)
    assert codec.decode([t for t in seq.labels.tolist() if t != IGNORE]) == texts[0]
