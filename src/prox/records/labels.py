"""Gold labels: the schemas of labelled records, the scoring protocol's rules, and the counts it reports.

Two schemas of ../shared/data: line-labelled pages (`line_labels`: `lines` and `labels`, 1 keep and 0
remove, or `snippet_labels` where only lines holding a human snippet are labelled; optional `scores`,
`gold_empty`, `gold_recall`) and keep/drop-labelled documents (`dclm_quality`: `text` and a 0/1 `label`).
The protocol of ../shared/data/README.md leaves out pages with no usable gold and lines with an ambiguous
alignment score, and micro-averages what is left. Evaluation scores refiners by it; lite training learns from
the same labels.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_GOLD_RECALL = 0.9
AMBIGUOUS_SCORES = (0.2, 0.8)


def skips_page(page: dict) -> bool:
    """Whether the protocol leaves this page out: no gold, gold the lines cover poorly, or no lines."""
    return bool(page.get("gold_empty")) or (page.get("gold_recall") or 1.0) < MIN_GOLD_RECALL or not page["lines"]


def is_ambiguous(score: float | None) -> bool:
    """Whether the protocol leaves this line out: its alignment to the gold is neither clearly in nor out."""
    low, high = AMBIGUOUS_SCORES
    return score is not None and low < score < high


def check_labelled_doc(record: dict, where: str) -> None:
    """Raise ValueError, naming `where`, unless the record is a document with a string `text` and a 0/1 `label`."""
    if not isinstance(record.get("text"), str) or record.get("label") not in (0, 1, True, False):
        raise ValueError(f"{where}: a labelled document needs a string 'text' and a 0/1 'label'")


@dataclass
class BinaryScores:
    """Counts of (gold, predicted) pairs for a keep(1)/remove(0) decision, micro-averaged."""

    true_keep: int = 0
    false_keep: int = 0  # predicted keep, gold remove
    true_remove: int = 0
    false_remove: int = 0  # predicted remove, gold keep

    def add(self, gold: int, predicted: int) -> None:
        if gold and predicted:
            self.true_keep += 1
        elif gold:
            self.false_remove += 1
        elif predicted:
            self.false_keep += 1
        else:
            self.true_remove += 1

    def merge(self, other: BinaryScores) -> None:
        """Add another set of counts to these (e.g. cross-validation folds, micro-averaged)."""
        self.true_keep += other.true_keep
        self.false_keep += other.false_keep
        self.true_remove += other.true_remove
        self.false_remove += other.false_remove

    @property
    def total(self) -> int:
        return self.true_keep + self.false_keep + self.true_remove + self.false_remove

    def report(self) -> dict[str, float | int]:
        """Precision, recall and F1 of both classes, accuracy and balanced accuracy."""
        keep_p, keep_r, keep_f = _prf(self.true_keep, self.false_keep, self.false_remove)
        remove_p, remove_r, remove_f = _prf(self.true_remove, self.false_remove, self.false_keep)
        return {
            "items": self.total,
            "accuracy": _ratio(self.true_keep + self.true_remove, self.total),
            "balanced_accuracy": (keep_r + remove_r) / 2,
            "keep_precision": keep_p,
            "keep_recall": keep_r,
            "keep_f1": keep_f,
            "remove_precision": remove_p,
            "remove_recall": remove_r,
            "remove_f1": remove_f,
        }


def _prf(true: int, false_positive: int, false_negative: int) -> tuple[float, float, float]:
    precision = _ratio(true, true + false_positive)
    recall = _ratio(true, true + false_negative)
    return precision, recall, _ratio(2 * precision * recall, precision + recall)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
