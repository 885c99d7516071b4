"""Run integrity: a rerun with other settings is refused, stale attempts never reach OUT, failures show in the exit
status and can be retried, identical runs give identical bytes, and `prox verify` checks OUT from disk."""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
from pathlib import Path

import pytest

from prox.generators import GenerationFailure, ProgramGenerator
from prox.pipeline.run import RunSettings, refine_pipeline, run
from prox.pipeline.stages import MAX_PROGRAM_CHARS


def _corpus(tools, folder: Path, files: int = 4, pages_per_file: int = 10) -> Path:
    for index in range(files):
        tools.write_jsonl(folder / f"part{index}.jsonl", tools.pages(pages_per_file, seed=200 + index))
    return folder


def _snapshot(out: Path) -> dict[str, str]:
    """Every file under OUT with its content hash."""
    return {
        str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


def _data_files(out: Path) -> dict[str, str]:
    return {name: digest for name, digest in _snapshot(out).items() if not name.startswith("logs")}


# --- settings recorded and enforced -----------------------------------------------------------------------------


def test_a_rerun_with_other_tasks_is_refused_before_touching_out(tools, tmp_path, capsys):
    corpus, out = _corpus(tools, tmp_path / "in", files=8, pages_per_file=5), tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--tasks", "4") == 0
    before = _snapshot(out)
    capsys.readouterr()

    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--tasks", "8") == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1
    assert "--tasks: 4 before, 8 now" in message and "--overwrite" in message
    assert _snapshot(out) == before
    assert tools.read_stats(out)["documents_in"] == 40


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("--policy", "strict"), "--policy: 'release' before, 'strict' now"),
        (("--refiner", "lite"), "--refiner: rules before, lite now"),
        (("--stages", "doc"), "--stages: doc,chunk before, doc now"),
        (("--layout", "prox-release"), "--layout"),
    ],
)
def test_other_changed_options_are_refused_and_named(tools, tmp_path, capsys, change, named):
    corpus, out = _corpus(tools, tmp_path / "in", files=2, pages_per_file=3), tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules") == 0
    before = _snapshot(out)
    arguments = ["--refiner", "rules", *change] if change[0] != "--refiner" else list(change)
    assert tools.prox("refine", corpus, "-o", out, *arguments) == 2
    assert named in capsys.readouterr().err
    assert _snapshot(out) == before


def test_changed_inputs_are_refused(tools, tmp_path, capsys):
    corpus, out = _corpus(tools, tmp_path / "in", files=4, pages_per_file=3), tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules") == 0
    assert tools.prox("refine", corpus / "part0.jsonl", corpus / "part1.jsonl", "-o", out, "--refiner", "rules") == 2
    assert "inputs: 4 files before, 2 now" in capsys.readouterr().err
    tools.write_jsonl(corpus / "part3.jsonl", tools.pages(4, seed=1))
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules") == 2
    assert "part3.jsonl changed size" in capsys.readouterr().err


def test_overwrite_starts_over_with_the_new_settings(tools, tmp_path):
    corpus, out = _corpus(tools, tmp_path / "in", files=8, pages_per_file=5), tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--tasks", "4") == 0
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--tasks", "8", "--overwrite") == 0
    records = tools.read_records(out) + tools.read_records(out / "dropped")
    assert len(records) == 40 and len({record["id"] for record in records}) == 40
    stats = tools.read_stats(out)
    assert stats["documents_in"] == 40 and stats["tasks"] == 8 and stats["accounted"]
    assert tools.prox("verify", out) == 0


def test_the_same_command_resumes_and_changes_nothing(tools, tmp_path):
    corpus, out = _corpus(tools, tmp_path / "in", files=2, pages_per_file=3), tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--tasks", "2") == 0
    before = _data_files(out)
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--tasks", "2") == 0
    assert _data_files(out) == before


def test_the_manifest_names_refiner_model_policy_tasks_and_inputs(tools, tmp_path):
    corpus, out = _corpus(tools, tmp_path / "in", files=2, pages_per_file=3), tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--tasks", "2", "--policy", "strict") == 0
    manifest = json.loads((out / "logs" / "prox-run.json").read_text())
    assert manifest["refiner"]["name"] == "lite" and len(manifest["refiner"]["model_sha256"]) == 64
    assert manifest["policy"] == "strict" and manifest["tasks"] == 2
    assert [item["path"] for item in manifest["inputs"]["files"]] == ["part0.jsonl", "part1.jsonl"]
    assert all(item["bytes"] == (corpus / item["path"]).stat().st_size for item in manifest["inputs"]["files"])


@pytest.mark.parametrize("layout", ["prox", "prox-release"])
def test_every_record_names_its_refiner_and_policy(tools, tmp_path, layout):
    corpus, out = _corpus(tools, tmp_path / "in", files=1, pages_per_file=10), tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--layout", layout, "--policy", "strict") == 0
    records = tools.read_records(out) + tools.read_records(out / "dropped")
    assert len(records) == 10
    for record in records:
        prox = record["metadata"]["prox"]
        assert prox["refiner"].startswith("lite@") and prox["policy"] == "strict"
        assert prox["source"].startswith("part0.jsonl:")
    replayed = tmp_path / "replayed"
    assert tools.prox("execute", out, "-o", replayed, "--layout", layout) == 0
    for record in tools.read_records(replayed) + tools.read_records(replayed / "dropped"):
        prox = record["metadata"]["prox"]
        assert prox["refiner"].startswith("lite@") and prox["policy"] == "release"
    assert tools.prox("verify", replayed) == 0


