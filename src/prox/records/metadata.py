"""What prox records in each document's metadata, under one key, so runs can be inspected and replayed.

`doc.metadata["prox"]` holds: `source` (the input record's `file:line`); `refiner` and `policy`;
`doc_program` and `doc_decision`; `chunk_program` (the chunk programs joined by newlines, as the release
stored them), `chunk_programs` (each with the chunk's `first_line` and `last_line`, see `programs.py`),
`chunk_decision`, `removed_lines`, `normalizations`, `program_errors`, `programs_cut`; `raw_content` (the
original text, only where the chunk stage changed it); `drop_reason` on dropped documents.
"""

from __future__ import annotations

from datatrove.data import Document

PROX_KEY = "prox"


def prox_metadata(document: Document) -> dict:
    """The document's prox record, created empty on first use."""
    record = document.metadata.get(PROX_KEY)
    if not isinstance(record, dict):
        record = document.metadata[PROX_KEY] = {}
    return record


def original_text(document: Document) -> str:
    """The text the document had before any chunk program changed it."""
    raw = prox_metadata(document).get("raw_content")
    return raw if isinstance(raw, str) else document.text
