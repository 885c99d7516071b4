"""The `strict` policy: chunk-scoped edits, every parse error counts, a removal cap and an explicit doc verdict."""

from __future__ import annotations

import pytest

from prox.program import (
    STRICT,
    ChunkProgram,
    DropDoc,
    KeepDoc,
    Program,
    execute_chunk_programs,
    execute_doc_program,
    get_policy,
    parse_program,
)


def run_chunks(text: str, *chunks: tuple[str, int, int], policy=STRICT):
    programs = [ChunkProgram(parse_program(program), first, last) for program, first, last in chunks]
    return execute_chunk_programs(text, programs, policy)


def run(text: str, program: str, policy=STRICT):
    return execute_chunk_programs(text, parse_program(program), policy)


def test_strict_is_registered_with_its_rules():
    assert get_policy("strict") is STRICT
    assert STRICT.chunk_scoped
    assert STRICT.accept_positional
    assert STRICT.count_all_parse_errors
    assert STRICT.max_removed_word_share == 0.8
    assert STRICT.doc_drop_rule == "calls"
    # The release's thresholds are kept.
    assert (STRICT.min_kept_word_share, STRICT.min_words, STRICT.revert_at_errors) == (1 - 0.95, 10, 2)
    assert STRICT.parser == "ast"


def test_with_overrides_changes_one_field_and_leaves_the_original():
    looser = STRICT.with_overrides(max_removed_word_share=0.95)
    assert looser.max_removed_word_share == 0.95
    assert looser.chunk_scoped
    assert STRICT.max_removed_word_share == 0.8


# --- chunk-scoped ranges ------------------------------------------------------------------------------------------


def test_range_inside_its_chunk_is_applied(document):
    text = document([5] * 40)
    report = run_chunks(text, ("remove_lines(line_start=22, line_end=24)", 20, 39))
    assert report.removed_lines == (22, 23, 24)
    assert (report.keep, report.reason, report.errors) == (True, "edited", ())


def test_range_on_the_chunk_edges_is_applied(document):
    text = document([5] * 40)
    report = run_chunks(
        text, ("remove_lines(line_start=20, line_end=20)\nremove_lines(line_start=29, line_end=29)", 20, 29)
    )
    assert report.removed_lines == (20, 29)
    assert report.errors == ()


@pytest.mark.parametrize(("start", "end"), [(5, 6), (19, 20), (29, 30), (35, 36), (40, 41), (25, 1000)])
def test_range_outside_its_chunk_is_an_error_and_not_applied(document, start, end):
    text = document([5] * 40)
    report = run_chunks(text, (f"remove_lines(line_start={start}, line_end={end})", 20, 29))
    assert report.removed_lines == ()
    assert len(report.errors) == 1
    assert "20-29" in report.errors[0]
    assert report.text == text


def test_range_past_the_document_end_is_an_error_even_inside_the_chunk_span(document):
    text = document([5] * 10)
    report = run_chunks(text, ("remove_lines(line_start=8, line_end=12)", 0, 15))
    assert report.removed_lines == ()
    assert len(report.errors) == 1


def test_reversed_range_is_an_error_under_strict(document):
    text = document([5] * 40)
    report = run_chunks(text, ("remove_lines(line_start=7, line_end=3)", 0, 39))
    assert report.removed_lines == ()
    assert len(report.errors) == 1


def test_each_chunk_is_checked_against_its_own_span(document):
    text = document([5] * 40)
    report = run_chunks(
        text,
        ("remove_lines(line_start=25, line_end=26)", 0, 19),
        ("remove_lines(line_start=25, line_end=26)", 20, 39),
    )
    assert report.removed_lines == (25, 26)
    assert len(report.errors) == 1


