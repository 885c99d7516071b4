"""`prox refine` end to end: what lands in OUT, OUT/dropped and OUT/stats.json, ids, keys, stages, fatal errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NAV_LINES = ("Home | News | Sport | Weather | Contact", "Login | Register", "Back to top")


def test_refine_keeps_pages_and_drops_spam_with_reasons(tools, corpus: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--policy", "release") == 0
    kept, dropped = tools.read_records(out), tools.read_records(out / "dropped")
    inputs = tools.pages(20)
    assert len(kept) == 16 and len(dropped) == 4
    assert {record["id"] for record in dropped} == {record["id"] for record in inputs[4::5]}
    assert all(record["metadata"]["prox"]["drop_reason"] == "drop_doc" for record in dropped)
    assert all(record["metadata"]["prox"]["doc_program"].startswith("drop_doc()") for record in dropped)
    assert not (out / "errors").exists()
    assert "20 in, 16 kept" in capsys.readouterr().err


def test_every_kept_document_records_its_programs_and_decisions(tools, corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules") == 0
    originals = {record["id"]: record for record in tools.pages(20)}
    for record in tools.read_records(out):
        prox = record["metadata"]["prox"]
        assert prox["doc_program"] == "keep_doc()" and prox["doc_decision"] == "keep_doc"
        assert prox["chunk_program"] == "\n".join(item["program"] for item in prox["chunk_programs"])
        assert all({"first_line", "last_line", "program"} <= set(item) for item in prox["chunk_programs"])
        assert prox["chunk_programs"][0]["first_line"] == 0
        assert prox["chunk_decision"] == "edited" and prox["removed_lines"] > 0
        assert prox["source"].startswith("pages.jsonl:")
        assert prox["raw_content"] == originals[record["id"]]["text"]
        assert record["metadata"]["url"] == originals[record["id"]]["url"]
        assert not any(line in record["text"].split("\n") for line in NAV_LINES)


def test_stats_account_for_every_document_and_edit(tools, corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    tools.prox("refine", corpus, "-o", out, "--refiner", "rules")
    stats, kept = tools.read_stats(out), tools.read_records(out)
    inputs = tools.pages(20)
    assert stats["documents_in"] == 20 and stats["kept"] == 16 and stats["errors"] == 0
    assert stats["dropped"] == 4 and stats["dropped_by_reason"] == {"drop_doc": 4}
    assert stats["accounted"] is True
    assert stats["lines_removed"] == sum(record["metadata"]["prox"]["removed_lines"] for record in kept)
    assert stats["program_errors"] == 0
    assert stats["chars_in"] == sum(len(record["text"]) for record in inputs)
    assert stats["words_in"] == sum(len(record["text"].split()) for record in inputs)
    assert stats["chars_out"] == sum(len(record["text"]) for record in kept)
    assert stats["words_out"] == sum(len(record["text"].split()) for record in kept)


def test_input_ids_are_kept(tools, tmp_path: Path):
    records = tools.pages(10, id_prefix="site-a")
    tools.write_jsonl(tmp_path / "in" / "a.jsonl", records)
    out = tmp_path / "out"
    tools.prox("refine", tmp_path / "in", "-o", out)
    ids = [record["id"] for record in tools.read_records(out) + tools.read_records(out / "dropped")]
    assert sorted(ids) == sorted(record["id"] for record in records)


def test_ids_are_made_when_absent_and_are_the_same_on_every_run(tools, tmp_path: Path):
    tools.write_jsonl(tmp_path / "in" / "a.jsonl", tools.pages(10, id_prefix=None))
    runs = []
    for name in ("first", "second"):
        tools.prox("refine", tmp_path / "in", "-o", tmp_path / name)
        records = tools.read_records(tmp_path / name) + tools.read_records(tmp_path / name / "dropped")
        runs.append({record["id"]: record["text"] for record in records})
    assert len(runs[0]) == 10  # unique
    assert runs[0] == runs[1]
    assert all(record_id.startswith("a.jsonl:") for record_id in runs[0])


def test_text_key_and_id_key_name_the_input_fields(tools, tmp_path: Path):
    records = [
        {"doc_id": f"custom-{index}", "content": record["text"], "lang": "en"}
        for index, record in enumerate(tools.pages(5, spam_every=0))
    ]
    tools.write_jsonl(tmp_path / "in" / "a.jsonl", records)
    out = tmp_path / "out"
    args = ("--refiner", "rules", "--text-key", "content", "--id-key", "doc_id")
    assert tools.prox("refine", tmp_path / "in", "-o", out, *args) == 0
    kept = tools.read_records(out)
    assert sorted(record["id"] for record in kept) == [f"custom-{index}" for index in range(5)]
    assert all(record["metadata"]["lang"] == "en" and "content" not in record["metadata"] for record in kept)
    assert all(
        record["metadata"]["prox"]["raw_content"] == records[int(record["id"][-1])]["content"] for record in kept
    )


def test_without_text_key_every_record_is_an_error_naming_the_option(tools, tmp_path: Path, capsys):
    tools.write_jsonl(tmp_path / "in" / "a.jsonl", [{"content": "some words here."}] * 3)
    out = tmp_path / "out"
    assert tools.prox("refine", tmp_path / "in", "-o", out) == 0
    errors = tools.read_records(out / "errors")
    assert [error["source"] for error in errors] == ["a.jsonl:1", "a.jsonl:2", "a.jsonl:3"]
    assert all("set --text-key" in error["reason"] for error in errors)
    assert capsys.readouterr().err.count("prox: a.jsonl:") == 3


def test_doc_stage_alone_keeps_texts_unchanged(tools, corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules", "--stages", "doc") == 0
    originals = {record["id"]: record["text"] for record in tools.pages(20)}
    kept = tools.read_records(out)
    assert len(kept) == 16 and len(tools.read_records(out / "dropped")) == 4
    for record in kept:
        assert record["text"] == originals[record["id"]]
        assert "chunk_program" not in record["metadata"]["prox"] and "raw_content" not in record["metadata"]["prox"]
    assert tools.read_stats(out)["lines_removed"] == 0


def test_chunk_stage_alone_edits_without_doc_decisions(tools, corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert tools.prox("refine", corpus, "-o", out, "--stages", "chunk") == 0
    stats = tools.read_stats(out)
    assert "drop_doc" not in stats["dropped_by_reason"] and stats["accounted"]
    records = tools.read_records(out) + tools.read_records(out / "dropped")
    assert len(records) == 20
    assert all("doc_program" not in record["metadata"]["prox"] for record in records)
    assert all("chunk_programs" in record["metadata"]["prox"] for record in records)
    assert stats["lines_removed"] > 0


def test_files_globs_and_folders_are_inputs(tools, tmp_path: Path):
    tools.write_jsonl(tmp_path / "in" / "a.jsonl", tools.pages(3, seed=1))
    tools.write_jsonl(tmp_path / "in" / "sub" / "b.jsonl.gz", tools.pages(3, seed=2))
    tools.write_jsonl(tmp_path / "other" / "c.jsonl", tools.pages(3, seed=3))
    (tmp_path / "in" / "notes.txt").write_text("not an input")
    out = tmp_path / "out"
    assert tools.prox("refine", f"{tmp_path}/in/**/*.jsonl*", tmp_path / "other" / "c.jsonl", "-o", out) == 0
    assert tools.read_stats(out)["documents_in"] == 9
    records = tools.read_records(out) + tools.read_records(out / "dropped")
    assert {record["metadata"]["prox"]["source"].split(":")[0] for record in records} == {
        "in/a.jsonl",
        "in/sub/b.jsonl.gz",
        "other/c.jsonl",
    }


def test_several_tasks_and_workers_give_the_same_documents(tools, tmp_path: Path):
    for index in range(3):
        tools.write_jsonl(tmp_path / "in" / f"part{index}.jsonl", tools.pages(6, seed=index))
    results = {}
    for tasks, workers in ((1, 1), (3, 2)):
        out = tmp_path / f"out-{tasks}"
        assert tools.prox("refine", tmp_path / "in", "-o", out, "--tasks", tasks, "--workers", workers) == 0
        records = tools.read_records(out) + tools.read_records(out / "dropped")
        results[tasks] = sorted(json.dumps(record, sort_keys=True) for record in records)
        assert len(list((out / "logs" / "completions").iterdir())) == tasks
    assert results[1] == results[3] and len(results[1]) == 18


def test_rerunning_a_finished_command_changes_nothing(tools, corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    tools.prox("refine", corpus, "-o", out)
    before = (tools.read_records(out), tools.read_records(out / "dropped"), tools.read_stats(out))
    assert tools.prox("refine", corpus, "-o", out) == 0
    assert (tools.read_records(out), tools.read_records(out / "dropped"), tools.read_stats(out)) == before


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda tmp: [tmp / "missing.jsonl"], "no such file, folder or glob match"),
        (lambda tmp: [tmp / "empty"], "no .jsonl, .jsonl.gz, .jsonl.zst or .parquet files"),
        (lambda tmp: [tmp / "notes.txt"], "not a .jsonl, .jsonl.gz, .jsonl.zst or .parquet file"),
    ],
    ids=["missing-path", "no-inputs", "wrong-suffix"],
)
def test_bad_inputs_are_fatal_with_a_clear_message(tools, tmp_path: Path, capsys, make_args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    assert tools.prox("refine", *make_args(tmp_path), "-o", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.startswith("prox refine: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_unwritable_output_is_fatal(tools, corpus: Path, tmp_path: Path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert tools.prox("refine", corpus, "-o", blocker / "out") == 2
    err = capsys.readouterr().err
    assert err.startswith("prox refine: error: cannot write to") and "choose another -o folder" in err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--stages", "doc,rinse", "--stages takes doc, chunk or doc,chunk"), ("--tasks", "0", "--tasks must be")],
)
def test_bad_options_are_fatal(tools, corpus: Path, tmp_path: Path, capsys, option, value, message):
    assert tools.prox("refine", corpus, "-o", tmp_path / "out", option, value) == 2
    assert message in capsys.readouterr().err


def test_files_of_an_earlier_output_inside_the_input_folder_are_not_inputs(tmp_path):
    from prox.cli import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentence = "A proper sentence with enough words to pass the line rules of the baseline."
    (corpus / "a.jsonl").write_text("\n".join(json.dumps({"id": f"x{i}", "text": sentence}) for i in range(3)) + "\n\n")
    out = corpus / "out"
    assert main(["refine", str(corpus), "-o", str(out)]) == 0
    assert main(["refine", str(corpus), "-o", str(tmp_path / "again")]) == 0
    first = json.loads((out / "stats.json").read_text())
    assert first["documents_in"] == 3 and first["errors"] == 0  # the trailing blank line is no record
    # The second run reads the corpus folder, which now holds corpus/out: an earlier output is not input.
    assert json.loads((tmp_path / "again" / "stats.json").read_text())["documents_in"] == 3
