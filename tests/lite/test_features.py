"""`line_features`: one row per line, named by LINE_FEATURES, shaped by the line's page as well as the line."""

from __future__ import annotations

import numpy as np
import pytest

from prox.lite.features import BASE_FEATURES, CONTEXT_FEATURES, LINE_FEATURES, line_features

PROSE = "The harbour authority surveyed the old quay walls after the winter storms had passed."
NAV = ["Home", "News", "Sport", "Contact"]


def feature(rows: np.ndarray, name: str) -> np.ndarray:
    """The column of one named feature."""
    return rows[:, LINE_FEATURES.index(name)]


def test_a_row_per_line_and_a_column_per_named_feature():
    lines = [*NAV, PROSE, "Privacy Policy"]
    rows = line_features(lines, {})
    assert rows.shape == (len(lines), len(LINE_FEATURES))
    assert rows.dtype == np.float32
    assert LINE_FEATURES == BASE_FEATURES + CONTEXT_FEATURES
    assert len(set(LINE_FEATURES)) == len(LINE_FEATURES)


def test_an_empty_document_has_no_rows():
    assert line_features([], {}).shape == (0, len(LINE_FEATURES))


def test_the_named_columns_hold_what_their_names_say():
    rows = line_features(["Home", PROSE], {})
    assert feature(rows, "chars").tolist() == [4, len(PROSE)]
    assert feature(rows, "words").tolist() == [1, len(PROSE.split())]
    assert feature(rows, "terminal_punct").tolist() == [0, 1]
    assert feature(rows, "words@-1").tolist() == [-1, 1]  # nothing above the first line
    assert feature(rows, "words@+1").tolist() == [len(PROSE.split()), -1]


def test_the_same_line_gets_other_context_features_on_another_page():
    on_menu_page = line_features([*NAV, PROSE, *NAV], {})[len(NAV)]
    on_prose_page = line_features([PROSE, PROSE.upper(), PROSE.lower()], {})[0]
    base = [LINE_FEATURES.index(name) for name in ("chars", "words", "terminal_punct", "upper_share")]
    assert on_menu_page[base].tolist() == on_prose_page[base].tolist()
    for name in ("words@-1", "words@+1", "words~2", "position", "long_lines_share"):
        index = LINE_FEATURES.index(name)
        assert on_menu_page[index] != on_prose_page[index], name


def test_a_neighbour_changes_a_line_s_features():
    before = line_features(["Home", PROSE, "Contact"], {})[1]
    after = line_features(["Home", PROSE, PROSE.lower()], {})[1]
    assert not np.array_equal(before, after)
    assert after[LINE_FEATURES.index("words@+1")] == len(PROSE.split())
    assert before[LINE_FEATURES.index("words@+1")] == 1


def test_repeats_in_doc_counts_the_other_copies_of_a_line_ignoring_case_and_edges():
    lines = ["Share", PROSE, "share ", "  SHARE", "Back to top", "Back to top", "Unique line."]
    repeats = feature(line_features(lines, {}), "repeats_in_doc")
    assert repeats.tolist() == [2, 0, 2, 2, 1, 1, 0]


def test_empty_and_blank_lines_are_rows_of_zero_words():
    lines = [PROSE, "", "   ", "\t", PROSE]
    rows = line_features(lines, {})
    assert rows.shape[0] == 5
    assert feature(rows, "words").tolist() == [len(PROSE.split()), 0, 0, 0, len(PROSE.split())]
    assert feature(rows, "chars")[1] == 0
    assert np.isfinite(rows).all()


def test_a_multi_byte_character_counts_once():
    rows = line_features(["日本語", "café", "plain", "Ünïcödé ünïcödé"], {})
    assert feature(rows, "chars")[0] == 3
    assert feature(rows, "non_ascii_share").tolist() == pytest.approx([1.0, 0.25, 0.0, 8 / 15])
    assert feature(rows, "lower_share")[1] == pytest.approx(0.75)


def test_non_ascii_bytes_do_not_leak_into_the_next_line():
    rows = line_features(["ümlaut ärger öde", "ascii only", "…"], {})
    assert feature(rows, "non_ascii_share")[1] == 0.0
    assert feature(rows, "non_ascii_share")[2] == 1.0


def test_a_lone_surrogate_is_counted_not_fatal():
    rows = line_features(["broken \ud800 text", PROSE], {})
    assert rows.shape == (2, len(LINE_FEATURES)) and np.isfinite(rows).all()


def test_word_weights_feed_the_text_scores():
    weights = {"harbour": 2.0, "quay": 1.5, "home": -3.0}
    rows = line_features(["Home", PROSE], weights)
    assert feature(rows, "text_score_sum").tolist() == pytest.approx([-3.0, 3.5])
    assert feature(rows, "text_score_mean")[1] == pytest.approx(3.5 / len(PROSE.split()))
    assert feature(line_features(["Home", PROSE], {}), "text_score_sum").tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "lines",
    [
        [""],
        ["one"],
        ["", "", ""],
        [PROSE],
        [PROSE] * 40,
        ["x" * 20_000, "", "Home", "| | |", "→ ★ ✓", "1234 5678", "日本語のテキスト。", "\u200b"],
        [*NAV, "", PROSE, " ", *NAV[::-1]],
    ],
    ids=["empty-line", "one-word", "blank-page", "one-sentence", "repeated", "odd-lines", "mixed"],
)
def test_features_are_always_finite(lines):
    rows = line_features(lines, {"home": -2.0, "the": 0.5, "=home": -4.0})
    assert rows.shape == (len(lines), len(LINE_FEATURES))
    assert np.isfinite(rows).all()