def test_two_invalid_ranges_revert_the_document(document):
    text = document([5] * 40)
    report = run_chunks(
        text,
        (
            "remove_lines(line_start=2, line_end=3)\nremove_lines(line_start=30, line_end=31)\nremove_lines(9, 99)",
            0,
            19,
        ),
    )
    assert len(report.errors) == 2
    assert (report.keep, report.reason, report.text) == (True, "reverted_errors", text)
    assert report.removed_lines == (2, 3)


def test_positional_calls_are_accepted(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(3, 7)\nnormalize('l10w0', 'X')")
    assert report.removed_lines == (3, 4, 5, 6, 7)
    assert [(n.source, n.target) for n in report.normalizations] == [("l10w0", "X")]
    assert report.errors == ()


# --- chunk-scoped normalize ---------------------------------------------------------------------------------------


def test_normalize_acts_only_inside_its_chunk():
    text = "\n".join(["foo bar baz qux quux"] * 10)
    report = run_chunks(text, ('normalize(source_str="foo", target_str="FOO")', 2, 4))
    lines = report.text.split("\n")
    assert [line.startswith("FOO") for line in lines] == [i in (2, 3, 4) for i in range(10)]
    assert [(n.source, n.occurrences) for n in report.normalizations] == [("foo", 3)]
    assert report.errors == ()


def test_normalize_source_absent_from_its_chunk_is_an_error_even_if_present_elsewhere(document):
    text = document([5] * 40)
    report = run_chunks(text, ('normalize(source_str="l30w0", target_str="X")', 0, 9))
    assert report.text == text
    assert [(s.source, s.why) for s in report.skipped_normalizations] == [("l30w0", "absent")]
    assert len(report.errors) == 1
    assert "0-9" in report.errors[0]


@pytest.mark.parametrize(
    "call",
    [
        'normalize(source_str="l1w0\\nl2w0", target_str="X")',
        'normalize(source_str="l1w0", target_str="X\\nY")',
        'normalize(source_str="\\n", target_str=" ")',
    ],
)
def test_newline_in_normalize_strings_is_an_error_and_not_applied(document, call):
    text = document([5] * 40)
    report = run_chunks(text, (call, 0, 39))
    assert report.text == text
    assert [s.why for s in report.skipped_normalizations] == ["newline"]
    assert len(report.errors) == 1


@pytest.mark.parametrize("source", ["", " "])
def test_ignored_sources_are_skipped_without_error(document, source):
    text = document([5] * 40)
    report = run_chunks(text, (f'normalize(source_str="{source}", target_str="X")', 0, 39))
    assert [(s.source, s.why) for s in report.skipped_normalizations] == [(source, "ignored_source")]
    assert report.errors == ()
    assert report.text == text


def test_normalize_in_a_chunk_past_the_document_end_is_an_error(document):
    text = document([5] * 10)
    report = run_chunks(text, ('normalize(source_str="l1w0", target_str="X")', 20, 29))
    assert len(report.errors) == 1
    assert report.text == text


def test_normalize_still_acts_before_removal(document):
    text = document([5] * 40)
    report = run_chunks(
        text, ('remove_lines(line_start=1, line_end=1)\nnormalize(source_str="l2w0", target_str="X")', 0, 39)
    )
    assert report.text.split("\n")[1].startswith("X l2w1")


# --- error counting -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "noise",
    ["The chunk is clean.", "foo(1)", "keep_chunk(1)", "remove_line(line_start=1, line_end=2)", "Sure:"],
)
def test_every_parse_error_counts(document, noise):
    text = document([5] * 40)
    one = run(text, f"{noise}\nremove_lines(line_start=1, line_end=1)")
    two = run(text, f"{noise}\n{noise}\nremove_lines(line_start=1, line_end=1)")
    assert len(one.errors) == 1
    assert one.reason == "edited"
    assert len(two.errors) == 2
    assert (two.reason, two.text) == ("reverted_errors", text)


def test_fences_comments_and_blank_lines_are_not_errors(document):
    text = document([5] * 40)
    report = run(text, "```python\n# clean up\n\nremove_lines(line_start=1, line_end=1)\n```")
    assert report.errors == ()


