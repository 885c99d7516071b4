"""LMGenerator sends the release's prompts (and its two quirks on request) and never pays twice for a request."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from prox.chunking import chunk_document, token_counter
from prox.generators import make_generator
from prox.generators.base import GenerationFailure
from prox.generators.lm import CompletionBackend, CompletionRequest, LMGenerator, LMSettings
from prox.prompts import DOC_PROMPT_MAX_TOKENS, chunk_prompts, doc_prompt

SHORT_DOC = "Council approves new cycle lanes\nThe city council voted on Tuesday.\nShare Tweet Email"


def long_doc() -> str:
    return "\n".join(f"Paragraph {index} talks about rivers, bridges and the old town hall." for index in range(400))


class CountingBackend(CompletionBackend):
    """Wraps a backend and counts the requests it is asked to complete."""

    def __init__(self, inner: CompletionBackend | None = None):
        self.inner = inner
        self.requests: list[CompletionRequest] = []

    def complete(self, requests: Sequence[CompletionRequest]) -> list[str | GenerationFailure]:
        self.requests.extend(requests)
        if self.inner is None:
            return [f" keep_doc() # {len(request.prompt_ids)}" for request in requests]
        return self.inner.complete(requests)


def generator(tokenizer, backend: CompletionBackend | None = None, **settings) -> LMGenerator:
    return LMGenerator(LMSettings("doc-model", "chunk-model", **settings), backend or CountingBackend(), tokenizer)


def test_doc_request_is_the_release_prompt(llama2_tokenizer):
    request = generator(llama2_tokenizer).doc_request(SHORT_DOC)
    expected = doc_prompt(SHORT_DOC, llama2_tokenizer)
    assert list(request.prompt_ids) == expected.token_ids and request.prompt_text == expected.text
    assert request.model == "doc-model" and request.max_new_tokens == 2000
    assert llama2_tokenizer.decode(list(request.prompt_ids[-4:])) == "[/INST]"


def test_long_doc_prompt_is_cut_at_2000_tokens_and_loses_its_inst_tag(llama2_tokenizer):
    request = generator(llama2_tokenizer).doc_request(long_doc())
    expected = doc_prompt(long_doc(), llama2_tokenizer)
    assert expected.truncated and list(request.prompt_ids) == expected.token_ids
    assert len(request.prompt_ids) == DOC_PROMPT_MAX_TOKENS
    assert not request.prompt_text.endswith("[/INST]")


def test_no_doc_truncation_cuts_the_document_and_keeps_the_closing_inst_tag(llama2_tokenizer):
    request = generator(llama2_tokenizer, truncate_doc_prompt=False).doc_request(long_doc())
    assert len(request.prompt_ids) <= DOC_PROMPT_MAX_TOKENS and len(request.prompt_ids) >= DOC_PROMPT_MAX_TOKENS - 2
    assert request.prompt_text.endswith(" [/INST]") and request.prompt_ids[0] == 1
    # The ids are the cut prompt's own tokenization: `[/INST]` as in every prompt, no stray `▁` before it.
    encoded = llama2_tokenizer.encode(request.prompt_text, add_special_tokens=False).ids
    assert list(request.prompt_ids) == encoded
    closing = doc_prompt(SHORT_DOC, llama2_tokenizer).token_ids[-4:]
    assert list(request.prompt_ids[-4:]) == closing and request.prompt_ids[-5] != 29871


def test_no_doc_truncation_leaves_short_documents_as_released(llama2_tokenizer):
    request = generator(llama2_tokenizer, truncate_doc_prompt=False).doc_request(SHORT_DOC)
    assert list(request.prompt_ids) == doc_prompt(SHORT_DOC, llama2_tokenizer).token_ids


def test_chunk_requests_are_the_release_chunk_prompts(llama2_tokenizer):
    lm = generator(llama2_tokenizer)
    (prompt,) = chunk_prompts(SHORT_DOC, token_counter(llama2_tokenizer))
    request = lm.chunk_request(prompt.chunk)
    assert request.prompt_text == prompt.text and request.model == "chunk-model" and request.max_new_tokens == 256
    assert list(request.prompt_ids) == llama2_tokenizer.encode(prompt.text, add_special_tokens=False).ids
    assert request.prompt_ids[:2] != (1, 1) and request.prompt_ids[0] == 1


def test_double_bos_adds_a_second_bos_to_chunk_prompts_only(llama2_tokenizer):
    single, double = generator(llama2_tokenizer), generator(llama2_tokenizer, double_bos=True)
    (chunk,) = chunk_document(SHORT_DOC, single.chunk_sizer(), single.chunk_budget)
    assert double.chunk_request(chunk).prompt_ids == (1, *single.chunk_request(chunk).prompt_ids)
    assert double.doc_request(SHORT_DOC).prompt_ids == single.doc_request(SHORT_DOC).prompt_ids


def test_chunks_are_sized_in_tokenizer_tokens_within_the_release_budget(llama2_tokenizer, wcxb_pages):
    lm = generator(llama2_tokenizer)
    assert lm.chunk_budget == 1500
    text = "\n".join(max(wcxb_pages, key=len))
    assert chunk_document(text, lm.chunk_sizer(), lm.chunk_budget) == chunk_document(
        text, token_counter(llama2_tokenizer), 1500
    )


def test_completions_are_stripped_of_leading_spaces(llama2_tokenizer):
    assert generator(llama2_tokenizer).doc_programs([SHORT_DOC])[0].startswith("keep_doc()")


def test_second_run_with_the_same_cache_makes_no_backend_calls(llama2_tokenizer, tmp_path: Path):
    cache = str(tmp_path / "requests.sqlite")
    first_backend, second_backend = CountingBackend(), CountingBackend()
    texts = [SHORT_DOC, long_doc(), SHORT_DOC + "\nmore"]
    first = generator(llama2_tokenizer, first_backend, cache_path=cache).doc_programs(texts)
    second = generator(llama2_tokenizer, second_backend, cache_path=cache).doc_programs(texts)
    assert len(first_backend.requests) == 3 and second_backend.requests == []
    assert second == first


def test_failures_are_returned_and_not_cached(llama2_tokenizer, tmp_path: Path):
    class FailingBackend(CountingBackend):
        def complete(self, requests):
            super().complete(requests)
            return [GenerationFailure("server said no") for _ in requests]

    cache = str(tmp_path / "requests.sqlite")
    backend = FailingBackend()
    assert generator(llama2_tokenizer, backend, cache_path=cache).doc_programs([SHORT_DOC]) == [
        GenerationFailure("server said no")
    ]
    generator(llama2_tokenizer, backend, cache_path=cache).doc_programs([SHORT_DOC])
    assert len(backend.requests) == 2


def test_make_generator_builds_an_lm_generator_with_the_chunk_models_tokenizer(llama2_dir: Path):
    lm = make_generator("lm", doc_model="doc", chunk_model=str(llama2_dir), backend="transformers")
    assert isinstance(lm, LMGenerator) and lm.backend.name == "transformers"
    assert lm.settings.tokenizer == str(llama2_dir) and lm.settings.cache_path is None


def test_make_generator_rejects_unknown_and_missing_options(llama2_dir: Path):
    with pytest.raises(ValueError, match="unknown lm refiner option"):
        make_generator("lm", doc_model="doc", chunk_model=str(llama2_dir), temperature=0.7)
    with pytest.raises(ValueError, match="--doc-model, --chunk-model"):
        make_generator("lm")
    with pytest.raises(ValueError, match="takes no options"):
        make_generator("rules", doc_model="doc")
