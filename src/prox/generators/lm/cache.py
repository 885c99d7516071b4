"""A persistent request cache (sqlite): a resumed or repeated run never pays twice for one generation.

Keyed by model, prompt token ids and sampling settings (greedy, max new tokens). Safe to share between the
processes of one machine: sqlite serialises writers, and a write that loses a race is simply retried later
as a cache miss.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prox.generators.lm.base import CompletionRequest

_SCHEMA = "CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, model TEXT, completion TEXT NOT NULL)"


def request_key(request: CompletionRequest) -> str:
    """A digest of everything that determines a greedy completion."""
    material = f"{request.model}\x00greedy\x00{request.max_new_tokens}\x00" + ",".join(map(str, request.prompt_ids))
    return hashlib.sha256(material.encode()).hexdigest()


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

    def get(self, request: CompletionRequest) -> str | None:
        row = self.connection.execute(
            "SELECT completion FROM completions WHERE key = ?", (request_key(request),)
        ).fetchone()
        return row[0] if row else None

    def put(self, request: CompletionRequest, completion: str) -> None:
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
