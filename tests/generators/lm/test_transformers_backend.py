"""The transformers backend: greedy, batched, padded on the left, one model load per path, garbage-proof."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

from prox.generators.base import GenerationFailure
from prox.generators.lm import CompletionRequest, LMGenerator, LMSettings, make_backend
from prox.generators.lm import transformers_backend as tb
from prox.tokenizer import load_tokenizer

TEXTS = [
    "Council approves new cycle lanes.\nWork starts in spring.",
    "Home | News | Sport\n" * 20,
    "short",
    "A page about rivers, bridges and the old town hall, and the people who live there.",
    "x",
]


@pytest.fixture(scope="module")
def tiny_requests(tiny_model_dir: Path) -> list[CompletionRequest]:
    tokenizer = load_tokenizer(tiny_model_dir)
    prompts = [tokenizer.encode(f"<s>[INST] {text} [/INST]", add_special_tokens=False).ids for text in TEXTS]
    return [CompletionRequest(str(tiny_model_dir), tuple(ids), 12) for ids in prompts]


def test_greedy_outputs_do_not_depend_on_batch_size(tiny_requests):
    one = make_backend("transformers", batch_size=1, dtype="fp32").complete(tiny_requests)
    four = make_backend("transformers", batch_size=4, dtype="fp32").complete(tiny_requests)
    assert one == four
    assert all(isinstance(text, str) for text in one)
    assert len(set(one)) > 1  # different prompts, different (garbage) completions


def test_batches_are_sorted_longest_first_and_results_come_back_in_request_order(tiny_requests, monkeypatch):
    backend = make_backend("transformers", batch_size=2, dtype="fp32")
    expected = [backend.complete([request])[0] for request in tiny_requests]
    widths = []
    generate = backend._generate

    def recording(loaded, prompts, max_new_tokens):
        widths.append([len(prompt) for prompt in prompts])
        return generate(loaded, prompts, max_new_tokens)

    monkeypatch.setattr(backend, "_generate", recording)
    assert backend.complete(tiny_requests) == expected
    flat = [width for batch in widths for width in batch]
    assert flat == sorted(flat, reverse=True) and [len(batch) for batch in widths] == [2, 2, 1]


def test_requests_are_grouped_by_max_new_tokens(tiny_requests, monkeypatch):
    backend = make_backend("transformers", batch_size=16, dtype="fp32")
    calls = []
    generate = backend._generate
    monkeypatch.setattr(
        backend, "_generate", lambda loaded, prompts, n: calls.append((len(prompts), n)) or generate(loaded, prompts, n)
    )
    mixed = [CompletionRequest(r.model, r.prompt_ids, 4 if i % 2 else 8) for i, r in enumerate(tiny_requests)]
    results = backend.complete(mixed)
    assert sorted(calls) == [(2, 4), (3, 8)] and len(results) == len(mixed)


def test_max_new_tokens_bounds_the_completion_and_greedy_continues_it(tiny_requests):
    backend = make_backend("transformers", dtype="fp32")
    request = tiny_requests[0]
    short, long = backend.complete([CompletionRequest(request.model, request.prompt_ids, n) for n in (3, 12)])
    assert 0 < len(short) < len(long) and long.startswith(short)


def test_a_model_is_loaded_once_per_process_across_stages_task_copies_and_close(tiny_requests, monkeypatch):
    monkeypatch.setattr(tb, "_LOADED", {})
    name = tiny_requests[0].model
    backend = make_backend("transformers", dtype="fp32")
    backend.complete(tiny_requests[:2])
    backend.complete([CompletionRequest(name, tiny_requests[0].prompt_ids, 5)])  # the other stage's length
    weights = backend.model(name).model
    task_copy = copy.deepcopy(backend)
    assert task_copy._models == {}  # a datatrove task's copy carries no weights
    backend.close()  # the previous task ends
    task_copy.complete(tiny_requests[:1])
    assert task_copy.model(name).model is weights and len(tb._LOADED) == 1
    tb.unload_models()
    assert tb._LOADED == {}


def test_an_empty_prompt_is_a_failure_not_a_crash(tiny_requests):
    empty = CompletionRequest(tiny_requests[0].model, (), 4)
    results = make_backend("transformers", dtype="fp32").complete([empty, tiny_requests[0]])
    assert results[0] == GenerationFailure("empty prompt") and isinstance(results[1], str)


def test_a_missing_model_directory_fails_in_one_line(tmp_path: Path):
    backend = make_backend("transformers")
    missing = tmp_path / "no-model"
    missing.mkdir()
    with pytest.raises(ValueError, match="cannot load model") as raised:
        backend.complete([CompletionRequest(str(missing), (1, 2, 3), 4)])
    assert "\n" not in str(raised.value)


def test_dtype_auto_is_bf16_only_on_cpus_with_fast_bf16_and_forced_values_win(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert tb.resolve_dtype("auto", "cpu") == "float32"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert tb.resolve_dtype("auto", "cpu") == "bfloat16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert tb.resolve_dtype("auto", "cpu") == "bfloat16"
    assert tb.resolve_dtype("fp32", "cpu") == "float32" and tb.resolve_dtype("bf16", "cpu") == "bfloat16"
    with pytest.raises(ValueError, match="choose auto, bf16 or fp32"):
        make_backend("transformers", dtype="fp16")


def test_device_auto_is_cpu_without_a_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert tb.resolve_device("auto") == "cpu" and tb.resolve_device("cuda:1") == "cuda:1"


def test_without_torch_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install 'prox\[lm\]'"):
        make_backend("transformers").complete([CompletionRequest("model", (1,), 4)])


def test_lm_generator_with_the_tiny_model_returns_text_for_every_chunk(tiny_model_dir: Path):
    settings = LMSettings(str(tiny_model_dir), str(tiny_model_dir), doc_max_new_tokens=8, chunk_max_new_tokens=8)
    lm = LMGenerator(settings, make_backend("transformers", dtype="fp32"))
    from prox.chunking import chunk_document

    chunks = [chunk for text in TEXTS for chunk in chunk_document(text, lm.chunk_sizer(), 40)]
    programs = lm.chunk_programs(chunks)
    assert len(programs) == len(chunks) and all(isinstance(program, str) for program in programs)
