"""Damaged compressed inputs: every record is read, or set aside by one error naming the file and line.

Each case builds its damaged file in tmp_path with gzip or zstandard and reads it with `ProxJsonlReader`;
two go end to end through `prox refine` and check OUT/errors and stats.json.
"""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import pytest
import zstandard
from datatrove.data import Document

from prox.pipeline.readers import ProxJsonlReader, ProxParquetReader
from prox.records.errors import ERROR_KEY, is_error

BOM = b"\xef\xbb\xbf"


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def _zstd_frames(groups: list[list[dict]], pzstd: bool = False) -> bytes:
    """One checksummed zstd frame per group; with `pzstd`, each frame follows a skippable frame as pzstd writes."""
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    data = b""
    for group in groups:
        frame = compressor.compress(_jsonl(group))
        if pzstd:
            data += struct.pack("<III", 0x184D2A50, 4, len(frame))
        data += frame
    return data


def _read(folder: Path, name: str) -> list[Document]:
    reader_class = ProxParquetReader if name.endswith(".parquet") else ProxJsonlReader
    reader = reader_class(str(folder), paths_file=None, text_key="text", id_key="id", max_chars=10_000_000)
    return list(reader.read_file(name))


def _split(documents: list[Document]) -> tuple[list[str], list[Document]]:
    """(ids of the records read, error documents)."""
    return [doc.id for doc in documents if not is_error(doc)], [doc for doc in documents if is_error(doc)]


def _ids(records: list[dict]) -> list[str]:
    return [record["id"] for record in records]


@pytest.mark.parametrize("pzstd", [False, True], ids=["concatenated", "pzstd"])
def test_every_frame_of_a_multi_frame_zstd_file_is_read(tools, tmp_path: Path, pzstd):
    records = tools.pages(30, seed=11)
    (tmp_path / "frames.jsonl.zst").write_bytes(_zstd_frames([records[:10], records[10:20], records[20:]], pzstd))
    assert _ids(records) == [doc.id for doc in _read(tmp_path, "frames.jsonl.zst")]


def test_a_zstd_file_cut_inside_its_last_frame_is_one_error_at_the_cut_line(tools, tmp_path: Path):
    records = tools.pages(30, seed=12)
    data = _zstd_frames([records[:10], records[10:20], records[20:]])
    (tmp_path / "cut.jsonl.zst").write_bytes(data[:-200])
    read, [error] = _split(documents := _read(tmp_path, "cut.jsonl.zst"))
    assert documents[-1] is error
    assert read == _ids(records)[: len(read)] and 20 <= len(read) < 30
    assert error.id == f"cut.jsonl.zst:{len(read) + 1}"
    assert error.metadata[ERROR_KEY].startswith("unreadable from here on (truncated zstd file")


def test_a_truncated_gzip_keeps_the_lines_before_the_cut_and_the_cut_line_is_the_one_error(tools, tmp_path: Path):
    records = tools.pages(40, seed=3)
    data = gzip.compress(_jsonl(records))
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    read, [error] = _split(documents := _read(tmp_path, "cut.jsonl.gz"))
    assert documents[-1] is error
    assert read == _ids(records)[: len(read)] and 0 < len(read) < 40
    assert error.id == f"cut.jsonl.gz:{len(read) + 1}"
    assert error.metadata[ERROR_KEY].startswith("unreadable from here on (truncated gzip file")
    assert error.text and json.dumps(records[len(read)]).startswith(error.text)  # the cut record, as far as read


@pytest.mark.parametrize("name", ["empty.jsonl.gz", "empty.jsonl.zst"])
def test_an_empty_compressed_file_is_one_error(tmp_path: Path, name):
    (tmp_path / name).write_bytes(b"")
    [error] = _read(tmp_path, name)
    codec = "gzip" if name.endswith(".gz") else "zstd"
    assert error.id == f"{name}:1"
    assert error.metadata[ERROR_KEY] == f"empty compressed file, 0 bytes: not a valid {codec} file"


