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


def _completed(out: Path) -> int:
    folder = out / "logs" / "completions"
    return len(list(folder.iterdir())) if folder.is_dir() else 0


def _start_and_kill_after_first_completed_task(command: list[str], out: Path, log: Path) -> int:
    """Start the run, SIGKILL it as soon as one task has completed; the number of tasks completed by then."""
    with log.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 120
        while _completed(out) == 0 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    return _completed(out)


def test_a_killed_run_resumes_to_the_same_output_as_an_uninterrupted_one(tools, tmp_path: Path):
    out = tmp_path / "resumed"
    for attempt, pages_per_file in enumerate((40, 160, 640)):
        corpus = tmp_path / f"corpus-{attempt}"
        _corpus(tools, corpus, pages_per_file)
        command = [sys.executable, "-m", "prox", "refine", str(corpus), "-o", str(out), "--tasks", str(TASKS)]
        command += ["--workers", "1"]
        completed = _start_and_kill_after_first_completed_task(command, out, tmp_path / "killed.log")
        if 0 < completed < TASKS:
            break
        # The kill came too late (or too early to count): start over with more pages per task.
        subprocess.run(["rm", "-rf", str(out)], check=True)
    else:
        raise AssertionError("could not kill the run between its first and last task")
    assert not (out / "stats.json").exists()

    resumed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert _completed(out) == TASKS

    fresh = tmp_path / "fresh"
    assert tools.prox("refine", corpus, "-o", fresh, "--tasks", TASKS, "--workers", 1) == 0
    expected = _outputs(tools, fresh)
    assert _outputs(tools, out) == expected
    assert max(expected.values()) == 1  # no record twice
    assert len(expected) == TASKS * (pages_per_file + 1)
    assert tools.read_stats(out) == tools.read_stats(fresh)
    assert tools.read_stats(out)["documents_in"] == TASKS * (pages_per_file + 1)
