"""`prox lite train` reads `prox synth` output folders: doc records label documents, chunk records label lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prox.cli import main
from prox.lite.data import LabelledDoc, LabelledPage, read_examples
from prox.lite.model import LiteModel

LINES = [f"Paragraph {index} about the harbour ferry timetable and its new sailings." for index in range(12)]
LABELS = [0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1]


@pytest.fixture
def synth_out(tmp_path: Path, llama2_dir: Path) -> Path:
    pages = [
        {"id": "page", "lines": LINES, "labels": LABELS},
        {"id": "short", "lines": ["Menu", "Text."], "labels": [0, 1]},
    ]
    docs = [{"id": "keep", "text": "A good page.", "label": 1}, {"id": "drop", "text": "buy buy buy", "label": 0}]
    source = tmp_path / "labels.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in [*pages, *docs]))
    out = tmp_path / "sft"
    # A small chunk budget cuts the 12-line page into several chunk records.
    command = ["synth", "labels", str(source), "-o", str(out), "--tokenizer", str(llama2_dir), "--chunk-budget", "60"]
    assert main(command) == 0
    return out


def test_chunk_records_give_back_each_page_and_its_line_labels_and_doc_records_their_labels(synth_out: Path):
    examples = list(read_examples(str(synth_out)))
    docs = [example for example in examples if isinstance(example, LabelledDoc)]
    pages = [example for example in examples if isinstance(example, LabelledPage)]
    assert [(doc.text, doc.label) for doc in docs] == [("A good page.", 1), ("buy buy buy", 0)]
    assert [(page.lines, page.labels) for page in pages] == [(LINES, LABELS), (["Menu", "Text."], [0, 1])]


def test_lite_train_learns_from_a_synth_folder(synth_out: Path, tmp_path: Path, capsys):
    model_dir = tmp_path / "lite"
    command = ["lite", "train", str(synth_out), "-o", str(model_dir), "--folds", "0", "--rounds", "5", "--threads", "1"]
    assert main(command) == 0
    assert "read 2 labelled pages and 2 labelled documents" in capsys.readouterr().err
    assert LiteModel.load(model_dir) is not None
