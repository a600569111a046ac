"""all-MiniLM-L6-v2 loads offline from its PyPI package and embeds text meaningfully."""
import pytest
import torch

from tvau_ros.core.ahd import pool_text_features
from tvau_ros.core.backbones.minilm import MiniLMTextEncoder


@pytest.fixture(scope="module")
def encoder():
    return MiniLMTextEncoder()


def test_token_features_and_padding_mask(encoder):
    feats, mask = encoder.embed_tokens(["a fight", "a person walks along the street at night"])
    assert feats.shape[0] == 2 and feats.shape[2] == 384
    assert mask.shape == feats.shape[:2]
    assert mask[0].sum() == 4  # [CLS] a fight [SEP]
    assert mask[1].sum() > mask[0].sum() and mask[1].all()
    assert torch.isfinite(feats).all()


def test_similar_sentences_are_closer(encoder):
    def sentence(text):
        return pool_text_features(*encoder.embed_tokens([text]))

    fight = sentence("two men are fighting in the street")
    punch = sentence("a man punches another person")
    fruit = sentence("a bowl of fruit on a kitchen table")
    cos = torch.nn.functional.cosine_similarity
    assert cos(fight, punch, dim=0) > cos(fight, fruit, dim=0) + 0.2


def test_empty_prompt_list_is_an_error(encoder):
    with pytest.raises(ValueError, match="non-empty list"):
        encoder.embed_tokens([])


def test_default_prompt_ensemble_features(encoder):
    from types import SimpleNamespace

    from tvau_ros.core.ahd import compute_text_features
    from tvau_ros.core.prompts import load_prompt_set

    prompts = load_prompt_set("default")
    features = compute_text_features(SimpleNamespace(embed_text=encoder.embed_tokens), prompts)
    assert features.shape == (2, 384) and torch.isfinite(features).all()
    # eq. 3 by hand for the normal category: every real token of every prompt weighs the same
    feats, mask = encoder.embed_tokens(list(prompts.normal))
    expected = feats[mask.bool()].mean(0)
    assert torch.allclose(features[0], expected, atol=1e-5)
    assert not torch.allclose(features[0], features[1], atol=1e-3)
