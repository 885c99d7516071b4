"""Synth runs on datatrove tasks: the input files split over tasks, each task's own shards, rejected and errors
files, stats that add up over the tasks, and a run killed with kill -9 that resumes without asking the teacher
again for anything it had answered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_synth_doc import (
    MODEL,
    CompletionServer,
    Reply,
    assert_accounted,
    document,
    name_of,
    scripted,
    stats_of,
    synth_doc,
    teacher,
)
from test_synth_labels import char_tokenizer, folder_bytes, read_shards, write_jsonl

from prox.cli import main

__all__ = ["char_tokenizer", "teacher"]  # fixtures, used by name


def corpus(folder: Path, sizes: dict[str, int]) -> list[str]:
    """A JSONL file per prefix with that many documents `{prefix}{n}`; the names of all documents, in order."""
    names = []
    for prefix, count in sizes.items():
        documents = [document(f"{prefix}{index}") for index in range(count)]
        write_jsonl(folder / f"{prefix}.jsonl", documents)
        names += [doc["id"] for doc in documents]
    return names


def conversation(payload: dict) -> str:
    return json.dumps(payload["messages"], sort_keys=True)


def data_files(out: Path) -> dict[str, bytes]:
    """The records, rejections and errors of OUT, by name."""
    return {name: data for name, data in folder_bytes(out).items() if ".jsonl.gz" in name}


def test_each_task_writes_its_own_files_and_the_stats_add_up_over_the_tasks(tmp_path: Path, char_tokenizer, teacher):
    names = corpus(tmp_path / "in", {"a": 3, "b": 2, "c": 3})
    with (tmp_path / "in" / "b.jsonl").open("a") as handle:  # a bad record and an empty document in task 1
        handle.write('{"id": "cut-off", "text": "the line ends too so\n{"id": "blank", "text": " "}\n')
    teacher.answer = scripted({name: (3, 4) for name in names})
    out, single = tmp_path / "out", tmp_path / "single"

    assert synth_doc([tmp_path / "in"], out, char_tokenizer, teacher, "--tasks", "3", "--workers", "2") == 0

    files = sorted(data_files(out))
    assert files == [
        "doc-00000-00000.jsonl.gz",
        "doc-00001-00000.jsonl.gz",
        "doc-00002-00000.jsonl.gz",
        "errors/errors-00001-00000.jsonl.gz",
        "rejected/rejected-00001-00000.jsonl.gz",
    ]
    assert [r["id"] for r in read_shards(out, "doc-00001-*.jsonl.gz")] == ["b0", "b1"]
    assert sorted(path.name for path in (out / "logs" / "completions").iterdir()) == ["00000", "00001", "00002"]
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset("json", data_files=str(out / "doc-*.jsonl.gz"), split="train")
    assert sorted(loaded["id"]) == sorted(names)

    # The same records as one task makes of the same files, and the same account.
    assert synth_doc([tmp_path / "in"], single, char_tokenizer, teacher, "--tasks", "1") == 0
    by_id = {record["id"]: record for record in read_shards(single, "doc-*.jsonl.gz")}
    assert sorted(read_shards(out, "doc-*.jsonl.gz"), key=lambda r: r["id"]) == [by_id[name] for name in sorted(by_id)]
    stats, one_task = stats_of(out), stats_of(single)
    assert_accounted(stats)
    assert stats["tasks"] == 3 and one_task["tasks"] == 1
    assert stats["inputs"] == {"records": 10, "accepted": 8, "rejected": 1, "errors": 1}
    assert stats["teacher"]["answered"] == one_task["teacher"]["answered"] == 16
    ignored = ("tasks", "teacher")
    assert {k: v for k, v in stats.items() if k not in ignored} == {
        k: v for k, v in one_task.items() if k not in ignored
    }


def test_a_run_killed_with_kill_9_resumes_without_asking_the_teacher_again(tmp_path: Path, char_tokenizer, teacher):
    """Task 0 finishes; task 1 has written its first batch and waits on the second, whose first document is
    answered and whose second hangs; task 2 has not started. The whole run is killed; the same command then
    keeps task 0, redoes task 1 and runs task 2, asking the teacher only what it had not answered."""
    names = corpus(tmp_path / "in", {"a": 4, "b": 6, "c": 2})
    answered: set[str] = set()  # the conversations the teacher answered before the kill
    hanging: list[str] = []
    lock, hang = threading.Lock(), threading.Event()
    hang.set()

    def answer(payload: dict, hit: int) -> Reply:
        if hang.is_set() and name_of(payload) == "b5":
            hanging.append(conversation(payload))
            return Reply(body={}, delay=60.0)  # until the server stops
        reply = scripted({name: (3, 4) for name in names})(payload, hit)
        with lock:
            answered.add(conversation(payload))
        return reply

    teacher.answer = answer
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    # --concurrency 1: a task asks about 4 documents at a time, one request in flight.
    options = ["--tasks", "3", "--workers", "1", "--concurrency", "1", "--max-retries", "0"]
    command = [sys.executable, "-m", "prox", "synth", "doc", str(tmp_path / "in"), "-o", str(out), *options]
    command += ["--tokenizer", str(char_tokenizer), "--teacher-url", teacher.base_url, "--teacher-model", MODEL]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # A session of its own, so the kill takes the whole run (datatrove's manager process too), as a crash would.
    process = subprocess.Popen(command, env=environment, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        # 8 answers for task 0, 10 for task 1 (b0..b4), then b5's first request hangs: with one request in
        # flight, it was sent once the client had the answer before it.
        while not hanging:
            assert process.poll() is None, "the run ended before it was killed"
            assert time.monotonic() < deadline, "the run never reached b5"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    asked_before = len(teacher.payloads)
    before = set(answered)
    assert len(before) == 18 and len(hanging) == 1
    assert not (out / "stats.json").exists()
    assert sorted(path.name for path in (out / "logs" / "completions").iterdir()) == ["00000"]
    assert (out / "doc-00001-00000.jsonl.gz.part").exists()  # task 1's first batch, never finished

    hang.clear()
    assert synth_doc([tmp_path / "in"], out, char_tokenizer, teacher, *options[:-2]) == 0

    resumed = teacher.payloads[asked_before:]
    assert [name_of(payload) for payload in resumed if conversation(payload) in before] == []  # none asked again
    assert sorted(name_of(payload) for payload in resumed) == ["b5", "b5", "c0", "c0", "c1", "c1"]
    assert not list(out.rglob("*.part"))
    stats = stats_of(out)
    assert_accounted(stats)
    assert stats["inputs"]["records"] == 12 and stats["teacher"]["cache_hits"] == 10  # task 1's b0..b4

    # The records of a run never interrupted, given a copy of the cache (the teacher is not asked again).
    (fresh / "logs").mkdir(parents=True)
    for cache in (out / "logs").glob("requests.sqlite*"):
        (fresh / "logs" / cache.name).write_bytes(cache.read_bytes())
    assert synth_doc([tmp_path / "in"], fresh, char_tokenizer, teacher, *options[:-2]) == 0
    assert len(teacher.payloads) == asked_before + len(resumed)
    assert data_files(out) == data_files(fresh)
    assert [record["id"] for record in read_shards(out, "doc-*.jsonl.gz")] == names
    ignored = ("teacher",)
    assert {k: v for k, v in stats.items() if k not in ignored} == {
        k: v for k, v in stats_of(fresh).items() if k not in ignored
    }


def test_an_unfinished_run_resumes_with_another_server_but_not_with_another_model(
    tmp_path: Path, char_tokenizer, teacher, capsys
):
    names = corpus(tmp_path / "in", {"a": 1, "b": 1})
    teacher.answer = scripted({name: (4, 4) for name in names})
    out = tmp_path / "out"
    assert synth_doc([tmp_path / "in"], out, char_tokenizer, teacher, "--api-key", "sk-very-secret") == 0
    assert teacher.headers[0]["Authorization"] == "Bearer sk-very-secret"
    assert not [name for name, data in folder_bytes(out).items() if b"sk-very-secret" in data]
    (out / "stats.json").unlink()  # as if the run had been killed after its tasks
    (out / "logs" / "completions" / "00001").unlink()

    capsys.readouterr()
    command = ["synth", "doc", str(tmp_path / "in"), "-o", str(out), "--tokenizer", str(char_tokenizer)]
    command += ["--teacher-url", teacher.base_url, "--concurrency", "2"]
    assert main([*command, "--teacher-model", "another-teacher"]) == 2
    assert f"teacher_model: '{MODEL}' before, 'another-teacher' now" in capsys.readouterr().err

    with CompletionServer(scripted({name: (4, 4) for name in names})) as another:
        moved = [part if part != teacher.base_url else another.base_url for part in command]
        assert main([*moved, "--teacher-model", MODEL]) == 0
        assert not another.payloads  # task 1 redone, from the cache
    assert [record["id"] for record in read_shards(out, "doc-*.jsonl.gz")] == names
    assert stats_of(out)["teacher"]["cache_hits"] == 2
