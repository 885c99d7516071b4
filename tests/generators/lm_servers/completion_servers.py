"""An OpenAI-compatible completions and chat server for tests: stdlib HTTP on 127.0.0.1 (port 0), in a daemon
thread, answering with a function of the posted payload. No model here; `conftest.py` puts one behind it."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """What the server answers: a status, a JSON-able body (or raw bytes), after `delay` seconds."""

    status: int = 200
    body: dict | bytes = field(default_factory=dict)
    delay: float = 0.0


def completion(text: str) -> Reply:
    return Reply(body={"object": "text_completion", "choices": [{"index": 0, "text": text, "finish_reason": "stop"}]})


def chat_answer(text: str, prompt_tokens: int = 11, completion_tokens: int = 7, finish_reason: str = "stop") -> Reply:
    message = {"role": "assistant", "content": text}
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    choice = {"index": 0, "message": message, "finish_reason": finish_reason}
    return Reply(body={"object": "chat.completion", "choices": [choice], "usage": usage})


def prompt_key(prompt: list[int] | str) -> tuple[int, ...] | str:
    return tuple(prompt) if isinstance(prompt, list) else prompt


def messages_key(messages: list[dict]) -> str:
    return json.dumps(messages, sort_keys=True)


def payload_key(payload: dict) -> tuple[int, ...] | str:
    """What identifies a request: its prompt (completions) or its messages (chat)."""
    return messages_key(payload["messages"]) if "messages" in payload else prompt_key(payload.get("prompt"))


class CompletionServer:
    """Serves POST /v1/completions and /v1/chat/completions with `answer(payload, hit)`, `hit` counting earlier
    posts of that prompt (or those messages).

    Records every payload, path and header set, and the most requests it ever held at once.
    """

    def __init__(self, answer: Callable[[dict, int], Reply]):
        self.answer = answer
        self.payloads: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.hits: Counter = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.httpd.handle_error = lambda request, address: None  # a client that gave up closed its socket
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def hits_of(self, prompt: list[int] | str) -> int:
        return self.hits[prompt_key(prompt)]

    def hits_of_messages(self, messages: list[dict]) -> int:
        return self.hits[messages_key(messages)]

    def __enter__(self) -> CompletionServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def handle(self, payload: dict, headers: dict[str, str], path: str) -> Reply:
        key = payload_key(payload)
        with self.lock:
            hit = self.hits[key]
            self.hits[key] += 1
            self.payloads.append(payload)
            self.headers.append(headers)
            self.paths.append(path)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply = self.answer(payload, hit)
            if reply.delay:
                self.stopping.wait(reply.delay)
            return reply
        finally:
            with self.lock:
                self.in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

    def do_POST(self) -> None:
        server: CompletionServer = self.server.owner  # type: ignore[attr-defined]
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if self.path not in ("/v1/completions", "/v1/chat/completions"):
            reply = Reply(404, {"error": {"message": f"no route {self.path}"}})
        else:
            reply = server.handle(payload, dict(self.headers), self.path)
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def greedy_ids(model, prompt_ids: list[int], max_new_tokens: int) -> list[int]:
    """The model's greedy continuation via `generate` (what the server runs), EOS included if reached."""
    import torch

    with torch.no_grad():
        output = model.generate(
            torch.tensor([prompt_ids]),
            attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=2,
            pad_token_id=0,
        )
    return output[0, len(prompt_ids) :].tolist()
