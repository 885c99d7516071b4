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
    """Tasks that have begun writing refined documents (`OUT/{rank:05d}.jsonl.gz.part`, renamed when done)."""
    return {int(path.name.split(".")[0]) for path in out.glob("*.jsonl.gz*")}


def _start_and_kill_mid_task(command: list[str], out: Path, log: Path) -> tuple[set[int], set[int]]:
    """Start the run; SIGKILL it once a task has completed and a later one has begun writing.

    Returns the tasks completed and the tasks begun but not completed at the kill.
    """
    with log.open("w") as stderr:
        # A session of its own, so the kill takes the whole run (its multiprocess manager too), as a crash would.
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            completed = _completed(out)
            if completed and _started(out) - completed:
                break
            time.sleep(0.002)
        os.killpg(process.pid, signal.SIGKILL)
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


def _kill_between_tasks(tools, tmp_path: Path, out: Path, extra: list[str]) -> tuple[Path, list[str]]:
    """A run of TASKS tasks killed after its first task finished and before its last; (corpus, command)."""
    for attempt, pages_per_file in enumerate((40, 160, 640)):
        corpus = tmp_path / f"corpus-{attempt}"
        _corpus(tools, corpus, pages_per_file)
        command = [sys.executable, "-m", "prox", "refine", str(corpus), "-o", str(out), "--tasks", str(TASKS)]
        command += ["--workers", "1", "--batch-size", "4", *extra]
        completed, unfinished = _start_and_kill_mid_task(command, out, tmp_path / "killed.log")
        if completed and unfinished and len(completed) < TASKS:
            return corpus, command
        subprocess.run(["rm", "-rf", str(out)], check=True)
    raise AssertionError("could not kill the run between its first and last task")


def test_resuming_a_killed_run_with_other_tasks_is_refused(tools, tmp_path: Path):
    out = tmp_path / "out"
    _, command = _kill_between_tasks(tools, tmp_path, out, ["--refiner", "rules"])
    other = [
        str(TASKS // 2) if part == str(TASKS) and command[index - 1] == "--tasks" else part
        for index, part in enumerate(command)
    ]
    refused = subprocess.run(other, capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert f"--tasks: {TASKS} before, {TASKS // 2} now" in refused.stderr

    resumed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert (
        tools.read_stats(out)["documents_in"]
        == tools.read_stats(out)["kept"] + tools.read_stats(out)["dropped"] + tools.read_stats(out)["errors"]
    )
    assert tools.prox("verify", out) == 0


def test_kill_and_resume_against_a_flip_flopping_server_leaves_each_document_once(
    tools, tmp_path: Path, llama2_dir: Path, llama2_tokenizer
):
    """A server that fails every other request while the run is killed mid-way; once it is back, the same
    command with --retry-errors ends with every document exactly once, as a run against a healthy server."""
    import threading

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generators" / "lm_servers"))
    from completion_servers import CompletionServer, Reply, completion

    state = {"flaky": True, "requests": 0}
    lock = threading.Lock()

    def answer(payload: dict, hit: int) -> Reply:
        with lock:
            state["requests"] += 1
            if state["flaky"] and state["requests"] % 2:
                return Reply(503, {"error": {"message": "overloaded"}})
        if payload["max_tokens"] == 256:  # a chunk: drop its first line
            return completion("remove_lines(line_start=0, line_end=0)")
        prompt = llama2_tokenizer.decode(payload["prompt"])
        return completion("drop_doc()" if "Cheap watches" in prompt else "keep_doc()")

    lm = ["--refiner", "lm", "--backend", "openai", "--doc-model", "m", "--chunk-model", "m"]
    lm += ["--tokenizer", str(llama2_dir), "--max-retries", "0", "--max-error-rate", "1"]
    with CompletionServer(answer) as server:
        lm += ["--base-url", server.base_url]
        out = tmp_path / "out"
        _, command = _kill_between_tasks(tools, tmp_path, out, lm)
        state["flaky"] = False
        resumed = subprocess.run([*command, "--retry-errors"], capture_output=True, text=True, check=False)
        assert resumed.returncode == 0, resumed.stderr
        fresh = tmp_path / "fresh"
        healthy = [part if part != str(out) else str(fresh) for part in command]
        assert subprocess.run(healthy, capture_output=True, text=True, check=False).returncode == 0

    assert not list(out.rglob("*.part"))
    assert tools.prox("verify", out) == 0
    outputs = _outputs(tools, out)
    assert max(outputs.values()) == 1
    # Each line of OUT/errors is a malformed input line; no generation failure is left.
    assert all(place != "errors" or record_id.startswith("part") for place, record_id, _, _ in outputs)
    assert outputs == _outputs(tools, fresh)
    assert tools.read_stats(out)["generation_failures"] == 0
