"""The OpenAI backend's chat mode (teacher LLMs) against a scripted local server: what is posted, retries,
timeouts, malformed answers, and the request cache across runs."""

from __future__ import annotations

import json
import time

import pytest
from completion_servers import Reply, chat_answer

from prox.generators.base import GenerationFailure
from prox.generators.lm.base import CompletionRequest
from prox.generators.lm.cache import RequestCache, chat_with_cache, request_key
from prox.generators.lm.chat import ChatAnswer, ChatMessage, ChatRequest
from prox.generators.lm.openai_backend import OpenAIBackend

SYSTEM = ChatMessage("system", "You grade web pages.")


def _chat(text: str, max_new_tokens: int = 64, model: str = "teacher", **options) -> ChatRequest:
    return ChatRequest(model, (SYSTEM, ChatMessage("user", text)), max_new_tokens, **options)


def _messages(text: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM.content}, {"role": "user", "content": text}]


def _backend(server, **options) -> OpenAIBackend:
    return OpenAIBackend(server.base_url, **({"backoff": 0.01, "timeout": 5.0, "max_retries": 2} | options))


def _user_text(payload: dict) -> str:
    return payload["messages"][-1]["content"]


def test_chat_posts_messages_to_chat_completions_and_reads_the_message_content(fault_server):
    fault_server.answer = lambda payload, hit: chat_answer(f"Critique.\nEducational score: {len(_user_text(payload))}")
    results = _backend(fault_server, api_key="sk-test").chat([_chat("abc", 300), _chat("hello", 5, temperature=0.7)])

    assert results == [
        ChatAnswer("Critique.\nEducational score: 3", prompt_tokens=11, completion_tokens=7, finish_reason="stop"),
        ChatAnswer("Critique.\nEducational score: 5", prompt_tokens=11, completion_tokens=7, finish_reason="stop"),
    ]
    assert fault_server.paths == ["/v1/chat/completions"] * 2
    assert sorted(fault_server.payloads, key=lambda payload: payload["max_tokens"]) == [
        {"model": "teacher", "messages": _messages("hello"), "max_tokens": 5, "temperature": 0.7, "n": 1},
        {"model": "teacher", "messages": _messages("abc"), "max_tokens": 300, "temperature": 0, "n": 1},
    ]
    assert fault_server.headers[0]["Authorization"] == "Bearer sk-test"


def test_a_chat_answer_without_usage_costs_nothing_and_a_cut_off_one_says_so(fault_server):
    def answer(payload, hit):
        if _user_text(payload) == "plain":
            return Reply(body={"choices": [{"message": {"role": "assistant", "content": "fine"}}]})
        return chat_answer("Educational sc", completion_tokens=64, finish_reason="length")

    fault_server.answer = answer
    plain, cut = _backend(fault_server).chat([_chat("plain"), _chat("long")])

    assert plain == ChatAnswer("fine")
    assert cut == ChatAnswer("Educational sc", prompt_tokens=11, completion_tokens=64, finish_reason="length")


def test_a_chat_request_is_retried_after_a_500_and_then_answered(fault_server):
    def answer(payload, hit):
        if _user_text(payload) == "flaky" and hit < 2:
            return Reply(500, {"error": {"message": "engine overloaded"}})
        return chat_answer(f"ok {_user_text(payload)}")

    fault_server.answer = answer
    results = _backend(fault_server, max_retries=2).chat([_chat("flaky"), _chat("steady")])

    assert [result.text for result in results] == ["ok flaky", "ok steady"]
    assert fault_server.hits_of_messages(_messages("flaky")) == 3
    assert fault_server.hits_of_messages(_messages("steady")) == 1


def test_a_chat_request_that_always_fails_fails_alone(fault_server):
    def answer(payload, hit):
        if _user_text(payload) == "broken":
            return Reply(503, {"error": {"message": "no replicas"}})
        return chat_answer("ok")

    fault_server.answer = answer
    results = _backend(fault_server, max_retries=1).chat([_chat("broken"), _chat("fine")])

    assert results == [
        GenerationFailure("openai: HTTP 503 (no replicas) after 2 attempts"),
        ChatAnswer("ok", 11, 7, "stop"),
    ]


def test_a_chat_request_past_the_timeout_is_retried_and_one_that_always_hangs_fails(fault_server):
    def answer(payload, hit):
        text = _user_text(payload)
        if (text == "slow once" and hit == 0) or text == "hangs":
            return Reply(delay=2.0, body=chat_answer("too late").body)
        return chat_answer("in time")

    fault_server.answer = answer
    started = time.monotonic()
    slow_once, hangs = _backend(fault_server, timeout=0.3, max_retries=1).chat([_chat("slow once"), _chat("hangs")])

    assert isinstance(slow_once, ChatAnswer) and slow_once.text == "in time"
    assert isinstance(hangs, GenerationFailure)
    assert hangs.reason.startswith("openai: timed out") and hangs.reason.endswith("after 2 attempts")
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("bad_body", "reason"),
    [
        (b'{"choices": [{"message": {"content": "unterminated', "invalid JSON"),
        ({"object": "chat.completion"}, "no choices[0].message.content"),
        ({"choices": []}, "no choices[0].message.content"),
        ({"choices": [{"text": "a completions answer"}]}, "no choices[0].message.content"),
        ({"choices": [{"message": {"role": "assistant", "content": None}}]}, "not a string"),
    ],
)
def test_malformed_chat_answers_are_retried_then_fail_with_the_reason(fault_server, bad_body, reason):
    def answer(payload, hit):
        if _user_text(payload) == "always bad" or hit == 0:
            return Reply(200, bad_body)
        return chat_answer("fine")

    fault_server.answer = answer
    recovered, failed = _backend(fault_server, max_retries=2).chat([_chat("bad once"), _chat("always bad")])

    assert isinstance(recovered, ChatAnswer) and recovered.text == "fine"
    assert isinstance(failed, GenerationFailure)
    assert reason in failed.reason and failed.reason.endswith("after 3 attempts")


