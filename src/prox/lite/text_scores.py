"""Word evidence for the line model: the log-odds that a line holding a token is kept (Bernoulli naive Bayes).

Cheap to fit, one dict lookup per word to apply, and it turns millions of possible n-grams into a handful of
dense features (sum, mean, first word, last word, whole line) that the tree model combines with page structure.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from prox.lite.features import line_tokens

MIN_TOKEN_LINES = 3
SMOOTHING = 1.0


def fit_text_weights(
    labelled_lines: Iterable[tuple[str, int]], min_lines: int = MIN_TOKEN_LINES, max_tokens: int | None = None
) -> dict[str, float]:
    """Log-odds weight of each token seen in at least `min_lines` labelled lines (keep 1, remove 0).

    With `max_tokens`, only the most frequent tokens are kept (the model file stays small).
    """
    kept: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    kept_lines = removed_lines = 0
    for line, label in labelled_lines:
        tokens = set(line_tokens(line))
        if label:
            kept.update(tokens)
            kept_lines += 1
        else:
            removed.update(tokens)
            removed_lines += 1
    counts = kept + removed
    frequent = [token for token, count in counts.most_common(max_tokens) if count >= min_lines]
    kept_total = math.log(kept_lines + 2 * SMOOTHING)
    removed_total = math.log(removed_lines + 2 * SMOOTHING)
    return {
        token: round(
            math.log(kept[token] + SMOOTHING) - kept_total - math.log(removed[token] + SMOOTHING) + removed_total, 4
        )
        for token in frequent
    }


def page_lines(pages: Sequence, indices: Iterable[int]) -> Iterable[tuple[str, int]]:
    """(line, label) of the labelled lines of the chosen pages."""
    for index in indices:
        page = pages[index]
        for line, label in zip(page.lines, page.labels, strict=True):
            if label is not None:
                yield line, label