def test_stats_count_only_the_tasks_of_this_run(tools, tmp_path):
    corpus, out = _corpus(tools, tmp_path / "in", files=2, pages_per_file=3), tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--tasks", "2") == 0
    stats_folder = out / "logs" / "stats"
    (stats_folder / "00007.json").write_text((stats_folder / "00000.json").read_text())  # a stranger's task
    (out / "stats.json").unlink()
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--tasks", "2") == 0
    assert tools.read_stats(out)["documents_in"] == 6


# --- attempts: nothing of a killed attempt stays in OUT ---------------------------------------------------------


def test_a_killed_attempts_files_are_removed_when_its_task_reruns(tools, tmp_path):
    corpus, out = _corpus(tools, tmp_path / "in", files=2, pages_per_file=5), tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--tasks", "2") == 0
    expected = _data_files(out)
    # Task 1 as a killed attempt left it: no completion, a truncated part file, and a file this attempt won't write.
    (out / "logs" / "completions" / "00001").unlink()
    (out / "logs" / "stats" / "00001.json").unlink()
    (out / "00001.jsonl.gz").rename(out / "00001.jsonl.gz.part")
    (out / "errors").mkdir(exist_ok=True)
    (out / "errors" / "chunk_00001.jsonl.gz.part").write_bytes(gzip.compress(b'{"id": "x"}\n')[:12])
    (out / "errors" / "doc_00001.jsonl.gz").write_bytes(gzip.compress(b'{"id": "stale", "source": "a:1"}\n'))
    assert tools.prox("verify", out) == 1

    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--tasks", "2") == 0
    assert _data_files(out) == expected
    assert not list(out.rglob("*.part"))
    assert tools.prox("verify", out) == 0


def test_identical_runs_write_byte_identical_files(tools, tmp_path):
    corpus = _corpus(tools, tmp_path / "in", files=2, pages_per_file=5)
    with open(corpus / "part0.jsonl", "a") as handle:
        handle.write("{not json\n")  # so OUT/errors has a file too
    first, second = tmp_path / "first", tmp_path / "second"
    assert tools.prox("refine", corpus, "-o", first, "--tasks", "2") == 0
    assert tools.prox("refine", corpus, "-o", second, "--tasks", "2") == 0
    files = _data_files(first)
    assert any(name.startswith("errors/") for name in files) and any(name.startswith("dropped/") for name in files)
    assert files == _data_files(second)


# --- generation failures: exit status and retries ---------------------------------------------------------------


class SwitchableGenerator(ProgramGenerator):
    """Keeps every document and removes line 0, or fails every document while `down` is set."""

    name = "switchable"
    down = True

    def doc_programs(self, texts):
        return [GenerationFailure("connection refused") if self.down else "keep_doc()" for _ in texts]

    def chunk_programs(self, chunks):
        return [
            GenerationFailure("connection refused") if self.down else "remove_lines(line_start=0, line_end=0)"
        ] * len(chunks)


def _settings(corpus: Path, out: Path, **changes) -> RunSettings:
    return RunSettings(inputs=[str(corpus)], output=str(out), tasks=2, **changes)


def test_failed_generations_are_retried_and_folded_in(tools, tmp_path):
    corpus, out = _corpus(tools, tmp_path / "in", files=2, pages_per_file=5), tmp_path / "out"
    generator = SwitchableGenerator()
    settings = _settings(corpus, out)
    summary = run(refine_pipeline(settings, generator), settings)
    assert summary["generation_failures"] == 10 and summary["errors"] == 10 and summary["kept"] == 0

    generator.down = False
    settings = _settings(corpus, out)  # the same command again does nothing more
    assert run(refine_pipeline(settings, generator), settings)["generation_failures"] == 10

    settings = _settings(corpus, out, retry_errors=True)
    summary = run(refine_pipeline(settings, generator), settings)
    assert summary["generation_failures"] == 0 and summary["errors"] == 0
    assert summary["kept"] == 10 and summary["documents_in"] == 10 and summary["accounted"]
    assert not (out / "errors").exists() or not list((out / "errors").glob("*"))
    assert tools.prox("verify", out) == 0


