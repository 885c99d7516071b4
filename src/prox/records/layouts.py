"""The layouts of refined and dropped records, and reading them back with their original text.

- `prox` (default): `id`, `text`, and `metadata` with the input's other fields and the prox record
  (see `metadata.py`).
- `prox-release`: the released ProX corpora's layout: `id`, `text`, `raw_content`, `doc_content`,
  `metadata.doc_program`, `metadata.chunk_program`, and of the prox record only where the document came
  from and what refined it.
Parquet stores `metadata` as a JSON string (`json_metadata`), so documents with different fields can share
one file schema; prox and datatrove readers decode it.
"""

from __future__ import annotations

import json
from typing import Literal

from datatrove.data import Document

from prox.records.metadata import PROX_KEY, original_text, prox_metadata

Layout = Literal["prox", "prox-release"]
LAYOUTS = ("prox", "prox-release")
# What the released layout keeps of the prox record: where the document came from and what refined it.
_RELEASE_PROX_FIELDS = ("source", "refiner", "policy")


def prox_record(document: Document) -> dict:
    """The document in the `prox` layout."""
    return {"id": document.id, "text": document.text, "metadata": document.metadata}


def release_record(document: Document) -> dict:
    """The document in the `prox-release` layout."""
    record = prox_metadata(document)
    raw = original_text(document)
    metadata = {key: value for key, value in document.metadata.items() if key != PROX_KEY}
    metadata |= {"doc_program": record.get("doc_program"), "chunk_program": record.get("chunk_program")}
    metadata[PROX_KEY] = {key: record[key] for key in _RELEASE_PROX_FIELDS if key in record}
    if "drop_reason" in record:
        metadata["drop_reason"] = record["drop_reason"]
    return {"id": document.id, "text": document.text, "raw_content": raw, "doc_content": raw, "metadata": metadata}


def json_metadata(record: dict) -> dict:
    """The record with its `metadata` as a JSON string, as Parquet files store it."""
    record["metadata"] = json.dumps(record["metadata"], ensure_ascii=False)
    return record


def record_metadata(data: dict) -> dict:
    """A written record's `metadata`, decoded where Parquet stored it as a JSON string."""
    metadata = data.get("metadata") or {}
    return json.loads(metadata) if isinstance(metadata, str) else metadata


def replay_record(data: dict) -> dict:
    """A refined or dropped record of either layout read back with its original text, for `prox execute`."""
    metadata = record_metadata(data)
    if "raw_content" in data:  # the prox-release layout
        provenance = metadata.pop(PROX_KEY, None)
        record = {
            "doc_program": metadata.pop("doc_program", None),
            "chunk_program": metadata.pop("chunk_program", None),
        }
        if isinstance(provenance, dict):
            record |= {key: provenance[key] for key in _RELEASE_PROX_FIELDS if key in provenance}
        metadata.pop("drop_reason", None)  # this layout keeps it beside the programs, not in a prox record
        text = data["raw_content"]
        if record["chunk_program"] is not None:
            record["chunk_programs"] = [
                {"first_line": 0, "last_line": text.count("\n"), "program": record["chunk_program"]}
            ]
        metadata[PROX_KEY] = record
    else:
        record = metadata.get(PROX_KEY) or {}
        text = record.pop("raw_content", None) or data.get("text", "")
    record = metadata.setdefault(PROX_KEY, record)
    record.pop("drop_reason", None)
    return {"id": data.get("id"), "text": text, "metadata": metadata}
