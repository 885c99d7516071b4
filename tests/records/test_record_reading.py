"""`prox.records.reading`: every record with its `file:line`, from a local path or a datatrove DataFolder.

How damaged compressed files are read is pinned through the pipeline's readers in
tests/pipeline/test_damaged_inputs.py; these pin the reader's own interface.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from datatrove.io import get_datafolder

from prox.records.reading import BadRecord, Record, read_records, read_records_strict, record_format

LINES = b'{"id": "a"}\n\n{"id": "b"}\n{not json\n["a", "list"]\n'


def positions(items: list[Record | BadRecord]) -> list[tuple[str, object]]:
    return [(item.where, item.data if isinstance(item, Record) else item.reason) for item in items]


@pytest.mark.parametrize(
    ("name", "encode"),
    [("r.jsonl", bytes), ("r.jsonl.gz", gzip.compress), ("r.jsonl.zst", zstandard.ZstdCompressor().compress)],
)
def test_each_record_has_its_line_and_a_bad_line_is_one_bad_record(tmp_path: Path, name: str, encode):
    (tmp_path / name).write_bytes(encode(LINES))
    items = list(read_records(tmp_path / name))
    assert positions(items) == [
        (f"{tmp_path / name}:1", {"id": "a"}),
        (f"{tmp_path / name}:3", {"id": "b"}),  # line 2 is blank: no record, but a line
        (f"{tmp_path / name}:4", items[2].reason),  # type: ignore[union-attr]
        (f"{tmp_path / name}:5", ["a", "list"]),
    ]
    assert isinstance(items[2], BadRecord) and items[2].reason.startswith("malformed JSON (")
    assert items[2].raw == "{not json\n"


def test_a_data_folder_and_a_local_path_read_the_same_records_named_as_given(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "r.jsonl.gz").write_bytes(gzip.compress(LINES))
    local = list(read_records(tmp_path / "sub" / "r.jsonl.gz"))
    in_folder = list(read_records("sub/r.jsonl.gz", get_datafolder(str(tmp_path))))
    assert [item.where for item in in_folder] == [
        "sub/r.jsonl.gz:1",
        "sub/r.jsonl.gz:3",
        "sub/r.jsonl.gz:4",
        "sub/r.jsonl.gz:5",
    ]
    assert [getattr(item, "data", None) for item in in_folder] == [getattr(item, "data", None) for item in local]


def test_parquet_rows_are_numbered_from_one(tmp_path: Path):
    pq.write_table(pa.Table.from_pylist([{"id": "a"}, {"id": "b"}]), tmp_path / "r.parquet")
    assert positions(list(read_records(tmp_path / "r.parquet"))) == [
        (f"{tmp_path / 'r.parquet'}:1", {"id": "a"}),
        (f"{tmp_path / 'r.parquet'}:2", {"id": "b"}),
    ]


def test_a_file_that_is_not_parquet_is_one_bad_record(tmp_path: Path):
    (tmp_path / "r.parquet").write_bytes(b"not parquet")
    [bad] = read_records(tmp_path / "r.parquet")
    assert isinstance(bad, BadRecord) and bad.line == 1 and bad.reason.startswith("unreadable parquet from here on")


def test_the_strict_reader_names_the_first_bad_record(tmp_path: Path):
    (tmp_path / "r.jsonl").write_bytes(LINES)
    with pytest.raises(ValueError, match=r"r\.jsonl:4: cannot read the record \(malformed JSON"):
        list(read_records_strict(tmp_path / "r.jsonl"))
    with pytest.raises(FileNotFoundError):
        list(read_records_strict(tmp_path / "missing.jsonl"))


def test_the_format_is_told_by_the_suffix():
    assert [record_format(name) for name in ("a.jsonl", "a.JSON.GZ", "a.jsonl.zst", "a.parquet", "a.txt")] == [
        "jsonl",
        "jsonl",
        "jsonl",
        "parquet",
        None,
    ]