def test_exit_status_is_3_when_generation_fails_and_not_for_bad_input(tools, tmp_path, monkeypatch, capsys):
    from prox.cli import refine as refine_cli

    corpus = _corpus(tools, tmp_path / "in", files=1, pages_per_file=4)
    with open(corpus / "part0.jsonl", "a") as handle:
        handle.write("{broken\n")
    assert tools.prox("refine", corpus, "-o", tmp_path / "bad-input-only", "--refiner", "rules") == 0

    generator = SwitchableGenerator()
    original = refine_cli.refine_pipeline
    monkeypatch.setattr(refine_cli, "refine_pipeline", lambda settings: original(settings, generator))
    assert tools.prox("refine", corpus, "-o", tmp_path / "down") == 3
    err = capsys.readouterr().err
    assert "generation failed for 4 of 4 documents" in err and "--retry-errors" in err
    generator.down = False
    assert tools.prox("refine", corpus, "-o", tmp_path / "down", "--retry-errors") == 0


def test_a_small_share_of_failures_passes_under_max_error_rate(tools, tmp_path, monkeypatch):
    from prox.cli import refine as refine_cli

    class OneInTen(SwitchableGenerator):
        down = False

        def doc_programs(self, texts):
            return [GenerationFailure("timeout") if "page-200-0003" in text else "keep_doc()" for text in texts]

    records = [record | {"text": f"{record['id']}\n{record['text']}"} for record in tools.pages(10, seed=200)]
    tools.write_jsonl(tmp_path / "in" / "pages.jsonl", records)
    original = refine_cli.refine_pipeline
    monkeypatch.setattr(refine_cli, "refine_pipeline", lambda settings: original(settings, OneInTen()))
    assert tools.prox("refine", tmp_path / "in", "-o", tmp_path / "a", "--max-error-rate", "0.2") == 0
    assert tools.prox("refine", tmp_path / "in", "-o", tmp_path / "b", "--max-error-rate", "0.05") == 3


def test_a_full_disk_ends_with_one_line_and_status_2(tools, tmp_path, monkeypatch, capsys):
    from prox.pipeline.outputs import GzipJsonlWriter

    def full(self, document, file_handler, filename):
        raise OSError(errno.ENOSPC, "No space left on device", filename)

    monkeypatch.setattr(GzipJsonlWriter, "_write", full)
    corpus = _corpus(tools, tmp_path / "in", files=1, pages_per_file=3)
    assert tools.prox("refine", corpus, "-o", tmp_path / "out", "--refiner", "rules") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("prox refine: error: no space left on the device")
    assert "run the same command again" in err[-1]


def test_program_texts_are_cut_to_a_bounded_size(tools, tmp_path):
    class Verbose(SwitchableGenerator):
        down = False

        def chunk_programs(self, chunks):
            return ["keep_chunk()\n" + "# blah " * 100_000] * len(chunks)

    corpus, out = _corpus(tools, tmp_path / "in", files=1, pages_per_file=2), tmp_path / "out"
    settings = RunSettings(inputs=[str(corpus)], output=str(out))
    summary = run(refine_pipeline(settings, Verbose()), settings)
    assert summary["programs_cut"] == 2
    for record in tools.read_records(out):
        assert len(record["metadata"]["prox"]["chunk_program"]) == MAX_PROGRAM_CHARS
        assert record["metadata"]["prox"]["programs_cut"] == 1


# --- replays and verification of damaged outputs ----------------------------------------------------------------


def test_execute_on_an_out_with_an_empty_data_file_fails(tools, tmp_path, capsys):
    corpus, out = _corpus(tools, tmp_path / "in", files=2, pages_per_file=5), tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--tasks", "2") == 0
    (out / "00001.jsonl.gz").write_bytes(b"")
    assert tools.prox("execute", out, "-o", tmp_path / "replayed") == 1
    assert "is damaged or incomplete" in capsys.readouterr().err
    assert tools.prox("verify", out) == 1


def test_execute_on_an_out_with_a_truncated_data_file_fails(tools, tmp_path):
    corpus, out = _corpus(tools, tmp_path / "in", files=1, pages_per_file=20), tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules") == 0
    data = (out / "00000.jsonl.gz").read_bytes()
    (out / "00000.jsonl.gz").write_bytes(data[: len(data) // 2])
    assert tools.prox("execute", out, "-o", tmp_path / "replayed") == 1


def test_verify_finds_duplicated_and_missing_records(tools, tmp_path, capsys):
    corpus, out = _corpus(tools, tmp_path / "in", files=2, pages_per_file=5), tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--tasks", "2") == 0
    assert tools.prox("verify", out) == 0
    assert "verified: 10 input records, each exactly once" in capsys.readouterr().out

    copy = out / "00001.jsonl.gz"
    (out / "00009.jsonl.gz").write_bytes(copy.read_bytes())
    assert tools.prox("verify", out) == 1
    assert "input records in OUT more than once" in capsys.readouterr().out
    (out / "00009.jsonl.gz").unlink()

    lines = gzip.decompress(copy.read_bytes()).splitlines(keepends=True)
    copy.write_bytes(gzip.compress(b"".join(lines[1:])))
    assert tools.prox("verify", out) == 1
    assert "1 input records missing from OUT" in capsys.readouterr().out


def test_verify_needs_a_manifest(tools, tmp_path, capsys):
    (tmp_path / "not-out").mkdir()
    assert tools.prox("verify", tmp_path / "not-out") == 2
    assert "no logs/prox-run.json" in capsys.readouterr().err
