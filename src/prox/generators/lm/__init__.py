"""LM program generators: the released ProX refiners (or your own) run by transformers, vLLM or a server."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

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


def make_lm_generator(
    backend: str = "transformers", backend_options: dict[str, Any] | None = None, **settings: Any
) -> LMGenerator:
    """An `LMGenerator` from `LMSettings` fields and a backend; the tokenizer defaults to the chunk model's
    (or the doc model's, when only the doc stage has a model)."""
    unknown = set(settings) - {field.name for field in fields(LMSettings)}
    if unknown:
        raise ValueError(f"unknown lm refiner option(s): {', '.join(sorted(unknown))}")
    doc_model, chunk_model = settings.get("doc_model") or "", settings.get("chunk_model") or ""
    if not doc_model and not chunk_model:
        raise ValueError("the lm refiner needs a doc model, a chunk model or both (--doc-model, --chunk-model)")
    settings |= {"doc_model": doc_model, "chunk_model": chunk_model}
    settings["tokenizer"] = settings.get("tokenizer") or chunk_model or doc_model
    return LMGenerator(LMSettings(**settings), make_backend(backend, **(backend_options or {})))


__all__ = [
    "BACKENDS",
    "CompletionBackend",
    "CompletionRequest",
    "LMGenerator",
    "LMSettings",
    "make_backend",
    "make_lm_generator",
]
