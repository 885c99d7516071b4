"""Where a run's documents go: refined ones in OUT, dropped ones in OUT/dropped, bad ones in OUT/errors.

Record layouts:
- `prox` (default): `id`, `text`, and `metadata` with the input's other fields and the `prox` record
  (see `metadata.py`). Parquet stores `metadata` as a JSON string, so documents with different fields can
  share one file schema; prox and datatrove readers decode it.
- `prox-release`: the released ProX corpora's layout: `id`, `text`, `raw_content`, `doc_content`,
  `metadata.doc_program`, `metadata.chunk_program`.
Errors are always JSONL: `id`, `source` (file:line), `reason`, `text` (the raw record, cut to 10k chars).

A task writes its files under temporary names (`PART_SUFFIX`) and `attempts.PublishAttempt` renames them once
the task has finished, so a killed attempt never leaves a file that looks like output. Gzip members carry no
timestamp, so identical runs give byte-identical files.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import IO, Literal

from datatrove.data import Document
from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
from datatrove.pipeline.writers.disk_base import DiskWriter

from prox.pipeline.errors import ERROR_KEY, source_of
from prox.pipeline.metadata import PROX_KEY, original_text, prox_metadata

OutputFormat = Literal["jsonl", "parquet"]
Layout = Literal["prox", "prox-release"]
LAYOUTS = ("prox", "prox-release")
# What a finished task's files end with; a task's unfinished files carry PART_SUFFIX after that.
OUTPUT_SUFFIXES = (".jsonl.gz", ".parquet")
PART_SUFFIX = ".part"
# What the released layout keeps of the prox record: where the document came from and what refined it.
_RELEASE_PROX_FIELDS = ("source", "refiner", "policy")


class GzipJsonlWriter(JsonlWriter):
    """datatrove's JsonlWriter with gzip members that carry mtime 0 and no file name (byte-identical reruns)."""

    def __init__(self, output_folder: str, output_filename: str, adapter: Callable) -> None:
        super().__init__(output_folder, output_filename=output_filename, compression=None, adapter=adapter)
        self._streams: dict[str, gzip.GzipFile] = {}

    def _write(self, document: dict, file_handler: IO, filename: str) -> None:
        stream = self._streams.get(filename)
        if stream is None:
            stream = self._streams[filename] = gzip.GzipFile(
                filename="", mode="wb", fileobj=file_handler, mtime=0, compresslevel=6
            )
        super()._write(document, stream, filename)

    def close(self) -> None:
        for stream in self._streams.values():
            stream.close()  # writes the gzip trailer; the file underneath is closed by datatrove
        self._streams.clear()
        super().close()


def document_writer(folder: str, prefix: str, output_format: OutputFormat, layout: Layout) -> DiskWriter:
    """A writer of refined (or dropped) documents: one file per task, `{prefix}${rank}` plus the extension."""
    adapter = _release_record if layout == "prox-release" else _prox_record
    if output_format == "parquet":
        return ParquetWriter(
            folder,
            output_filename=f"{prefix}${{rank}}.parquet{PART_SUFFIX}",
            adapter=lambda _writer, document: _json_metadata(adapter(document)),
        )
    return GzipJsonlWriter(
        folder, f"{prefix}${{rank}}.jsonl.gz{PART_SUFFIX}", adapter=lambda _writer, document: adapter(document)
    )


def errors_writer(folder: str, prefix: str) -> DiskWriter:
    return GzipJsonlWriter(folder, f"{prefix}${{rank}}.jsonl.gz{PART_SUFFIX}", adapter=_error_record)


def is_output_file(name: str) -> bool:
    """Whether a file name is a finished data file of a run (not a task's unfinished `.part` file)."""
    return name.endswith(OUTPUT_SUFFIXES)


def _prox_record(document: Document) -> dict:
    return {"id": document.id, "text": document.text, "metadata": document.metadata}


def _release_record(document: Document) -> dict:
    record = prox_metadata(document)
    raw = original_text(document)
    metadata = {key: value for key, value in document.metadata.items() if key != PROX_KEY}
    metadata |= {"doc_program": record.get("doc_program"), "chunk_program": record.get("chunk_program")}
    metadata[PROX_KEY] = {key: record[key] for key in _RELEASE_PROX_FIELDS if key in record}
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
