"""A tiny local copy of two downstream tasks, so that the lm-eval tests never need ../shared."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from prox.pretrain.downstream import data_files


def write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    with gzip.open(path, "wt") as file:
        file.writelines(json.dumps(row) + "\n" for row in rows)


@pytest.fixture(scope="session")
def tiny_eval_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A COPA and a PIQA file of three examples each, in the schemas of ../shared/data/downstream_evals."""
    folder = tmp_path_factory.mktemp("evals")
    copa = [
        {
            "premise": f"The man turned on tap {i}.",
            "choice1": "The cat slept.",
            "choice2": "Water flowed.",
            "question": "effect",
            "idx": i,
            "label": 1,
        }
        for i in range(3)
    ]
    piqa = [{"goal": f"Boil water {i}", "sol1": "Use a pot.", "sol2": "Use a sieve.", "label": 0} for i in range(3)]
    write_jsonl_gz(folder / data_files(["copa"])["copa"], copa)
    write_jsonl_gz(folder / data_files(["piqa"])["piqa"], piqa)
    return folder
