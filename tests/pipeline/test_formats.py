"""Input formats (JSONL plain, gzip, zstd; Parquet), output formats (JSONL, Parquet) and the prox-release layout."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest


def _documents(tools, out: Path) -> list[tuple]:
    """(id, text, prox record without its source) of every kept and dropped document, sorted."""
    records = tools.read_records(out) + tools.read_records(out / "dropped")
    documents = []
    for record in records:
        prox = {key: value for key, value in record["metadata"]["prox"].items() if key != "source"}
        documents.append((record["id"], record["text"], json.dumps(prox, sort_keys=True)))
    return sorted(documents)


@pytest.mark.parametrize("name", ["pages.jsonl.gz", "pages.jsonl.zst", "pages.parquet"])
def test_compressed_and_parquet_inputs_refine_like_plain_jsonl(tools, tmp_path: Path, name):
    records = tools.pages(10, seed=2)
    tools.write_jsonl(tmp_path / "plain" / "pages.jsonl", records)
    if name.endswith(".parquet"):
        tools.write_parquet(tmp_path / "other" / name, records)
    else:
        tools.write_jsonl(tmp_path / "other" / name, records)
    for folder in ("plain", "other"):
        assert tools.prox("refine", tmp_path / folder, "-o", tmp_path / f"out-{folder}") == 0
    assert _documents(tools, tmp_path / "out-other") == _documents(tools, tmp_path / "out-plain")
    assert len(_documents(tools, tmp_path / "out-other")) == 10
    assert tools.read_stats(tmp_path / "out-other") == tools.read_stats(tmp_path / "out-plain")


def test_parquet_output_stores_metadata_as_a_json_string(tools, corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--output-format", "parquet") == 0
    [path] = out.glob("*.parquet")
    table = pq.read_table(path)
    assert set(table.column_names) == {"id", "text", "metadata"} and table.schema.field("metadata").type == "string"
    first = json.loads(table.column("metadata")[0].as_py())
    assert first["prox"]["doc_decision"] == "keep_doc" and first["url"].startswith("https://")
    assert len(tools.read_records(out / "dropped")) == 4
    assert [path.suffix for path in (out / "dropped").iterdir()] == [".parquet"]


def test_parquet_round_trip_gives_the_jsonl_documents(tools, corpus: Path, tmp_path: Path):
    tools.prox("refine", corpus, "-o", tmp_path / "jsonl")
    tools.prox("refine", corpus, "-o", tmp_path / "parquet", "--output-format", "parquet")
    assert _documents(tools, tmp_path / "parquet") == _documents(tools, tmp_path / "jsonl")


def test_a_parquet_output_read_again_keeps_its_metadata_and_first_source(tools, corpus: Path, tmp_path: Path):
    first, second = tmp_path / "first", tmp_path / "second"
    tools.prox("refine", corpus, "-o", first, "--refiner", "rules", "--output-format", "parquet", "--stages", "doc")
    assert tools.prox("refine", f"{first}/*.parquet", "-o", second, "--refiner", "rules", "--stages", "doc") == 0
    again = {record["id"]: record for record in tools.read_records(second)}
    for record in tools.read_records(first):
        metadata = again[record["id"]]["metadata"]
        assert again[record["id"]]["text"] == record["text"]
        assert metadata["url"] == record["metadata"]["url"]
        assert metadata["prox"]["source"] == record["metadata"]["prox"]["source"]  # where it first came from
        assert not isinstance(metadata.get("metadata"), str)


def test_parquet_input_with_a_metadata_struct_is_merged(tools, tmp_path: Path):
    rows = [
        {"id": f"row-{index}", "text": record["text"], "metadata": {"url": record["url"], "crawl": 7}}
        for index, record in enumerate(tools.pages(3, spam_every=0))
    ]
    tools.write_parquet(tmp_path / "in" / "rows.parquet", rows)
    out = tmp_path / "out"
    assert tools.prox("refine", tmp_path / "in", "-o", out, "--refiner", "rules") == 0
    kept = {record["id"]: record["metadata"] for record in tools.read_records(out)}
    assert kept.keys() == {"row-0", "row-1", "row-2"}
    assert all(metadata["crawl"] == 7 and metadata["url"].startswith("https://") for metadata in kept.values())


@pytest.mark.parametrize("output_format", ["jsonl", "parquet"])
def test_prox_release_layout_has_the_released_fields(tools, corpus: Path, tmp_path: Path, output_format):
    out = tmp_path / "out"
    args = ("--refiner", "rules", "--layout", "prox-release", "--output-format", output_format)
    assert tools.prox("refine", corpus, "-o", out, *args) == 0
    originals = {record["id"]: record for record in tools.pages(20)}
    kept = tools.read_records(out)
    assert len(kept) == 16
    for record in kept:
        assert set(record) == {"id", "text", "raw_content", "doc_content", "metadata"}
        assert record["raw_content"] == record["doc_content"] == originals[record["id"]]["text"]
        assert record["text"] != record["raw_content"]
        metadata = record["metadata"]
        assert metadata["doc_program"] == "keep_doc()" and metadata["chunk_program"].startswith("remove_lines(")
        assert metadata["url"] == originals[record["id"]]["url"]
        # Of the prox record, this layout keeps only where the document came from and what refined it.
        assert metadata["prox"] == {"source": metadata["prox"]["source"], "refiner": "rules", "policy": "release"}
    for record in tools.read_records(out / "dropped"):
        assert record["raw_content"] == record["text"] == originals[record["id"]]["text"]
        assert record["metadata"]["drop_reason"] == "drop_doc" and record["metadata"]["chunk_program"] is None
