"""Confusion counts and the scores reported for them."""

from __future__ import annotations

from dataclasses import dataclass


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
