"""A run killed with SIGKILL mid-way, then re-run with the same command, ends equal to an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

TASKS = 6


def _corpus(tools, folder: Path, pages_per_file: int) -> None:
    """TASKS JSONL files of pages, each with one malformed line, so that OUT/errors has files too."""
    for index in range(TASKS):
        records = tools.pages(pages_per_file, seed=100 + index)
        path = tools.write_jsonl(folder / f"part{index}.jsonl", records)
        with path.open("a") as handle:
            handle.write('{"id": "cut-off", "text": "the line ends too so\n')


def _outputs(tools, out: Path) -> Counter:
    """The multiset of every record in OUT, OUT/dropped and OUT/errors, as (folder, id, text, rest)."""
    records = Counter()
    for place in ("kept", "dropped", "errors"):
        for record in tools.read_records(out if place == "kept" else out / place):
            rest = {key: value for key, value in record.items() if key not in ("id", "text")}
            records[(place, record["id"], record["text"], json.dumps(rest, sort_keys=True))] += 1
    return records


def _completed(out: Path) -> set[int]:
    folder = out / "logs" / "completions"
    return {int(path.name) for path in folder.iterdir()} if folder.is_dir() else set()


def _started(out: Path) -> set[int]:
    """Tasks that have begun writing refined documents (`OUT/{rank:05d}.jsonl.gz`)."""
    return {int(path.name.split(".")[0]) for path in out.glob("*.jsonl.gz")}


def _start_and_kill_mid_task(command: list[str], out: Path, log: Path) -> tuple[set[int], set[int]]:
    """Start the run; SIGKILL it once a task has completed and a later one has begun writing.

    Returns the tasks completed and the tasks begun but not completed at the kill.
    """
    with log.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            completed = _completed(out)
            if completed and _started(out) - completed:
                break
            time.sleep(0.002)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    completed = _completed(out)
    return completed, _started(out) - completed


def test_a_killed_run_resumes_to_the_same_output_as_an_uninterrupted_one(tools, tmp_path: Path):
    out = tmp_path / "resumed"
    for attempt, pages_per_file in enumerate((40, 160, 640)):
        corpus = tmp_path / f"corpus-{attempt}"
        _corpus(tools, corpus, pages_per_file)
        command = [sys.executable, "-m", "prox", "refine", str(corpus), "-o", str(out), "--tasks", str(TASKS)]
        command += ["--refiner", "rules", "--workers", "1"]
        command += ["--batch-size", "4"]  # small batches: a task writes early, then goes on
        completed, unfinished = _start_and_kill_mid_task(command, out, tmp_path / "killed.log")
        if completed and unfinished and len(completed) < TASKS:
            break
        # The kill missed the middle of a task: start over with more pages per task.
        subprocess.run(["rm", "-rf", str(out)], check=True)
    else:
        raise AssertionError("could not kill the run between its first and last task")
    assert not (out / "stats.json").exists()

    resumed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert len(_completed(out)) == TASKS

    fresh = tmp_path / "fresh"
    args = ("--tasks", TASKS, "--refiner", "rules", "--workers", 1, "--batch-size", 4)
    assert tools.prox("refine", corpus, "-o", fresh, *args) == 0
    expected = _outputs(tools, fresh)
    assert _outputs(tools, out) == expected
    assert max(expected.values()) == 1  # no record twice
    assert len(expected) == TASKS * (pages_per_file + 1)
    assert tools.read_stats(out) == tools.read_stats(fresh)
    assert tools.read_stats(out)["documents_in"] == TASKS * (pages_per_file + 1)
