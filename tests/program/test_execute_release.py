"""The `release` policy reproduces the GAIR-NLP/ProX release's execution (PROX_SPEC §4)."""

from __future__ import annotations

import pytest

from prox.program import (
    RELEASE,
    ChunkProgram,
    DropDoc,
    KeepDoc,
    Program,
    execute_chunk_programs,
    execute_doc_program,
    get_policy,
    parse_program,
)


def run(text: str, program: str):
    return execute_chunk_programs(text, parse_program(program), RELEASE)


def doc_lines(text: str) -> list[str]:
    return text.split("\n")


# --- policy values ------------------------------------------------------------------------------------------------


def test_release_is_the_default_policy(document):
    text = document([5] * 40)
    program = parse_program("remove_lines(3, 7)")
    assert execute_chunk_programs(text, program) == execute_chunk_programs(text, program, RELEASE)
    assert execute_doc_program(parse_program("drop_doc()")) == execute_doc_program(parse_program("drop_doc()"), RELEASE)


def test_release_thresholds_are_the_published_ones():
    assert get_policy("release") is RELEASE
    assert RELEASE.parser == "release"
    assert RELEASE.min_kept_word_share == 1 - 0.95  # threshold_2=0.95, computed as the release does
    assert RELEASE.min_words == 10
    assert RELEASE.revert_at_errors == 2
    assert RELEASE.max_removed_word_share is None


def test_unknown_policy_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"release.*strict"):
        get_policy("lenient")


# --- line removal -------------------------------------------------------------------------------------------------


def test_remove_lines_deletes_an_inclusive_zero_based_range(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=3, line_end=7)")
    lines = doc_lines(text)
    assert report.removed_lines == (3, 4, 5, 6, 7)
    assert report.text == "\n".join(lines[:3] + lines[8:])
    assert (report.keep, report.reason, report.errors) == (True, "edited", ())
    assert (report.words_in, report.words_out) == (200, 175)


def test_single_line_range_deletes_one_line(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=0, line_end=0)")
    assert report.removed_lines == (0,)
    assert report.text == "\n".join(doc_lines(text)[1:])


def test_overlapping_and_duplicate_ranges_remove_their_union_once(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=2, line_end=5)\nremove_lines(line_start=4, line_end=8)\n" * 2)
    assert report.removed_lines == (2, 3, 4, 5, 6, 7, 8)
    assert report.errors == ()


def test_ranges_apply_in_document_order_whatever_the_program_order(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=30, line_end=31)\nremove_lines(line_start=1, line_end=1)")
    lines = doc_lines(text)
    assert report.removed_lines == (1, 30, 31)
    assert report.text == "\n".join(lines[:1] + lines[2:30] + lines[32:])


def test_line_numbers_are_document_wide_not_per_chunk(document):
    text = document([5] * 40)
    chunks = [
        ChunkProgram(parse_program("keep_chunk()"), 0, 19),
        ChunkProgram(parse_program("remove_lines(line_start=25, line_end=26)"), 20, 39),
    ]
    assert execute_chunk_programs(text, chunks, RELEASE).removed_lines == (25, 26)


def test_release_ignores_chunk_bounds_for_ranges(document):
    text = document([5] * 40)
    chunks = [ChunkProgram(parse_program("remove_lines(line_start=30, line_end=31)"), 0, 19)]
    report = execute_chunk_programs(text, chunks, RELEASE)
    assert report.removed_lines == (30, 31)
    assert report.errors == ()


def test_range_ending_past_the_last_line_is_clamped_and_one_error(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=30, line_end=10000)")
    assert report.removed_lines == tuple(range(30, 40))
    assert len(report.errors) == 1
    assert (report.keep, report.reason) == (True, "edited")
    assert report.text == "\n".join(doc_lines(text)[:30])


def test_range_starting_past_the_last_line_removes_nothing_and_is_one_error(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=40, line_end=45)")
    assert report.removed_lines == ()
    assert len(report.errors) == 1
    assert (report.keep, report.reason, report.text) == (True, "unchanged", text)


def test_out_of_range_ranges_that_merge_count_as_one_error(document):
    text = document([5] * 40)
    overlapping = run(text, "remove_lines(line_start=45, line_end=50)\nremove_lines(line_start=48, line_end=60)")
    touching = run(text, "remove_lines(line_start=45, line_end=50)\nremove_lines(line_start=51, line_end=60)")
    assert len(overlapping.errors) == len(touching.errors) == 1
    assert overlapping.reason == touching.reason == "unchanged"


