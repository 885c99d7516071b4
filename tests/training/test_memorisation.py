"""The whole loop on a few pages: prox synth labels -> prox train sft --init -> prox refine --refiner lm."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from prox.cli import main
from prox.training.data import read_sft_records
from prox.training.sft import REPORT_FILE


def _read(folder: Path) -> list[dict]:
    records = []
    for path in sorted(folder.rglob("*.jsonl.gz")):
        with gzip.open(path, "rt") as lines:
            records += [json.loads(line) for line in lines]
    return records


def test_refine_with_the_trained_model_writes_exactly_the_target_programs(
    memorised_model: Path, synth_dir: Path, labelled_dir: Path, tmp_path: Path
):
    out = tmp_path / "refined"
    model = str(memorised_model)
    command = ["refine", str(labelled_dir / "docs.jsonl"), "-o", str(out), "--refiner", "lm"]
    assert main([*command, "--backend", "transformers", "--doc-model", model, "--chunk-model", model]) == 0

    records = list(read_sft_records([str(synth_dir)]))
    doc_targets = {record["id"]: record["messages"][2]["content"] for record in records if record["stage"] == "doc"}
    chunk_targets = {
        (record["id"].split("/")[0], record["first_line"], record["last_line"]): record["messages"][2]["content"]
        for record in records
        if record["stage"] == "chunk"
    }
    written = [record for record in _read(out) if "prox" in record.get("metadata", {})]
    assert {record["id"]: record["metadata"]["prox"]["doc_program"] for record in written} == doc_targets
    chunk_programs = {
        (record["id"], chunk["first_line"], chunk["last_line"]): chunk["program"]
        for record in written
        for chunk in record["metadata"]["prox"].get("chunk_programs", [])
    }
    assert chunk_programs == chunk_targets


def test_the_output_folder_records_the_validation_and_the_best_checkpoint(memorised_model: Path):
    report = json.loads((memorised_model / REPORT_FILE).read_text())
    assert report["records"] == {"train": {"doc": 3, "chunk": 2}, "eval": {"doc": 3, "chunk": 2}}
    last = report["evaluations"][-1]
    # Memorised: the held-out (here: the same) records are generated back exactly.
    assert last["eval_doc_exact"] == 1.0 and last["eval_chunk_exact"] == 1.0
    assert last["eval_doc_accuracy"] == 1.0 and last["eval_chunk_removed_f1"] == 1.0
    assert report["best_score"] == last["eval_score"] == 1.0
    # Stopped at the first perfect validation, which is the best checkpoint.
    assert all(entry["eval_score"] < 1.0 for entry in report["evaluations"][:-1])
    assert report["global_step"] < 120
    assert report["best_checkpoint"].endswith(f"checkpoint-{report['global_step']}")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"):
        assert (memorised_model / name).is_file()


def test_the_saved_tokenizer_is_the_bases_and_renders_refines_prompts(
    memorised_model: Path, llama2_dir: Path, synth_dir: Path
):
    transformers = pytest.importorskip("transformers")
    from prox.synth.records import render_prompt

    assert (memorised_model / "tokenizer.json").read_bytes() == (llama2_dir / "tokenizer.json").read_bytes()
    tokenizer = transformers.AutoTokenizer.from_pretrained(memorised_model)
    for record in read_sft_records([str(synth_dir)]):
        messages = record["messages"]
        assert tokenizer.apply_chat_template(messages[:2], tokenize=False) == render_prompt(record)
        whole = tokenizer.apply_chat_template(messages, tokenize=False)
        assert whole == f"{render_prompt(record)} {messages[2]['content']} </s>"
