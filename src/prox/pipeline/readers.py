"""Input discovery and datatrove readers that account for every record, bad ones included.

datatrove's readers skip a malformed line with a log message; prox needs every input record to end kept,
dropped or set aside, so these readers read files with `prox.records.reading` (which checks compressed
files whole and yields what it cannot read as bad records with their `file:line`), turn each bad record into
an *error document* (see `prox.records.errors`) that the pipeline writes to `OUT/errors/`, and keep reading
where that is safe.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.readers import JsonlReader, ParquetReader

from prox import storage
from prox.records.errors import error_document
from prox.records.metadata import PROX_KEY
from prox.records.reading import BadRecord, read_jsonl, read_parquet, record_format


@dataclass(frozen=True)
class InputFiles:
    """The input files, relative to one root folder, by format."""

    root: str
    jsonl: tuple[str, ...]
    parquet: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.jsonl) + len(self.parquet)


def find_inputs(inputs: list[str], exclude: str | None = None) -> InputFiles:
    """Expand files, globs and folders (local paths or URLs of one file system) into readable input files;
    raise ValueError when there are none.

    Files under `exclude` (the run's own output folder) and under earlier output folders found inside an
    input folder are skipped.
    """
    protocols = {storage.protocol_of(entry) for entry in inputs}
    if len(protocols) > 1:
        raise ValueError(f"inputs must lie on one file system; got {', '.join(sorted(protocols))}")
    files: set[str] = set()
    fs = None
    for entry in inputs:
        fs, path = storage.filesystem(entry)
        matches = sorted(fs.glob(path)) if glob.has_magic(path) else [path]
        if not matches:
            raise ValueError(f"{entry}: no such file, folder or glob match")
        for match in matches:
            files.update(_input_files(fs, match, entry))
    if exclude is not None and storage.protocol_of(exclude) in protocols:
        skipped = _real(fs, storage.filesystem(exclude)[1]).rstrip("/") + "/"
        files = {path for path in files if not path.startswith(skipped)}
    if not files:
        raise ValueError(f"no .jsonl, .jsonl.gz, .jsonl.zst or .parquet files in {' '.join(inputs)}")
    located = sorted(files)
    root = posixpath.commonpath([posixpath.dirname(path) for path in located])
    relative = [posixpath.relpath(path, root) for path in located]
    if storage.is_remote(inputs[0]):
        root = fs.unstrip_protocol(root)
    return InputFiles(
        root=root,
        jsonl=tuple(path for path in relative if record_format(path) == "jsonl"),
        parquet=tuple(path for path in relative if record_format(path) == "parquet"),
    )


def _input_files(fs: Any, match: str, entry: str) -> list[str]:
    """The readable files a file or folder match names, with symbolic links of local files resolved."""
    if fs.isdir(match):
        found = fs.find(match)
        # Earlier prox/datatrove outputs inside the folder (marked by logs/completions) are not input.
        outputs = {path.split("/logs/completions/")[0] + "/" for path in found if "/logs/completions/" in path}
        return [
            _real(fs, path)
            for path in found
            if record_format(path) and not any(path.startswith(output) for output in outputs)
        ]
    if fs.isfile(match):
        if not record_format(match):
            raise ValueError(f"{match}: not a .jsonl, .jsonl.gz, .jsonl.zst or .parquet file")
        return [_real(fs, match)]
    raise ValueError(f"{entry}: no such file, folder or glob match")


def _real(fs: Any, path: str) -> str:
    return os.path.realpath(path) if "file" in fs.protocol else path


def stable_id(source_file: str, index: int) -> str:
    """An id for a record that has none: the same file and position always give the same id."""
    digest = hashlib.sha1(f"{source_file}:{index}".encode()).hexdigest()[:16]
    return f"{Path(source_file).name}:{index}:{digest}"


class _AccountingMixin:
    """Shared checks: a record needs a non-empty string text; bad ones become error documents."""

    text_key: str
    id_key: str

    def __init__(
        self,
        data_folder: str,
        paths_file: str,
        text_key: str,
        id_key: str,
        max_chars: int,
        transform: Callable[[dict], dict] | None = None,
        **kwargs: object,
    ):
        super().__init__(data_folder, paths_file=paths_file, text_key=text_key, id_key=id_key, **kwargs)
        self.max_chars = max_chars
        self.transform = transform

    def _document(self, data: object, source_file: str, index: int) -> Document:
        where = f"{source_file}:{index + 1}"
        if not isinstance(data, dict):
            return error_document(where, f"record is a JSON {type(data).__name__}, not an object", str(data))
        if self.transform is not None:
            data = self.transform(data)
        text = data.get(self.text_key)
        if self.text_key not in data:
            keys = ", ".join(list(data)[:8])
            return error_document(where, f"no '{self.text_key}' field (fields: {keys}); set --text-key", "")
        if not isinstance(text, str):
            return error_document(where, f"'{self.text_key}' is a {type(text).__name__}, not a string", str(text))
        if not text.strip():
            return error_document(where, "empty text", text)
        if len(text) > self.max_chars:
            return error_document(
                where, f"text of {len(text):,} characters exceeds --max-doc-chars {self.max_chars:,}", text[:1000]
            )
        record_id = data.get(self.id_key)
        metadata = {key: value for key, value in data.items() if key not in (self.text_key, self.id_key, "metadata")}
        # A record's own metadata object (datatrove, Dolma and prox outputs have one) is merged in, not nested.
        nested = data.get("metadata")
        if isinstance(nested, str):
            nested = _json_object(nested)
        if isinstance(nested, dict):
            metadata = nested | metadata
        elif nested is not None:
            metadata["metadata"] = nested
        record = metadata.get(PROX_KEY)
        if not isinstance(record, dict):
            record = metadata[PROX_KEY] = {}
        record.setdefault("source", where)  # a replayed record keeps where it first came from
        return Document(
            text=text, id=str(record_id) if record_id is not None else stable_id(source_file, index), metadata=metadata
        )


class ProxJsonlReader(_AccountingMixin, JsonlReader):
    """JSONL (plain, gzip or zstd) reader that turns bad lines and broken files into error documents."""

    name = "prox jsonl"

    def read_file(self, filepath: str) -> Iterator[Document]:
        read = 0  # the line of the last record read
        try:
            for record in read_jsonl(filepath, self.data_folder, self.compression):
                read = record.line
                if isinstance(record, BadRecord):
                    yield error_document(record.where, record.reason, record.raw)
                    continue
                with self.track_time():
                    document = self._document(record.data, filepath, record.line - 1)
                yield document
        except (OSError, ValueError) as error:  # a record that fails to become a document (e.g. on replay)
            yield error_document(
                f"{filepath}:{read + 1}", f"unreadable from here on ({type(error).__name__}: {error})", ""
            )


def _json_object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class ProxParquetReader(_AccountingMixin, ParquetReader):
    """Parquet reader that turns bad rows and unreadable files into error documents."""

    name = "prox parquet"

    def read_file(self, filepath: str) -> Iterator[Document]:
        row = 0  # the row of the last record read
        try:
            for record in read_parquet(filepath, self.data_folder, self.batch_size):
                row = record.line
                if isinstance(record, BadRecord):
                    yield error_document(record.where, record.reason, record.raw)
                else:
                    yield self._document(record.data, filepath, record.line - 1)
        except Exception as error:  # a row that fails to become a document ends the file, as a bad file does
            yield error_document(
                f"{filepath}:{row + 1}", f"unreadable parquet from here on ({type(error).__name__}: {error})", ""
            )
