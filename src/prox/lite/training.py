"""Training the lite refiner from labelled pages and documents, with cross-validated metrics.

The line model is fitted on word log-odds computed out-of-fold (a page's text scores never come from its own
labels, so training rows look like the unseen pages the model will meet), plus page-structure features.
Cross-validation folds are whole pages or documents; everything is seeded, so a rerun rebuilds the same model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from prox.lite.data import LabelledDoc, LabelledPage
from prox.lite.doc_features import DOC_FEATURES
from prox.lite.features import line_features
from prox.lite.model import LiteModel, LogisticModel, load_lightgbm
from prox.lite.text_scores import fit_text_weights, page_lines
from prox.records.labels import BinaryScores

TEXT_SCORE_FOLDS = 5
T = TypeVar("T")
MAX_TEXT_TOKENS = 60_000


@dataclass(frozen=True)
class TrainingSettings:
    seed: int = 0
    folds: int = 5  # cross-validation folds for the reported metrics; 0 or 1 skips validation
    rounds: int = 100
    learning_rate: float = 0.15
    num_leaves: int = 31
    min_data_in_leaf: int = 40
    threads: int = 0  # 0 = all cores
    doc_regularisation: float = 0.3


Progress = Callable[[str], None]


def _booster_params(settings: TrainingSettings) -> dict:
    return {
        "objective": "binary",
        "learning_rate": settings.learning_rate,
        "num_leaves": settings.num_leaves,
        "min_data_in_leaf": settings.min_data_in_leaf,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "seed": settings.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": settings.threads,
        "verbose": -1,
    }


def _folds(count: int, folds: int, seed: int) -> np.ndarray:
    """A fold number per item, balanced and seeded."""
    order = np.random.default_rng(seed).permutation(count)
    assignment = np.empty(count, dtype=np.int64)
    assignment[order] = np.arange(count) % folds
    return assignment


def _labels(page: LabelledPage) -> np.ndarray:
    return np.array([-1 if label is None else label for label in page.labels], dtype=np.int64)


def _split(items: Sequence[T], assignment: np.ndarray, fold: int) -> tuple[list[T], list[T]]:
    """The items outside `fold` (to train on) and inside it (to score)."""
    train = [item for item, f in zip(items, assignment, strict=True) if f != fold]
    test = [item for item, f in zip(items, assignment, strict=True) if f == fold]
    return train, test


def fit_line_model(pages: Sequence[LabelledPage], settings: TrainingSettings) -> tuple[dict[str, float], object]:
    """Word log-odds from all pages, and a boosted line model trained on out-of-fold text scores."""
    lightgbm = load_lightgbm()
    inner = _folds(len(pages), min(TEXT_SCORE_FOLDS, len(pages)), settings.seed + 1)
    rows: list[np.ndarray] = [np.empty(0)] * len(pages)
    for fold in np.unique(inner):
        weights = fit_text_weights(page_lines(pages, np.flatnonzero(inner != fold)), max_tokens=MAX_TEXT_TOKENS)
        for index in np.flatnonzero(inner == fold):
            rows[index] = line_features(pages[index].lines, weights)
    features = np.vstack(rows)
    labels = np.concatenate([_labels(page) for page in pages])
    known = labels >= 0
    if len(np.unique(labels[known])) < 2:
        raise ValueError("the line model needs lines labelled keep and lines labelled remove")
    booster = lightgbm.train(
        _booster_params(settings),
        lightgbm.Dataset(features[known], labels[known], free_raw_data=True),
        num_boost_round=settings.rounds,
    )
    return fit_text_weights(page_lines(pages, range(len(pages))), max_tokens=MAX_TEXT_TOKENS), booster


def fit_doc_model(docs: Sequence[LabelledDoc], model: LiteModel, settings: TrainingSettings) -> LogisticModel:
    """A standardised L2 logistic regression on document features (the line model's verdict included)."""
    from sklearn.linear_model import LogisticRegression

    rows = doc_rows(docs, model).astype(np.float64)
    labels = np.array([doc.label for doc in docs])
    if len(np.unique(labels)) < 2:  # e.g. a teacher that kept everything: the student does the same
        return LogisticModel.constant(len(DOC_FEATURES), keep=bool(labels[0]))
    mean = rows.mean(axis=0)
    scale = np.where(rows.std(axis=0) > 1e-9, rows.std(axis=0), 1.0)
    regression = LogisticRegression(C=settings.doc_regularisation, max_iter=2000)
    regression.fit((rows - mean) / scale, labels)
    return LogisticModel(mean, scale, regression.coef_[0], float(regression.intercept_[0]))


def doc_rows(docs: Sequence[LabelledDoc], model: LiteModel) -> np.ndarray:
    texts = [doc.text for doc in docs]
    bases, keeps = model.line_probabilities([text.split("\n") for text in texts])
    return model.doc_feature_rows(texts, bases, keeps)


def line_scores(pages: Sequence[LabelledPage], model: LiteModel) -> BinaryScores:
    """Keep/remove confusion counts of the model's line decisions on labelled pages."""
    scores = BinaryScores()
    _, keeps = model.line_probabilities([page.lines for page in pages])
    for page, keep in zip(pages, keeps, strict=True):
        for label, probability in zip(page.labels, keep, strict=True):
            if label is not None:
                scores.add(label, int(probability >= model.line_threshold))
    return scores


def doc_scores(docs: Sequence[LabelledDoc], model: LiteModel) -> BinaryScores:
    """Keep/drop confusion counts of the model's document decisions."""
    scores = BinaryScores()
    for doc, verdict in zip(docs, model.verdicts([doc.text for doc in docs]), strict=True):
        scores.add(doc.label, int(verdict.doc_keep >= model.doc_threshold))
    return scores


def _merge_fold_scores(folds: list[BinaryScores]) -> dict:
    """Scores micro-averaged over the folds."""
    merged = BinaryScores()
    for scores in folds:
        merged.merge(scores)
    return merged.report()


def train_lite(
    pages: Sequence[LabelledPage],
    docs: Sequence[LabelledDoc],
    settings: TrainingSettings = TrainingSettings(),
    progress: Progress = print,
) -> LiteModel:
    """Cross-validate (when settings.folds > 1), then fit on everything; the report lands in `model.report`."""
    report: dict = {"settings": vars(settings), "pages": len(pages), "docs": len(docs)}
    if docs and len({doc.label for doc in docs}) == 1:
        verdict = "keep" if docs[0].label else "drop"
        progress(f"every document is labelled {verdict}: the doc stage will {verdict} every document")
    line_labels = {label for page in pages for label in page.labels if label is not None}
    if line_labels == {1}:  # e.g. a teacher that never removed a line: the student does the same
        progress("every labelled line is labelled keep: the chunk stage will keep every line")
        pages = []
    if settings.folds > 1 and pages:
        fold_reports = []
        by_input: dict[str, list[BinaryScores]] = {}
        page_folds = _folds(len(pages), settings.folds, settings.seed)
        for fold in range(settings.folds):
            train, test = _split(pages, page_folds, fold)
            fold_model = LiteModel(*fit_line_model(train, settings), None)
            fold_reports.append(line_scores(test, fold_model))
            for name, group in _by_input(test).items():
                by_input.setdefault(name, []).append(line_scores(group, fold_model))
            progress(f"line model, fold {fold + 1}/{settings.folds}: {_describe(fold_reports[-1].report())}")
        report["line_cross_validation"] = _merge_fold_scores(fold_reports)
        report["line_cross_validation_by_input"] = {name: _merge_fold_scores(f) for name, f in by_input.items()}
        progress(f"line model, {settings.folds}-fold cross-validation: {_describe(report['line_cross_validation'])}")
        if len(by_input) > 1:
            for name, scores in report["line_cross_validation_by_input"].items():
                progress(f"  of which {name}: {_describe(scores)}")
    model = LiteModel({}, None, None)
    if pages:
        progress(f"line model: fitting on {len(pages)} pages")
        model.text_weights, model.line_model = fit_line_model(pages, settings)
    if docs and settings.folds > 1 and len({doc.label for doc in docs}) > 1:
        fold_reports = []
        doc_folds = _folds(len(docs), settings.folds, settings.seed)
        for fold in range(settings.folds):
            train, test = _split(docs, doc_folds, fold)
            fold_model = LiteModel(model.text_weights, model.line_model, fit_doc_model(train, model, settings))
            fold_reports.append(doc_scores(test, fold_model))
        report["doc_cross_validation"] = _merge_fold_scores(fold_reports)
        progress(f"doc model, {settings.folds}-fold cross-validation: {_describe(report['doc_cross_validation'])}")
    if docs:
        progress(f"doc model: fitting on {len(docs)} documents")
        model.doc_model = fit_doc_model(docs, model, settings)
    model.report = report
    return model


def _by_input(pages: Sequence[LabelledPage]) -> dict[str, list[LabelledPage]]:
    """Pages grouped by the file (or output folder) they came from."""
    groups: dict[str, list[LabelledPage]] = {}
    for page in pages:
        groups.setdefault(page.source.rsplit(":", 1)[0], []).append(page)
    return groups


def _describe(scores: dict) -> str:
    shown = ("keep_f1", "remove_f1", "accuracy", "balanced_accuracy")
    return ", ".join(f"{name} {scores[name]:.3f}" for name in shown if isinstance(scores.get(name), float))
