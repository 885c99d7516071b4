"""`--executor slurm`: the dry run prints the sbatch script and submits nothing; a submission goes through sbatch."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def sbatch_calls(monkeypatch) -> list[str]:
    """Scripts handed to sbatch (there is none here): recorded, each answered with job id 4242."""
    import datatrove.executor.slurm

    calls: list[str] = []

    def fake_sbatch(launch_file_contents: str, *_args: object, **_kwargs: object) -> str:
        calls.append(launch_file_contents)
        return "4242"

    monkeypatch.setattr(datatrove.executor.slurm, "launch_slurm_job", fake_sbatch)
    return calls


def test_dry_run_prints_the_sbatch_script_and_submits_nothing(
    tools, corpus: Path, tmp_path: Path, capsys, sbatch_calls
):
    out = tmp_path / "out"
    args = ("--executor", "slurm", "--dry-run", "--tasks", 4, "--partition", "gpu-small", "--time", "02:00:00")
    assert tools.prox("refine", corpus, "-o", out, *args) == 0
    script = capsys.readouterr().out
    assert script.startswith("#!/bin/bash\n")
    assert "#SBATCH --array=0-3\n" in script
    assert "#SBATCH --partition=gpu-small\n" in script and "#SBATCH --time=02:00:00\n" in script
    assert f"launch_pickled_pipeline {out / 'logs' / 'executor.pik'}" in script
    assert sbatch_calls == []
    assert not (out / "stats.json").exists() and not (out / "logs" / "completions").exists()


def test_dry_run_passes_workers_gpus_and_venv(tools, corpus: Path, tmp_path: Path, capsys, sbatch_calls):
    args = ("--executor", "slurm", "--dry-run", "--tasks", 8, "--workers", 2, "--gpus-per-task", 1)
    args += ("--venv-path", "/opt/prox/bin/activate", "--cpus-per-task", 4)
    assert tools.prox("refine", corpus, "-o", tmp_path / "out", *args) == 0
    script = capsys.readouterr().out
    assert "#SBATCH --array=0-7%2\n" in script and "#SBATCH --gpus=1\n" in script
    assert "#SBATCH --cpus-per-task=4\n" in script and "source /opt/prox/bin/activate\n" in script
    assert sbatch_calls == []


def test_dry_run_of_a_replay(tools, corpus: Path, tmp_path: Path, capsys, sbatch_calls):
    tools.prox("refine", corpus, "-o", tmp_path / "refined")
    capsys.readouterr()
    args = ("--executor", "slurm", "--dry-run", "--policy", "strict")
    assert tools.prox("execute", tmp_path / "refined", "-o", tmp_path / "replayed", *args) == 0
    assert "launch_pickled_pipeline" in capsys.readouterr().out and sbatch_calls == []


def test_submitting_hands_the_script_to_sbatch_and_says_how_to_finish(
    tools, corpus: Path, tmp_path: Path, capsys, sbatch_calls
):
    out = tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--executor", "slurm", "--tasks", 2) == 0
    assert sbatch_calls and "#SBATCH --array=0-1\n" in sbatch_calls[0]
    assert (out / "logs" / "executor.pik").is_file()
    err = capsys.readouterr().err
    assert "submitted Slurm job 4242" in err and "run this command again" in err
