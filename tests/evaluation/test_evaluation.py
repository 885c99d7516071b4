"""Scores follow the shared data's protocol and are computed from real program execution."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from prox.cli import main
from prox.evaluation import BinaryScores, evaluate_docs, evaluate_lines
from prox.evaluation.docs import read_labelled_docs
from prox.evaluation.lines import read_pages
from prox.generators import ProgramGenerator
from prox.program import RELEASE

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
WORDS = "one two three four five six seven eight nine ten eleven twelve"


class RemoveMarkedLines(ProgramGenerator):
    """Removes every line containing 'MENU'; drops documents containing 'SPAM'."""

    name = "marker"

    def doc_programs(self, texts):
        return ["drop_doc()" if "SPAM" in text else "keep_doc()" for text in texts]

    def chunk_programs(self, chunks):
        programs = []
        for chunk in chunks:
            calls = [
                f"remove_lines(line_start={chunk.first_line + i}, line_end={chunk.first_line + i})"
                for i, line in enumerate(chunk.lines)
                if "MENU" in line
            ]
            programs.append("\n".join(calls) or "keep_chunk()")
        return programs


def _write_gz(path, records):
    with gzip.open(path, "wt") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path


def test_binary_scores_by_hand():
    scores = BinaryScores()
    for gold, predicted in [(1, 1), (1, 1), (1, 0), (0, 0), (0, 1), (0, 0)]:
        scores.add(gold, predicted)
    report = scores.report()
    assert report["items"] == 6
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["keep_precision"] == pytest.approx(2 / 3) and report["keep_recall"] == pytest.approx(2 / 3)
    assert report["remove_precision"] == pytest.approx(2 / 3) and report["remove_f1"] == pytest.approx(2 / 3)
    assert report["balanced_accuracy"] == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_line_protocol_skips_bad_pages_and_ambiguous_lines(tmp_path):
    page = {
        "lines": ["MENU home", WORDS, f"{WORDS} MENU", WORDS, "MENU ambiguous"],
        "labels": [0, 1, 1, 1, 0],
        "scores": [0.0, 1.0, 1.0, None, 0.5],  # the last line is ambiguous and not scored
        "gold_empty": False,
        "gold_recall": 1.0,
    }
    skipped = [dict(page, gold_empty=True), dict(page, gold_recall=0.5)]
    gold = _write_gz(tmp_path / "gold.jsonl.gz", [page, *skipped])

    scores = evaluate_lines(read_pages(gold), RemoveMarkedLines(), RELEASE)

    assert scores["pages"] == 1
    assert scores["items"] == 4
    # line 0 removed correctly; line 2 (gold keep) wrongly removed; lines 1 and 3 kept correctly.
    assert scores["remove_precision"] == pytest.approx(1 / 2)
    assert scores["keep_recall"] == pytest.approx(2 / 3)
    assert scores["keep_precision"] == pytest.approx(1.0)


def test_a_dropped_page_counts_every_line_as_removed(tmp_path):
    page = {"lines": ["MENU", "MENU", "MENU"], "labels": [0, 1, 1], "scores": [0.0, 1.0, 1.0]}
    scores = evaluate_lines(read_pages(_write_gz(tmp_path / "g.jsonl.gz", [page])), RemoveMarkedLines(), RELEASE)
    assert scores["remove_recall"] == 1.0
    assert scores["keep_recall"] == 0.0


def test_doc_scores(tmp_path):
    docs = [{"text": WORDS, "label": 1}, {"text": f"SPAM {WORDS}", "label": 0}, {"text": "SPAM", "label": 1}]
    scores = evaluate_docs(read_labelled_docs(_write_gz(tmp_path / "d.jsonl.gz", docs)), RemoveMarkedLines(), RELEASE)
    assert scores["items"] == 3
    assert scores["accuracy"] == pytest.approx(2 / 3)
    assert scores["keep_recall"] == pytest.approx(1 / 2)


def test_malformed_gold_names_the_file_and_line(tmp_path):
    gold = _write_gz(tmp_path / "bad.jsonl.gz", [{"text": "no labels"}])
    with pytest.raises(ValueError, match=r"bad.jsonl.gz:1: a line-labelled page needs"):
        list(read_pages(gold))


@pytest.mark.skipif(not (SHARED / "line_labels" / "wcxb_dev.jsonl.gz").exists(), reason="needs ../shared/data")
def test_rules_baseline_matches_the_reference_figures_on_wcxb(capsys):
    # ../shared/data/README.md: C4 line rules reach keep-F1 0.516 and remove-F1 0.812 under this protocol.
    gold = SHARED / "line_labels" / "wcxb_dev.jsonl.gz"
    assert main(["eval", "lines", "--gold", str(gold), "--refiner", "rules", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["keep_f1"] == pytest.approx(0.516, abs=0.01)
    assert scores["remove_f1"] == pytest.approx(0.812, abs=0.01)
