"""Evidence: how well a refiner's programs match human gold, under the shared data's scoring protocol."""

from prox.evaluation.docs import evaluate_docs
from prox.evaluation.lines import evaluate_lines
from prox.records.labels import BinaryScores

__all__ = ["BinaryScores", "evaluate_docs", "evaluate_lines"]