def test_an_empty_plain_jsonl_file_holds_no_records_and_no_error(tmp_path: Path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert _read(tmp_path, "empty.jsonl") == []


def test_an_empty_parquet_file_is_one_error(tmp_path: Path):
    (tmp_path / "empty.parquet").write_bytes(b"")
    [error] = _read(tmp_path, "empty.parquet")
    assert error.id == "empty.parquet:1" and "0 bytes" in error.metadata[ERROR_KEY]


@pytest.mark.parametrize("flip", [0.5, -6], ids=["deflate-data", "crc-trailer"])
def test_a_corrupt_gzip_is_one_error_for_the_file_and_no_records(tools, tmp_path: Path, flip):
    data = bytearray(gzip.compress(_jsonl(tools.pages(40, seed=5))))
    data[int(len(data) * flip) if isinstance(flip, float) else flip] ^= 0x55
    (tmp_path / "bad.jsonl.gz").write_bytes(data)
    [error] = _read(tmp_path, "bad.jsonl.gz")
    assert error.id == "bad.jsonl.gz:1"
    assert error.metadata[ERROR_KEY].startswith("unreadable from here on (corrupt gzip member at byte 0")


def test_a_corrupt_gzip_member_sets_aside_itself_and_the_rest_and_keeps_the_members_before(tools, tmp_path: Path):
    records = tools.pages(30, seed=6)
    members = [gzip.compress(_jsonl(part)) for part in (records[:10], records[10:20], records[20:])]
    second = bytearray(members[1])
    second[-6] ^= 0x55  # its CRC
    (tmp_path / "members.jsonl.gz").write_bytes(members[0] + second + members[2])
    read, [error] = _split(_read(tmp_path, "members.jsonl.gz"))
    assert read == _ids(records[:10])
    assert error.id == "members.jsonl.gz:11"
    reason = error.metadata[ERROR_KEY]
    assert reason.startswith(f"unreadable from here on (corrupt gzip member at byte {len(members[0]):,}")


def test_a_corrupt_zstd_frame_sets_aside_itself_and_the_rest(tools, tmp_path: Path):
    records = tools.pages(20, seed=7)
    first, second = _zstd_frames([records[:10]]), bytearray(_zstd_frames([records[10:]]))
    second[-2] ^= 0x55  # its checksum
    (tmp_path / "frames.jsonl.zst").write_bytes(first + second)
    read, [error] = _split(_read(tmp_path, "frames.jsonl.zst"))
    assert read == _ids(records[:10]) and error.id == "frames.jsonl.zst:11"
    reason = error.metadata[ERROR_KEY]
    assert reason.startswith(f"unreadable from here on (corrupt zstd frame at byte {len(first):,}")


def test_gzip_members_split_mid_line_and_zero_padding_read_fully(tools, tmp_path: Path):
    records = tools.pages(20, seed=8)
    text = _jsonl(records)
    data = b"".join(gzip.compress(text[start : start + 3001]) for start in range(0, len(text), 3001))
    (tmp_path / "members.jsonl.gz").write_bytes(data + gzip.compress(b"") + b"\x00" * 512)
    assert [doc.id for doc in _read(tmp_path, "members.jsonl.gz")] == _ids(records)


def test_a_corrupt_member_starting_mid_line_makes_that_line_the_error(tools, tmp_path: Path):
    records = tools.pages(20, seed=10)
    text = _jsonl(records)
    middle = len(text) // 2
    second = bytearray(gzip.compress(text[middle:]))
    second[len(second) // 2] ^= 0x55
    (tmp_path / "split.jsonl.gz").write_bytes(gzip.compress(text[:middle]) + second)
    read, [error] = _split(_read(tmp_path, "split.jsonl.gz"))
    whole_lines = text[:middle].count(b"\n")
    assert read == _ids(records[:whole_lines]) and error.id == f"split.jsonl.gz:{whole_lines + 1}"
    assert error.text and json.dumps(records[whole_lines]).startswith(error.text)


@pytest.mark.parametrize("name", ["bom.jsonl", "bom.jsonl.gz", "bom.jsonl.zst"])
def test_a_utf8_bom_before_the_first_record_is_accepted(tools, tmp_path: Path, name):
    records = tools.pages(3, seed=9)
    data = BOM + _jsonl(records)
    if name.endswith(".gz"):
        data = gzip.compress(data)
    elif name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    (tmp_path / name).write_bytes(data)
    documents = _read(tmp_path, name)
    assert [doc.id for doc in documents] == _ids(records) and documents[0].text == records[0]["text"]


def test_a_cut_zstd_frame_is_reported_in_out_errors_and_counted(tools, tmp_path: Path, capsys):
    records = tools.pages(30, seed=12)
    (tmp_path / "in").mkdir()
    data = _zstd_frames([records[:10], records[10:20], records[20:]], pzstd=True)
    (tmp_path / "in" / "cut.jsonl.zst").write_bytes(data[:-200])
    tools.write_jsonl(tmp_path / "in" / "fine.jsonl", tools.pages(5, seed=4))
    out = tmp_path / "out"
    # One worker: the stderr lines of forked workers do not reach capsys.
    assert tools.prox("refine", tmp_path / "in", "-o", out, "--refiner", "rules", "--workers", "1") == 0
    [error] = tools.read_records(out / "errors")
    read = int(error["source"].removeprefix("cut.jsonl.zst:")) - 1
    assert 20 <= read < 30 and error["reason"].startswith("unreadable from here on (truncated zstd file")
    written = tools.read_records(out) + tools.read_records(out / "dropped")
    assert sorted(record["id"] for record in written if record["id"].startswith("page-12-")) == _ids(records[:read])
    stats = tools.read_stats(out)
    assert (stats["documents_in"], stats["errors"]) == (read + 1 + 5, 1) and stats["accounted"]
    assert stats["kept"] + stats["dropped"] == read + 5
    assert f"prox: cut.jsonl.zst:{read + 1}: unreadable from here on (truncated zstd" in capsys.readouterr().err


def test_a_corrupt_gzip_is_reported_in_out_errors_and_nothing_of_it_is_refined(tools, tmp_path: Path):
    data = bytearray(gzip.compress(_jsonl(tools.pages(40, seed=5))))
    data[-6] ^= 0x55
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.jsonl.gz").write_bytes(data)
    (tmp_path / "in" / "empty.jsonl.gz").write_bytes(b"")
    tools.write_jsonl(tmp_path / "in" / "fine.jsonl", tools.pages(5, seed=4))
    out = tmp_path / "out"
    assert tools.prox("refine", tmp_path / "in", "-o", out, "--refiner", "rules") == 0
    errors = {error["source"]: error["reason"] for error in tools.read_records(out / "errors")}
    assert errors.keys() == {"bad.jsonl.gz:1", "empty.jsonl.gz:1"}
    assert errors["bad.jsonl.gz:1"].startswith("unreadable from here on (corrupt gzip member at byte 0")
    assert errors["empty.jsonl.gz:1"] == "empty compressed file, 0 bytes: not a valid gzip file"
    written = tools.read_records(out) + tools.read_records(out / "dropped")
    assert all(record["metadata"]["prox"]["source"].startswith("fine.jsonl:") for record in written)
    stats = tools.read_stats(out)
    assert (stats["documents_in"], stats["errors"], stats["kept"] + stats["dropped"]) == (7, 2, 5)
    assert stats["accounted"]
