"""The release's string-slicing reading of chunk programs, one case per family of model output.

Each test states what the GAIR-NLP/ProX release does with one kind of line (utils/chunk_utils.py); most of
them differ from what the safe parser reads (see the `strict` counterparts at the end).
"""

from __future__ import annotations

import pytest

from prox.program import (
    RELEASE,
    STRICT,
    ChunkProgram,
    KeepChunk,
    Normalize,
    Program,
    RemoveLines,
    execute_chunk_programs,
    parse_program,
)
from prox.program.release import (
    Operation,
    RemoveAll,
    RemoveRange,
    Replace,
    Unread,
    read_operations,
    release_program_text,
    release_readable,
)


def run(text: str, *outputs: str):
    """Execute one chunk output per argument under the release policy, as the pipeline does."""
    line_count = text.count("\n") + 1
    programs = [ChunkProgram(parse_program(output), 0, line_count - 1) for output in outputs]
    return execute_chunk_programs(text, programs, RELEASE)


def lines_without(text: str, *indices: int) -> str:
    return "\n".join(line for index, line in enumerate(text.split("\n")) if index not in indices)


def action(line: str):
    (operation,) = read_operations(line)
    return operation.action


# --- reading one line ---------------------------------------------------------------------------------------------


def test_a_line_is_an_operation_only_when_it_starts_with_a_function_name():
    text = "keep_chunk()\nremove_lines(line_start=1, line_end=2)\nI will normalize\n  normalize(source_str=a)"
    assert [operation.line for operation in read_operations(text)] == [2]


def test_only_spaces_at_the_ends_of_the_whole_program_are_stripped():
    assert action("   remove_lines(line_start=1, line_end=2)   ") == RemoveRange(1, 2)
    assert read_operations("\tremove_lines(line_start=1, line_end=2)") == []
    assert read_operations("\nremove_lines(line_start=1, line_end=2)")[0].line == 2


def test_chunk_outputs_are_each_stripped_of_spaces_and_joined_by_newlines():
    assert release_program_text(["  keep_chunk() ", " remove_lines(line_start=1, line_end=2)"]) == (
        "keep_chunk()\nremove_lines(line_start=1, line_end=2)"
    )


def test_reading_records_errors_and_never_raises():
    assert read_operations("remove_lines") == [
        Operation(1, "remove_lines", None, ("line 1: 'remove_lines': no '(': not read",))
    ]
    for line in ["remove_lines(", "normalize(", "normalize)", "remove_lines)(", "normalize(=", "remove_lines(=,=)"]:
        assert read_operations(line)[0].action is None
        assert len(read_operations(line)[0].errors) >= 1


def test_an_integer_too_long_for_int_is_an_error():
    operation = read_operations(f"remove_lines(line_start={'9' * 5000}, line_end=1)")[0]
    assert operation.action is None
    assert len(operation.errors) == 1


# --- families -----------------------------------------------------------------------------------------------------


def test_well_formed_keyword_calls_act(document):
    # The one family where the release and the safe parser read the same thing.
    text = document([5] * 20)
    report = run(text, 'remove_lines(line_start=3, line_end=5)\nnormalize(source_str="l0w1", target_str="X")')
    assert report.text == lines_without(text, 3, 4, 5).replace("l0w1", "X")
    assert report.errors == ()


def test_positional_calls_are_errors_but_three_positional_strings_are_nothing(document):
    text = document([5] * 20)
    assert len(run(text, "remove_lines(3, 7)").errors) == 1
    assert len(run(text, 'normalize("l0w0", "X")').errors) == 1
    report = run(text, 'normalize("l0w0", "X", "Y")')
    assert (report.errors, report.text) == ((), text)
    assert action('normalize("l0w0", "X", "Y")') == Unread('"l0w0", "X", "Y"')


def test_one_argument_normalize_of_a_space_deletes_every_space(document):
    text = document([5] * 20)
    report = run(text, 'normalize(source_str=" ")')
    assert report.text == text.replace(" ", "")
    assert report.normalizations[0].occurrences == 80
    assert action('normalize(source_str=" ")') == Replace(" ", "", skips_blank_source=False)


