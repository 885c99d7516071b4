"""Where a run's documents go: refined ones in OUT, dropped ones in OUT/dropped, bad ones in OUT/errors.

Record layouts:
- `prox` (default): `id`, `text`, and `metadata` with the input's other fields and the `prox` record
  (see `metadata.py`). Parquet stores `metadata` as a JSON string, so documents with different fields can
  share one file schema; prox and datatrove readers decode it.
- `prox-release`: the released ProX corpora's layout: `id`, `text`, `raw_content`, `doc_content`,
  `metadata.doc_program`, `metadata.chunk_program`.
Errors are always JSONL: `id`, `source` (file:line), `reason`, `text` (the raw record, cut to 10k chars).
"""

from __future__ import annotations

import json
from typing import Literal

from datatrove.data import Document
from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
from datatrove.pipeline.writers.disk_base import DiskWriter

from prox.pipeline.errors import ERROR_KEY, source_of
from prox.pipeline.metadata import PROX_KEY, original_text, prox_metadata

OutputFormat = Literal["jsonl", "parquet"]
Layout = Literal["prox", "prox-release"]
LAYOUTS = ("prox", "prox-release")


def document_writer(folder: str, prefix: str, output_format: OutputFormat, layout: Layout) -> DiskWriter:
    """A writer of refined (or dropped) documents: one file per task, `{prefix}${rank}` plus the extension."""
    adapter = _release_record if layout == "prox-release" else _prox_record
    if output_format == "parquet":
        return ParquetWriter(
            folder,
            output_filename=f"{prefix}${{rank}}.parquet",
            adapter=lambda _writer, document: _json_metadata(adapter(document)),
        )
    return JsonlWriter(
        folder, output_filename=f"{prefix}${{rank}}.jsonl.gz", adapter=lambda _writer, document: adapter(document)
    )


def errors_writer(folder: str, prefix: str) -> DiskWriter:
    return JsonlWriter(folder, output_filename=f"{prefix}${{rank}}.jsonl.gz", adapter=_error_record)


def _prox_record(document: Document) -> dict:
    return {"id": document.id, "text": document.text, "metadata": document.metadata}


def _release_record(document: Document) -> dict:
    record = prox_metadata(document)
    raw = original_text(document)
    metadata = {key: value for key, value in document.metadata.items() if key != PROX_KEY}
    metadata |= {"doc_program": record.get("doc_program"), "chunk_program": record.get("chunk_program")}
    if "drop_reason" in record:
        metadata["drop_reason"] = record["drop_reason"]
    return {"id": document.id, "text": document.text, "raw_content": raw, "doc_content": raw, "metadata": metadata}


def _json_metadata(record: dict) -> dict:
    record["metadata"] = json.dumps(record["metadata"], ensure_ascii=False)
    return record


def _error_record(_writer: DiskWriter, document: Document) -> dict:
    return {
        "id": document.id,
        "source": source_of(document),
        "reason": document.metadata.get(ERROR_KEY, "unknown"),
        "text": document.text,
    }


def replay_record(data: dict) -> dict:
    """A refined or dropped record read back with its original text, for `prox execute`."""
    metadata = data.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    if "raw_content" in data:  # the prox-release layout
        record = {
            "doc_program": metadata.pop("doc_program", None),
            "chunk_program": metadata.pop("chunk_program", None),
        }
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
