"""A persistent request cache (sqlite): a resumed or repeated run never pays twice for one generation.

Completions are keyed by model, prompt token ids and sampling settings (greedy, max new tokens); chat
requests by model, messages, max new tokens and temperature. Safe to share between the processes of one
machine: sqlite serialises writers, and a write that loses a race is simply retried later as a cache miss.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from prox.generators.lm.chat import ChatAnswer, ChatBackend, ChatRequest, ChatResult

if TYPE_CHECKING:
    from prox.generators.lm.base import CompletionRequest

_SCHEMA = "CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, model TEXT, completion TEXT NOT NULL)"


def request_key(request: CompletionRequest | ChatRequest) -> str:
    """A digest of everything that determines a completion (greedy) or a chat answer."""
    if isinstance(request, ChatRequest):
        # Its own namespace: no chat key can equal a completion key.
        decoding = {"max_tokens": request.max_new_tokens, "temperature": request.temperature}
        messages = [[message.role, message.content] for message in request.messages]
        material = "chat\x00" + json.dumps([request.model, decoding, messages], ensure_ascii=False, sort_keys=True)
    else:
        material = f"{request.model}\x00greedy\x00{request.max_new_tokens}\x00" + ",".join(map(str, request.prompt_ids))
    return hashlib.sha256(material.encode()).hexdigest()


def chat_with_cache(
    backend: ChatBackend, requests: Sequence[ChatRequest], cache: RequestCache | None
) -> list[ChatResult]:
    """Answers from the cache where it has them (marked `cached`), the rest from `backend`, stored once answered."""
    results: list[ChatResult | None] = [None] * len(requests)
    missing: list[int] = []
    for index, request in enumerate(requests):
        cached = cache.get(request) if cache is not None else None
        if cached is None:
            missing.append(index)
        else:
            results[index] = ChatAnswer(cached, cached=True)
    if missing:
        answers = backend.chat([requests[index] for index in missing])
        for index, answer in zip(missing, answers, strict=True):
            results[index] = answer
            if cache is not None and isinstance(answer, ChatAnswer):
                cache.put(requests[index], answer.text)
    return results  # type: ignore[return-value]


class RequestCache:
    """Completions by request key, in one sqlite file."""

    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._connection: sqlite3.Connection | None = None

    @property
    def connection(self) -> sqlite3.Connection:
        # Opened lazily, so a generator can be pickled to worker processes before first use.
        if self._connection is None:
            self._connection = sqlite3.connect(self.path, timeout=60)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute(_SCHEMA)
        return self._connection

    def get(self, request: CompletionRequest | ChatRequest) -> str | None:
        row = self.connection.execute(
            "SELECT completion FROM completions WHERE key = ?", (request_key(request),)
        ).fetchone()
        return row[0] if row else None

    def put(self, request: CompletionRequest | ChatRequest, completion: str) -> None:
        try:
            with self.connection:
                self.connection.execute(
                    "INSERT OR REPLACE INTO completions (key, model, completion) VALUES (?, ?, ?)",
                    (request_key(request), request.model, completion),
                )
        except sqlite3.OperationalError:
            pass  # still locked after the timeout: the completion stands, uncached (a later run asks again)

    def __len__(self) -> int:
        return self.connection.execute("SELECT COUNT(*) FROM completions").fetchone()[0]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "_connection": None}
