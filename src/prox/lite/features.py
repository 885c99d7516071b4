"""Line features for the lite refiner: what a line looks like, what its page looks like around it.

Everything is computed per document in a few vectorised passes (numpy over the UTF-8 bytes for character
classes, one regex pass per line for words), so a page of a hundred lines costs well under a millisecond.
The same functions build training rows and inference rows, so the two can never drift apart.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import repeat

import numpy as np

# Byte classes counted per line; multi-byte UTF-8 characters count once, by their lead byte.
_UPPER, _LOWER, _DIGIT, _SPACE, _PUNCT, _SYMBOL, _NON_ASCII, _CONTINUATION = range(8)
_CLASS_COUNT = 8
_BYTE_CLASS = np.full(256, _SYMBOL, dtype=np.int64)
_BYTE_CLASS[ord("A") : ord("Z") + 1] = _UPPER
_BYTE_CLASS[ord("a") : ord("z") + 1] = _LOWER
_BYTE_CLASS[ord("0") : ord("9") + 1] = _DIGIT
for _char in " \t\r\f\v":
    _BYTE_CLASS[ord(_char)] = _SPACE
for _char in ".,;:!?'\"()-":
    _BYTE_CLASS[ord(_char)] = _PUNCT
_BYTE_CLASS[0x80:0xC0] = _CONTINUATION
_BYTE_CLASS[0xC0:] = _NON_ASCII

TOKEN_PATTERN = re.compile(r"\w+", re.UNICODE)
_TOKEN_OR_NEWLINE = re.compile(r"\w+|\n", re.UNICODE)
_TERMINAL = frozenset(".!?\"'”’»)。！？")
_CONTINUING = frozenset(",;:-–—")
_BULLETS = frozenset("*-•·>|»›◦▪●■→+#")
# Words of menus, share buttons, footers and comment widgets.
NAV_WORDS = frozenset(
    {
        "home",
        "menu",
        "login",
        "log",
        "sign",
        "register",
        "subscribe",
        "newsletter",
        "share",
        "tweet",
        "facebook",
        "twitter",
        "instagram",
        "linkedin",
        "pinterest",
        "youtube",
        "whatsapp",
        "email",
        "print",
        "cookie",
        "cookies",
        "privacy",
        "terms",
        "copyright",
        "reserved",
        "contact",
        "search",
        "skip",
        "more",
        "next",
        "previous",
        "prev",
        "comment",
        "comments",
        "reply",
        "posted",
        "tag",
        "tags",
        "category",
        "categories",
        "related",
        "advertisement",
        "sponsored",
        "cart",
        "checkout",
        "account",
        "follow",
    }
)
_URLISH = re.compile(r"https?://|www\.|\.com\b|@\w+\.\w")
_DATEISH = re.compile(r"\b(19|20)\d\d\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b")

LONG_LINE_WORDS = 12
SHORT_LINE_WORDS = 6
FIRST_TOKEN = "^"
LAST_TOKEN = "$"
WHOLE_LINE = "="
MAX_WHOLE_LINE_CHARS = 80

BASE_FEATURES = (
    "chars",
    "words",
    "log_chars",
    "upper_share",
    "lower_share",
    "digit_share",
    "space_share",
    "punct_share",
    "symbol_share",
    "non_ascii_share",
    "terminal_punct",
    "continuing_punct",
    "bullet_start",
    "title_words_share",
    "mean_word_length",
    "urlish",
    "dateish",
    "pipes",
    "repeats_in_doc",
    "text_score_sum",
    "text_score_mean",
    "text_score_first",
    "text_score_last",
    "text_score_line",
    "known_token_share",
    "nav_words",
)
_NEIGHBOUR_SOURCES = ("words", "terminal_punct", "text_score_mean", "text_score_line", "nav_words", "log_chars")
_NEIGHBOUR_OFFSETS = (-3, -2, -1, 1, 2, 3)
_WINDOWS = (2, 5, 15)
_WINDOW_SOURCES = ("text_score_mean", "long_line", "words")
CONTEXT_FEATURES = (
    *(f"{name}@{offset:+d}" for name in _NEIGHBOUR_SOURCES for offset in _NEIGHBOUR_OFFSETS),
    *(f"{name}~{window}" for name in _WINDOW_SOURCES for window in _WINDOWS),
    "position",
    "line_index",
    "lines_to_end",
    "log_lines",
    "doc_words",
    "long_lines_share",
    "before_main_text",
    "after_main_text",
    "from_first_long",
    "to_last_long",
    "words_before_share",
    "short_run_length",
    "short_run_position",
    "prev_long_distance",
    "next_long_distance",
    "same_length_run",
    *(f"{name}_segment{part}" for name in ("text_score_mean", "text_score_sum") for part in ("", "_best", "_gap")),
)
LINE_FEATURES = BASE_FEATURES + CONTEXT_FEATURES


def line_tokens(line: str) -> list[str]:
    """The lower-cased word tokens of a line plus its first/last-word and whole-line markers, as in the
    text-score vocabulary."""
    lowered = line.lower()
    words = TOKEN_PATTERN.findall(lowered)
    if not words:
        return []
    first, last, whole = _marker_tokens(words, lowered.strip())
    return [*words, first, last] if whole is None else [*words, first, last, whole]


def _marker_tokens(words: Sequence[str], stripped: str) -> tuple[str, str, str | None]:
    """A line's first-word, last-word and whole-line tokens (None for lines too long to be boilerplate)."""
    whole = WHOLE_LINE + stripped if len(stripped) <= MAX_WHOLE_LINE_CHARS else None
    return FIRST_TOKEN + words[0], LAST_TOKEN + words[-1], whole


