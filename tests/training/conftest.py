"""A few labelled pages made into `prox synth` records, and a tiny model trained on them until it has learnt them
(shared by the end-to-end tests: training is the slow part)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prox.cli import main

PAGES = [
    {
        "id": "ferry",
        "lines": [
            "Home | News | Sport",
            "Ferry timetable changes in April",
            "The harbour authority will add two sailings.",
            "Share on Facebook",
        ],
        "labels": [0, 1, 1, 0],
    },
    {"id": "comet", "lines": ["The comet returns every 76 years.", "It was last seen in 1986."], "labels": [1, 1]},
]
SPAM = {"id": "spam", "text": "buy cheap shoes cheap shoes best cheap shoes online buy now", "label": 0}


@pytest.fixture(scope="session")
def labelled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pages.jsonl (line labels) and docs.jsonl: the same pages as documents to keep, and one to drop."""
    folder = tmp_path_factory.mktemp("labelled")
    docs = [{"id": page["id"], "text": "\n".join(page["lines"]), "label": 1} for page in PAGES] + [SPAM]
    (folder / "pages.jsonl").write_text("".join(json.dumps(page) + "\n" for page in PAGES))
    (folder / "docs.jsonl").write_text("".join(json.dumps(doc) + "\n" for doc in docs))
    return folder


@pytest.fixture(scope="session")
def synth_dir(llama2_dir: Path, labelled_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`prox synth labels` output: 3 doc records and 2 chunk records."""
    out = tmp_path_factory.mktemp("synth") / "sft"
    sources = [str(labelled_dir / "pages.jsonl"), str(labelled_dir / "docs.jsonl")]
    assert main(["synth", "labels", *sources, "-o", str(out), "--tokenizer", str(llama2_dir)]) == 0
    return out


@pytest.fixture(scope="session")
def memorised_model(llama2_dir: Path, synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny preset trained on every record (one batch a step) until it writes their programs back: validated
    on the same records every 10 steps, stopping at a perfect score."""
    pytest.importorskip("trl")
    out = tmp_path_factory.mktemp("trained") / "refiner"
    command = ["train", "sft", str(synth_dir), "-o", str(out), "--init", "tiny", "--tokenizer", str(llama2_dir)]
    command += ["--lr", "5e-3", "--schedule", "constant", "--max-steps", "120", "--eval-steps", "10"]
    command += ["--eval-data", str(synth_dir), "--stop-score", "1", "--batch-size", "5", "--micro-batch-size", "5"]
    command += ["--fp32"]
    assert main(command) == 0
    return out
