"""The writers of a run: refined documents to OUT, dropped ones to OUT/dropped, bad ones to OUT/errors.

Documents are written in one of the record layouts of `prox.records.layouts`, as gzip JSONL or Parquet;
errors always as gzip JSONL, in the layout of `prox.records.errors.error_record`.

A task writes its files under temporary names (`PART_SUFFIX`) and `attempts.PublishAttempt` renames them once
the task has finished, so a killed attempt never leaves a file that looks like output (see `prox.records.files`).
Gzip members carry no timestamp, so identical runs give byte-identical files.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import IO, Literal

from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
from datatrove.pipeline.writers.disk_base import DiskWriter

from prox.records.errors import error_record
from prox.records.files import PART_SUFFIX
from prox.records.layouts import Layout, json_metadata, prox_record, release_record

OutputFormat = Literal["jsonl", "parquet"]


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
    adapter = release_record if layout == "prox-release" else prox_record
    if output_format == "parquet":
        return ParquetWriter(
            folder,
            output_filename=f"{prefix}${{rank}}.parquet{PART_SUFFIX}",
            adapter=lambda _writer, document: json_metadata(adapter(document)),
        )
    return GzipJsonlWriter(
        folder, f"{prefix}${{rank}}.jsonl.gz{PART_SUFFIX}", adapter=lambda _writer, document: adapter(document)
    )


def errors_writer(folder: str, prefix: str) -> DiskWriter:
    return GzipJsonlWriter(
        folder, f"{prefix}${{rank}}.jsonl.gz{PART_SUFFIX}", adapter=lambda _writer, document: error_record(document)
    )