def test_a_refused_chat_request_fails_at_once(fault_server):
    fault_server.answer = lambda payload, hit: Reply(400, {"error": {"message": "maximum context length is 8192"}})
    (result,) = _backend(fault_server, max_retries=4).chat([_chat("too long")])

    assert result == GenerationFailure("openai: HTTP 400 (maximum context length is 8192) after 1 attempt")
    assert len(fault_server.payloads) == 1


def test_one_backend_serves_completions_and_chat(fault_server):
    backend = _backend(fault_server)

    assert backend.complete([CompletionRequest("m", (1, 2), 4)]) == ["[1, 2]"]
    (answer,) = backend.chat([_chat("hi")])
    assert json.loads(answer.text) == _messages("hi")
    assert fault_server.paths == ["/v1/completions", "/v1/chat/completions"]
    assert backend.chat([]) == []


# --- the request cache ---


def test_a_second_run_takes_chat_answers_from_the_cache(fault_server, tmp_path):
    fault_server.answer = lambda payload, hit: chat_answer(f"answer to {_user_text(payload)}")
    requests = [_chat("one"), _chat("two"), _chat("one")]
    cache_path = tmp_path / "logs" / "requests.sqlite"

    first = chat_with_cache(_backend(fault_server), requests, RequestCache(cache_path))
    assert [answer.text for answer in first] == ["answer to one", "answer to two", "answer to one"]
    assert not any(answer.cached for answer in first)
    asked = len(fault_server.payloads)

    # A new process: a fresh backend and cache object on the same file.
    second = chat_with_cache(_backend(fault_server), requests, RequestCache(cache_path))
    assert second == [ChatAnswer(answer.text, cached=True) for answer in first]
    assert len(fault_server.payloads) == asked


def test_each_chat_answer_is_cached_as_it_arrives_while_the_rest_of_the_batch_waits(fault_server, tmp_path):
    """What a run killed mid-batch keeps: every answer the server gave, though a slow request holds the batch."""
    import threading

    release = threading.Event()

    def answer(payload, hit):
        if _user_text(payload) == "slow":
            release.wait(10)
        return chat_answer(f"answer to {_user_text(payload)}")

    fault_server.answer = answer
    cache_path = tmp_path / "requests.sqlite"
    requests = [_chat("slow"), _chat("one"), _chat("two")]
    batch = threading.Thread(target=chat_with_cache, args=(_backend(fault_server), requests, RequestCache(cache_path)))
    batch.start()
    try:
        # Another process's view of the file: both quick answers are there before the batch has ended.
        reader = RequestCache(cache_path)
        deadline = time.monotonic() + 10
        while len(reader) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert batch.is_alive()
        assert [reader.get(request) for request in requests] == [None, "answer to one", "answer to two"]
    finally:
        release.set()
        batch.join()
    assert reader.get(requests[0]) == "answer to slow"


def test_failed_chat_answers_are_not_cached(fault_server, tmp_path):
    fault_server.answer = lambda payload, hit: Reply(500) if hit == 0 else chat_answer("second time lucky")
    cache = RequestCache(tmp_path / "requests.sqlite")

    (failed,) = chat_with_cache(_backend(fault_server, max_retries=0), [_chat("x")], cache)
    (answered,) = chat_with_cache(_backend(fault_server, max_retries=0), [_chat("x")], cache)

    assert isinstance(failed, GenerationFailure)
    assert answered == ChatAnswer("second time lucky", 11, 7, "stop")
    assert len(cache) == 1


def test_tasks_opening_a_new_cache_file_at_once_all_get_it(tmp_path):
    """sqlite refuses, rather than delays, all but one of those switching a new file to WAL at the same time."""
    import threading

    failures = []

    def open_cache(path, start):
        start.wait()
        try:
            cache = RequestCache(path)
            cache.get(_chat("x"))
            cache.close()
        except Exception as error:  # what the task would die of
            failures.append(error)

    for trial in range(50):
        path, start = tmp_path / f"requests-{trial}.sqlite", threading.Barrier(6)
        openers = [threading.Thread(target=open_cache, args=(path, start)) for _ in range(6)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join()
    assert failures == []


def test_chat_cache_keys_cover_model_messages_and_decoding():
    base = _chat("text", 64)
    variants = [
        _chat("text", 64, model="other"),
        _chat("text ", 64),
        _chat("text", 65),
        _chat("text", 64, temperature=0.2),
        ChatRequest("teacher", (ChatMessage("user", "text"),), 64),
        ChatRequest("teacher", (ChatMessage("assistant", SYSTEM.content), ChatMessage("user", "text")), 64),
    ]

    assert request_key(base) == request_key(_chat("text", 64))
    keys = {request_key(request) for request in [base, *variants]}
    assert len(keys) == 1 + len(variants)


def test_chat_and_completion_keys_never_collide():
    assert request_key(_chat("1,2", 8, model="m")) != request_key(CompletionRequest("m", (1, 2), 8))


@pytest.mark.parametrize("options", [{"max_new_tokens": 0}, {"messages": ()}])
def test_bad_chat_requests_are_refused(options):
    with pytest.raises(ValueError):
        ChatRequest(**({"model": "m", "messages": (SYSTEM,), "max_new_tokens": 8} | options))
