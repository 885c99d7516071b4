"""Document features for the lite refiner's keep/drop model: the line model's verdict on the page plus the
statistics quality filters look at (Gopher, C4, FineWeb), computed once per document."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from prox.lite.features import BASE_FEATURES, TOKEN_PATTERN

_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with", "a", "in", "is", "it", "for", "on"})
_COLUMN = {name: index for index, name in enumerate(BASE_FEATURES)}

DOC_FEATURES = (
    "log_chars",
    "log_words",
    "log_lines",
    "kept_line_share",
    "kept_word_share",
    "log_kept_words",
    "mean_keep",
    "mean_text_score",
    "terminal_line_share",
    "bullet_line_share",
    "ellipsis_line_share",
    "duplicate_line_share",
    "short_line_share",
    "long_line_share",
    "nav_words_per_word",
    "url_line_share",
    "mean_word_length",
    "stop_word_share",
    "alpha_word_share",
    "upper_share",
    "digit_share",
    "symbol_share",
    "non_ascii_share",
    "unique_word_share",
)


def doc_features(text: str, base: np.ndarray, keep: np.ndarray, threshold: float) -> np.ndarray:
    """(len(DOC_FEATURES),) float32 for one document, from its line base features and keep probabilities."""
    words = TOKEN_PATTERN.findall(text.lower())
    word_count = max(len(words), 1)
    vocabulary = Counter(words)
    line_words = base[:, _COLUMN["words"]]
    kept = keep >= threshold
    chars = base[:, _COLUMN["chars"]]
    char_weights = chars / max(chars.sum(), 1.0)
    stripped_ends = [line.rstrip()[-3:] for line in text.split("\n")]
    values = [
        math.log1p(len(text)),
        math.log1p(len(words)),
        math.log1p(len(base)),
        kept.mean(),
        line_words[kept].sum() / max(line_words.sum(), 1.0),
        math.log1p(line_words[kept].sum()),
        keep.mean(),
        float(base[:, _COLUMN["text_score_sum"]].sum() / word_count),
        base[:, _COLUMN["terminal_punct"]].mean(),
        base[:, _COLUMN["bullet_start"]].mean(),
        float(np.mean([end.endswith(("...", "…")) for end in stripped_ends])),
        float((base[:, _COLUMN["repeats_in_doc"]] > 0).mean()),
        float((line_words < 4).mean()),
        float((line_words >= 12).mean()),
        base[:, _COLUMN["nav_words"]].sum() / word_count,
        base[:, _COLUMN["urlish"]].mean(),
        sum(map(len, words)) / word_count,
        sum(vocabulary[word] for word in _STOP_WORDS) / word_count,
        sum(count for word, count in vocabulary.items() if word.isalpha()) / word_count,
        *(
            float(base[:, _COLUMN[name]] @ char_weights)
            for name in ("upper_share", "digit_share", "symbol_share", "non_ascii_share")
        ),
        len(vocabulary) / word_count,
    ]
    return np.asarray(values, dtype=np.float32)
