"""A persistent request cache (sqlite): a resumed or repeated run never pays twice for one generation.

Completions are keyed by model, prompt token ids and sampling settings (greedy, max new tokens); chat
requests by model, messages, max new tokens and temperature. Safe to share between the processes of one
machine (the tasks of a run): the file is in WAL mode, so readers never wait for a writer, writers wait their turn
(up to a minute), and a write that still loses is simply asked again later as a cache miss. Each chat answer is
stored as it arrives, one small transaction each: a run killed with kill -9 loses only the requests in flight
(WAL with synchronous=NORMAL keeps every committed answer through a killed process; only a power cut can cost the
last few).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
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
    """Answers from the cache where it has them (marked `cached`), the rest from `backend`, each stored as soon as
    it is answered."""
    results: list[ChatResult | None] = [None] * len(requests)
    missing: list[int] = []
    for index, request in enumerate(requests):
        cached = cache.get(request) if cache is not None else None
        if cached is None:
            missing.append(index)
        else:
            results[index] = ChatAnswer(cached, cached=True)
    if missing:

        def keep(position: int, answer: ChatResult) -> None:
            if cache is not None and isinstance(answer, ChatAnswer):
                cache.put(requests[missing[position]], answer.text)

        answers = backend.chat([requests[index] for index in missing], on_result=keep)
        for index, answer in zip(missing, answers, strict=True):
            results[index] = answer
    return results  # type: ignore[return-value]


def _use_wal(connection: sqlite3.Connection, tries: int = 100) -> None:
    """Switch the file to WAL mode (a no-op once it is). Processes opening a new file at once race to switch it,
    and sqlite refuses the losers at once rather than making them wait: they try again."""
    for attempt in range(tries):
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == tries - 1:
                raise
            time.sleep(0.02)


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
            # A backend may report answers from its own thread (`chat_with_cache`); calls never overlap.
            self._connection = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            _use_wal(self._connection)
            self._connection.execute("PRAGMA synchronous=NORMAL")
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