def _class_counts(text: str, count: int) -> np.ndarray:
    """(lines, classes) counts of byte classes per line of `text`, which has `count` lines."""
    data = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    newline = data == 10
    line_ids = np.cumsum(newline) - newline
    keep = ~newline
    keys = line_ids[keep] * _CLASS_COUNT + _BYTE_CLASS[data[keep]]
    return np.bincount(keys, minlength=count * _CLASS_COUNT).reshape(count, _CLASS_COUNT)


def _words_per_line(lowered_text: str, count: int) -> list[list[str]]:
    """The word tokens of each line, from one regex pass over the whole (lower-cased) document."""
    tokens = _TOKEN_OR_NEWLINE.findall(lowered_text)
    tokens.append("\n")
    words, start = [], 0
    index = tokens.index
    for _ in range(count):
        end = index("\n", start)
        words.append(tokens[start:end])
        start = end + 1
    return words


def _text_scores(
    lowered: Sequence[str], words_per_line: Sequence[list[str]], weights: Mapping[str, float]
) -> np.ndarray:
    """(lines, 7): sum, mean, first-word, last-word and whole-line scores, the share of known words, and the
    number of distinct navigation words."""
    get = weights.get
    known = weights.__contains__
    nav_words = NAV_WORDS
    rows = []
    for line, words in zip(lowered, words_per_line, strict=True):
        if not words:
            rows.append(_NO_WORDS)
            continue
        first, last, whole = _marker_tokens(words, line.strip())
        total = sum(map(get, words, repeat(0.0)))
        rows.append(
            (
                total,
                total / len(words),
                get(first, 0.0),
                get(last, 0.0),
                0.0 if whole is None else get(whole, 0.0),
                sum(map(known, words)) / len(words),
                len(nav_words.intersection(words)),
            )
        )
    return np.array(rows, dtype=np.float64).reshape(len(lowered), 7)


def _lines_matching(pattern: re.Pattern, text: str, line_starts: np.ndarray) -> np.ndarray:
    """1.0 for each line holding a match of `pattern` (which never spans a newline), from one pass over the text."""
    flags = np.zeros(len(line_starts), dtype=np.float64)
    starts = [match.start() for match in pattern.finditer(text)]
    if starts:
        flags[np.searchsorted(line_starts, starts, side="right") - 1] = 1.0
    return flags


_NO_WORDS = (0.0,) * 7


