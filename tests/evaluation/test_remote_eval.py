"""`prox eval --gold URL` on a real S3-compatible server (moto's server mode on 127.0.0.1): the scores of the same
file read locally, and one-line errors that name the location."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prox.cli import main

WORDS = "The harbour council met on Tuesday to discuss the repairs after the winter storm."


def _pages() -> list[dict]:
    return [
        {"lines": ["Home | News | Login", WORDS, f"{WORDS} Read more", "Privacy Policy"], "labels": [0, 1, 1, 0]},
        {"lines": [WORDS, "Share on Facebook", WORDS], "labels": [1, 0, 1], "scores": [1.0, 0.5, 1.0]},
    ]


def _docs() -> list[dict]:
    return [{"text": "\n".join([WORDS] * 6), "label": 1}, {"text": "buy now\n" * 40, "label": 0}]


def _write(path: Path, records: list[dict]) -> Path:
    """Records as JSONL (plain, .gz or .zst by the name) or Parquet."""
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), path)
        return path
    import fsspec

    with fsspec.open(str(path), "wt", compression="infer") as handle:
        handle.write("".join(json.dumps(record) + "\n" for record in records))
    return path


def _upload(local: Path, remote: str) -> None:
    import fsspec

    fs = fsspec.filesystem("s3")
    fs.put_file(str(local), remote)
    fs.invalidate_cache()


def _scores(argv: list[str], capsys) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


# Short ids: the bucket is named after the test, cut at 50 characters.
@pytest.mark.parametrize(
    ("level", "name"),
    [("lines", "gold.jsonl.gz"), ("lines", "gold.jsonl.zst"), ("docs", "gold.parquet")],
    ids=["gz", "zst", "parquet"],
)
def test_s3_gold_scores_as_local(tmp_path: Path, s3_bucket: str, capsys, level: str, name: str):
    """The same file, read from s3 and locally, gives the same scores."""
    local = _write(tmp_path / name, _pages() if level == "lines" else _docs())
    remote = f"{s3_bucket}/gold/{name}"
    _upload(local, remote)
    options = ["--refiner", "rules", "--json"]
    from_local = _scores(["eval", level, "--gold", str(local), *options], capsys)
    from_s3 = _scores(["eval", level, "--gold", remote, *options], capsys)
    assert from_s3["items"] > 0
    assert from_s3.pop("gold") == remote
    assert from_local.pop("gold") == str(local)
    assert from_s3 == from_local


def test_a_missing_gold_file_on_s3_is_one_line_naming_it(s3_bucket: str, capsys):
    remote = f"{s3_bucket}/no/such.jsonl.gz"
    assert main(["eval", "lines", "--gold", remote, "--refiner", "rules"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(f"prox eval: error: {remote}: no such file")


def test_a_missing_bucket_is_one_line_naming_it(s3_server: str, capsys):
    remote = "s3://prox-no-such-bucket/gold.jsonl.gz"
    assert main(["eval", "docs", "--gold", remote, "--refiner", "rules"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(f"prox eval: error: {remote}: ")
    assert "bucket does not exist; create the bucket or check its name" in error
