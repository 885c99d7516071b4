"""Recorded chunk programs (`metadata.prox.chunk_programs`) turned into executable `ChunkProgram`s."""

from __future__ import annotations

import pytest

from prox.chunking import Chunk
from prox.program import RemoveLines
from prox.records.programs import parse_chunk_programs, record_chunk_programs


def test_recorded_programs_keep_their_chunk_lines_and_parse():
    chunks = [Chunk(0, 2, "", 0, ("a", "b", "c")), Chunk(3, 4, "", 0, ("d", "e"))]
    recorded = record_chunk_programs(chunks, ["remove_lines(line_start=1, line_end=1)", ""])
    assert recorded == [
        {"first_line": 0, "last_line": 2, "program": "remove_lines(line_start=1, line_end=1)"},
        {"first_line": 3, "last_line": 4, "program": ""},
    ]
    first, second = parse_chunk_programs(recorded)
    assert (first.first_line, first.last_line, list(first.program.calls)) == (0, 2, [RemoveLines(1, 1)])
    assert (second.first_line, second.last_line, list(second.program.calls)) == (3, 4, [])


def test_a_missing_program_is_an_empty_one():
    [program] = parse_chunk_programs([{"first_line": 0, "last_line": 3, "program": None}])
    assert not program.program.calls


@pytest.mark.parametrize(
    ("recorded", "message"),
    [
        ({"first_line": 0}, "chunk_programs is a dict, not a list"),
        ([{"program": "keep_chunk()"}], "unreadable chunk_programs (KeyError: 'first_line')"),
        ([{"first_line": 0, "last_line": 1, "program": 7}], "program is a int, not a string"),
        ([{"first_line": "x", "last_line": 1, "program": ""}], "unreadable chunk_programs (ValueError"),
    ],
)
def test_anything_else_is_a_value_error_saying_what_is_wrong(recorded: object, message: str):
    with pytest.raises(ValueError) as error:
        parse_chunk_programs(recorded)
    assert message in str(error.value)


def test_unparsed_programs_run_under_the_release_policy_exactly_as_parsed_ones():
    from prox.program import RELEASE, execute_chunk_programs

    text = "\n".join(f"line {index} Read more »" for index in range(8))
    recorded = [
        {"first_line": 0, "last_line": 3, "program": "remove_lines(line_start=0, line_end=1)\nkeep_chunk()"},
        {"first_line": 4, "last_line": 7, "program": 'normalize(source_str=" Read more »")\nremove_lines(9, 12)'},
    ]
    unparsed = parse_chunk_programs(recorded, parsed=False)
    assert all(not item.program.calls and item.program.source for item in unparsed)
    assert execute_chunk_programs(text, unparsed, RELEASE) == execute_chunk_programs(
        text, parse_chunk_programs(recorded), RELEASE
    )
