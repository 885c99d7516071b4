"""`train_lite`: learns a separable corpus, reports cross-validated scores, and saves a reproducible model folder."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from prox.lite.data import LabelledDoc, LabelledPage
from prox.lite.model import LiteModel
from prox.lite.training import train_lite


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_held_out_lines_are_scored_in_the_report(trained, synthetic):
    model, messages = trained
    line_scores = model.report["line_cross_validation"]
    assert line_scores["keep_f1"] > 0.9 and line_scores["remove_f1"] > 0.9
    assert line_scores["items"] == sum(len(page.lines) for page in synthetic.pages(40))
    assert model.report["pages"] == 40 and model.report["docs"] == 40
    assert any("3-fold cross-validation" in message for message in messages)


def test_held_out_documents_are_separated(trained):
    model, _ = trained
    assert model.report["doc_cross_validation"]["accuracy"] > 0.9
    assert model.report["doc_cross_validation"]["items"] == 40


def test_the_model_separates_unseen_pages_and_documents(trained, synthetic):
    model, _ = trained
    rng = random.Random(99)
    lines, labels = synthetic.page(rng)
    prose, links = synthetic.prose_doc(rng), synthetic.link_list(rng)
    page_verdict, prose_verdict, links_verdict = model.verdicts(["\n".join(lines), prose, links])
    kept = (page_verdict.line_keep >= model.line_threshold).astype(int).tolist()
    assert kept == labels
    assert prose_verdict.doc_keep >= model.doc_threshold > links_verdict.doc_keep


def test_a_saved_model_loads_with_the_same_verdicts(trained, trained_dir: Path, synthetic):
    model, _ = trained
    loaded = LiteModel.load(trained_dir)
    texts = ["\n".join(synthetic.page(random.Random(seed))[0]) for seed in range(5)]
    texts += [synthetic.link_list(random.Random(5)), "", "One line only."]
    for original, again in zip(model.verdicts(texts), loaded.verdicts(texts), strict=True):
        assert np.array_equal(original.line_keep, again.line_keep)
        assert original.doc_keep == again.doc_keep
    assert loaded.text_weights == model.text_weights
    assert (loaded.line_threshold, loaded.doc_threshold) == (model.line_threshold, model.doc_threshold)
    assert loaded.report == json.loads(json.dumps(model.report))


def test_the_same_seed_writes_byte_identical_model_folders(tmp_path: Path, synthetic):
    for name in ("first", "second"):
        train_lite(synthetic.pages(30), synthetic.docs(20), synthetic.SETTINGS, lambda _: None).save(tmp_path / name)
    first, second = folder_bytes(tmp_path / "first"), folder_bytes(tmp_path / "second")
    assert set(first) == {"model.json", "text_weights.tsv.gz", "line_model.txt.gz"}
    assert first == second


@pytest.mark.parametrize(
    "change",
    [
        {"format_version": 999},
        {"line_features": ["chars", "words"]},
        {"doc_features": []},
    ],
    ids=["format-version", "line-features", "doc-features"],
)
def test_a_model_folder_of_another_version_names_the_command_to_rebuild_it(
    trained_dir: Path, tmp_path: Path, change: dict
):
    folder = tmp_path / "old-model"
    folder.mkdir()
    for name, data in folder_bytes(trained_dir).items():
        (folder / name).write_bytes(data)
    config = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps(config | change))
    with pytest.raises(ValueError, match="prox lite train"):
        LiteModel.load(folder)


def test_a_folder_without_a_model_names_the_command_to_build_one(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="prox lite train"):
        LiteModel.load(tmp_path)


def test_a_model_trained_on_pages_only_keeps_every_document(tmp_path: Path, synthetic):
    settings = replace(synthetic.SETTINGS, folds=0)
    model = train_lite(synthetic.pages(40), [], settings, lambda _: None)
    assert model.doc_model is None and "doc_cross_validation" not in model.report
    model.save(tmp_path / "pages-only")
    loaded = LiteModel.load(tmp_path / "pages-only")
    assert loaded.doc_model is None
    rng = random.Random(7)
    links = [synthetic.link_list(rng) for _ in range(3)]
    assert [verdict.doc_keep for verdict in loaded.verdicts(links)] == [1.0, 1.0, 1.0]
    # the line model still works
    lines, labels = synthetic.page(rng)
    [verdict] = loaded.verdicts(["\n".join(lines)])
    assert (verdict.line_keep >= loaded.line_threshold).astype(int).tolist() == labels


def test_unlabelled_lines_do_not_count(synthetic):
    pages = synthetic.pages(40)
    unlabelled = [LabelledPage(page.lines, [None] * len(page.lines), page.source) for page in pages[:10]]
    model = train_lite([*unlabelled, *pages[10:]], [], synthetic.SETTINGS, lambda _: None)
    assert model.report["line_cross_validation"]["items"] == sum(len(page.lines) for page in pages[10:])


@pytest.mark.parametrize("folds", [0, 3])
def test_lines_all_removed_are_refused(synthetic, folds: int):
    pages = [LabelledPage(page.lines, [0] * len(page.lines), page.source) for page in synthetic.pages(12)]
    with pytest.raises(ValueError, match="lines labelled keep and lines labelled remove"):
        train_lite(pages, [], replace(synthetic.SETTINGS, folds=folds), lambda _: None)


def test_lines_all_kept_give_a_chunk_stage_that_keeps_every_line(synthetic):
    pages = [LabelledPage(page.lines, [1] * len(page.lines), page.source) for page in synthetic.pages(12)]
    messages: list[str] = []
    model = train_lite(pages, [], synthetic.SETTINGS, messages.append)
    assert model.line_model is None
    assert any("keep every line" in message for message in messages)
    (verdict,) = model.verdicts(["Home\nNews\nA long sentence of prose that goes on for a while."])
    assert verdict.line_keep.min() >= model.line_threshold


@pytest.mark.parametrize("label", [0, 1])
def test_documents_of_one_class_give_that_verdict_to_every_document(synthetic, label: int):
    docs = [LabelledDoc(doc.text, label, doc.source) for doc in synthetic.docs(12)]
    model = train_lite(synthetic.pages(12), docs, synthetic.SETTINGS, lambda _: None)
    verdicts = model.verdicts([doc.text for doc in synthetic.docs(6)] + ["anything at all"])
    assert all((verdict.doc_keep >= model.doc_threshold) == bool(label) for verdict in verdicts)