def test_out_of_range_ranges_that_do_not_merge_count_separately_and_revert(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=45, line_end=50)\nremove_lines(line_start=52, line_end=60)")
    assert len(report.errors) == 2
    assert (report.keep, report.reason, report.text) == (True, "reverted_errors", text)


def test_error_is_counted_per_merged_interval_not_per_call(document):
    # 30-45 and 44-60 merge into one interval that ends past the last line: one error, not two.
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=30, line_end=45)\nremove_lines(line_start=44, line_end=60)")
    assert len(report.errors) == 1
    assert report.removed_lines == tuple(range(30, 40))
    assert report.reason == "edited"


def test_in_range_interval_merged_with_an_overflowing_one_is_one_error(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=20, line_end=35)\nremove_lines(line_start=36, line_end=99)")
    assert len(report.errors) == 1
    assert report.removed_lines == tuple(range(20, 40))


def test_ending_past_and_starting_past_in_separate_intervals_are_two_errors_and_revert(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=30, line_end=45)\nremove_lines(line_start=50, line_end=60)")
    assert len(report.errors) == 2
    assert report.reason == "reverted_errors"
    assert report.text == text
    assert report.edited_text == "\n".join(doc_lines(text)[:30])


def test_last_line_itself_is_in_range(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=39, line_end=39)")
    assert report.removed_lines == (39,)
    assert report.errors == ()


def test_reversed_range_removes_nothing_and_is_not_an_error(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=7, line_end=3)")
    assert report.removed_lines == ()
    assert report.errors == ()
    assert (report.keep, report.reason, report.text) == (True, "unchanged", text)


def test_reversed_range_merged_into_a_valid_one_changes_nothing(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=2, line_end=4)\nremove_lines(line_start=5, line_end=3)")
    assert report.removed_lines == (2, 3, 4)
    assert report.errors == ()


def test_reversed_range_starting_past_the_last_line_is_an_error(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=50, line_end=45)")
    assert report.removed_lines == ()
    assert len(report.errors) == 1


