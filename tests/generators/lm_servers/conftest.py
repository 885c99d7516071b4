"""Local OpenAI-compatible servers for the backend tests: a tiny real Llama model, and a scripted fault server.

Both listen on 127.0.0.1 (port 0) in a daemon thread and are shut down by their fixture.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from completion_servers import CompletionServer, Reply, chat_answer, completion, greedy_ids


def _echo(payload: dict, hit: int) -> Reply:
    if "messages" in payload:
        return chat_answer(json.dumps(payload["messages"]))
    return completion(json.dumps(payload["prompt"]))


@pytest.fixture
def fault_server() -> Iterator[CompletionServer]:
    """A server with no model; each test sets `answer`. By default it echoes the prompt (or messages) back."""
    with CompletionServer(_echo) as server:
        yield server


@pytest.fixture(scope="module")
def tiny_llama(tiny_model_dir):
    """The shared seeded, random 2-layer Llama with the Llama-2 vocabulary: real generation in milliseconds."""
    transformers = pytest.importorskip("transformers")
    return transformers.LlamaForCausalLM.from_pretrained(tiny_model_dir).eval()


@pytest.fixture(scope="module")
def model_server(tiny_llama, llama2_tokenizer) -> Iterator[CompletionServer]:
    """An OpenAI-compatible completions server running the tiny Llama greedily on the posted token ids."""
    generating = threading.Lock()  # one forward pass at a time, like a single-GPU server

    def answer(payload: dict, hit: int) -> Reply:
        prompt = payload["prompt"]
        if not (isinstance(prompt, list) and all(isinstance(token, int) for token in prompt)):
            return Reply(400, {"error": {"message": "this test server takes token ids"}})
        if payload.get("temperature") != 0 or payload.get("n", 1) != 1:
            return Reply(400, {"error": {"message": "this test server only decodes greedily"}})
        with generating:
            ids = greedy_ids(tiny_llama, prompt, payload["max_tokens"])
        return completion(llama2_tokenizer.decode(ids, skip_special_tokens=True))

    with CompletionServer(answer) as server:
        yield server
