"""The transformers backend: greedy completions from causal LMs loaded in this process, on a GPU or the CPU.

Models are loaded on first use, one per distinct `request.model` (a doc and a chunk model that are the same
path load once), shared by every backend of the process with the same device and dtype, and kept after
`close()`: datatrove deep-copies the pipeline for each task and runs a worker's tasks one after another in one
process, and no task should load the same weights again. Requests are grouped by
model and `max_new_tokens`, sorted by prompt length so that a batch pads little, left-padded, and decoded
greedily until EOS.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tokenizers import Tokenizer

from prox.generators.base import GenerationFailure
from prox.generators.lm.base import CompletionBackend, CompletionRequest, group_requests
from prox.generators.settings import OptionSet, option
from prox.messages import first_line
from prox.tokenizer import load_tokenizer

DType = Literal["auto", "bf16", "fp32"]
_DTYPE_NAMES = {"bf16": "bfloat16", "fp32": "float32"}

logger = logging.getLogger(__name__)


def _require_torch() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as error:
        raise ImportError(
            f"the transformers backend needs torch and transformers ({error.name} is missing): pip install 'prox[lm]'"
        ) from None
    return torch, transformers


def resolve_device(device: str = "auto") -> str:
    """`auto` is `cuda` when a GPU is visible, else `cpu`; anything else is taken as a torch device name."""
    torch, _ = _require_torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: DType, device: str) -> str:
    """`bfloat16` where the hardware computes it fast (CUDA with bf16, CPUs with AMX or AVX512-BF16), else
    `float32`."""
    if dtype in _DTYPE_NAMES:
        return _DTYPE_NAMES[dtype]
    if dtype != "auto":
        raise ValueError(f"unknown dtype {dtype!r}; choose auto, bf16 or fp32")
    torch, _ = _require_torch()
    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    if device == "cpu":
        # get_cpu_capability() stops at "AVX512"; AMX and AVX512-BF16 are only reported by these checks.
        # On a 2-core AVX512-BF16 CPU without AMX, a bf16 matmul of ProX-xs's FFN shape ran 2.3x fp32's speed.
        checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
        fast_bf16 = any(getattr(torch.cpu, check, lambda: False)() for check in checks)
        return "bfloat16" if fast_bf16 else "float32"
    return "float32"


@dataclass
class LoadedModel:
    """A model ready to generate, with the tokenizer that decodes its output and its special token ids."""

    model: Any
    tokenizer: Tokenizer
    eos_ids: tuple[int, ...]
    pad_id: int


# (model, device, dtype) -> LoadedModel, for every backend in this process.
_LOADED: dict[tuple[str, str, str], LoadedModel] = {}


def load_model(name: str, device: str, dtype: str) -> LoadedModel:
    """The causal LM `name` (a local directory, or a Hub id from the local cache or the Hub) on `device`."""
    key = (name, device, dtype)
    if key in _LOADED:
        return _LOADED[key]
    torch, transformers = _require_torch()
    local = Path(name).exists()
    if local and not Path(name).is_dir():
        raise ValueError(f"model {name} is a file; give the model's directory (config.json, weights, tokenizer)")
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            name, dtype=getattr(torch, dtype), local_files_only=local
        )
    except (OSError, ValueError) as error:  # their messages run over several lines; the CLI prints one
        reason = first_line(error)
        raise ValueError(f"cannot load model {name}: {reason}") from None
    model.to(device).eval()
    tokenizer = _decoding_tokenizer(name, local)
    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = model.config.eos_token_id
    eos_ids = tuple(eos) if isinstance(eos, list | tuple) else (() if eos is None else (eos,))
    pad = model.generation_config.pad_token_id
    # Llama has no pad token; padded positions are masked out, so any id will do.
    pad_id = pad if isinstance(pad, int) else (eos_ids[0] if eos_ids else 0)
    _LOADED[key] = LoadedModel(model, tokenizer, eos_ids, pad_id)
    logger.info("loaded %s on %s as %s", name, device, dtype)
    return _LOADED[key]


def _decoding_tokenizer(name: str, local: bool) -> Tokenizer:
    # The model's own tokenizer.json, as prox reads it for prompts (see prox.tokenizer), when there is one.
    if local:
        return load_tokenizer(name)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name).backend_tokenizer


def unload_models() -> None:
    """Forget every model loaded in this process; each is freed once no backend holds it."""
    _LOADED.clear()


class TransformersBackend(CompletionBackend):
    """Greedy decoding with `transformers` `generate`, `batch_size` prompts at a time."""

    name = "transformers"

    def __init__(self, device: str = "auto", dtype: DType = "auto", batch_size: int = 16):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if dtype != "auto" and dtype not in _DTYPE_NAMES:
            raise ValueError(f"unknown dtype {dtype!r}; choose auto, bf16 or fp32")
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self._models: dict[str, LoadedModel] = {}

    def use_model(self, name: str, loaded: LoadedModel) -> None:
        """Answer requests for `name` with a model already in memory (e.g. one being trained), not loading it."""
        self._models[name] = loaded

    def model(self, name: str) -> LoadedModel:
        """The loaded model `name`, loading it on first use."""
        if name not in self._models:
            device = resolve_device(self.device)
            self._models[name] = load_model(name, device, resolve_dtype(self.dtype, device))
        return self._models[name]

    def complete(self, requests: Sequence[CompletionRequest]) -> list[str | GenerationFailure]:
        results: list[str | GenerationFailure | None] = [None] * len(requests)
        for index, request in enumerate(requests):
            if not request.prompt_ids:
                results[index] = GenerationFailure("empty prompt")
        for (name, max_new_tokens), group in group_requests(requests).items():
            indices = [index for index in group if requests[index].prompt_ids]
            if not indices:
                continue
            loaded = self.model(name)
            # Longest first: similar lengths share a batch, and an out-of-memory error shows on the first one.
            indices.sort(key=lambda index: len(requests[index].prompt_ids), reverse=True)
            for start in range(0, len(indices), self.batch_size):
                batch = indices[start : start + self.batch_size]
                texts = self._generate(loaded, [requests[index].prompt_ids for index in batch], max_new_tokens)
                for index, text in zip(batch, texts, strict=True):
                    results[index] = text
        return results  # type: ignore[return-value]

    def _generate(
        self, loaded: LoadedModel, prompts: list[tuple[int, ...]], max_new_tokens: int
    ) -> list[str | GenerationFailure]:
        torch, _ = _require_torch()
        width = max(len(prompt) for prompt in prompts)
        input_ids = torch.full((len(prompts), width), loaded.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            attention_mask[row, width - len(prompt) :] = 1
        device = loaded.model.device
        try:
            with torch.inference_mode():
                output = loaded.model.generate(
                    input_ids=input_ids.to(device),
                    attention_mask=attention_mask.to(device),
                    do_sample=False,
                    max_new_tokens=max_new_tokens,
                    eos_token_id=list(loaded.eos_ids) or None,
                    pad_token_id=loaded.pad_id,
                    temperature=None,
                    top_p=None,
                    top_k=None,
                )
        except torch.OutOfMemoryError:
            if len(prompts) == 1:
                return [GenerationFailure(f"out of memory on a {width}-token prompt")]
            if device.type == "cuda":
                torch.cuda.empty_cache()
            half = len(prompts) // 2
            return self._generate(loaded, prompts[:half], max_new_tokens) + self._generate(
                loaded, prompts[half:], max_new_tokens
            )
        texts: list[str | GenerationFailure] = []
        for row in output[:, width:].tolist():
            # generate() pads a row that ended early; cut it at its first EOS.
            end = next((position for position, token in enumerate(row) if token in loaded.eos_ids), len(row))
            texts.append(loaded.tokenizer.decode(row[:end], skip_special_tokens=True))
        return texts

    def close(self) -> None:
        # The process keeps the models for the next task's copy: a datatrove worker runs its tasks one after
        # another, and each would otherwise load the same weights again. `unload_models()` frees them.
        self._models.clear()

    def __getstate__(self) -> dict:
        # A pickled or deep-copied backend (one per datatrove task) finds loaded models in _LOADED instead.
        return self.__dict__ | {"_models": {}}


@dataclass(frozen=True)
class TransformersSettings(OptionSet):
    """Options of the transformers backend."""

    title = "transformers backend"

    device: str | None = option(None, "transformers: torch device (default: cuda when available, else cpu)")
    dtype: str | None = option(
        None,
        "transformers: weights dtype (default: auto = bf16 on GPUs with bf16 and CPUs with AMX, else fp32)",
        choices=("auto", "bf16", "fp32"),
    )

    def build(self) -> TransformersBackend:
        return TransformersBackend(device=self.device or "auto", dtype=self.dtype or "auto")  # type: ignore[arg-type]