def test_two_argument_normalize_of_a_space_or_nothing_is_ignored(document):
    text = document([5] * 20)
    for output in ['normalize(source_str=" ", target_str="X")', 'normalize(source_str="", target_str="X")']:
        report = run(text, output)
        assert (report.text, report.errors) == (text, ())
        assert report.skipped_normalizations[0].why == "ignored_source"


def test_one_argument_normalize_of_nothing_does_nothing(document):
    text = document([5] * 20)
    assert run(text, 'normalize(source_str="")').text == text


def test_prose_naming_a_function_counts_only_at_the_start_of_a_line(document):
    text = document([5] * 20)
    mid_line = run(text, "I will remove_lines(line_start=1, line_end=2)\nNow remove_lines 3 to 7")
    assert (mid_line.text, mid_line.errors) == (text, ())
    at_start = run(text, "normalize the text\nremove_lines 3 to 7")
    assert len(at_start.errors) == 2
    assert at_start.reason == "reverted_errors"


def test_prose_starting_with_normalize_can_act(document):
    text = document([5] * 20)
    report = run(text, "normalize (source_str=l1w1)")
    assert report.text == text.replace("l1w1", "")


def test_escapes_are_not_decoded(document):
    text = document([5] * 20).replace("l2w2", "a\\nb")
    report = run(text, 'normalize(source_str="a\\nb", target_str="\\t")')
    assert report.text == text.replace("a\\nb", "\\t")
    assert report.text.count("\n") == text.count("\n")


def test_calls_after_a_list_marker_or_indentation_are_ignored(document):
    text = document([5] * 20)
    for output in [
        "keep_chunk()\n- remove_lines(line_start=1, line_end=2)",
        "keep_chunk()\n1. remove_lines(line_start=1, line_end=2)",
        "keep_chunk()\n    remove_lines(line_start=1, line_end=2)",
        "\tremove_lines(line_start=1, line_end=2)",
    ]:
        assert run(text, output).text == text


def test_an_indented_first_line_is_read_since_the_output_is_stripped(document):
    text = document([5] * 20)
    assert run(text, "   remove_lines(line_start=1, line_end=2)").text == lines_without(text, 1, 2)


def test_only_the_first_of_two_calls_on_a_line_acts(document):
    text = document([5] * 20)
    report = run(text, "remove_lines(line_start=1, line_end=2); remove_lines(line_start=5, line_end=6)")
    assert report.text == lines_without(text, 1, 2)
    report = run(text, 'normalize(source_str="l0w0", target_str="A") normalize(source_str="l0w1", target_str="B")')
    assert report.text == text.replace("l0w0", "A")


@pytest.mark.parametrize(("written", "value"), [("03", 3), ("٣", 3), ("+3", 3), ("1_0", 10), (" 3 ", 3), ("３", 3)])
def test_numbers_are_read_by_int(document, written, value):
    text = document([5] * 20)
    report = run(text, f"remove_lines(line_start={written}, line_end={written})")
    assert report.removed_lines == (value,)
    assert report.errors == ()


@pytest.mark.parametrize("written", ["3.0", "0x3", "three", "", "1__0", "True"])
def test_numbers_int_cannot_read_are_one_error(document, written):
    report = run(document([5] * 20), f"remove_lines(line_start={written}, line_end=4)")
    assert (report.removed_lines, len(report.errors)) == ((), 1)


def test_an_equals_sign_in_a_string_cuts_the_value(document):
    text = document([5] * 20)
    # The value is the text between the first and the second "=": '"l1w1', then stripped of its quote.
    assert action('normalize(source_str="l1w1=x", target_str="y")') == Replace("l1w1", "y", True)
    assert action('normalize(source_str="a", target_str="b=c")') == Replace("a", "b", True)
    report = run(text, 'normalize(source_str="l1w1=l2w2", target_str="")')
    assert report.text == text.replace("l1w1", "")


def test_a_closing_parenthesis_in_a_string_ends_the_arguments(document):
    text = document([5] * 20).replace("l1w1", "(l1w1)")
    report = run(text, 'normalize(source_str="(l1w1)", target_str="X")')
    # Read as the one-argument form with source '(l1w1': it is deleted, the ")" stays.
    assert report.text == text.replace("(l1w1", "")


def test_a_comma_in_a_string_makes_normalize_do_nothing_without_error(document):
    text = document([5] * 20)
    report = run(text, 'normalize(source_str="l1w1, l1w2", target_str="X")')
    assert (report.text, report.errors) == (text, ())
    assert report.skipped_normalizations[0].why == "unread_arguments"


