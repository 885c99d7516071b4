"""Input discovery and datatrove readers that account for every record, bad ones included.

datatrove's readers skip a malformed line with a log message; prox needs every input record to end kept,
dropped or set aside, so these readers turn each bad record into an *error document* (see `errors.py`)
that the pipeline writes to `OUT/errors/`, and they keep reading where that is safe.

Compressed JSONL is read twice. The first pass decompresses every gzip member or zstd frame in turn (files
of many, as `cat`, pzstd or bgzip write them, are read whole) and checks each (gzip's CRC and length, zstd's
checksum when the frame has one) without keeping the text; the second reads records, and only from data that
the first pass found sound:
- a corrupt member or frame, and everything after it, is one error at the line where it starts: garbled data
  cannot be told from good data, and a CRC mismatch is only seen at the member's end, after its records
  would have been emitted; the members before it are read;
- a file that ends inside a member or frame (a cut download) keeps every whole line before the cut, and the
  cut line is the one error, holding what was read of it: a cut loses the end, it does not garble the start;
- a 0-byte `.gz` or `.zst` is one error; a 0-byte `.jsonl` holds no records.
The check costs a second decompression (and read) of each compressed file, cheap beside refining its text,
and keeps memory flat however large a member is. A UTF-8 byte order mark before the first record is skipped.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from datatrove.data import Document
from datatrove.pipeline.readers import JsonlReader, ParquetReader

from prox.pipeline.errors import error_document
from prox.pipeline.metadata import PROX_KEY

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst")
PARQUET_SUFFIXES = (".parquet",)


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
    """Expand files, globs and folders into readable input files; raise ValueError when there are none.

    Files under `exclude` (the run's own output folder) and under earlier output folders found inside an
    input folder are skipped.
    """
    files: set[Path] = set()
    for entry in inputs:
        matches = [Path(match) for match in glob.glob(entry, recursive=True)] or [Path(entry)]
        for match in matches:
            if match.is_dir():
                # Earlier prox/datatrove outputs inside the folder (marked by logs/completions) are not input.
                outputs = [marker.parent.parent for marker in match.rglob("logs/completions") if marker.is_dir()]
                files.update(
                    path
                    for path in match.rglob("*")
                    if path.is_file() and _format_of(path) and not any(path.is_relative_to(out) for out in outputs)
                )
            elif match.is_file():
                if not _format_of(match):
                    raise ValueError(f"{match}: not a .jsonl, .jsonl.gz, .jsonl.zst or .parquet file")
                files.add(match)
            else:
                raise ValueError(f"{entry}: no such file, folder or glob match")
    if exclude is not None:
        skipped = Path(exclude).resolve()
        files = {path for path in files if not path.resolve().is_relative_to(skipped)}
    if not files:
        raise ValueError(f"no .jsonl, .jsonl.gz, .jsonl.zst or .parquet files in {' '.join(inputs)}")
    absolute = sorted(path.resolve() for path in files)
    root = Path(os.path.commonpath([str(path.parent) for path in absolute]))
    relative = [str(path.relative_to(root)) for path in absolute]
    return InputFiles(
        root=str(root),
        jsonl=tuple(path for path in relative if _format_of(Path(path)) == "jsonl"),
        parquet=tuple(path for path in relative if _format_of(Path(path)) == "parquet"),
    )


def _format_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    return None


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
        import orjson

        codec = _codec_of(filepath, self.compression)
        damage: _Damage | None = None
        cut = b""  # what was read of the line that damage cut short
        read = 0  # lines read so far, blank ones included
        try:
            if codec is not None:
                with self.data_folder.open(filepath, "rb") as raw:
                    damage = _find_damage(raw, codec)
            with self.data_folder.open(filepath, "rb") as raw:
                for line in _lines(_decompressed(raw, codec, damage.trusted if damage else None)):
                    if damage is not None and not line.endswith(b"\n"):
                        cut = line  # part of the damage's error, not a malformed record of its own
                        break
                    if read == 0:
                        line = line.removeprefix(_BOM)
                    read += 1
                    if not line.strip():
                        continue  # a blank line holds no record
                    with self.track_time():
                        try:
                            document = self._document(orjson.loads(line), filepath, read - 1)
                        except orjson.JSONDecodeError as error:
                            where, raw_text = f"{filepath}:{read}", line.decode("utf-8", "replace")
                            document = error_document(where, _json_problem(line, error), raw_text)
                    yield document
        except (OSError, ValueError, _DamagedInput) as error:
            # Storage that fails, or a file that changed between the two passes: the rest is one error.
            reason = str(error)
            if not isinstance(error, _DamagedInput):
                reason = f"unreadable from here on ({type(error).__name__}: {error})"
            yield error_document(f"{filepath}:{read + 1}", reason, "")
            return
        if damage is not None:
            yield error_document(f"{filepath}:{read + 1}", damage.reason, cut.decode("utf-8", "replace"))


_BOM = b"\xef\xbb\xbf"
_READ_BYTES = 1 << 17  # bytes read at a time; for compressed input, this bounds what one decompress call returns


@dataclass(frozen=True)
class _Damage:
    """Where a compressed file stops being sound: its first `trusted` decompressed bytes are, the rest is not."""

    trusted: int
    reason: str


class _DamagedInput(Exception):
    """A compressed file that is empty, corrupt, or ends inside a gzip member or zstd frame (`truncated`)."""

    def __init__(self, reason: str, truncated: bool = False):
        super().__init__(reason)
        self.truncated = truncated


def _codec_of(filepath: str, compression: str | None) -> str | None:
    """The codec, "gzip", "zstd" or None for plain text: the reader's `compression`, or for "infer" the name's."""
    if compression != "infer":
        return compression
    name = filepath.lower()
    return "gzip" if name.endswith(".gz") else "zstd" if name.endswith(".zst") else None


def _decompress(raw: BinaryIO, codec: str) -> Iterator[tuple[bytes, bool]]:
    """The decompressed text of each gzip member or zstd frame in turn, in chunks, each with whether it ends a
    member that passed its checks; raises `_DamagedInput` where the file is empty, corrupt or cut short."""
    import zstandard

    if codec == "gzip":
        new_member, unit = partial(zlib.decompressobj, 16 + zlib.MAX_WBITS), "member"
    elif codec == "zstd":
        new_member, unit = zstandard.ZstdDecompressor().decompressobj, "frame"
    else:
        raise ValueError(f"compression {codec!r}: prox reads plain, gzip or zstd JSONL")
    member = None
    member_start = position = 0  # compressed bytes
    pending = b""
    while pending or (pending := raw.read(_READ_BYTES)):
        if member is None:
            if codec == "gzip" and position:
                # Zero padding after a member is allowed, as gzip and Python's gzip module allow it.
                unpadded = pending.lstrip(b"\0")
                position += len(pending) - len(unpadded)
                if not (pending := unpadded):
                    continue
            member, member_start = new_member(), position
        try:
            text = member.decompress(pending)
        except (zlib.error, zstandard.ZstdError) as error:
            raise _DamagedInput(
                f"unreadable from here on (corrupt {codec} {unit} at byte {member_start:,}: {error}): its records"
                " and all after it are set aside unread, as corrupt data cannot be told from good; fetch or write"
                " the file again"
            ) from error
        if member.eof:
            position += len(pending) - len(member.unused_data)
            pending, member = member.unused_data, None
            yield text, True
        else:
            position += len(pending)
            pending = b""
            yield text, False
    if position == 0:
        raise _DamagedInput(f"empty compressed file, 0 bytes: not a valid {codec} file")
    if member is not None:
        raise _DamagedInput(
            f"unreadable from here on (truncated {codec} file: it ends at byte {position:,}, inside the {unit}"
            f" starting at byte {member_start:,}): the records before the cut were read; fetch the file again",
            truncated=True,
        )


def _find_damage(raw: BinaryIO, codec: str) -> _Damage | None:
    """The first pass: where the file stops being sound, or None when every member or frame is."""
    decompressed = checked = 0
    try:
        for text, member_ends in _decompress(raw, codec):
            decompressed += len(text)
            if member_ends:
                checked = decompressed
    except _DamagedInput as error:
        # A cut leaves what came before it intact; corruption may have garbled its member from the start.
        return _Damage(decompressed if error.truncated else checked, str(error))
    return None


def _decompressed(raw: BinaryIO, codec: str | None, limit: int | None) -> Iterator[bytes]:
    """The file's text in chunks, stopping after `limit` bytes when given (before the damage is reached)."""
    if codec is None:
        yield from iter(partial(raw.read, _READ_BYTES), b"")
        return
    if limit == 0:
        return
    remaining = limit
    for text, _ in _decompress(raw, codec):
        if remaining is not None:
            text = text[:remaining]
            remaining -= len(text)
        yield text
        if remaining == 0:
            return  # before decompressing on into the damage


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a text given in chunks, each with its newline; the last one may have none."""
    parts: list[bytes] = []
    for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            parts.append(chunk[start : end + 1])
            yield b"".join(parts)
            parts, start = [], end + 1
        if start < len(chunk):
            parts.append(chunk[start:])
    if parts:
        yield b"".join(parts)


def _json_object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _json_problem(line: bytes, error: Exception) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as decode_error:
        return f"invalid UTF-8 at byte {decode_error.start}"
    return f"malformed JSON ({error})"


class ProxParquetReader(_AccountingMixin, ParquetReader):
    """Parquet reader that turns bad rows and unreadable files into error documents."""

    name = "prox parquet"

    def read_file(self, filepath: str) -> Iterator[Document]:
        import pyarrow.parquet as pq

        index = -1
        try:
            with self.data_folder.open(filepath, "rb") as handle, pq.ParquetFile(handle) as parquet:
                for batch in parquet.iter_batches(batch_size=self.batch_size):
                    for row in batch.to_pylist():
                        index += 1
                        yield self._document(row, filepath, index)
        except Exception as error:  # pyarrow raises many kinds for a corrupt file
            yield error_document(
                f"{filepath}:{index + 2}", f"unreadable parquet from here on ({type(error).__name__}: {error})", ""
            )
