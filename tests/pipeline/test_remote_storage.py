"""`prox refine`, `prox execute` and `prox verify` with inputs and outputs on a real S3-compatible server (moto's
server mode on 127.0.0.1): the same bytes as a local run, resume after kill -9, and one-line errors."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TASKS = 4


def _upload(local: Path, remote: str) -> None:
    import fsspec

    fs = fsspec.filesystem("s3")
    for path in sorted(local.rglob("*")):
        if path.is_file():
            fs.put_file(str(path), f"{remote}/{path.relative_to(local)}")
    fs.invalidate_cache()


def _remote_files(remote: str) -> dict[str, str]:
    """Every object under `remote` outside logs/, with its content hash."""
    import fsspec

    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    root = remote.removeprefix("s3://")
    return {
        found[len(root) + 1 :]: hashlib.sha256(fs.cat_file(found)).hexdigest()
        for found in fs.find(root)
        if not found[len(root) + 1 :].startswith("logs/")
    }


def _local_files(local: Path) -> dict[str, str]:
    return {
        str(path.relative_to(local)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(local.rglob("*"))
        if path.is_file() and not str(path.relative_to(local)).startswith("logs")
    }


def _corpus(tools, folder: Path, pages_per_file: int = 6) -> Path:
    for index in range(TASKS):
        path = tools.write_jsonl(folder / f"part{index}.jsonl.gz", tools.pages(pages_per_file, seed=300 + index))
        if index == 0:
            path.write_bytes(path.read_bytes()[:-20])  # a cut gzip member: one error in OUT/errors
    return folder


def test_refine_s3_to_s3_writes_the_bytes_of_a_local_run(tools, tmp_path, s3_bucket):
    corpus = _corpus(tools, tmp_path / "in")
    _upload(corpus, f"{s3_bucket}/corpus")
    local = tmp_path / "local"
    args = ("--refiner", "rules", "--tasks", TASKS, "--workers", 2)
    assert tools.prox("refine", corpus, "-o", local, *args) == 0
    remote = f"{s3_bucket}/refined"
    assert tools.prox("refine", f"{s3_bucket}/corpus", "-o", remote, *args) == 0

    expected = _local_files(local)
    assert any(name.startswith("errors/") for name in expected)
    assert _remote_files(remote) == expected
    assert tools.prox("verify", remote) == 0

    # A rerun resumes (nothing to do); another --tasks is refused, as locally.
    assert tools.prox("refine", f"{s3_bucket}/corpus", "-o", remote, *args) == 0
    assert tools.prox("refine", f"{s3_bucket}/corpus", "-o", remote, "--refiner", "rules", "--tasks", 2) == 2

    # Globs over the bucket, and a replay from s3 to s3.
    assert tools.prox("refine", f"{s3_bucket}/corpus/part*.jsonl.gz", "-o", f"{s3_bucket}/globbed", *args) == 0
    assert _remote_files(f"{s3_bucket}/globbed") == expected
    assert tools.prox("execute", remote, "-o", f"{s3_bucket}/strict", "--policy", "strict") == 0
    assert tools.prox("verify", f"{s3_bucket}/strict") == 0


def test_a_run_killed_on_s3_resumes_to_the_same_bytes(tools, tmp_path, s3_bucket):
    corpus = _corpus(tools, tmp_path / "in", pages_per_file=60)
    _upload(corpus, f"{s3_bucket}/corpus")
    remote = f"{s3_bucket}/out"
    command = [sys.executable, "-m", "prox", "refine", f"{s3_bucket}/corpus", "-o", remote, "--refiner", "rules"]
    command += ["--tasks", str(TASKS), "--workers", "1", "--batch-size", "4"]

    import fsspec

    fs = fsspec.filesystem("s3")
    markers = f"{remote.removeprefix('s3://')}/logs/completions"
    # A session of its own, so the kill takes the whole run (its multiprocess manager too), as a crash would.
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            fs.invalidate_cache()
            if fs.exists(markers) and len(fs.ls(markers)) >= 1:
                break
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    fs.invalidate_cache()
    finished = len(fs.ls(markers)) if fs.exists(markers) else 0
    if not 1 <= finished < TASKS:
        pytest.skip(f"the kill came at {finished} of {TASKS} finished tasks; nothing to resume")

    resumed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    local = tmp_path / "local"
    assert tools.prox("refine", corpus, "-o", local, "--refiner", "rules", "--tasks", TASKS, "--workers", 1) == 0
    assert _remote_files(remote) == _local_files(local)
    assert tools.prox("verify", remote) == 0


def test_a_missing_bucket_is_one_line_naming_it(tools, tmp_path, s3_server, capsys):
    corpus = _corpus(tools, tmp_path / "in", pages_per_file=2)
    assert tools.prox("refine", "s3://no-such-bucket/corpus", "-o", tmp_path / "out") == 2
    error = capsys.readouterr().err.strip()
    assert "s3://no-such-bucket/corpus" in error and len(error.splitlines()) == 1
    assert tools.prox("refine", corpus, "-o", "s3://no-such-bucket/out", "--refiner", "rules") == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("prox refine: error: cannot write to s3://no-such-bucket/out")
    assert len(error.splitlines()) == 1
