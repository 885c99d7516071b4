"""Records of JSONL (plain, gzip or zstd) and Parquet files, each with its `file:line` position.

A file is a local path, or a path inside a datatrove `DataFolder` (any fsspec location); its position names
it as given. `read_records` never raises for a damaged file: it yields a `Record` for each record and a
`BadRecord` for what cannot be read, and reads on where that is safe (a malformed line is one bad record;
damage, or storage that fails, ends the file with one bad record at the line where it starts).
`read_records_strict` raises at the first bad record instead, for readers of gold labels and teacher outputs.

Compressed JSONL is read twice. The first pass decompresses every gzip member or zstd frame in turn (files
of many, as `cat`, pzstd or bgzip write them, are read whole) and checks each (gzip's CRC and length, zstd's
checksum when the frame has one) without keeping the text; the second reads records, and only from data that
the first pass found sound:
- a corrupt member or frame, and everything after it, is one bad record at the line where it starts: garbled
  data cannot be told from good data, and a CRC mismatch is only seen at the member's end, after its records
  would have been yielded; the members before it are read;
- a file that ends inside a member or frame (a cut download) keeps every whole line before the cut, and the
  cut line is the one bad record, holding what was read of it: a cut loses the end, it does not garble the
  start;
- a 0-byte `.gz` or `.zst` is one bad record; a 0-byte `.jsonl` holds no records.
The check costs a second decompression (and read) of each compressed file, cheap beside refining its text,
and keeps memory flat however large a member is. A UTF-8 byte order mark before the first record is skipped,
and so are blank lines (they hold no record, but count as lines).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from datatrove.io import DataFolder

from prox.storage import filesystem, is_remote, require_file

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst")
PARQUET_SUFFIXES = (".parquet",)
# Rows per Parquet batch, as datatrove's ParquetReader reads them.
PARQUET_BATCH_SIZE = 1000


@dataclass(frozen=True)
class Record:
    """A record read from `file`; `line` counts from 1 (for Parquet, the row)."""

    file: str
    line: int
    data: object

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be read, or the damaged rest of a file from `line` on; `raw` is what was read."""

    file: str
    line: int
    reason: str
    raw: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def record_format(name: str) -> str | None:
    """The format, jsonl or parquet, by the file name's suffix; None for a file that holds no records prox reads."""
    name = name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    return None


def read_records(path: str | Path, folder: DataFolder | None = None) -> Iterator[Record | BadRecord]:
    """The records of a Parquet file or, by any other name, of a JSONL file (plain, gzip or zstd by suffix)."""
    if record_format(str(path)) == "parquet":
        return read_parquet(path, folder)
    return read_jsonl(path, folder)


def read_records_strict(path: str | Path, folder: DataFolder | None = None) -> Iterator[Record]:
    """The records of a file, as `read_records`; raises ValueError, naming `file:line`, at the first bad one
    (FileNotFoundError for a file that does not exist, ValueError naming it for storage that cannot be reached)."""
    if folder is None:
        require_file(str(path))
    for record in read_records(path, folder):
        if isinstance(record, BadRecord):
            raise ValueError(f"{record.where}: cannot read the record ({record.reason})")
        yield record


def read_jsonl(
    path: str | Path, folder: DataFolder | None = None, compression: str | None = "infer"
) -> Iterator[Record | BadRecord]:
    """The records of a JSONL file, one per line; `compression` is "gzip", "zstd", None (plain) or "infer"
    (from the name's suffix)."""
    import orjson

    file = str(path)
    codec = _codec_of(file, compression)
    damage: _Damage | None = None
    cut = b""  # what was read of the line that damage cut short
    read = 0  # lines read so far, blank ones included
    try:
        if codec is not None:
            with _open(path, folder) as raw:
                damage = _find_damage(raw, codec)
        with _open(path, folder) as raw:
            for line in _lines(_decompressed(raw, codec, damage.trusted if damage else None)):
                if damage is not None and not line.endswith(b"\n"):
                    cut = line  # part of the damage's bad record, not a malformed record of its own
                    break
                if read == 0:
                    line = line.removeprefix(_BOM)
                read += 1
                if not line.strip():
                    continue  # a blank line holds no record
                try:
                    data = orjson.loads(line)
                except orjson.JSONDecodeError as error:
                    yield BadRecord(file, read, _json_problem(line, error), line.decode("utf-8", "replace"))
                    continue
                yield Record(file, read, data)
    except (OSError, ValueError, _DamagedInput) as error:
        # Storage that fails, or a file that changed between the two passes: the rest is one bad record.
        reason = str(error)
        if not isinstance(error, _DamagedInput):
            reason = f"unreadable from here on ({type(error).__name__}: {error})"
        yield BadRecord(file, read + 1, reason)
        return
    if damage is not None:
        yield BadRecord(file, read + 1, damage.reason, cut.decode("utf-8", "replace"))


def read_parquet(
    path: str | Path, folder: DataFolder | None = None, batch_size: int = PARQUET_BATCH_SIZE
) -> Iterator[Record | BadRecord]:
    """The rows of a Parquet file; an unreadable file or row group ends it with one bad record."""
    import pyarrow.parquet as pq

    file = str(path)
    row = 0
    try:
        with _open(path, folder) as handle, pq.ParquetFile(handle) as parquet:
            for batch in parquet.iter_batches(batch_size=batch_size):
                for data in batch.to_pylist():
                    row += 1
                    yield Record(file, row, data)
    except Exception as error:  # pyarrow raises many kinds for a corrupt file
        yield BadRecord(file, row + 1, f"unreadable parquet from here on ({type(error).__name__}: {error})")


def _open(path: str | Path, folder: DataFolder | None) -> BinaryIO:
    """The file at `path` in `folder`, or at `path` itself: a local path or any fsspec URL."""
    if folder is not None:
        return folder.open(str(path), "rb")
    if is_remote(str(path)):
        fs, inner = filesystem(str(path))
        return fs.open(inner, "rb")
    return open(path, "rb")


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
    """The codec, "gzip", "zstd" or None for plain text: `compression`, or for "infer" the name's."""
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


def _json_problem(line: bytes, error: Exception) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as decode_error:
        return f"invalid UTF-8 at byte {decode_error.start}"
    return f"malformed JSON ({error})"
