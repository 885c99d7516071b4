"""Which files of an output folder are a run's data: finished `.jsonl.gz` and `.parquet` files only."""

from __future__ import annotations

from pathlib import Path

from prox.records.files import document_files, is_output_file, output_files


def test_unfinished_and_foreign_files_are_not_output():
    assert is_output_file("00000.jsonl.gz") and is_output_file("000_00000.parquet")
    assert not is_output_file("00000.jsonl.gz.part") and not is_output_file("00000.parquet.part")
    assert not is_output_file("00000.jsonl") and not is_output_file("stats.json")


def test_document_files_are_the_kept_then_the_dropped_ones_sorted(tmp_path: Path):
    for name in ("00001.jsonl.gz", "00000.jsonl.gz", "00002.jsonl.gz.part", "stats.json", "dropped/doc_00000.jsonl.gz"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "errors").mkdir()
    (tmp_path / "errors" / "read_00000.jsonl.gz").write_bytes(b"")
    assert document_files(tmp_path) == [
        str(tmp_path / "00000.jsonl.gz"),
        str(tmp_path / "00001.jsonl.gz"),
        str(tmp_path / "dropped" / "doc_00000.jsonl.gz"),
    ]
    assert output_files(tmp_path / "errors") == [str(tmp_path / "errors" / "read_00000.jsonl.gz")]
    assert output_files(tmp_path / "missing") == []
