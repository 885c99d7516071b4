"""prox's lm-eval task definitions read local files only, under lm-eval's task names."""

from __future__ import annotations

from pathlib import Path

import pytest

from prox.pretrain.downstream import TASKS, load_tasks, parse_tasks

pytest.importorskip("lm_eval")

SHARED_EVALS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "downstream_evals"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_local_task_files_load_offline(tiny_eval_data: Path):
    counts = load_tasks(["copa", "piqa"], tiny_eval_data)
    assert counts == {"copa": 3, "piqa": 3}


def test_every_task_loads_from_the_shared_files():
    if not SHARED_EVALS.is_dir():
        pytest.skip(f"shared downstream evaluation files not found at {SHARED_EVALS}")
    counts = load_tasks(TASKS, SHARED_EVALS, limit=2)
    assert counts == dict.fromkeys(TASKS, 2)


def test_a_missing_data_file_names_it_and_the_option(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"hellaswag_val_olmes1000\.jsonl\.gz.*--eval-data"):
        load_tasks(["hellaswag"], tmp_path)


def test_task_names_are_lm_evals_and_all_means_every_one():
    assert parse_tasks("arc_easy, piqa") == ["arc_easy", "piqa"]
    assert parse_tasks("all") == list(TASKS)
    with pytest.raises(ValueError, match="unknown task arc"):
        parse_tasks("arc")
