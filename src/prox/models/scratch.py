"""Random-initialised Llama models from a shape spec.

A spec is a preset name (`tiny`, `proxy-small`, `prox-xs`) or `llama:` followed by comma-separated
`key=value` pairs: `layers`, `hidden`, `heads`, `kv_heads`, `ffn`, `context` (max positions), e.g.
`llama:layers=2,hidden=64,heads=4,kv_heads=4,ffn=128`. Keys left out take the `tiny` preset's values. The vocabulary,
BOS and EOS come from the tokenizer, so the model's ids are the tokenizer's.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from prox.tokenizer import load_tokenizer


@dataclass(frozen=True)
class ModelShape:
    """The shape of a Llama-style decoder."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn: int  # the MLP's intermediate size
    context: int = 2048  # max_position_embeddings

    def describe(self) -> str:
        """The spec that builds this shape again."""
        values = ",".join(f"{field.name}={getattr(self, field.name)}" for field in fields(self))
        return f"llama:{values}"


PRESETS: dict[str, ModelShape] = {
    # For tests: trains to memorisation in seconds on a CPU; most parameters are the 32k-row embeddings.
    "tiny": ModelShape(layers=2, hidden=64, heads=4, kv_heads=4, ffn=128, context=2048),
    # For small pre-training proxies on a CPU: about 2M parameters besides the embeddings.
    "proxy-small": ModelShape(layers=4, hidden=192, heads=6, kv_heads=6, ffn=512, context=1024),
    # The released 0.3B ProX refiners' shape (gair-prox/web-*-refining-lm): 354M parameters with a 32k vocabulary.
    "prox-xs": ModelShape(layers=24, hidden=1280, heads=16, kv_heads=1, ffn=2048, context=2048),
}

_KEYS = {field.name for field in fields(ModelShape)}
# The files of a Hugging Face tokenizer folder that a model folder carries beside its weights.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")


def parse_shape(spec: str) -> ModelShape:
    """The shape a spec names; a ValueError that lists the valid forms for anything else."""
    spec = spec.strip()
    if spec in PRESETS:
        return PRESETS[spec]
    prefix, _, body = spec.partition(":")
    if prefix != "llama" or not body:
        raise ValueError(
            f"unknown model shape {spec!r}; give a preset ({', '.join(PRESETS)}) or "
            "llama:layers=L,hidden=H,heads=A,kv_heads=K,ffn=F[,context=C]"
        )
    values: dict[str, int] = {}
    for item in body.split(","):
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in _KEYS:
            raise ValueError(f"unknown key {key!r} in model shape {spec!r}; keys: {', '.join(sorted(_KEYS))}")
        try:
            values[key] = int(value)
        except ValueError:
            raise ValueError(f"{key}={value!r} in model shape {spec!r} is not a whole number") from None
        if values[key] <= 0:
            raise ValueError(f"{key} must be positive in model shape {spec!r}")
    shape = replace(PRESETS["tiny"], **values)
    if shape.hidden % shape.heads or shape.heads % shape.kv_heads:
        raise ValueError(
            f"model shape {spec!r}: hidden ({shape.hidden}) must be a multiple of heads ({shape.heads}), "
            f"and heads a multiple of kv_heads ({shape.kv_heads})"
        )
    return shape


def build_model(shape: ModelShape, tokenizer_dir: str | Path, seed: int = 0) -> Any:
    """A random-initialised `LlamaForCausalLM` of this shape whose vocabulary and special ids are the tokenizer's."""
    torch, transformers = _require_transformers()
    tokenizer = load_tokenizer(tokenizer_dir)
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=shape.hidden,
        intermediate_size=shape.ffn,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        max_position_embeddings=shape.context,
        bos_token_id=_token_id(tokenizer, "<s>"),
        eos_token_id=_token_id(tokenizer, "</s>"),
    )
    return transformers.LlamaForCausalLM(config)


def save_scratch_model(shape: ModelShape, tokenizer_dir: str | Path, output: str | Path, seed: int = 0) -> Path:
    """Write a random-initialised model and the tokenizer's files to `output`: a plain Hugging Face model directory."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    build_model(shape, tokenizer_dir, seed).save_pretrained(output)
    copy_tokenizer_files(tokenizer_dir, output)
    return output


def copy_tokenizer_files(source: str | Path, output: str | Path) -> list[str]:
    """Copy the tokenizer files of `source` (a folder, or a file in it) into `output` byte for byte; their names."""
    folder = Path(source)
    folder = folder.parent if folder.is_file() else folder
    copied = [name for name in TOKENIZER_FILES if (folder / name).is_file()]
    for name in copied:
        shutil.copy(folder / name, Path(output) / name)
    return copied


def _token_id(tokenizer: Any, token: str) -> int | None:
    return tokenizer.token_to_id(token)


def _require_transformers() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError:
        raise ValueError("building a model needs torch and transformers: pip install 'prox[train]'") from None
    return torch, transformers
