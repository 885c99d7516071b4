"""Error documents: bad input records carried through the pipeline to `OUT/errors/` instead of being lost.

An error record in `OUT/errors/` holds `id`, `source` (the input record's `file:line`), `reason` and `text`
(the raw record, cut to 10k characters).
"""

from __future__ import annotations

import sys

from datatrove.data import Document

from prox.records.metadata import PROX_KEY

ERROR_KEY = "prox_error"
_SNIPPET_CHARS = 10_000


def error_document(where: str, reason: str, raw: str) -> Document:
    """A document standing for a record that could not be refined; says so on stderr, one line."""
    print(f"prox: {where}: {reason}", file=sys.stderr)
    return Document(text=raw[:_SNIPPET_CHARS], id=where, metadata={ERROR_KEY: reason, PROX_KEY: {"source": where}})


def source_of(document: Document) -> str:
    """`file:line` of the input record the document came from."""
    record = document.metadata.get(PROX_KEY)
    return record.get("source", document.id) if isinstance(record, dict) else document.id


def is_error(document: Document) -> bool:
    return ERROR_KEY in document.metadata


def mark_error(document: Document, reason: str) -> Document:
    """Turn a document that failed mid-pipeline into an error document, keeping its text and id."""
    where = source_of(document)
    print(f"prox: {where}: {reason}", file=sys.stderr)
    document.metadata[ERROR_KEY] = reason
    return document


def error_record(document: Document) -> dict:
    """The record of an error document as `OUT/errors/` stores it."""
    return {
        "id": document.id,
        "source": source_of(document),
        "reason": document.metadata.get(ERROR_KEY, "unknown"),
        "text": document.text,
    }
