"""Real-world-style broken model outputs: what the parser reads from each, and what the release does with it."""

from __future__ import annotations

import time

import pytest

from prox.program import (
    RELEASE,
    STRICT,
    KeepChunk,
    Normalize,
    RemoveLines,
    execute_chunk_programs,
    parse_program,
)

# (id, output, expected calls, expected (error kind, function) pairs)
NASTY_OUTPUTS = [
    (
        "repetition_loop",
        "remove_lines(line_start=3, line_end=7)\n" * 500,
        (RemoveLines(3, 7),) * 500,
        [],
    ),
    (
        "repetition_loop_cut_mid_call",
        "remove_lines(line_start=3, line_end=7)\n" * 20 + "remove_lines(line_start=3, line_",
        (RemoveLines(3, 7),) * 20,
        [("unterminated", "remove_lines")],
    ),
    (
        "cut_mid_string",
        'remove_lines(line_start=0, line_end=1)\nnormalize(source_str="Click here to subscri',
        (RemoveLines(0, 1),),
        [("unterminated", "normalize")],
    ),
    (
        "cut_after_source",
        'normalize(source_str="a", target_str=',
        (),
        [("unterminated", "normalize")],
    ),
    (
        "huge_range",
        "remove_lines(line_start=0, line_end=10000)",
        (RemoveLines(0, 10000),),
        [],
    ),
    (
        "negative_start",
        "remove_lines(line_start=-1, line_end=3)",
        (),
        [("bad_arguments", "remove_lines")],
    ),
    (
        "quotes_and_paren_in_normalize",
        """normalize(source_str="He said \\"no\\" (twice)", target_str='it\\'s ) fine')""",
        (Normalize('He said "no" (twice)', "it's ) fine"),),
        [],
    ),
    (
        "chatty_preamble_then_fence",
        "Sure! Here is the program for this chunk:\n\n```python\n"
        "remove_lines(line_start=0, line_end=2)\nkeep_chunk()\n```\nLet me know if you need anything else!",
        (RemoveLines(0, 2), KeepChunk()),
        [("stray_text", None), ("stray_text", None)],
    ),
    (
        "windows_line_endings",
        '```python\r\nremove_lines(line_start=1, line_end=2)\r\nnormalize(source_str="a", target_str="b")\r\n```\r\n',
        (RemoveLines(1, 2), Normalize("a", "b")),
        [],
    ),
    (
        "nul_byte",
        "remove_lines(line_start=1, line_end=2)\x00\nkeep_chunk()",
        (RemoveLines(1, 2), KeepChunk()),
        [("stray_text", None)],
    ),
    (
        "nul_byte_inside_string",
        'normalize(source_str="a\x00b", target_str="")',
        (),
        [("syntax", "normalize")],
    ),
    (
        "positional_and_keyword_mix",
        "remove_lines(3, 7)\nremove_lines(start=9, end=9)\nuntouch_doc()",
        (RemoveLines(3, 7), RemoveLines(9, 9), KeepChunk()),
        [],
    ),
    (
        "two_calls_one_line_with_comment",
        "remove_lines(line_start=1, line_end=1); remove_lines(line_start=5, line_end=5)  # ads",
        (RemoveLines(1, 1), RemoveLines(5, 5)),
        [],
    ),
    (
        "float_line_numbers",
        "remove_lines(line_start=1.0, line_end=2.0)",
        (),
        [("bad_arguments", "remove_lines")],
    ),
    (
        "stray_closing_paren",
        "remove_lines(line_start=1, line_end=2))\nkeep_chunk()",
        (RemoveLines(1, 2), KeepChunk()),
        [("stray_text", None)],
    ),
    (
        "hallucinated_function",
        "remove_all_lines()\nkeep_chunk()",
        (KeepChunk(),),
        [("unknown_function", "remove_all_lines")],
    ),
    (
        "markdown_list",
        "- remove_lines(line_start=1, line_end=2)\n- keep_chunk()",
        (RemoveLines(1, 2), KeepChunk()),
        [("stray_text", None), ("stray_text", None)],
    ),
]


@pytest.mark.parametrize(
    ("output", "calls", "errors"), [case[1:] for case in NASTY_OUTPUTS], ids=[c[0] for c in NASTY_OUTPUTS]
)
def test_nasty_output_is_read_as_expected(output, calls, errors):
    program = parse_program(output)
    assert program.calls == calls
    assert [(error.kind, error.function) for error in program.errors] == errors


def forty_line_document() -> str:
    return "\n".join(f"line {i} has some words" for i in range(40))


def test_repetition_loop_removes_the_range_once_without_errors():
    report = execute_chunk_programs(forty_line_document(), parse_program(NASTY_OUTPUTS[0][1]), RELEASE)
    assert report.removed_lines == (3, 4, 5, 6, 7)
    assert (report.errors, report.reason, report.calls) == ((), "edited", 500)


def test_huge_range_is_clamped_and_one_error_under_release():
    report = execute_chunk_programs(forty_line_document(), parse_program("remove_lines(line_start=0, line_end=10000)"))
    assert report.removed_lines == tuple(range(40))
    assert len(report.errors) == 1
    # One error still trusts the program, and nothing is left: the document is dropped.
    assert (report.keep, report.reason) == (False, "nearly_all_removed")


def test_huge_range_is_an_error_and_ignored_under_strict():
    report = execute_chunk_programs(
        forty_line_document(), parse_program("remove_lines(line_start=0, line_end=10000)"), STRICT
    )
    assert report.removed_lines == ()
    assert len(report.errors) == 1
    assert (report.keep, report.reason) == (True, "unchanged")