def test_positional_remove_lines_is_an_error_and_does_not_act(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(3, 7)")
    assert report.removed_lines == ()
    assert len(report.errors) == 1
    assert "positional" in report.errors[0]
    assert (report.keep, report.reason, report.text) == (True, "unchanged", text)


def test_one_positional_call_does_not_stop_the_other_edits(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(3, 7)\nremove_lines(line_start=10, line_end=10)")
    assert report.removed_lines == (10,)
    assert report.reason == "edited"


def test_two_positional_calls_revert_the_document(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(3, 7)\nremove_lines(10, 12)\nremove_lines(line_start=20, line_end=20)")
    assert len(report.errors) == 2
    assert (report.keep, report.reason, report.text) == (True, "reverted_errors", text)
    assert report.removed_lines == (20,)


@pytest.mark.parametrize(
    "bad_call",
    [
        "remove_lines(line_start=3)",
        "remove_lines()",
        "remove_lines(line_start=1.5, line_end=3)",
        "remove_lines(line_start='1', line_end=3)",
        "remove_lines(line_start=True, line_end=3)",
        "remove_lines(line_start=x, line_end=3)",
        "remove_lines(3, line_end=7)",
        "normalize()",
        "normalize(l0w0)",
        "normalize('l0w0', 'x')",
        "normalize the quotes",
        "remove_lines 3 to 7",
    ],
)
def test_malformed_editing_calls_count_as_one_error(document, bad_call):
    text = document([5] * 40)
    report = run(text, bad_call)
    assert len(report.errors) == 1
    assert (report.keep, report.reason, report.text) == (True, "unchanged", text)


@pytest.mark.parametrize(
    "ignored",
    [
        "keep_chunk()",
        "untouch_doc()",
        "keep_doc()",
        "drop_doc()",
        "foo(1)",
        "remove_line(line_start=1, line_end=2)",
        "keep_chunk(1)",
        "# remove_lines(line_start=1, line_end=2)",
        "The chunk is clean.",
        "```python\n```",
        "Sure, here you go:",
    ],
)
def test_non_editing_text_is_ignored_and_not_an_error(document, ignored):
    text = document([5] * 40)
    report = run(text, f"{ignored}\n{ignored}\n{ignored}")
    assert report.errors == ()
    assert report.removed_lines == ()
    assert (report.keep, report.reason, report.text) == (True, "unchanged", text)


def test_drop_doc_in_a_chunk_program_does_not_drop_the_document(document):
    text = document([5] * 40)
    assert run(text, "drop_doc()").keep is True


# --- normalize ----------------------------------------------------------------------------------------------------


def test_normalize_replaces_every_occurrence_in_the_whole_document():
    text = "the cat sat on the mat\n" * 20 + "the end of the story is here now"
    chunks = [ChunkProgram(parse_program('normalize(source_str="the", target_str="a")'), 0, 0)]
    report = execute_chunk_programs(text, chunks, RELEASE)
    assert report.text == text.replace("the", "a")
    assert [(n.source, n.target, n.occurrences) for n in report.normalizations] == [("the", "a", 42)]
    assert report.reason == "edited"


def test_normalize_is_plain_substring_replacement_not_word_based():
    text = "there is the theme of the other\n" * 5
    report = run(text, 'normalize(source_str="the", target_str="X")')
    assert report.text == text.replace("the", "X")
    assert report.normalizations[0].occurrences == 25  # there, the, theme, the, other


def test_normalize_without_target_deletes_the_source():
    text = "alpha [citation needed] beta gamma delta epsilon zeta eta theta iota kappa lambda mu"
    report = run(text, 'normalize(source_str=" [citation needed]")')
    assert report.text == "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu"


@pytest.mark.parametrize("source", ["", " "])
def test_empty_and_single_space_sources_are_ignored(document, source):
    text = document([5] * 40)
    report = run(text, f'normalize(source_str="{source}", target_str="X")')
    assert report.text == text
    assert report.normalizations == ()
    assert [(s.source, s.why) for s in report.skipped_normalizations] == [(source, "ignored_source")]
    assert report.errors == ()


def test_double_space_source_is_not_ignored():
    text = "a  b  c d e f g h i j k l m"
    report = run(text, 'normalize(source_str="  ", target_str=" ")')
    assert report.text == "a b c d e f g h i j k l m"


def test_absent_source_is_skipped_without_error(document):
    text = document([5] * 40)
    report = run(text, 'normalize(source_str="nowhere", target_str="x")')
    assert [(s.source, s.why) for s in report.skipped_normalizations] == [("nowhere", "absent")]
    assert report.errors == ()
    assert report.reason == "unchanged"


def test_normalizations_apply_in_program_order_each_on_the_previous_result():
    text = "one two three four five six seven eight nine ten eleven twelve"
    report = run(text, 'normalize(source_str="one", target_str="two")\nnormalize(source_str="two", target_str="2")')
    assert report.text.startswith("2 2 three")
    assert [n.occurrences for n in report.normalizations] == [1, 2]


def test_normalize_acts_before_removal_even_when_written_after(document):
    text = document([5] * 40)
    report = run(text, 'remove_lines(line_start=1, line_end=1)\nnormalize(source_str="l2w0", target_str="X")')
    assert report.removed_lines == (1,)
    assert report.text.split("\n")[1].startswith("X l2w1")


def test_a_written_newline_escape_is_a_backslash_and_an_n_so_line_numbers_never_shift(document):
    text = document([5] * 40)
    report = run(text, 'normalize(source_str="l0w0 ", target_str="top\\n")\nremove_lines(line_start=1, line_end=1)')
    lines = report.text.split("\n")
    assert lines[0] == "top\\nl0w1 l0w2 l0w3 l0w4"
    assert lines[1] == doc_lines(text)[2]
    assert report.removed_lines == (1,)


def test_a_source_written_across_lines_is_looked_for_with_its_backslash():
    text = "\n".join(f"w{i} a b c d" for i in range(20))
    report = run(text, 'normalize(source_str="d\\nw1", target_str="d w1")\nremove_lines(line_start=19, line_end=19)')
    assert report.errors == ()
    assert report.removed_lines == (19,)
    assert [s.why for s in report.skipped_normalizations] == ["absent"]


def test_release_normalize_ignores_chunk_bounds(document):
    text = document([5] * 40)
    chunks = [ChunkProgram(parse_program('normalize(source_str="l30w0", target_str="X")'), 0, 9)]
    report = execute_chunk_programs(text, chunks, RELEASE)
    assert report.text == text.replace("l30w0", "X")
    assert report.errors == ()


# --- the decision -------------------------------------------------------------------------------------------------


def test_kept_share_at_exactly_five_percent_drops_the_document(document):
    # 240 words; keeping line 0 (12 words) leaves exactly 5%.
    text = document([12, 1, *[5] * 45, 2])
    report = run(text, "remove_lines(line_start=1, line_end=47)")
    assert (report.words_in, report.words_out) == (240, 12)
    assert (report.keep, report.reason, report.text) == (False, "nearly_all_removed", None)


def test_kept_share_just_above_five_percent_keeps_the_edit(document):
    text = document([12, 1, *[5] * 45, 2])
    report = run(text, "remove_lines(line_start=2, line_end=47)")
    assert (report.words_in, report.words_out) == (240, 13)
    assert (report.keep, report.reason) == (True, "edited")


def test_one_error_still_allows_the_nearly_all_removed_drop(document):
    text = document([12, 1, *[5] * 45, 2])
    report = run(text, "remove_lines(line_start=1, line_end=47)\nremove_lines(0, 0)")
    assert len(report.errors) == 1
    assert report.reason == "nearly_all_removed"


def test_two_errors_turn_nearly_all_removed_into_reverted(document):
    text = document([12, 1, *[5] * 45, 2])
    report = run(text, "remove_lines(line_start=1, line_end=47)\nremove_lines(0, 0)\nremove_lines(1, 1)")
    assert len(report.errors) == 2
    assert (report.keep, report.reason, report.text) == (True, "reverted_errors", text)


def test_removing_every_line_drops_the_document(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=0, line_end=39)")
    assert report.removed_lines == tuple(range(40))
    assert report.edited_text == ""
    assert (report.keep, report.reason, report.text, report.words_out) == (False, "nearly_all_removed", None, 0)


def test_ten_words_left_drops_the_document(document):
    text = document([10, 10])
    report = run(text, "remove_lines(line_start=1, line_end=1)")
    assert report.words_out == 10
    assert (report.keep, report.reason, report.text) == (False, "too_few_words", None)


def test_eleven_words_left_keeps_the_document(document):
    text = document([11, 10])
    report = run(text, "remove_lines(line_start=1, line_end=1)")
    assert report.words_out == 11
    assert (report.keep, report.reason, report.text) == (True, "edited", document([11]))


def test_short_document_is_dropped_even_without_edits(document):
    report = run(document([4, 3, 3]), "keep_chunk()")
    assert (report.keep, report.reason) == (False, "too_few_words")


def test_too_few_words_drops_even_a_distrusted_program(document):
    text = document([10, 10])
    report = run(text, "remove_lines(line_start=1, line_end=1)\nremove_lines(0, 0)\nremove_lines(1, 1)")
    assert len(report.errors) == 2
    assert report.reason == "too_few_words"


def test_too_few_words_counts_the_edited_text_not_the_original_when_reverting(document):
    # Two errors distrust the program, but the release checks the *edited* word count first.
    text = document([5] * 4)
    report = run(text, "remove_lines(line_start=0, line_end=1)\nremove_lines(0, 0)\nfoo\nremove_lines(1, 1)")
    assert report.words_out == 10
    assert report.reason == "too_few_words"


def test_words_are_counted_by_whitespace_split():
    text = "a\tb\u3000c\nd  e\r\nf\x0bg h i j k l"
    report = run(text, "keep_chunk()")
    assert report.words_in == len(text.split()) == 12


def test_untouched_document_is_kept_unchanged(document):
    text = document([5] * 40)
    report = run(text, "keep_chunk()")
    assert (report.keep, report.reason, report.text, report.edited_text) == (True, "unchanged", text, text)


def test_edits_that_cancel_out_are_reported_unchanged():
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda"
    report = run(
        text, 'normalize(source_str="beta", target_str="BETA")\nnormalize(source_str="BETA", target_str="beta")'
    )
    assert report.reason == "unchanged"
    assert len(report.normalizations) == 2


@pytest.mark.parametrize("text", ["", " ", "\n\n", " \t\n "])
def test_document_without_words_is_dropped_as_empty(text):
    report = run(text, "keep_chunk()")
    assert (report.keep, report.reason, report.text, report.words_in) == (False, "empty", None, 0)


# --- the report ---------------------------------------------------------------------------------------------------


def test_report_records_what_the_program_did(document):
    text = document([5] * 40)
    report = run(
        text,
        "remove_lines(line_start=5, line_end=6)\n"
        'normalize(source_str="l1w", target_str="L")\n'
        'normalize(source_str=" ", target_str="")\n'
        'normalize(source_str="zzz")\n'
        'normalize(source_str="a,b", target_str="")\n'
        "keep_chunk()\n"
        "remove_lines(9, 9)",
    )
    assert report.removed_lines == (5, 6)
    assert [(n.source, n.target, n.occurrences) for n in report.normalizations] == [("l1w", "L", 5)]
    assert [(s.source, s.why) for s in report.skipped_normalizations] == [
        (" ", "ignored_source"),
        ("zzz", "absent"),
        ('source_str="a,b", target_str=""', "unread_arguments"),
    ]
    assert len(report.errors) == 1
    assert report.calls == 6  # the lines read as operations: keep_chunk() is not one
    assert (report.words_in, report.words_out) == (200, 190)
    assert report.text == report.edited_text


def test_reverted_report_keeps_the_original_text_and_the_inspectable_edit(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=0, line_end=9)\nremove_lines(1, 2)\nremove_lines(3, 4)")
    assert report.text == text
    assert report.edited_text == "\n".join(doc_lines(text)[10:])
    assert report.removed_lines == tuple(range(10))
    assert report.words_out == 150


def test_dropped_report_has_no_text_but_keeps_the_edit(document):
    text = document([5] * 40)
    report = run(text, "remove_lines(line_start=2, line_end=39)")
    assert report.text is None
    assert report.edited_text == "\n".join(doc_lines(text)[:2])


def test_errors_are_readable_strings(document):
    report = run(document([5] * 40), "remove_lines(line_start=2.5, line_end=3)")
    assert len(report.errors) == 1
    assert isinstance(report.errors[0], str)
    assert "remove_lines" in report.errors[0]


def test_chunk_programs_are_combined_like_the_joined_release_program(document):
    text = document([5] * 40)
    chunks = [
        ChunkProgram(parse_program("remove_lines(line_start=2, line_end=3)\nremove_lines(1, 1)"), 0, 19),
        ChunkProgram(parse_program("remove_lines(line_start=22, line_end=23)\nremove_lines(21, 21)"), 20, 39),
    ]
    joined = parse_program(
        "remove_lines(line_start=2, line_end=3)\nremove_lines(1, 1)\n"
        "remove_lines(line_start=22, line_end=23)\nremove_lines(21, 21)"
    )
    assert execute_chunk_programs(text, chunks, RELEASE) == execute_chunk_programs(text, joined, RELEASE)
    assert execute_chunk_programs(text, chunks, RELEASE).reason == "reverted_errors"


# --- the doc stage ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "keep"),
    [
        ("drop_doc()", False),
        ("keep_doc()", True),
        ("", True),
        ("drop", False),
        ("DROP_DOC()", True),
        ("keep_doc()  # do not drop", False),
        ("The document should be dropped.", False),
        ("keep_doc()\ndrop_doc()", False),
        ("```python\nkeep_doc()\n```", True),
        ("drop_doc(", False),
        ("garbage ((( output", True),
    ],
)
def test_doc_is_dropped_iff_the_raw_output_contains_drop(output, keep):
    decision = execute_doc_program(parse_program(output), RELEASE)
    assert decision.keep is keep
    assert decision.reason == ("keep_doc" if keep else "drop_doc")


def test_doc_program_without_source_falls_back_to_its_calls():
    assert execute_doc_program(Program((DropDoc(),)), RELEASE).keep is False
    assert execute_doc_program(Program((KeepDoc(),)), RELEASE).keep is True


def test_hand_built_negative_range_removes_from_the_first_line_as_the_release_does():
    from prox.program import Program, RemoveLines, execute_chunk_programs

    text = "\n".join(f"line {i} has several words in it" for i in range(5))
    report = execute_chunk_programs(text, Program((RemoveLines(-2, 1),)))
    assert report.removed_lines == (0, 1)
    assert report.errors == ()
    assert report.text == "\n".join(text.split("\n")[2:])
