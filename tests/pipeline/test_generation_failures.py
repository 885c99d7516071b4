"""A generator that fails for some inputs costs those documents (set aside as errors), never the run."""

from __future__ import annotations

import gzip
import json

from prox.generators import GenerationFailure, ProgramGenerator
from prox.pipeline.run import RunSettings, refine_pipeline, run

SENTENCE = "This sentence is long enough to survive every rule that the executor applies to it."


class FlakyGenerator(ProgramGenerator):
    """Keeps every document; fails the doc program of texts with 'doc-fail', the chunks with 'chunk-fail'."""

    name = "flaky"

    def doc_programs(self, texts):
        return [
            GenerationFailure("HTTP 500 after 4 attempts") if "doc-fail" in text else "keep_doc()" for text in texts
        ]

    def chunk_programs(self, chunks):
        return [
            GenerationFailure("timed out") if any("chunk-fail" in line for line in chunk.lines) else "keep_chunk()"
            for chunk in chunks
        ]


class CrashingGenerator(FlakyGenerator):
    def doc_programs(self, texts):
        raise RuntimeError("engine crashed")


def _corpus(tmp_path, texts):
    folder = tmp_path / "in"
    folder.mkdir()
    with open(folder / "docs.jsonl", "w") as handle:
        for number, text in enumerate(texts):
            handle.write(json.dumps({"id": f"d{number}", "text": text}) + "\n")
    return folder


def _errors(out):
    records = []
    for path in sorted((out / "errors").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as handle:
            records += [json.loads(line) for line in handle]
    return records


def test_failed_generations_go_to_errors_and_the_rest_is_refined(tmp_path, capsys):
    texts = [SENTENCE, f"{SENTENCE} doc-fail", f"{SENTENCE}\nchunk-fail {SENTENCE}", SENTENCE]
    settings = RunSettings(inputs=[str(_corpus(tmp_path, texts))], output=str(tmp_path / "out"))
    summary = run(refine_pipeline(settings, FlakyGenerator()), settings)

    assert summary["documents_in"] == 4
    assert summary["kept"] == 2
    assert summary["errors"] == 2
    assert summary["accounted"]
    errors = {record["id"]: record["reason"] for record in _errors(tmp_path / "out")}
    assert errors == {"d1": "doc program: HTTP 500 after 4 attempts", "d2": "chunk program: timed out"}
    assert "docs.jsonl:2: doc program: HTTP 500 after 4 attempts" in capsys.readouterr().err


def test_a_generator_that_raises_fails_its_batch_not_the_run(tmp_path):
    settings = RunSettings(inputs=[str(_corpus(tmp_path, [SENTENCE] * 3))], output=str(tmp_path / "out"))
    summary = run(refine_pipeline(settings, CrashingGenerator()), settings)

    assert summary["documents_in"] == 3
    assert summary["errors"] == 3
    assert summary["accounted"]
    assert {record["reason"] for record in _errors(tmp_path / "out")} == {
        "doc stage failed: RuntimeError: engine crashed"
    }


class ClosingGenerator(FlakyGenerator):
    """Records calls, so the test can see that close() comes once, after the last generation."""

    def __init__(self):
        self.calls = []

    def doc_programs(self, texts):
        self.calls.append("doc")
        return super().doc_programs(texts)

    def chunk_programs(self, chunks):
        self.calls.append("chunk")
        return super().chunk_programs(chunks)

    def close(self):
        self.calls.append("close")


def test_the_generator_is_closed_once_after_its_last_use(tmp_path):
    settings = RunSettings(inputs=[str(_corpus(tmp_path, [SENTENCE] * 5))], output=str(tmp_path / "out"), batch_size=2)
    generator = ClosingGenerator()
    data = None
    for step in refine_pipeline(settings, generator):  # run the steps in this process, as one task would
        data = step(data, rank=0, world_size=1)
    for _ in data or ():
        pass
    assert generator.calls.count("close") == 1
    assert generator.calls[-1] == "close"
    assert generator.calls.count("doc") == 3 and generator.calls.count("chunk") == 3  # batches of 2, 2 and 1
