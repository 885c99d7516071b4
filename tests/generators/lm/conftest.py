"""A tiny random Llama-2-shaped model with the Llama-2 tokenizer, saved once per session for the LM tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the LM tests need torch: pip install 'prox[lm]'")
pytest.importorskip("transformers", reason="the LM tests need transformers: pip install 'prox[lm]'")


@pytest.fixture(scope="session")
def tiny_model_dir(llama2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random LlamaForCausalLM (32k vocab, BOS 1, EOS 2) and the Llama-2 tokenizer files."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=32000,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=4096,
        bos_token_id=1,
        eos_token_id=2,
    )
    directory = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(directory)
    for name in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"):
        if (llama2_dir / name).is_file():
            shutil.copy(llama2_dir / name, directory / name)
    return directory
