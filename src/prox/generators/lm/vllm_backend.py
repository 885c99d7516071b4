"""Greedy completions from vLLM's offline engine (`vllm.LLM`), as the release ran its refiners.

One engine per distinct model, created on first use: the backend holds no engine until it generates, so the
pipeline can copy it to each task cheaply, and each task (one per GPU) loads its own. Prompts go in as token
ids, so the engine sees exactly the ids the prompt builder made (no second BOS, no re-tokenization).
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prox.generators.base import GenerationFailure
from prox.generators.lm.base import CompletionBackend, CompletionRequest, group_requests
from prox.generators.settings import OptionSet

# The doc and the chunk model usually differ, so two engines share the GPU.
MODELS_PER_GPU = 2


def _import_vllm():
    try:
        import vllm
    except ImportError:
        raise ImportError("the vllm backend needs vLLM: pip install 'prox[vllm]' (GPU machines)") from None
    return vllm


def sampling_kwargs(max_new_tokens: int) -> dict[str, Any]:
    """`SamplingParams` of a greedy completion of at most `max_new_tokens` tokens, special tokens skipped."""
    return {"n": 1, "temperature": 0.0, "max_tokens": max_new_tokens, "skip_special_tokens": True}


def token_prompt(request: CompletionRequest) -> dict[str, list[int]]:
    """The request's prompt as a vLLM `TokensPrompt`: its token ids, BOS included, used as they are."""
    return {"prompt_token_ids": list(request.prompt_ids)}


def engine_kwargs(
    model: str, gpu_memory_utilization: float, tensor_parallel_size: int, dtype: str, **extra: Any
) -> dict[str, Any]:
    """The `vllm.LLM` arguments of one model's engine; `gpu_memory_utilization` is this engine's share."""
    return {
        "model": model,
        "gpu_memory_utilization": gpu_memory_utilization,
        "tensor_parallel_size": tensor_parallel_size,
        "dtype": dtype,
        **extra,
    }


class VLLMBackend(CompletionBackend):
    """Offline vLLM engines, one per model. `gpu_memory_utilization` is the share of the GPU all of them may
    use together; each engine gets `gpu_memory_utilization / models_per_gpu` of it. `engine_kwargs` go to
    `vllm.LLM` as they are (e.g. `max_model_len`, `enforce_eager`, `seed`)."""

    name = "vllm"

    def __init__(
        self,
        gpu_memory_utilization: float = 0.9,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        models_per_gpu: int = MODELS_PER_GPU,
        **engine_kwargs: Any,
    ):
        if not 0 < gpu_memory_utilization <= 1:
            raise ValueError(f"gpu_memory_utilization must be in (0, 1]; got {gpu_memory_utilization}")
        if models_per_gpu < 1:
            raise ValueError(f"models_per_gpu must be >= 1; got {models_per_gpu}")
        self.gpu_memory_utilization = gpu_memory_utilization
        self.tensor_parallel_size = tensor_parallel_size
        self.dtype = dtype
        self.models_per_gpu = models_per_gpu
        self.engine_kwargs = engine_kwargs
        self._engines: dict[str, Any] = {}
        # A model whose engine could not be built: why, so later batches fail fast instead of reloading it.
        self._broken: dict[str, str] = {}

    def engine(self, model: str) -> Any:
        """The engine of `model`, built on first use."""
        if model not in self._engines:
            vllm = _import_vllm()
            share = self.gpu_memory_utilization / self.models_per_gpu
            self._engines[model] = vllm.LLM(
                **engine_kwargs(model, share, self.tensor_parallel_size, self.dtype, **self.engine_kwargs)
            )
        return self._engines[model]

    def complete(self, requests: Sequence[CompletionRequest]) -> list[str | GenerationFailure]:
        results: list[str | GenerationFailure | None] = [None] * len(requests)
        for (model, max_new_tokens), indices in group_requests(requests).items():
            group = [requests[index] for index in indices]
            for index, result in zip(indices, self._generate(model, max_new_tokens, group), strict=True):
                results[index] = result
        return results  # type: ignore[return-value]

    def _generate(
        self, model: str, max_new_tokens: int, requests: list[CompletionRequest]
    ) -> list[str | GenerationFailure]:
        if model in self._broken:
            return [GenerationFailure(self._broken[model])] * len(requests)
        try:
            engine = self.engine(model)
        except ImportError:
            raise
        except Exception as error:
            self._broken[model] = f"vllm: could not load {model}: {_describe(error)}"
            return [GenerationFailure(self._broken[model])] * len(requests)
        params = _import_vllm().SamplingParams(**sampling_kwargs(max_new_tokens))
        try:
            outputs = engine.generate([token_prompt(request) for request in requests], params, use_tqdm=False)
        except Exception as error:
            if len(requests) == 1:
                return [GenerationFailure(f"vllm: {_describe(error)}")]
            # vLLM rejects a whole batch for one bad prompt (e.g. one longer than max_model_len): find it.
            return [self._generate(model, max_new_tokens, [request])[0] for request in requests]
        if len(outputs) != len(requests):
            return [GenerationFailure(f"vllm: {len(outputs)} outputs for {len(requests)} prompts")] * len(requests)
        return [_output_text(output) for output in outputs]

    def close(self) -> None:
        self._engines.clear()
        gc.collect()

    def __getstate__(self) -> dict:
        # A copy (one per task) starts without engines; it builds its own on its own GPU.
        return self.__dict__ | {"_engines": {}, "_broken": {}}


def _output_text(output: Any) -> str | GenerationFailure:
    completions = getattr(output, "outputs", None)
    if not completions:
        return GenerationFailure("vllm: the engine returned no completion")
    return completions[0].text


def _describe(error: Exception) -> str:
    detail = " ".join(str(error).split())
    if len(detail) > 300:
        detail = detail[:297] + "..."
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


@dataclass(frozen=True)
class VLLMSettings(OptionSet):
    """Options of the vLLM backend (none on the command line: the engine takes its defaults)."""

    title = "vllm backend"

    def build(self) -> VLLMBackend:
        return VLLMBackend()
