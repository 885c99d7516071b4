"""Shape specs and random-initialised Llama models built from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from prox.models import PRESETS, ModelShape, build_model, parse_shape, save_scratch_model
from prox.tokenizer import load_tokenizer


def test_presets_and_llama_specs_parse_and_describe_themselves_again():
    assert parse_shape("tiny") == PRESETS["tiny"]
    shape = parse_shape("llama:layers=3,hidden=96,heads=6,kv_heads=2,ffn=256,context=512")
    assert shape == ModelShape(layers=3, hidden=96, heads=6, kv_heads=2, ffn=256, context=512)
    assert parse_shape(shape.describe()) == shape
    # Keys left out are the tiny preset's.
    assert parse_shape("llama:layers=4") == ModelShape(**{**PRESETS["tiny"].__dict__, "layers": 4})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("huge", "unknown model shape"),
        ("gpt:layers=2", "unknown model shape"),
        ("llama:depth=2", "unknown key 'depth'"),
        ("llama:layers=two", "not a whole number"),
        ("llama:layers=0", "must be positive"),
        ("llama:hidden=100,heads=3", "multiple of heads"),
        ("llama:heads=4,kv_heads=3", "multiple of kv_heads"),
    ],
)
def test_a_bad_spec_says_what_is_wrong(spec: str, message: str):
    with pytest.raises(ValueError, match=message):
        parse_shape(spec)


def test_the_built_model_has_the_tokenizers_vocabulary_and_special_ids(llama2_dir: Path, tmp_path: Path):
    transformers = pytest.importorskip("transformers")
    tokenizer = load_tokenizer(llama2_dir)
    model = build_model(parse_shape("tiny"), llama2_dir, seed=3)
    assert model.config.vocab_size == tokenizer.get_vocab_size()
    assert model.config.bos_token_id == tokenizer.token_to_id("<s>")
    assert model.config.eos_token_id == tokenizer.token_to_id("</s>")
    assert model.config.num_hidden_layers == PRESETS["tiny"].layers
    # The same seed builds the same weights.
    again = build_model(parse_shape("tiny"), llama2_dir, seed=3)
    assert all((a == b).all() for a, b in zip(model.parameters(), again.parameters(), strict=True))

    out = save_scratch_model(parse_shape("tiny"), llama2_dir, tmp_path / "model", seed=3)
    assert (out / "tokenizer.json").read_bytes() == (llama2_dir / "tokenizer.json").read_bytes()
    loaded = transformers.AutoModelForCausalLM.from_pretrained(out)
    assert loaded.config.hidden_size == PRESETS["tiny"].hidden


def test_the_prox_xs_preset_has_the_released_refiners_354m_parameters(llama2_dir: Path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    with torch.device("meta"):  # shapes only: nothing is allocated
        model = build_model(parse_shape("prox-xs"), llama2_dir)
    parameters = sum(parameter.numel() for parameter in model.parameters())
    assert 350e6 < parameters < 358e6
