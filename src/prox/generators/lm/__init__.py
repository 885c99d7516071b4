"""LM program generators: the released ProX refiners (or your own) run by transformers, vLLM or a server."""

from __future__ import annotations

from prox.generators.lm.base import CompletionBackend, CompletionRequest, LMGenerator, LMSettings

BACKENDS = ("transformers", "vllm", "openai")


def make_backend(name: str, **options: object) -> CompletionBackend:
    """The completion backend called `name`, built from its options; heavy imports happen here, lazily."""
    if name == "transformers":
        from prox.generators.lm.transformers_backend import TransformersBackend

        return TransformersBackend(**options)  # type: ignore[arg-type]
    if name == "vllm":
        from prox.generators.lm.vllm_backend import VLLMBackend

        return VLLMBackend(**options)  # type: ignore[arg-type]
    if name == "openai":
        from prox.generators.lm.openai_backend import OpenAIBackend

        return OpenAIBackend(**options)  # type: ignore[arg-type]
    raise ValueError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "CompletionBackend", "CompletionRequest", "LMGenerator", "LMSettings", "make_backend"]
