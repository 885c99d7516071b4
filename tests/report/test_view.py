"""One document as the viewer shows it: removed lines, normalize edits, and the result rebuilt from the rows."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from prox.program import STRICT, ChunkProgram, execute_chunk_programs, parse_program
from prox.report.view import (
    INSERTED,
    KEPT,
    MAX_VIEW_CHARS,
    REMOVED,
    _truncate,
    edited_text,
    inline_diff,
    line_rows,
    original_text,
)

PAGE = "\n".join(
    [
        "Home | News | Sport",
        "Menu",
        "The harbour ferry will sail twice a day from April, the authority said on Monday.",
        "Passengers asked for an earlier boat in a survey last year. Read more »",
        "Share on Facebook",
        "Privacy Policy | Cookies",
    ]
)


def test_removed_lines_are_marked_with_the_numbers_the_refiner_saw():
    program = parse_program("remove_lines(line_start=0, line_end=1)\nremove_lines(line_start=4, line_end=5)")
    rows = line_rows(PAGE, execute_chunk_programs(PAGE, program))
    assert [row[0] for row in rows] == list(range(6))
    assert [row[0] for row in rows if row[1] == REMOVED] == [0, 1, 4, 5]
    assert all(isinstance(row[2], str) for row in rows)  # no normalize: whole lines, no diff segments


def test_a_normalize_edit_is_an_inline_diff_of_its_line():
    program = parse_program('normalize(source_str=" Read more »", target_str="")')
    rows = line_rows(PAGE, execute_chunk_programs(PAGE, program))
    changed = [row for row in rows if not isinstance(row[2], str)]
    assert [row[0] for row in changed] == [3]
    assert ["-", " Read more »"] in changed[0][2]
    assert all(op != "+" for op, _ in changed[0][2])


def test_the_rows_give_back_the_original_and_the_executors_edited_text():
    program = parse_program(
        'remove_lines(line_start=0, line_end=1)\nnormalize(source_str="Read more »", target_str="(more)")'
    )
    report = execute_chunk_programs(PAGE, program)
    rows = line_rows(PAGE, report)
    assert original_text(rows) == PAGE
    assert edited_text(rows) == report.edited_text == report.text


def test_a_normalize_that_joins_lines_falls_back_to_a_line_diff_that_still_rebuilds_both_texts():
    program = parse_program(
        'normalize(source_str="Menu\\nThe", target_str="The")\nremove_lines(line_start=4, line_end=4)'
    )
    report = execute_chunk_programs(PAGE, program)
    rows = line_rows(PAGE, report)
    assert original_text(rows) == PAGE
    assert edited_text(rows) == report.edited_text
    assert any(row[1] in (REMOVED, INSERTED) for row in rows)


def test_strict_chunk_scoped_edits_rebuild_the_edited_text():
    programs = [
        ChunkProgram(parse_program("remove_lines(line_start=0, line_end=1)"), 0, 2),
        ChunkProgram(parse_program('normalize(source_str=" Read more »")'), 3, 5),
    ]
    report = execute_chunk_programs(PAGE, programs, STRICT)
    rows = line_rows(PAGE, report)
    assert edited_text(rows) == report.edited_text
    assert [row[0] for row in rows if row[1] == REMOVED] == [0, 1]


def test_every_line_removed_leaves_no_kept_row():
    report = execute_chunk_programs(PAGE, parse_program("remove_lines(line_start=0, line_end=5)"))
    rows = line_rows(PAGE, report)
    assert {row[1] for row in rows} == {REMOVED}
    assert edited_text(rows) == ""


def test_without_a_replay_every_line_is_kept_as_it_is():
    rows = line_rows(PAGE, None)
    assert all(row[1] == KEPT for row in rows)
    assert original_text(rows) == edited_text(rows) == PAGE


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_inline_diff_segments_rebuild_both_strings(before: str, after: str):
    segments = inline_diff(before, after)
    assert "".join(text for op, text in segments if op != "+") == before
    assert "".join(text for op, text in segments if op != "-") == after


def test_long_lines_are_diffed_word_by_word_and_still_rebuild():
    before = "word " * 2000 + "Read more »"
    after = "word " * 2000
    segments = inline_diff(before, after)
    assert "".join(text for op, text in segments if op != "+") == before
    assert "".join(text for op, text in segments if op != "-") == after
    assert len(segments) <= 3


def test_a_huge_document_is_cut_for_the_viewer_and_says_how_many_lines_were_cut():
    text = "\n".join(f"line {index} " + "x" * 100 for index in range(3000))
    rows = line_rows(text, None)
    cut = _truncate(rows)
    assert cut > 0 and len(rows) + cut == 3000
    assert sum(len(row[2]) + 1 for row in rows) <= MAX_VIEW_CHARS + 200
    single = line_rows("y" * (MAX_VIEW_CHARS * 2), None)
    assert _truncate(single) == 0 and len(single[0][2]) == MAX_VIEW_CHARS