def base_features(lines: Sequence[str], weights: Mapping[str, float]) -> np.ndarray:
    """(lines, len(BASE_FEATURES)) features of each line on its own (plus its repeats in the document)."""
    count = len(lines)
    if not count:
        return np.empty((0, len(BASE_FEATURES)), dtype=np.float64)
    text = "\n".join(lines)
    classes = _class_counts(text, count).astype(np.float64)
    lengths = [len(line) for line in lines]
    chars = np.array(lengths, dtype=np.float64)
    line_starts = np.concatenate(([0], np.cumsum(chars[:-1] + 1)))
    lowered_text = text.lower()
    # lower() never makes or removes a newline, so the lowered text splits into the same lines
    lowered = lowered_text.split("\n")
    visible = np.maximum(classes[:, [_UPPER, _LOWER, _DIGIT, _SPACE, _PUNCT, _SYMBOL, _NON_ASCII]].sum(1), 1.0)
    stripped = [line.strip() for line in lines]
    words = [line.split() for line in stripped]
    word_counts = np.array([len(w) for w in words], dtype=np.float64)
    last = [s[-1:] for s in stripped]
    stripped_lowered = [line.strip() for line in lowered]
    repeats = Counter(stripped_lowered)
    features = np.empty((count, len(BASE_FEATURES)), dtype=np.float64)
    features[:, 0] = chars
    features[:, 1] = word_counts
    features[:, 2] = np.log1p(chars)
    for column, byte_class in enumerate((_UPPER, _LOWER, _DIGIT, _SPACE, _PUNCT, _SYMBOL, _NON_ASCII), start=3):
        features[:, column] = classes[:, byte_class] / visible
    features[:, 10] = [char in _TERMINAL for char in last]
    features[:, 11] = [char in _CONTINUING for char in last]
    features[:, 12] = [s[:1] in _BULLETS for s in stripped]
    features[:, 13] = [sum(map(str.istitle, w)) / len(w) if w else 0.0 for w in words]
    features[:, 14] = (chars - classes[:, _SPACE]) / np.maximum(word_counts, 1.0)
    features[:, 15] = _lines_matching(_URLISH, text, line_starts)
    features[:, 16] = _lines_matching(_DATEISH, text, line_starts)
    features[:, 17] = [s.count("|") for s in stripped]
    features[:, 18] = [repeats[s] - 1 for s in stripped_lowered]
    features[:, 19:26] = _text_scores(lowered, _words_per_line(lowered_text, count), weights)
    return features


def _shift(values: np.ndarray, offset: int, fill: float) -> np.ndarray:
    """values[i + offset], `fill` outside the document."""
    shifted = np.full_like(values, fill)
    if offset > 0:
        shifted[:-offset] = values[offset:]
    elif offset < 0:
        shifted[-offset:] = values[:offset]
    else:
        shifted[:] = values
    return shifted


def _window_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean of values[i - radius : i + radius + 1], clipped to the document."""
    sums = np.concatenate(([0.0], np.cumsum(values)))
    index = np.arange(len(values))
    low = np.maximum(index - radius, 0)
    high = np.minimum(index + radius + 1, len(values))
    return (sums[high] - sums[low]) / (high - low)


def _run_lengths(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each line: the length of the run of equal flags it sits in, and its relative place in that run."""
    count = len(flags)
    starts = np.flatnonzero(np.concatenate(([True], flags[1:] != flags[:-1])))
    lengths = np.diff(np.concatenate((starts, [count])))
    run_of_line = np.repeat(np.arange(len(starts)), lengths)
    length = lengths[run_of_line].astype(np.float64)
    place = (np.arange(count) - starts[run_of_line]) / np.maximum(length - 1, 1)
    return length, place


def _distance_to_flag(flags: np.ndarray, forward: bool) -> np.ndarray:
    """Lines to the nearest flagged line before (or after) each line; the document length when there is none."""
    count = len(flags)
    index = np.arange(count)
    if forward:
        marks = np.where(flags, index, count * 2)
        nearest = np.minimum.accumulate(marks[::-1])[::-1]
        return np.minimum(nearest - index, count).astype(np.float64)
    marks = np.where(flags, index, -count * 2)
    nearest = np.maximum.accumulate(marks)
    return np.minimum(index - nearest, count).astype(np.float64)