def test_negative_start_removes_from_the_first_line_without_error_under_release():
    report = execute_chunk_programs(forty_line_document(), parse_program("remove_lines(line_start=-1, line_end=3)"))
    assert report.removed_lines == (0, 1, 2, 3)
    assert report.errors == ()
    assert report.reason == "edited"


def test_negative_start_is_one_error_and_removes_nothing_under_strict():
    report = execute_chunk_programs(
        forty_line_document(), parse_program("remove_lines(line_start=-1, line_end=3)"), STRICT
    )
    assert report.removed_lines == ()
    assert len(report.errors) == 1
    assert report.reason == "unchanged"


def test_chatty_preamble_costs_nothing_under_release_and_two_errors_under_strict():
    output = NASTY_OUTPUTS[7][1]
    release = execute_chunk_programs(forty_line_document(), parse_program(output), RELEASE)
    strict = execute_chunk_programs(forty_line_document(), parse_program(output), STRICT)
    assert (release.reason, release.removed_lines) == ("edited", (0, 1, 2))
    assert (strict.reason, len(strict.errors)) == ("reverted_errors", 2)


def test_output_cut_mid_string_still_applies_the_complete_calls():
    report = execute_chunk_programs(forty_line_document(), parse_program(NASTY_OUTPUTS[2][1]), RELEASE)
    assert report.removed_lines == (0, 1)
    assert len(report.errors) == 1
    assert report.reason == "edited"


def test_windows_line_endings_in_the_document_stay_in_the_lines():
    text = "\r\n".join(f"line {i} has some words" for i in range(20))
    report = execute_chunk_programs(text, parse_program("remove_lines(line_start=0, line_end=0)\r\n"), RELEASE)
    assert report.text == text.split("\r\n", 1)[1]


LONG_OUTPUTS = {
    "repeated_calls": "remove_lines(line_start=3, line_end=7)\n" * 2600,
    "one_long_line": "x" * 100_000,
    "long_string": 'normalize(source_str="' + "a" * 100_000 + '", target_str="")',
    "unclosed_string": 'normalize(source_str="' + "a" * 100_000,
    "open_parens_per_line": "(\n" * 50_000,
    "unclosed_calls_per_line": "remove_lines(line_start=3, line_end=\n" * 2700,
    "unclosed_strings_per_line": 'normalize(source_str="abc\n' * 3500,
    "stray_closers_per_line": ")\nkeep_chunk()\n" * 7000,
    "deep_nesting": "(" * 100_000,
    "open_triple_quote": "'''\n" + "text line\n" * 10_000,
    "prose": "The quick brown fox jumps over the lazy dog.\n" * 2200,
    "bad_indentation": "\n".join(["    a", "  b", " c", "d"] * 10_000),
}


@pytest.mark.parametrize("output", LONG_OUTPUTS.values(), ids=LONG_OUTPUTS.keys())
def test_very_long_output_parses_in_reasonable_time(output):
    assert len(output) >= 90_000
    started = time.perf_counter()
    program = parse_program(output)
    assert time.perf_counter() - started < 10
    assert program.source == output


def test_very_long_repetition_is_read_completely():
    program = parse_program(LONG_OUTPUTS["repeated_calls"])
    assert program.calls == (RemoveLines(3, 7),) * 2600
    assert program.errors == ()


def test_stray_closers_do_not_stop_reading_a_long_output():
    program = parse_program(LONG_OUTPUTS["stray_closers_per_line"])
    assert len(program.calls) == 7000
    assert len(program.errors) == 7000


# Output cut off mid-call, one such line repeated: every line opens a call that the next line abandons.
CUT_OFF_LINES = {
    "cut_after_keyword": "remove_lines(line_start=1, line_end=\n",
    "cut_mid_string": 'normalize(source_str="abc\n',
    "cut_after_source": 'normalize(source_str="abc", target_str=\n',
    "cut_after_parenthesis": "remove_lines(\n",
    "cut_inside_a_list": "remove_lines([\n",
}


def tokens_read(output: str, monkeypatch) -> int:
    """How many tokens the parser takes from the tokenizer reading `output` (its work, restarts included)."""
    import tokenize

    count = 0
    generate = tokenize.generate_tokens

    def counting(readline):
        nonlocal count
        for token in generate(readline):
            count += 1
            yield token

    with monkeypatch.context() as patch:
        patch.setattr(tokenize, "generate_tokens", counting)
        parse_program(output)
    return count


@pytest.mark.parametrize("line", CUT_OFF_LINES.values(), ids=CUT_OFF_LINES.keys())
def test_output_cut_off_mid_call_is_read_once_and_completely(line, monkeypatch):
    program = parse_program(line * 4000)
    assert [error.kind for error in program.errors] == ["unterminated"] * 4000
    # Each line is tokenized about once: no re-reading of the following lines from every cut-off call.
    one_pass = tokens_read(line * 1000, monkeypatch)
    assert one_pass <= 2 * 1000 * tokens_read(line, monkeypatch)
    assert tokens_read(line * 4000, monkeypatch) <= 4.5 * one_pass


@pytest.mark.parametrize("line", CUT_OFF_LINES.values(), ids=CUT_OFF_LINES.keys())
def test_output_cut_off_mid_call_parses_in_linear_time(line):
    def best_time(output: str) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            parse_program(output)
            times.append(time.perf_counter() - started)
        return min(times)

    assert best_time(line * 4000) < 6 * best_time(line * 1000)
