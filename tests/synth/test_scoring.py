"""Reading a teacher's doc scores from its answers, and the keep/drop label they give."""

from __future__ import annotations

import pytest

from prox.synth.scoring import ScoreFailure, doc_target, keep_document, parse_score

CRITIQUE = "The page explains photosynthesis clearly but stops short of the light reactions."


@pytest.mark.parametrize(
    ("answer", "points"),
    [
        (f"{CRITIQUE}\nEducational score: 3", 3),
        (f"{CRITIQUE}\n\nEducational score: 0\n", 0),
        (f"{CRITIQUE}\nEducational score: 5", 5),
        ("**Educational score: 4**", 4),
        ("**Educational score:** 4", 4),
        ("Educational Score: **2**", 2),
        ("*Educational score*: 1", 1),
        ("EDUCATIONAL SCORE: 2", 2),
        ("Educational score:3", 3),
        ("Educational score: 3/5", 3),
        ("Educational score: 3 / 5", 3),
        ("Educational score: 3 out of 5", 3),
        ("Educational score: 3.", 3),
        ("Educational score: 3.0", 3),
        ("Educational score: 3 points. The text would suit a middle-school class.", 3),
        ("Educational score: 3 (1 + 1 + 1)", 3),
        ("Educational score is 4", 4),
        ("### Educational score: 2", 2),
        ("I award 3 points.\nEducational score: 3\n\nEducational score: 3", 3),
    ],
)
def test_well_formed_and_decorated_score_lines_are_read(answer, points):
    assert parse_score(answer, "educational") == points


@pytest.mark.parametrize(
    ("answer", "points"),
    [
        ("Leftover menus at the top.\nExtraction Quality Score: 2", 2),
        ("**Extraction quality score:** 4/5", 4),
        ("extraction quality score - 5", 5),
    ],
)
def test_format_scores_are_read_from_their_own_line(answer, points):
    assert parse_score(answer, "format") == points


@pytest.mark.parametrize(
    ("answer", "kind", "reason"),
    [
        (CRITIQUE, "educational", "no 'Educational score: <points>' line"),
        (f"{CRITIQUE}\nScore: 3", "educational", "no 'Educational score: <points>' line"),
        ("Educational score: three", "educational", "no 'Educational score: <points>' line"),
        ("Educational score: <points>", "educational", "no 'Educational score: <points>' line"),
        ("", "educational", "no 'Educational score: <points>' line"),
        ("Educational score: 4", "format", "no 'Extraction Quality Score: <points>' line"),
        ("Extraction Quality Score: 4", "educational", "no 'Educational score: <points>' line"),
    ],
)
def test_a_missing_or_garbled_score_is_a_failure(answer, kind, reason):
    assert parse_score(answer, kind) == ScoreFailure(reason)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Educational score: 6", "Educational score: 6 is out of range (0-5)"),
        ("Educational score: 12", "Educational score: 12 is out of range (0-5)"),
        ("Educational score: -1", "Educational score: -1 is out of range (0-5)"),
        ("Educational score: 3.5", "Educational score: 3.5 is not a whole number"),
        ("Educational score: 7/10", "Educational score: 7/10 is not on the 0-5 scale"),
        ("Educational score: 1 + 1 + 1 = 3", "Educational score: 1 is followed by a sum, not given as one number"),
    ],
)
def test_a_score_out_of_range_or_not_a_whole_number_is_a_failure(answer, reason):
    assert parse_score(answer, "educational") == ScoreFailure(reason)


def test_a_score_given_twice_with_different_values_is_a_failure():
    answer = "At first glance, Educational score: 2.\nOn reflection it is a good tutorial.\nEducational score: 4"

    assert parse_score(answer, "educational") == ScoreFailure(
        "Educational score given 2 times with different values (2, 4)"
    )


@pytest.mark.parametrize(
    ("educational", "format_score", "keep"),
    [(3, 0, True), (5, 5, True), (2, 4, True), (2, 5, True), (2, 3, False), (1, 5, False), (0, 0, False)],
)
def test_the_paper_label_rule(educational, format_score, keep):
    assert keep_document(educational, format_score) is keep


@pytest.mark.parametrize(
    ("educational", "format_score", "keep"), [(4, 0, True), (3, 5, True), (3, 4, False), (2, 5, False)]
)
def test_the_label_thresholds_are_parameters(educational, format_score, keep):
    assert keep_document(educational, format_score, edu_threshold=4, format_threshold=5) is keep


def test_the_doc_target_is_a_canonical_program():
    assert (doc_target(True), doc_target(False)) == ("keep_doc()", "drop_doc()")