def context_features(base: np.ndarray) -> np.ndarray:
    """(lines, len(CONTEXT_FEATURES)) features of each line's neighbourhood and of its place in the page."""
    count = len(base)
    column = {name: base[:, BASE_FEATURES.index(name)] for name in BASE_FEATURES}
    words = column["words"]
    long_line = ((words >= LONG_LINE_WORDS) & (column["terminal_punct"] > 0)).astype(np.float64)
    column["long_line"] = long_line
    parts = [_shift(column[name], offset, -1.0) for name in _NEIGHBOUR_SOURCES for offset in _NEIGHBOUR_OFFSETS]
    parts += [_window_mean(column[name], window) for name in _WINDOW_SOURCES for window in _WINDOWS]
    index = np.arange(count, dtype=np.float64)
    total_words = max(words.sum(), 1.0)
    long_positions = np.flatnonzero(long_line)
    first_long = long_positions[0] if len(long_positions) else count
    last_long = long_positions[-1] if len(long_positions) else -1
    short_length, short_place = _run_lengths(words < SHORT_LINE_WORDS)
    same_length, _ = _run_lengths(np.minimum(words, 4))
    parts += [
        index / max(count - 1, 1),
        index,
        count - 1 - index,
        np.full(count, np.log1p(count)),
        np.full(count, np.log1p(total_words)),
        np.full(count, long_line.mean()),
        (index < first_long).astype(np.float64),
        (index > last_long).astype(np.float64),
        index - first_long,
        last_long - index,
        (np.cumsum(words) - words) / total_words,
        np.where(words < SHORT_LINE_WORDS, short_length, 0.0),
        np.where(words < SHORT_LINE_WORDS, short_place, -1.0),
        _distance_to_flag(long_line > 0, forward=False),
        _distance_to_flag(long_line > 0, forward=True),
        same_length,
    ]
    for name in ("text_score_mean", "text_score_sum"):
        parts.extend(_best_segment_through(column[name]))
    return np.column_stack(parts)


def _best_segment_through(evidence: np.ndarray) -> list[np.ndarray]:
    """Where the main text is: the best-scoring run of lines through each line (maximum-subarray sums), as a share
    of the page's best run, whether the line sits in that best run, and how far its best run falls short."""
    sums = np.concatenate(([0.0], np.cumsum(evidence)))
    lowest_before = np.minimum.accumulate(sums[:-1])
    highest_after = np.maximum.accumulate(sums[1:][::-1])[::-1]
    through = highest_after - lowest_before
    best = through.max()
    return [through / (abs(best) + 1e-6), (through >= best - 1e-9).astype(np.float64), through - best]


def line_features(lines: Sequence[str], weights: Mapping[str, float]) -> np.ndarray:
    """(lines, len(LINE_FEATURES)) float32 rows for one document."""
    if not lines:
        return np.empty((0, len(LINE_FEATURES)), dtype=np.float32)
    base = base_features(lines, weights)
    return np.hstack((base, context_features(base))).astype(np.float32)


PASS_FEATURES = tuple(
    [f"keep@{offset:+d}" for offset in (-3, -2, -1, 0, 1, 2, 3)]
    + [f"keep~{window}" for window in (1, 2, 5, 10, 25)]
    + ["keep_min~2", "keep_max~2", "keep_doc_mean", "keep_before", "keep_after", "keep_run_length"]
)


def pass_features(probabilities: np.ndarray) -> np.ndarray:
    """(lines, len(PASS_FEATURES)) features of a first pass's keep probabilities around each line, for the
    second pass (a stacked model that sees its neighbours' decisions)."""
    count = len(probabilities)
    p = probabilities.astype(np.float64)
    parts = [_shift(p, offset, -1.0) for offset in (-3, -2, -1, 0, 1, 2, 3)]
    parts += [_window_mean(p, window) for window in (1, 2, 5, 10, 25)]
    stacked = np.column_stack([_shift(p, offset, np.nan) for offset in (-2, -1, 0, 1, 2)])
    parts += [np.nanmin(stacked, axis=1), np.nanmax(stacked, axis=1), np.full(count, p.mean())]
    sums = np.cumsum(p)
    index = np.arange(count)
    parts += [
        (sums - p) / np.maximum(index, 1),
        (sums[-1] - sums) / np.maximum(count - 1 - index, 1),
        _run_lengths(p >= 0.5)[0],
    ]
    return np.column_stack(parts).astype(np.float32)