# --- removal cap --------------------------------------------------------------------------------------------------


def test_removing_more_than_eighty_percent_of_words_drops_for_over_removal(document):
    text = document([5] * 100)
    report = run(text, "remove_lines(line_start=0, line_end=80)")
    assert (report.words_in, report.words_out) == (500, 95)
    assert (report.keep, report.reason, report.text) == (False, "over_removal", None)


def test_removing_exactly_eighty_percent_of_words_is_allowed(document):
    text = document([5] * 100)
    report = run(text, "remove_lines(line_start=0, line_end=79)")
    assert (report.words_in, report.words_out) == (500, 100)
    assert (report.keep, report.reason) == (True, "edited")


def test_removal_cap_counts_words_removed_by_normalize_too():
    text = " ".join(["spam"] * 90 + ["ham"] * 20)
    report = run(text, 'normalize(source_str="spam ", target_str="")')
    assert report.words_out == 20
    assert report.reason == "over_removal"


def test_removal_cap_does_not_apply_to_release(document):
    from prox.program import RELEASE

    text = document([5] * 100)
    assert run(text, "remove_lines(line_start=0, line_end=80)", RELEASE).reason == "edited"


def test_removal_cap_is_checked_after_the_release_rules(document):
    text = document([5] * 100)
    nearly_all = run(text, "remove_lines(line_start=0, line_end=97)")
    assert nearly_all.reason == "nearly_all_removed"
    distrusted = run(text, "remove_lines(line_start=0, line_end=80)\nfoo\nbar")
    assert distrusted.reason == "reverted_errors"


def test_removal_cap_can_be_overridden(document):
    text = document([5] * 100)
    tighter = STRICT.with_overrides(max_removed_word_share=0.5)
    assert run(text, "remove_lines(line_start=0, line_end=50)", tighter).reason == "over_removal"
    assert run(text, "remove_lines(line_start=0, line_end=49)", tighter).reason == "edited"


def test_empty_document_is_dropped_as_empty_under_strict():
    report = run("", "remove_lines(line_start=0, line_end=0)")
    assert (report.keep, report.reason, report.text) == (False, "empty", None)


# --- the doc stage ------------------------------------------------------------------------------------------------


def test_drop_doc_drops():
    decision = execute_doc_program(parse_program("drop_doc()"), STRICT)
    assert (decision.keep, decision.reason, decision.errors) == (False, "drop_doc", ())


def test_keep_doc_keeps_even_when_the_text_mentions_drop():
    decision = execute_doc_program(parse_program("keep_doc()  # do not drop"), STRICT)
    assert (decision.keep, decision.reason) == (True, "keep_doc")


def test_repeated_drop_doc_is_still_one_decision():
    assert execute_doc_program(parse_program("drop_doc()\ndrop_doc()"), STRICT).keep is False


@pytest.mark.parametrize(
    "output",
    ["", "drop", "The document should be dropped.", "drop_doc(", "drop_doc", "keep_doc()\ndrop_doc()", "keep_chunk()"],
)
def test_without_exactly_one_verdict_the_document_is_kept_as_no_decision(output):
    decision = execute_doc_program(parse_program(output), STRICT)
    assert (decision.keep, decision.reason) == (True, "no_decision")
    assert decision.errors
    assert "kept" in decision.errors[-1]


def test_parse_errors_are_reported_with_the_doc_decision():
    decision = execute_doc_program(parse_program("Verdict:\ndrop_doc()"), STRICT)
    assert decision.keep is False
    assert len(decision.errors) == 1
    assert "line 1" in decision.errors[0]


def test_doc_verdict_reads_calls_not_source():
    assert execute_doc_program(Program((DropDoc(),), source="keep_doc()"), STRICT).keep is False
    assert execute_doc_program(Program((KeepDoc(),), source="drop_doc()"), STRICT).keep is True
