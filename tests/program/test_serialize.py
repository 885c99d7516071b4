"""`serialize` writes the canonical keyword form, escaped so that parsing reads back the same program."""

from __future__ import annotations

import pytest

from prox.program import DropDoc, KeepChunk, KeepDoc, Normalize, Program, RemoveLines, parse_program, serialize


def test_remove_lines_serializes_with_keywords():
    assert serialize([RemoveLines(3, 7)]) == "remove_lines(line_start=3, line_end=7)"


def test_positional_remove_lines_serializes_in_keyword_form():
    assert serialize([RemoveLines(3, 7, positional=True)]) == "remove_lines(line_start=3, line_end=7)"


def test_normalize_serializes_with_both_keywords_double_quoted():
    assert serialize([Normalize("foo", "bar")]) == 'normalize(source_str="foo", target_str="bar")'


def test_normalize_default_target_is_written_out():
    assert serialize([Normalize("foo")]) == 'normalize(source_str="foo", target_str="")'


def test_no_argument_calls_serialize_to_their_names():
    assert serialize([DropDoc(), KeepDoc(), KeepChunk()]) == "drop_doc()\nkeep_doc()\nkeep_chunk()"


def test_program_serializes_one_call_per_line_in_order():
    program = Program((RemoveLines(1, 2), Normalize("a", "b"), KeepChunk()))
    assert serialize(program) == (
        'remove_lines(line_start=1, line_end=2)\nnormalize(source_str="a", target_str="b")\nkeep_chunk()'
    )


def test_tuple_and_list_of_calls_serialize_alike():
    calls = (RemoveLines(0, 0), KeepDoc())
    assert serialize(calls) == serialize(list(calls)) == serialize(Program(calls))


def test_empty_program_serializes_to_empty_text():
    assert serialize(Program()) == ""


def test_errors_are_not_serialized():
    program = parse_program("keep_chunk()\nfoo()\nThis is prose.")
    assert program.errors
    assert serialize(program) == "keep_chunk()"


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ('say "hi"', r'"say \"hi\""'),
        ("it's", '"it\'s"'),
        ("back\\slash", r'"back\\slash"'),
        ("two\nlines", r'"two\nlines"'),
        ("cr\rlf", r'"cr\rlf"'),
        ("tab\there", r'"tab\there"'),
        ("nul\x00", r'"nul\x00"'),
        ("bell\x07", r'"bell\x07"'),
        ("nbsp\u00a0", r'"nbsp\xa0"'),
        ("sep\u2028", r'"sep\u2028"'),
        ("zwsp\u200b", r'"zwsp\u200b"'),
        ("private\U000f0000", r'"private\U000f0000"'),
        ("é😀中", '"é😀中"'),
        ("a)b,c", '"a)b,c"'),
        ("", '""'),
    ],
)
def test_normalize_strings_are_escaped(value, literal):
    assert serialize([Normalize(value, value)]) == f"normalize(source_str={literal}, target_str={literal})"


@pytest.mark.parametrize(
    "value",
    [
        'say "hi"',
        "\\",
        "\\n is not a newline",
        '\\"',
        "two\nlines\r\n",
        "\t\x0b\x0c",
        "\x00\x1f\x7f\x85",
        "\u2028\u2029\ufeff",
        "😀\U0001f600\U000e0001",
        "\ud800",
        '"""',
        "'''",
        "```python",
        "# not a comment",
        ")",
        "(",
        "a, b",
        "=",
        " ",
    ],
)
def test_escaped_strings_read_back_exactly(value):
    program = Program((Normalize(value, value[::-1]),))
    assert parse_program(serialize(program)) == program


def test_parse_of_serialize_is_identity_on_a_mixed_program():
    program = Program(
        (
            DropDoc(),
            KeepDoc(),
            KeepChunk(),
            RemoveLines(0, 0),
            RemoveLines(12, 3),
            RemoveLines(10**12, 10**12 + 1),
            Normalize("a\nb", ""),
            Normalize('"', "'"),
        )
    )
    assert parse_program(serialize(program)) == program


def test_serialize_of_parse_is_canonical_for_every_input_form():
    text = "```python\nremove_lines(3, 7)\nremove_lines(start=1, end=2)  # c\nnormalize('x')\nuntouch_doc()\n```"
    assert serialize(parse_program(text)) == (
        "remove_lines(line_start=3, line_end=7)\n"
        "remove_lines(line_start=1, line_end=2)\n"
        'normalize(source_str="x", target_str="")\n'
        "keep_chunk()"
    )


def test_program_equality_ignores_source_and_positional_flag():
    assert Program((RemoveLines(1, 2, positional=True),), source="a") == Program((RemoveLines(1, 2),), source="b")
    assert Program((RemoveLines(1, 2),)) != Program((RemoveLines(1, 3),))
