"""LM program generators: the released ProX refiners (or your own) run by transformers, vLLM or a server."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from prox import storage
from prox.generators.lm.base import CompletionBackend, CompletionRequest, LMGenerator, LMSettings
from prox.generators.lm.openai_backend import OpenAISettings
from prox.generators.lm.transformers_backend import TransformersSettings
from prox.generators.lm.vllm_backend import VLLMSettings
from prox.generators.settings import OptionSet, RefinerSettings, option
from prox.prompts import CHUNK_MAX_NEW_TOKENS, DOC_MAX_NEW_TOKENS

# What runs the models: one settings class per backend (its fields are its flags).
BACKEND_SETTINGS: dict[str, type[OptionSet]] = {
    "transformers": TransformersSettings,
    "vllm": VLLMSettings,
    "openai": OpenAISettings,
}
BACKENDS = tuple(BACKEND_SETTINGS)


@dataclass(frozen=True)
class LMRefinerSettings(RefinerSettings):
    """The LM refiner: models, release-parity switches and the backend that runs the models."""

    name = "lm"
    title = "LM refiner (with --refiner lm; see docs/refine.md)"

    doc_model: str | None = option(
        None, "doc-stage model: a local directory, a Hub id or a server's model name", metavar="MODEL"
    )
    chunk_model: str | None = option(None, "chunk-stage model (may be the same as --doc-model)", metavar="MODEL")
    tokenizer: str | None = option(
        None, "tokenizer for prompts and chunking (default: the chunk model's)", metavar="DIR"
    )
    cache: str | None = option(None, "sqlite request cache (default: OUT/logs/requests.sqlite)", metavar="PATH")
    no_doc_truncation: bool = option(
        False,
        "cut long documents, not the doc prompt, so the prompt keeps its closing [/INST] (release: truncates)",
        kind=bool,
    )
    double_bos: bool = option(False, "start chunk prompts with two BOS tokens, as the release's engine did", kind=bool)
    max_new_tokens_doc: int = option(
        DOC_MAX_NEW_TOKENS, f"most tokens a doc program may take (default: {DOC_MAX_NEW_TOKENS})", metavar="N", kind=int
    )
    max_new_tokens_chunk: int = option(
        CHUNK_MAX_NEW_TOKENS,
        f"most tokens a chunk program may take (default: {CHUNK_MAX_NEW_TOKENS})",
        metavar="N",
        kind=int,
    )
    backend: OptionSet = option(
        TransformersSettings(), "what runs the models (default: transformers)", choices=BACKEND_SETTINGS
    )

    def __post_init__(self) -> None:
        for flag, value in (
            ("--max-new-tokens-doc", self.max_new_tokens_doc),
            ("--max-new-tokens-chunk", self.max_new_tokens_chunk),
        ):
            if value < 1:
                raise ValueError(f"{flag} must be at least 1")

    def for_stages(self, stages: Sequence[str]) -> LMRefinerSettings:
        """Only the models of the stages that run (a model of a stage that does not run is never loaded)."""
        models = (("doc", "--doc-model", self.doc_model), ("chunk", "--chunk-model", self.chunk_model))
        for stage, flag, model in models:
            if stage in stages and not model:
                raise ValueError(
                    f"--refiner lm needs {flag} MODEL for the {stage} stage "
                    "(a model directory, a Hub id or, with --backend openai, the server's model name)"
                )
        return replace(
            self,
            doc_model=self.doc_model if "doc" in stages else None,
            chunk_model=self.chunk_model if "chunk" in stages else None,
        )

    def for_output(self, logging_dir: str) -> LMRefinerSettings:
        """The request cache in OUT/logs; for an OUT in object storage (sqlite needs a local file), a local file
        named after OUT in `~/.cache/prox/requests/` (or under $XDG_CACHE_HOME)."""
        if self.cache is not None:
            return self
        if storage.is_remote(logging_dir):
            digest = hashlib.sha256(logging_dir.encode()).hexdigest()[:16]
            return replace(self, cache=str(storage.cache_folder("requests") / f"{digest}.sqlite"))
        return replace(self, cache=str(Path(logging_dir) / "requests.sqlite"))

    def build(self) -> LMGenerator:
        settings = LMSettings(
            doc_model=self.doc_model or "",
            chunk_model=self.chunk_model or "",
            tokenizer=self.tokenizer,
            truncate_doc_prompt=not self.no_doc_truncation,
            double_bos=self.double_bos,
            doc_max_new_tokens=self.max_new_tokens_doc,
            chunk_max_new_tokens=self.max_new_tokens_chunk,
            cache_path=self.cache,
        )
        return lm_generator(settings, self.backend.build())  # type: ignore[attr-defined]

    @classmethod
    def from_options(cls, **options: Any) -> LMRefinerSettings:
        """Settings from `make_generator("lm", ...)`'s options: `LMSettings` fields, `backend` (a name) and
        `backend_options` (a dict for that backend)."""
        unknown = set(options) - {item.name for item in fields(LMSettings)} - {"backend", "backend_options"}
        if unknown:
            raise ValueError(f"unknown lm refiner option(s): {', '.join(sorted(unknown))}")
        backend = options.pop("backend", "transformers")
        backend_options = options.pop("backend_options", None) or {}
        return cls(
            doc_model=options.get("doc_model") or None,
            chunk_model=options.get("chunk_model") or None,
            tokenizer=options.get("tokenizer"),
            cache=options.get("cache_path"),
            no_doc_truncation=not options.get("truncate_doc_prompt", True),
            double_bos=options.get("double_bos", False),
            max_new_tokens_doc=options.get("doc_max_new_tokens", DOC_MAX_NEW_TOKENS),
            max_new_tokens_chunk=options.get("chunk_max_new_tokens", CHUNK_MAX_NEW_TOKENS),
            backend=backend_settings(backend, backend_options),
        )


def backend_settings(name: str, options: dict[str, Any]) -> OptionSet:
    """The settings of the backend called `name`; the error lists the names that exist."""
    try:
        settings_class = BACKEND_SETTINGS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}") from None
    return settings_class.from_options(**options)


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
    """An `LMGenerator` from `LMSettings` fields, a backend name and that backend's settings (its flag names,
    e.g. `{"base_url": ..., "request_timeout": 30}` for openai)."""
    return LMRefinerSettings.from_options(backend=backend, backend_options=backend_options, **settings).build()


def lm_generator(settings: LMSettings, backend: CompletionBackend) -> LMGenerator:
    """An `LMGenerator`; the tokenizer defaults to the chunk model's (or the doc model's, for a doc-only run)."""
    if not settings.doc_model and not settings.chunk_model:
        raise ValueError("the lm refiner needs a doc model, a chunk model or both (--doc-model, --chunk-model)")
    tokenizer = settings.tokenizer or settings.chunk_model or settings.doc_model
    return LMGenerator(replace(settings, tokenizer=tokenizer), backend)


__all__ = [
    "BACKENDS",
    "BACKEND_SETTINGS",
    "CompletionBackend",
    "CompletionRequest",
    "LMGenerator",
    "LMRefinerSettings",
    "LMSettings",
    "make_backend",
    "make_lm_generator",
]
