"""`prox lite train`, and `prox refine` / `prox eval` with `--lite-model`, end to end on tiny files."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from prox.cli import main
from prox.generators.lite import LiteGenerator
from prox.lite.data import LabelledDoc, LabelledPage
from prox.lite.distill import teacher_examples
from prox.lite.model import LiteModel

TRAIN_OPTIONS = ["--rounds", "30", "--threads", "1"]


def read_records(folder: Path) -> list[dict]:
    records = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            records.extend(json.loads(line) for line in handle)
    return records


@pytest.fixture
def training_files(tmp_path: Path, synthetic) -> list[Path]:
    """A line-labelled pages file and a labelled documents file."""
    pages = synthetic.write_jsonl(tmp_path / "data" / "pages.jsonl", synthetic.page_records(30))
    docs = synthetic.write_jsonl(tmp_path / "data" / "docs.jsonl", synthetic.doc_records(20))
    return [pages, docs]


def test_train_writes_a_model_folder_and_reports_cross_validation(tmp_path: Path, training_files, capsys):
    model_dir = tmp_path / "model"
    argv = ["lite", "train", *map(str, training_files), "-o", str(model_dir), "--folds", "3", *TRAIN_OPTIONS]
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    assert (model_dir / "model.json").is_file()
    assert "read 30 labelled pages and 20 labelled documents" in captured.err
    assert "line model, 3-fold cross-validation: keep_f1" in captured.err
    assert "doc model, 3-fold cross-validation: keep_f1" in captured.err
    report = json.loads(captured.out)
    assert report["pages"] == 30 and report["docs"] == 20
    assert report["line_cross_validation"]["keep_f1"] > 0.9
    assert report["inputs"] == [str(path) for path in training_files]
    assert LiteModel.load(model_dir).report == report


def test_train_refuses_inputs_without_examples(tmp_path: Path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["lite", "train", str(empty), "-o", str(tmp_path / "model")]) == 2
    assert "hold no labelled pages or documents" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


def test_refine_with_lite_model_uses_that_model(tmp_path: Path, trained_dir: Path, synthetic):
    rng = random.Random(21)
    texts = [*("\n".join(synthetic.page(rng)[0]) for _ in range(4)), synthetic.link_list(rng), synthetic.prose_doc(rng)]
    corpus = synthetic.write_jsonl(
        tmp_path / "corpus" / "docs.jsonl", [{"id": f"d{index}", "text": text} for index, text in enumerate(texts)]
    )
    out = tmp_path / "out"
    assert main(["refine", str(corpus), "-o", str(out), "--lite-model", str(trained_dir)]) == 0
    records = {record["id"]: record for record in read_records(out) + read_records(out / "dropped")}
    assert len(records) == len(texts)
    expected = LiteGenerator(LiteModel.load(trained_dir))
    for index, doc_program in enumerate(expected.doc_programs(texts)):
        assert records[f"d{index}"]["metadata"]["prox"]["doc_program"] == doc_program
    assert records["d4"]["metadata"]["prox"]["drop_reason"] == "drop_doc"  # the link list
    for index in range(4):  # the menus and footers of the pages are gone, the prose stays
        kept = records[f"d{index}"]["text"].split("\n")
        assert kept and all(len(line.split()) >= 14 for line in kept)


def test_lite_model_with_the_rules_refiner_is_an_error(tmp_path: Path, trained_dir: Path, synthetic, capsys):
    corpus = synthetic.write_jsonl(tmp_path / "corpus" / "docs.jsonl", [{"id": "a", "text": "Some text here."}])
    argv = ["refine", str(corpus), "-o", str(tmp_path / "out"), "--refiner", "rules", "--lite-model", str(trained_dir)]
    assert main(argv) == 2
    assert "--lite-model applies to --refiner lite only" in capsys.readouterr().err
    assert not (tmp_path / "out" / "stats.json").exists()


def test_eval_lines_scores_the_lite_refiner(tmp_path: Path, trained_dir: Path, synthetic, capsys):
    gold = synthetic.write_jsonl(tmp_path / "gold.jsonl", synthetic.page_records(8, seed=5))
    argv = ["eval", "lines", "--gold", str(gold), "--refiner", "lite", "--lite-model", str(trained_dir), "--json"]
    assert main(argv) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["refiner"] == "lite" and scores["pages"] == 8 and scores["failed_pages"] == 0
    assert scores["items"] == sum(len(record["lines"]) for record in synthetic.page_records(8, seed=5))
    assert scores["keep_f1"] > 0.9 and scores["remove_f1"] > 0.9


def test_eval_lines_skips_the_unlabelled_lines_of_a_snippet_labels_page(tmp_path: Path, trained_dir: Path, capsys):
    menu, prose = ["Home", "News", "Login"], "The harbour council met on Tuesday to discuss the winter storm repairs."
    lines = [*menu, prose, "Privacy Policy"]
    snippet_labels = [None, None, 0, 1, None]
    gold = tmp_path / "snippets.jsonl"
    gold.write_text(json.dumps({"lines": lines, "snippet_labels": snippet_labels}) + "\n")
    argv = ["eval", "lines", "--gold", str(gold), "--lite-model", str(trained_dir), "--json"]
    assert main(argv) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["refiner"] == "lite"  # the default
    assert scores["pages"] == 1 and scores["items"] == 2


def test_eval_docs_scores_the_document_model(tmp_path: Path, trained_dir: Path, synthetic, capsys):
    gold = synthetic.write_jsonl(tmp_path / "docs.jsonl", synthetic.doc_records(10, seed=6))
    assert main(["eval", "docs", "--gold", str(gold), "--lite-model", str(trained_dir), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["items"] == 10 and scores["accuracy"] > 0.9


def test_a_refine_output_trains_a_student_of_its_refiner(tmp_path: Path, synthetic, capsys):
    """Distillation: the rules refiner's programs, read back from its output folder, are the labels."""
    rng = random.Random(31)
    texts = ["\n".join(synthetic.page(rng)[0]) for _ in range(30)]
    texts += ["\n".join([f"Cheap watches {index} best price buy now"] * 30) for index in range(6)]  # rules drop these
    corpus = synthetic.write_jsonl(
        tmp_path / "corpus" / "docs.jsonl", [{"id": f"d{index}", "text": text} for index, text in enumerate(texts)]
    )
    teacher = tmp_path / "teacher"
    assert main(["refine", str(corpus), "-o", str(teacher), "--refiner", "rules"]) == 0
    student = tmp_path / "student"
    assert main(["lite", "train", str(teacher), "-o", str(student), "--folds", "0", *TRAIN_OPTIONS, "--json"]) == 0
    captured = capsys.readouterr()
    assert "cross-validation" not in captured.err
    report = json.loads(captured.out)
    edited = [record for record in read_records(teacher) if "chunk_programs" in record["metadata"]["prox"]]
    assert len(edited) > 20
    assert report["pages"] == len(edited) and report["docs"] == len(texts)

    examples = list(teacher_examples(teacher))
    pages = [example for example in examples if isinstance(example, LabelledPage)]
    docs = [example for example in examples if isinstance(example, LabelledDoc)]
    model = LiteModel.load(student)
    agree = total = 0
    for page, verdict in zip(pages, model.verdicts(["\n".join(page.lines) for page in pages]), strict=True):
        for label, keep in zip(page.labels, verdict.line_keep, strict=True):
            agree += label == int(keep >= model.line_threshold)
            total += 1
    assert agree / total > 0.9
    decisions = [int(verdict.doc_keep >= model.doc_threshold) for verdict in model.verdicts([doc.text for doc in docs])]
    assert sum(decision == doc.label for decision, doc in zip(decisions, docs, strict=True)) / len(docs) > 0.8
    assert all(decision == 0 for decision, doc in zip(decisions, docs, strict=True) if "Cheap watches" in doc.text)
