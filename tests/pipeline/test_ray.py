"""`--executor ray` on a local Ray cluster gives the same output as the local executor."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from prox.cli import main

ray = pytest.importorskip("ray")

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"


def _records(folder: Path) -> list[tuple]:
    records = []
    for path in sorted([*folder.glob("*.jsonl.gz"), *folder.glob("dropped/*.jsonl.gz")]):
        with gzip.open(path, "rt") as handle:
            for line in handle:
                record = json.loads(line)
                records.append((record["id"], record["text"], json.dumps(record["metadata"], sort_keys=True)))
    return sorted(records)


@pytest.fixture
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_executor_matches_local_executor(tmp_path, local_ray):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = (DEMO / "pages.jsonl").read_text().splitlines()
    (corpus / "a.jsonl").write_text("\n".join(lines[:4]) + "\n")
    (corpus / "b.jsonl").write_text("\n".join(lines[4:]) + "\n")

    assert main(["refine", str(corpus), "-o", str(tmp_path / "local"), "--tasks", "2", "--workers", "1"]) == 0
    assert main(["refine", str(corpus), "-o", str(tmp_path / "ray"), "--tasks", "2", "--executor", "ray"]) == 0

    assert (tmp_path / "ray" / "logs" / "completions").is_dir()
    assert len(list((tmp_path / "ray" / "logs" / "completions").iterdir())) == 2
    local_records = _records(tmp_path / "local")
    assert len(local_records) == len(lines)
    assert _records(tmp_path / "ray") == local_records
    local_stats = json.loads((tmp_path / "local" / "stats.json").read_text())
    assert json.loads((tmp_path / "ray" / "stats.json").read_text()) == local_stats
    assert local_stats["accounted"] and local_stats["documents_in"] == len(lines)