def test_single_quotes_are_kept_as_part_of_the_string(document):
    text = document([5] * 20).replace("l1w1", "'l1w1'").replace("l2w1", "l1w1")
    report = run(text, "normalize(source_str='l1w1', target_str='X')")
    assert report.text == text.replace("'l1w1'", "'X'")
    assert "l1w1" in report.text


def test_spaces_around_the_equals_sign_stay_in_the_string(document):
    assert action('normalize(source_str = "a", target_str = "b")') == Replace(' "a', ' "b', True)
    text = document([5] * 20)
    assert run(text, 'normalize(source_str = "l1w1", target_str = "X")').text == text


def test_negative_starts_remove_from_the_first_line_without_error(document):
    text = document([5] * 20)
    report = run(text, "remove_lines(line_start=-2, line_end=1)")
    assert (report.text, report.errors) == (lines_without(text, 0, 1), ())
    assert run(text, "remove_lines(line_start=-5, line_end=-1)").text == text


def test_reversed_ranges_remove_nothing_even_with_a_negative_end(document):
    text = document([5] * 20)
    report = run(text, "remove_lines(line_start=3, line_end=-2)\nremove_lines(line_start=7, line_end=3)")
    assert (report.text, report.errors) == (text, ())


def test_reversed_ranges_are_merged_by_their_start(document):
    # (4, 2) sorts after (3, 3) and merges into it: (3, 3). (30, 0) starts past the last line: one error.
    text = document([5] * 20)
    report = run(text, "remove_lines(line_start=4, line_end=2)\nremove_lines(line_start=3, line_end=3)")
    assert (report.removed_lines, report.errors) == ((3,), ())
    assert len(run(text, "remove_lines(line_start=30, line_end=0)").errors) == 1
    # (19, 30) then (20, 0): merged into (19, 30), one error; alone, (20, 0) is an error too.
    assert (
        len(run(text, "remove_lines(line_start=20, line_end=0)\nremove_lines(line_start=19, line_end=30)").errors) == 1
    )


def test_a_range_from_before_the_first_to_past_the_last_line_removes_all_with_one_error(document):
    report = run(document([5] * 20), "remove_lines(line_start=-5, line_end=100)")
    assert report.removed_lines == tuple(range(20))
    assert len(report.errors) == 1
    assert report.reason == "nearly_all_removed"


def test_an_unterminated_call_loses_its_last_character_and_may_still_act(document):
    text = document([5] * 20)
    # (A trailing space at the very end of the program would be stripped, so another line follows.)
    spaced = run(text, "remove_lines(line_start=1, line_end=3 \nkeep_chunk()")
    assert (spaced.removed_lines, len(spaced.errors), spaced.reason) == ((1, 2, 3), 1, "edited")
    two_digits = run(text, "remove_lines(line_start=1, line_end=12")
    assert (two_digits.removed_lines, len(two_digits.errors)) == ((1,), 1)
    cut = run(text, "remove_lines(line_start=1, line_end=3")  # reads "line_end=" : a second error
    assert (cut.removed_lines, len(cut.errors), cut.reason) == ((), 2, "reverted_errors")
    cut_string = run(text, 'normalize(source_str="l3w1')  # the source read is "l3w"
    assert cut_string.edited_text == text.replace("l3w", "")
    assert len(cut_string.errors) == 1


def test_extra_keyword_arguments_are_ignored_and_names_are_not_checked(document):
    text = document([5] * 20)
    assert run(text, 'remove_lines(line_start=2, line_end=3, reason="ads")').text == lines_without(text, 2, 3)
    assert run(text, "remove_lines(foo=2, bar=3)").text == lines_without(text, 2, 3)
    # The first argument is the start whatever it is called: this is the reversed range 5..2.
    assert run(text, "remove_lines(line_end=5, line_start=2)").text == text
    # The first string is the source whatever it is called.
    assert run(text, 'normalize(target_str="l1w1", source_str="X")').text == text.replace("l1w1", "X")


