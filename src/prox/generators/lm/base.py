"""LM program generators: the released refiners' prompts in, program text out, whatever runs the model.

`LMGenerator` builds the doc and chunk prompts exactly as the release did (`prox.prompts`), asks a
`CompletionBackend` for greedy completions of the ones not already in the request cache, and returns the
text. Backends (transformers, vLLM, an OpenAI-compatible server) only turn token ids into text.

The two release quirks, each with a setting:
- `truncate_doc_prompt` (default True, as released): the doc prompt's token sequence is cut to 2000
  tokens, so a long document loses its closing `[/INST]`. False cuts the document instead and keeps the
  template whole.
- `double_bos` (default False): the release sent the chunk prompt as text that starts with `<s>` to an
  engine that adds BOS again, so the chunk model saw two BOS tokens. True reproduces that.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from tokenizers import Tokenizer

from prox.chunking import DEFAULT_TOKEN_BUDGET, Chunk, LineSizer, token_counter
from prox.generators.base import GenerationFailure, ProgramGenerator, ProgramText
from prox.generators.lm.cache import RequestCache
from prox.prompts import (
    CHUNK_MAX_NEW_TOKENS,
    DOC_MAX_NEW_TOKENS,
    DOC_PROMPT_MAX_TOKENS,
    chunk_user_message,
    doc_prompt,
    llama2_chat_prompt,
)
from prox.tokenizer import load_tokenizer


@dataclass(frozen=True)
class CompletionRequest:
    """One greedy completion: the prompt's token ids (BOS included) and how many tokens may follow."""

    model: str
    prompt_ids: tuple[int, ...]
    max_new_tokens: int
    prompt_text: str = field(default="", compare=False)


def group_requests(requests: Sequence[CompletionRequest]) -> dict[tuple[str, int], list[int]]:
    """Request indices by (model, max new tokens): each group is one `generate` call, in first-seen order."""
    groups: dict[tuple[str, int], list[int]] = {}
    for index, request in enumerate(requests):
        groups.setdefault((request.model, request.max_new_tokens), []).append(index)
    return groups


class CompletionBackend(ABC):
    """Runs models: greedy completions for a batch of requests, one result per request, in order."""

    name: str = "backend"

    @abstractmethod
    def complete(self, requests: Sequence[CompletionRequest]) -> list[str | GenerationFailure]:
        """The generated text (prompt excluded, special tokens skipped) or why it failed, per request."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model or connections."""


@dataclass
class LMSettings:
    """The models and the release-parity switches of an LM refiner."""

    doc_model: str
    chunk_model: str
    tokenizer: str | None = None  # default: the chunk model's directory
    truncate_doc_prompt: bool = True
    double_bos: bool = False
    doc_max_new_tokens: int = DOC_MAX_NEW_TOKENS
    chunk_max_new_tokens: int = CHUNK_MAX_NEW_TOKENS
    doc_prompt_max_tokens: int = DOC_PROMPT_MAX_TOKENS
    chunk_budget: int = DEFAULT_TOKEN_BUDGET
    cache_path: str | None = None


class LMGenerator(ProgramGenerator):
    """A ProX refiner backed by causal LMs (the released `gair-prox/*` models or your own)."""

    name = "lm"

    def __init__(self, settings: LMSettings, backend: CompletionBackend, tokenizer: Tokenizer | None = None):
        self.settings = settings
        self.backend = backend
        self.tokenizer = tokenizer or load_tokenizer(settings.tokenizer or settings.chunk_model)
        self.chunk_budget = settings.chunk_budget
        self.cache = RequestCache(settings.cache_path) if settings.cache_path else None
        self._sizer: LineSizer | None = None
        self._bos_id = self.tokenizer.token_to_id("<s>")

    @property
    def label(self) -> str:
        models = [model for model in (self.settings.doc_model, self.settings.chunk_model) if model]
        return f"lm:{'+'.join(dict.fromkeys(models))}"

    def describe(self) -> dict:
        settings = {key: value for key, value in asdict(self.settings).items() if key != "cache_path"}
        return {"name": self.name, "backend": self.backend.name} | settings

    def chunk_sizer(self) -> LineSizer:
        if self._sizer is None:
            self._sizer = token_counter(self.tokenizer)
        return self._sizer

    def doc_programs(self, texts: Sequence[str]) -> list[ProgramText]:
        return self._complete([self.doc_request(text) for text in texts])

    def chunk_programs(self, chunks: Sequence[Chunk]) -> list[ProgramText]:
        return self._complete([self.chunk_request(chunk) for chunk in chunks])

    def doc_request(self, text: str) -> CompletionRequest:
        """The doc-stage request: the release's prompt, truncated as the settings say."""
        limit = self.settings.doc_prompt_max_tokens
        if self.settings.truncate_doc_prompt:
            prompt = doc_prompt(text, self.tokenizer, limit)
            return CompletionRequest(
                self.settings.doc_model, tuple(prompt.token_ids), self.settings.doc_max_new_tokens, prompt.text
            )
        rendered = llama2_chat_prompt(text)
        ids = self.tokenizer.encode(rendered, add_special_tokens=False).ids
        if len(ids) > limit:
            rendered, ids = self._cut_document(rendered, len(ids), limit)
        return CompletionRequest(self.settings.doc_model, tuple(ids), self.settings.doc_max_new_tokens, rendered)

    def _cut_document(self, rendered: str, length: int, limit: int) -> tuple[str, list[int]]:
        """The doc prompt of the document cut short, so that the whole template fits in `limit` tokens.

        The cut document is rendered and tokenized again, so its closing `[/INST]` is tokenized as in any
        prompt (tokenized alone, `" [/INST]"` gains a stray `▁` token from the Llama normalizer).
        """
        closing = " [/INST]"
        body = rendered[: -len(closing)]
        encoding = self.tokenizer.encode(body, add_special_tokens=False)
        keep = limit - (length - len(encoding.ids))
        while True:
            keep = max(keep, 1)
            cut = body[: encoding.offsets[keep - 1][1]].rstrip() + closing
            ids = self.tokenizer.encode(cut, add_special_tokens=False).ids
            if len(ids) <= limit or keep == 1:
                return cut, ids
            keep -= len(ids) - limit

    def chunk_request(self, chunk: Chunk) -> CompletionRequest:
        """The chunk-stage request: the rendered prompt, with the release's second BOS if asked for."""
        rendered = llama2_chat_prompt(chunk_user_message(chunk))
        ids = self.tokenizer.encode(rendered, add_special_tokens=False).ids
        if self.settings.double_bos and self._bos_id is not None:
            ids = [self._bos_id, *ids]
        return CompletionRequest(self.settings.chunk_model, tuple(ids), self.settings.chunk_max_new_tokens, rendered)

    def _complete(self, requests: list[CompletionRequest]) -> list[ProgramText]:
        results: list[ProgramText | None] = [None] * len(requests)
        missing: list[int] = []
        for index, request in enumerate(requests):
            cached = self.cache.get(request) if self.cache is not None else None
            if cached is None:
                missing.append(index)
            else:
                results[index] = cached
        if missing:
            completed = self.backend.complete([requests[index] for index in missing])
            for index, result in zip(missing, completed, strict=True):
                results[index] = result
                if self.cache is not None and isinstance(result, str):
                    self.cache.put(requests[index], result)
        return [result.strip(" ") if isinstance(result, str) else result for result in results]  # type: ignore[union-attr]

    def close(self) -> None:
        self.backend.close()
        if self.cache is not None:
            self.cache.close()
