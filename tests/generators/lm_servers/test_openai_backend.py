"""The OpenAI-compatible backend against real local HTTP servers: a tiny Llama, and one that misbehaves."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import sys
import time

import pytest
from completion_servers import Reply, completion

from prox.generators.base import GenerationFailure
from prox.generators.lm import LMGenerator, LMSettings
from prox.generators.lm.base import CompletionRequest
from prox.generators.lm.openai_backend import OpenAIBackend
from prox.pipeline.run import RunSettings, refine_pipeline, run
from prox.prompts import llama2_chat_prompt

DOCS = [
    "The mitochondria is the powerhouse of the cell.",
    "Home | About | Contact\nBuy cheap watches now!!!",
    "def f(x):\n    return x * 2",
]


def _request(prompt: list[int] | tuple[int, ...], max_new_tokens: int = 8, text: str = "") -> CompletionRequest:
    return CompletionRequest("fake", tuple(prompt), max_new_tokens, text)


def _backend(server, **options) -> OpenAIBackend:
    return OpenAIBackend(server.base_url, **({"backoff": 0.01, "timeout": 5.0, "max_retries": 2} | options))


def _manual_greedy(model, prompt_ids: list[int], max_new_tokens: int, eos_id: int = 2) -> list[int]:
    """Greedy decoding by hand, a full forward pass per token: independent of `generate` and its cache."""
    import torch

    ids = list(prompt_ids)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_id = int(model(torch.tensor([ids])).logits[0, -1].argmax())
            ids.append(next_id)
            if next_id == eos_id:
                break
    return ids[len(prompt_ids) :]


# --- a real model behind a real OpenAI-compatible server ---


def test_completions_from_a_model_server_equal_the_models_own_greedy_generation(
    model_server, tiny_llama, llama2_tokenizer
):
    prompts = [llama2_tokenizer.encode(llama2_chat_prompt(doc), add_special_tokens=False).ids for doc in DOCS]
    requests = [_request(ids, max_new_tokens) for ids, max_new_tokens in zip(prompts, (12, 5, 9), strict=True)]

    results = _backend(model_server, concurrency=2).complete(requests)

    expected = [
        llama2_tokenizer.decode(
            _manual_greedy(tiny_llama, list(r.prompt_ids), r.max_new_tokens), skip_special_tokens=True
        )
        for r in requests
    ]
    assert results == expected
    assert all(isinstance(text, str) and text for text in results)
    assert sorted(payload["max_tokens"] for payload in model_server.payloads[-3:]) == [5, 9, 12]


def test_lm_generator_doc_programs_through_a_model_server(model_server, tiny_llama, llama2_dir, llama2_tokenizer):
    generator = LMGenerator(
        LMSettings(doc_model="tiny", chunk_model="tiny", tokenizer=str(llama2_dir), doc_max_new_tokens=6),
        _backend(model_server),
    )
    programs = generator.doc_programs(DOCS[:2])

    for doc, program in zip(DOCS[:2], programs, strict=True):
        ids = generator.doc_request(doc).prompt_ids
        expected = llama2_tokenizer.decode(_manual_greedy(tiny_llama, list(ids), 6), skip_special_tokens=True)
        assert program == expected.strip(" ")


# --- what is posted ---


def test_the_payload_is_greedy_with_token_ids_and_the_api_key(fault_server):
    result = _backend(fault_server, api_key="sk-test").complete([CompletionRequest("m1", (1, 2, 3), 7, "<s>hi")])

    assert result == ["[1, 2, 3]"]
    assert fault_server.payloads == [{"model": "m1", "prompt": [1, 2, 3], "max_tokens": 7, "temperature": 0, "n": 1}]
    assert fault_server.headers[0]["Authorization"] == "Bearer sk-test"


def test_send_text_posts_the_prompt_text(fault_server):
    backend = _backend(fault_server, send="text")
    results = backend.complete([_request((1, 2), text="<s>[INST] hi [/INST]"), _request((1, 3))])

    assert results[0] == json.dumps("<s>[INST] hi [/INST]")
    assert isinstance(results[1], GenerationFailure) and "no prompt text" in results[1].reason
    assert len(fault_server.payloads) == 1
    assert "Authorization" not in fault_server.headers[0]


# --- faults: retried, then answered; or failed alone ---


def test_retried_statuses_are_retried_until_the_server_answers(fault_server):
    flaky = {(1, 500): 500, (1, 429): 429, (1, 503): 503}

    def answer(payload, hit):
        status = flaky.get(tuple(payload["prompt"]))
        if status and hit < (2 if status == 500 else 1):
            return Reply(status, {"error": {"message": "busy"}})
        return completion(f"ok {payload['prompt'][1]}")

    fault_server.answer = answer
    results = _backend(fault_server, max_retries=3).complete([_request(prompt) for prompt in flaky])

    assert results == ["ok 500", "ok 429", "ok 503"]
    assert [fault_server.hits_of(list(prompt)) for prompt in flaky] == [3, 2, 2]


def test_a_request_that_always_fails_fails_alone_after_its_retries(fault_server):
    def answer(payload, hit):
        if payload["prompt"] == [1, 666]:
            return Reply(500, {"error": {"message": "CUDA error: device-side assert triggered"}})
        return completion(f"ok {payload['prompt'][1]}")

    fault_server.answer = answer
    results = _backend(fault_server, max_retries=2).complete([_request((1, 10)), _request((1, 666)), _request((1, 11))])

    assert results == [
        "ok 10",
        GenerationFailure("openai: HTTP 500 (CUDA error: device-side assert triggered) after 3 attempts"),
        "ok 11",
    ]
    assert fault_server.hits_of([1, 666]) == 3
    assert fault_server.hits_of([1, 10]) == fault_server.hits_of([1, 11]) == 1


def test_a_request_past_the_timeout_is_retried_and_one_that_always_hangs_fails(fault_server):
    def answer(payload, hit):
        prompt = payload["prompt"]
        if (prompt == [1, 1] and hit == 0) or prompt == [1, 2]:
            return Reply(delay=2.0, body=completion("too late").body)
        return completion("in time")

    fault_server.answer = answer
    started = time.monotonic()
    results = _backend(fault_server, timeout=0.3, max_retries=1).complete([_request((1, 1)), _request((1, 2))])

    assert results[0] == "in time"
    assert isinstance(results[1], GenerationFailure)
    assert results[1].reason.startswith("openai: timed out") and results[1].reason.endswith("after 2 attempts")
    assert fault_server.hits_of([1, 1]) == fault_server.hits_of([1, 2]) == 2
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("bad_body", "reason"),
    [
        (b'{"choices": [{"text": "unterminated', "invalid JSON"),
        ({"object": "text_completion"}, "no choices[0].text"),
        ({"choices": []}, "no choices[0].text"),
        ({"choices": [{"text": None}]}, "not a string"),
    ],
)
def test_malformed_bodies_are_retried(fault_server, bad_body, reason):
    def answer(payload, hit):
        if payload["prompt"] == [1, 9] or hit == 0:
            return Reply(200, bad_body)
        return completion("fine")

    fault_server.answer = answer
    results = _backend(fault_server, max_retries=2).complete([_request((1, 1)), _request((1, 9))])

    assert results[0] == "fine"
    assert isinstance(results[1], GenerationFailure)
    assert reason in results[1].reason and results[1].reason.endswith("after 3 attempts")
    assert fault_server.hits_of([1, 1]) == 2
    assert fault_server.hits_of([1, 9]) == 3


def test_a_client_error_fails_at_once(fault_server):
    def answer(payload, hit):
        if payload["prompt"] == [1, 400]:
            return Reply(400, {"error": {"message": "This model's maximum context length is 2048 tokens."}})
        return completion("ok")

    fault_server.answer = answer
    results = _backend(fault_server, max_retries=4).complete([_request((1, 400)), _request((1, 1))])

    assert results == [
        GenerationFailure("openai: HTTP 400 (This model's maximum context length is 2048 tokens.) after 1 attempt"),
        "ok",
    ]
    assert fault_server.hits_of([1, 400]) == 1


def test_a_wrong_path_is_a_client_error(fault_server):
    backend = OpenAIBackend(fault_server.base_url.removesuffix("/v1"), backoff=0.01, max_retries=3)
    (result,) = backend.complete([_request((1,))])

    assert isinstance(result, GenerationFailure)
    assert result.reason.startswith("openai: HTTP 404") and result.reason.endswith("after 1 attempt")


def test_an_unreachable_server_fails_every_request_after_its_retries():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = OpenAIBackend(f"http://127.0.0.1:{port}/v1", backoff=0.01, max_retries=2, timeout=2.0)
    results = backend.complete([_request((1,)), _request((2,))])

    assert all(isinstance(result, GenerationFailure) for result in results)
    assert all("ConnectError" in result.reason and result.reason.endswith("after 3 attempts") for result in results)


# --- concurrency, order, event loops ---


def test_concurrency_is_limited_and_results_keep_request_order(fault_server):
    def answer(payload, hit):
        number = payload["prompt"][0]
        # Later requests answer sooner, so completion order is not request order.
        return Reply(delay=0.02 * (12 - number), body=completion(f"answer {number}").body)

    fault_server.answer = answer
    results = _backend(fault_server, concurrency=3).complete([_request((number,)) for number in range(12)])

    assert results == [f"answer {number}" for number in range(12)]
    assert 2 <= fault_server.max_in_flight <= 3


def test_complete_works_inside_a_running_event_loop(fault_server):
    backend = _backend(fault_server)

    async def caller():
        return backend.complete([_request((4, 2))])

    assert asyncio.run(caller()) == ["[4, 2]"]


def test_an_empty_batch_posts_nothing(fault_server):
    assert _backend(fault_server).complete([]) == []
    assert fault_server.payloads == []


# --- settings ---


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    backend = OpenAIBackend("http://127.0.0.1:1/v1", backoff=1.0, max_backoff=5.0)

    for retry, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (20, 5.0)):
        delays = [backend.retry_delay(retry) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)


@pytest.mark.parametrize(
    "options",
    [{"base_url": "localhost:8000/v1"}, {"send": "tokens"}, {"concurrency": 0}, {"max_retries": -1}],
)
def test_bad_settings_are_refused(options):
    with pytest.raises(ValueError):
        OpenAIBackend(**({"base_url": "http://127.0.0.1:8000/v1"} | options))


def test_without_httpx_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ImportError, match=r"pip install 'prox\[lm\]'"):
        OpenAIBackend("http://127.0.0.1:8000/v1")


def test_the_backend_is_made_by_name_and_copies(fault_server):
    import copy
    import pickle

    from prox.generators.lm import make_backend

    backend = make_backend("openai", base_url=fault_server.base_url, backoff=0.01)
    assert isinstance(backend, OpenAIBackend)
    assert backend.complete([_request((7,))]) == ["[7]"]
    for clone in (copy.deepcopy(backend), pickle.loads(pickle.dumps(backend))):
        assert clone.complete([_request((8,))]) == ["[8]"]


# --- end to end: a run where some generations always fail loses no document ---

SENTENCE = "This sentence is long enough to survive every rule that the executor applies to it."


def test_a_refine_run_against_a_failing_server_accounts_for_every_document(
    fault_server, llama2_dir, llama2_tokenizer, tmp_path
):
    def answer(payload, hit):
        prompt = llama2_tokenizer.decode(payload["prompt"], skip_special_tokens=False)
        chunk_stage = "[doc]\n[000]" in prompt
        if "doc-fail" in prompt and not chunk_stage:
            return Reply(500, {"error": {"message": "engine overloaded"}})
        if "chunk-fail" in prompt and chunk_stage:
            return Reply(503)
        if "flaky" in prompt and hit == 0:
            return Reply(429)
        if "spam" in prompt and not chunk_stage:
            return completion(" drop_doc()")
        return completion(" keep_chunk()" if chunk_stage else " keep_doc()")

    fault_server.answer = answer
    texts = {
        "d0": SENTENCE,
        "d1": f"{SENTENCE} doc-fail",
        "d2": f"{SENTENCE} spam",
        "d3": f"{SENTENCE}\nchunk-fail {SENTENCE}",
        "d4": f"{SENTENCE} flaky",
        "d5": f"{SENTENCE} doc-fail again",
    }
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "docs.jsonl").write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in texts.items()))
    out = tmp_path / "out"
    settings = RunSettings(inputs=[str(inputs)], output=str(out), batch_size=4)
    generator = LMGenerator(
        LMSettings(doc_model="tiny", chunk_model="tiny", tokenizer=str(llama2_dir)),
        OpenAIBackend(fault_server.base_url, backoff=0.01, max_retries=2, concurrency=4),
    )

    summary = run(refine_pipeline(settings, generator), settings)

    assert summary["accounted"]
    assert (summary["documents_in"], summary["kept"], summary["dropped"], summary["errors"]) == (6, 2, 1, 3)
    assert _read(out / "errors") == {
        "d1": "doc program: openai: HTTP 500 (engine overloaded) after 3 attempts",
        "d5": "doc program: openai: HTTP 500 (engine overloaded) after 3 attempts",
        "d3": "chunk program: openai: HTTP 503 after 3 attempts",
    }
    assert set(_read(out)) == {"d0", "d4"}
    assert set(_read(out / "dropped")) == {"d2"}
    assert json.loads((out / "stats.json").read_text())["accounted"] is True


def _read(folder) -> dict[str, str]:
    """id → error reason (or text) of every record written directly in `folder`."""
    records = {}
    for path in sorted(folder.glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as handle:
            for line in handle:
                record = json.loads(line)
                records[record["id"]] = record.get("reason", record.get("text"))
    return records
