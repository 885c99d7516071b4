"""Bad input never stops a run: each bad record lands in OUT/errors with its reason and file:line, once."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest


def _mixed_jsonl(tools, path: Path) -> list[dict]:
    """A JSONL file with good pages between bad lines; returns the good records."""
    good = tools.pages(3, seed=7, spam_every=0)
    lines = [
        json.dumps(good[0]).encode(),
        b'{"id": "broken", "text": "no closing brace"',
        json.dumps({"id": "no-text", "body": "words in the wrong field."}).encode(),
        json.dumps({"id": "number-text", "text": 42}).encode(),
        json.dumps({"id": "blank-text", "text": "  \n "}).encode(),
        json.dumps(good[1]).encode(),
        b"[1, 2, 3]",
        b'{"id": "latin-1", "text": "caf\xe9 au lait."}',
        json.dumps(good[2]).encode(),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return good


EXPECTED_REASONS = {
    "mixed.jsonl:2": "malformed JSON",
    "mixed.jsonl:3": "no 'text' field (fields: id, body); set --text-key",
    "mixed.jsonl:4": "'text' is a int, not a string",
    "mixed.jsonl:5": "empty text",
    "mixed.jsonl:7": "record is a JSON list, not an object",
    "mixed.jsonl:8": "invalid UTF-8 at byte",
}


def test_bad_lines_become_error_records_and_the_good_ones_are_refined(tools, tmp_path: Path, capsys):
    good = _mixed_jsonl(tools, tmp_path / "in" / "mixed.jsonl")
    out = tmp_path / "out"
    assert tools.prox("refine", tmp_path / "in", "-o", out, "--refiner", "rules") == 0
    errors = tools.read_records(out / "errors")
    assert all(set(error) == {"id", "source", "reason", "text"} for error in errors)
    assert {error["source"]: error["reason"] for error in errors}.keys() == EXPECTED_REASONS.keys()
    for error in errors:
        assert error["reason"].startswith(EXPECTED_REASONS[error["source"]])
    by_source = {error["source"]: error for error in errors}
    assert by_source["mixed.jsonl:2"]["text"].startswith('{"id": "broken"')
    assert by_source["mixed.jsonl:4"]["text"] == "42"
    assert "caf" in by_source["mixed.jsonl:8"]["text"]
    assert sorted(record["id"] for record in tools.read_records(out)) == sorted(record["id"] for record in good)
    stats = tools.read_stats(out)
    assert (stats["documents_in"], stats["kept"], stats["dropped"], stats["errors"]) == (9, 3, 0, 6)
    assert stats["accounted"]


def test_each_problem_is_one_line_on_stderr(tools, tmp_path: Path, capsys):
    _mixed_jsonl(tools, tmp_path / "in" / "mixed.jsonl")
    tools.prox("refine", tmp_path / "in", "-o", tmp_path / "out")
    problems = [line for line in capsys.readouterr().err.splitlines() if line.startswith("prox: ")]
    assert [line.split(": ")[1] for line in problems] == list(EXPECTED_REASONS)
    for line in problems:
        where = line.split(": ")[1]
        assert line.startswith(f"prox: {where}: {EXPECTED_REASONS[where]}")


def test_truncated_gzip_keeps_what_was_read_and_reports_the_rest(tools, tmp_path: Path, capsys):
    data = gzip.compress("".join(json.dumps(record) + "\n" for record in tools.pages(40, seed=3)).encode())
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    tools.write_jsonl(tmp_path / "in" / "fine.jsonl", tools.pages(5, seed=4))
    out = tmp_path / "out"
    # One worker: the stderr lines of forked workers do not reach capsys.
    assert tools.prox("refine", tmp_path / "in", "-o", out, "--workers", "1") == 0
    [error] = tools.read_records(out / "errors")
    assert error["reason"].startswith("unreadable from here on (truncated gzip file")
    read = int(error["source"].split(":")[1]) - 1
    assert 0 < read < 40
    stats = tools.read_stats(out)
    assert stats["documents_in"] == read + 1 + 5 and stats["errors"] == 1 and stats["accounted"]
    records = tools.read_records(out) + tools.read_records(out / "dropped")
    assert sum(record["metadata"]["prox"]["source"].startswith("cut.jsonl.gz:") for record in records) == read
    assert f"prox: {error['source']}: unreadable from here on" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("noise.jsonl.gz", b"this was never gzip\n", "unreadable from here on (corrupt gzip member at byte 0"),
        ("noise.jsonl.zst", b"this was never zstd\n", "unreadable from here on (corrupt zstd frame at byte 0"),
        ("noise.parquet", b"PAR1" + b"\x00" * 64 + b"not a footer", "unreadable parquet from here on"),
    ],
    ids=["gzip", "zstd", "parquet"],
)
def test_a_corrupt_file_is_one_error_and_the_run_goes_on(tools, tmp_path: Path, name, content, reason):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / name).write_bytes(content)
    tools.write_jsonl(tmp_path / "in" / "fine.jsonl", tools.pages(5, seed=4))
    out = tmp_path / "out"
    assert tools.prox("refine", tmp_path / "in", "-o", out) == 0
    [error] = tools.read_records(out / "errors")
    assert error["source"] == f"{name}:1" and error["reason"].startswith(reason)
    stats = tools.read_stats(out)
    assert stats["documents_in"] == 6 and stats["kept"] + stats["dropped"] == 5 and stats["accounted"]


def test_parquet_rows_without_string_text_are_errors(tools, tmp_path: Path):
    good = tools.pages(2, seed=5, spam_every=0)
    rows = [good[0], {"id": "none", "text": None, "url": "u"}, {"id": "blank", "text": "", "url": "u"}, good[1]]
    tools.write_parquet(tmp_path / "in" / "rows.parquet", rows)
    out = tmp_path / "out"
    assert tools.prox("refine", tmp_path / "in", "-o", out, "--refiner", "rules") == 0
    errors = {error["source"]: error["reason"] for error in tools.read_records(out / "errors")}
    assert errors == {"rows.parquet:2": "'text' is a NoneType, not a string", "rows.parquet:3": "empty text"}
    assert tools.read_stats(out)["kept"] == 2


def test_a_50_mb_single_line_document_is_an_error_under_the_default_limit(tools, tmp_path: Path, capsys):
    huge = "lorem ipsum dolor sit amet " * 1_900_000  # 51.3 million characters, one line
    tools.write_jsonl(tmp_path / "in" / "big.jsonl", [{"id": "huge", "text": huge}, *tools.pages(2, seed=6)])
    out = tmp_path / "out"
    assert tools.prox("refine", tmp_path / "in", "-o", out, "--stages", "chunk") == 0
    [error] = tools.read_records(out / "errors")
    assert error["source"] == "big.jsonl:1" and error["id"] == "big.jsonl:1"
    assert error["reason"] == f"text of {len(huge):,} characters exceeds --max-doc-chars 10,000,000"
    assert len(error["text"]) <= 10_000
    assert "prox: big.jsonl:1: text of 51,300,000 characters exceeds" in capsys.readouterr().err
    assert tools.read_stats(out)["documents_in"] == 3 and tools.read_stats(out)["accounted"]


def test_a_12_mb_document_is_refined_when_the_limit_is_raised(tools, tmp_path: Path):
    sentence = "The archive keeps every letter that the harbour office wrote in the winter of that year."
    big = "\n".join([sentence] * 135_000)  # 12.0 million characters
    tools.write_jsonl(tmp_path / "in" / "big.jsonl", [{"id": "big", "text": big}])
    out = tmp_path / "out"
    args = ("--refiner", "rules", "--stages", "chunk", "--max-doc-chars", 20_000_000, "--output-format", "parquet")
    assert tools.prox("refine", tmp_path / "in", "-o", out, *args) == 0
    stats = tools.read_stats(out)
    assert stats["documents_in"] == 1 and stats["errors"] == 0 and stats["kept"] == 1 and stats["accounted"]
    [record] = tools.read_records(out)
    assert record["id"] == "big" and record["text"] == big
    assert len(record["metadata"]["prox"]["chunk_programs"]) > 100