def test_remove_lines_with_all_true_removes_every_line(document):
    text = document([5] * 20)
    assert run(text, "remove_lines(all=True)").removed_lines == tuple(range(20))
    assert run(text, "remove_lines(all=True").errors == ()
    assert action("remove_lines  all=True") == RemoveAll()
    # "all=True" anywhere on the line, even in a comment, wins over the range.
    report = run(text, "remove_lines(line_start=1, line_end=1)  # not all=True")
    assert (report.keep, report.reason) == (False, "nearly_all_removed")


def test_code_fences_and_comments(document):
    text = document([5] * 20)
    assert run(text, "```python\nremove_lines(line_start=1, line_end=2)\n```").text == lines_without(text, 1, 2)
    assert run(text, "```remove_lines(line_start=1, line_end=2)```").text == text
    assert run(text, "# remove_lines(line_start=1, line_end=2)").text == text
    assert run(text, "remove_lines(line_start=1, line_end=2)  # (ads)").text == lines_without(text, 1, 2)


def test_keep_chunk_and_untouch_doc_are_nothing(document):
    text = document([5] * 20)
    report = run(text, "keep_chunk()\nuntouch_doc()\nkeep_chunk(\ndrop_doc()")
    assert (report.text, report.errors, report.calls) == (text, (), 0)
    # A call after them on the same line is not at the start of a line.
    assert run(text, "untouch_doc(); remove_lines(line_start=1, line_end=2)").text == text


@pytest.mark.parametrize("output", ["", " ", "   \n  ", "\n\n", "\t"])
def test_empty_and_whitespace_programs_leave_the_document(document, output):
    text = document([5] * 20)
    assert (run(text, output).text, run(text, output).errors) == (text, ())


def test_chunk_outputs_are_joined_into_one_program(document):
    text = document([5] * 20)
    report = run(
        text, "keep_chunk()\nremove_lines(line_start=1, line_end=3", "  remove_lines(line_start=8, line_end=9)"
    )
    # The first chunk's cut-off call reads "line_end=" (two errors): the whole document is reverted.
    assert (report.removed_lines, len(report.errors), report.reason) == ((8, 9), 2, "reverted_errors")
    spread = run(text, 'normalize(source_str="l1w1", target_str="A")', "remove_lines(line_start=1, line_end=1)")
    assert spread.text == lines_without(text.replace("l1w1", "A"), 1)


def test_a_hand_built_program_runs_as_its_canonical_text(document):
    text = document([5] * 20)
    program = Program((RemoveLines(1, 2), Normalize("l5w1", "X"), KeepChunk()))
    assert execute_chunk_programs(text, program, RELEASE).text == lines_without(text, 1, 2).replace("l5w1", "X")


def test_the_release_reads_the_source_not_the_parsed_calls(document):
    text = document([5] * 20)
    program = parse_program("- remove_lines(line_start=1, line_end=2)")
    assert program.calls == (RemoveLines(1, 2),)
    assert execute_chunk_programs(text, program, RELEASE).text == text
    assert execute_chunk_programs(text, program, STRICT).text == lines_without(text, 1, 2)


def test_strict_still_reads_with_the_safe_parser(document):
    text = document([5] * 20)
    assert execute_chunk_programs(text, parse_program('normalize(source_str=" ")'), STRICT).text == text
    report = execute_chunk_programs(text, parse_program("remove_lines(line_start=1, line_end=2)  # all=True"), STRICT)
    assert report.removed_lines == (1, 2)


# --- what the release reads back --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        RemoveLines(0, 0),
        RemoveLines(3, 7),
        RemoveLines(-2, 10**40),
        Normalize(" Read more »", ""),
        Normalize("(see below", "x"),
        Normalize(" ", "y"),
        Normalize("é ٣ 😀", "'quoted'"),
        KeepChunk(),
    ],
)
def test_release_readable_calls_read_back_identically(call):
    assert release_readable(call)


@pytest.mark.parametrize(
    "call",
    [
        Normalize("a,b", ""),
        Normalize("a=b", ""),
        Normalize("(more)", ""),
        Normalize('say "hi"', ""),
        Normalize("back\\slash", ""),
        Normalize("new\nline", ""),
        Normalize("tab\there", ""),
        Normalize("zero\u200bwidth", ""),
        Normalize("a", "b,c"),
        Normalize("a", "x)"),
    ],
)
def test_release_unreadable_normalize_calls_are_detected(call):
    assert not release_readable(call)
