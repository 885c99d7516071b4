"""The parser reads every call form models write and records, never raises on, everything else."""

from __future__ import annotations

import pytest

from prox.program import DropDoc, KeepChunk, KeepDoc, Normalize, ParseError, Program, RemoveLines, parse_program


def only_call(text: str):
    program = parse_program(text)
    assert program.errors == (), program.errors
    assert len(program.calls) == 1, program.calls
    return program.calls[0]


def only_error(text: str) -> ParseError:
    program = parse_program(text)
    assert program.calls == (), program.calls
    assert len(program.errors) == 1, program.errors
    return program.errors[0]


# --- call forms ---------------------------------------------------------------------------------------------------


def test_keyword_remove_lines_is_read():
    call = only_call("remove_lines(line_start=3, line_end=7)")
    assert call == RemoveLines(3, 7)
    assert call.positional is False


def test_short_keywords_start_end_are_read():
    assert only_call("remove_lines(start=3, end=7)") == RemoveLines(3, 7)


def test_keywords_in_any_order_are_read_by_name():
    assert only_call("remove_lines(line_end=7, line_start=3)") == RemoveLines(3, 7)


def test_positional_remove_lines_is_accepted():
    call = only_call("remove_lines(3, 7)")
    assert call == RemoveLines(3, 7)
    assert call.positional is True


def test_mixed_positional_and_keyword_remove_lines_is_marked_positional():
    call = only_call("remove_lines(3, line_end=7)")
    assert call == RemoveLines(3, 7)
    assert call.positional is True


def test_reversed_range_is_read_as_written():
    assert only_call("remove_lines(line_start=9, line_end=2)") == RemoveLines(9, 2)


def test_line_zero_and_leading_zeros_and_plus_sign_are_integers():
    assert only_call("remove_lines(line_start=0, line_end=000)") == RemoveLines(0, 0)
    assert only_call("remove_lines(line_start=+4, line_end=1_0)") == RemoveLines(4, 10)


def test_normalize_with_both_keywords_is_read():
    assert only_call('normalize(source_str="foo", target_str="bar")') == Normalize("foo", "bar")


def test_normalize_target_defaults_to_empty_string():
    call = only_call('normalize(source_str="foo")')
    assert call == Normalize("foo", "")
    assert call.target == ""


def test_positional_normalize_is_marked_positional():
    call = only_call('normalize("foo", "bar")')
    assert call == Normalize("foo", "bar")
    assert call.positional is True


@pytest.mark.parametrize(
    ("text", "source", "target"),
    [
        ("normalize(source_str='single', target_str='quotes')", "single", "quotes"),
        ('normalize(source_str="double", target_str="quotes")', "double", "quotes"),
        ("normalize(source_str='''triple''', target_str=\"\"\"quotes\"\"\")", "triple", "quotes"),
        (r"""normalize(source_str='it\'s', target_str="say \"hi\"")""", "it's", 'say "hi"'),
        (r'normalize(source_str="a\\b", target_str="tab\there")', "a\\b", "tab\there"),
        (r'normalize(source_str="line\nbreak", target_str="\u00e9\U0001F600\x41")', "line\nbreak", "é😀A"),
        ('normalize(source_str="it\'s", target_str=\'say "hi"\')', "it's", 'say "hi"'),
        ("normalize(source_str='''a\nb''', target_str='')", "a\nb", ""),
        ("normalize(source_str=r'\\d+', target_str='')", "\\d+", ""),
        ("normalize(source_str='con' 'cat', target_str=u'x')", "concat", "x"),
    ],
)
def test_string_literal_forms_and_escapes_are_decoded(text, source, target):
    assert only_call(text) == Normalize(source, target)


@pytest.mark.parametrize(
    ("text", "source", "target"),
    [
        ('normalize(source_str="a, b", target_str="c,d")', "a, b", "c,d"),
        ('normalize(source_str="f(x)", target_str=")")', "f(x)", ")"),
        ('normalize(source_str="((", target_str="]}")', "((", "]}"),
        ('normalize(source_str="x=1", target_str="target_str=2")', "x=1", "target_str=2"),
        ('normalize(source_str="# not a comment", target_str=";")', "# not a comment", ";"),
        ('normalize(source_str="```", target_str="")', "```", ""),
    ],
)
def test_commas_parentheses_and_syntax_inside_strings_stay_in_the_string(text, source, target):
    assert only_call(text) == Normalize(source, target)


def test_doc_calls_are_read():
    assert only_call("drop_doc()") == DropDoc()
    assert only_call("keep_doc()") == KeepDoc()


def test_keep_chunk_is_read():
    assert only_call("keep_chunk()") == KeepChunk()


def test_untouch_doc_is_read_as_keep_chunk():
    assert only_call("untouch_doc()") == KeepChunk()


def test_python_fence_around_the_program_is_ignored():
    text = "```python\nremove_lines(line_start=1, line_end=2)\nnormalize(source_str='a')\n```"
    program = parse_program(text)
    assert program.calls == (RemoveLines(1, 2), Normalize("a", ""))
    assert program.errors == ()


@pytest.mark.parametrize(
    "text",
    [
        "```\nkeep_chunk()\n```",
        "```py\nkeep_chunk()\n```",
        "```keep_chunk()```",
        "  ```python  \nkeep_chunk()\n  ```  ",
    ],
)
def test_fence_variants_are_ignored(text):
    assert only_call(text) == KeepChunk()


def test_comments_and_blank_lines_are_ignored():
    text = "# remove the boilerplate\n\n\nremove_lines(line_start=0, line_end=1)  # nav bar\n\n# done\n"
    assert only_call(text) == RemoveLines(0, 1)


def test_several_calls_on_one_line_without_separator_are_all_read():
    program = parse_program("remove_lines(line_start=1, line_end=2) remove_lines(line_start=4, line_end=5)")
    assert program.calls == (RemoveLines(1, 2), RemoveLines(4, 5))
    assert program.errors == ()


def test_several_calls_on_one_line_separated_by_semicolons_are_all_read():
    program = parse_program("remove_lines(line_start=1, line_end=2); normalize(source_str='x'); keep_chunk();")
    assert program.calls == (RemoveLines(1, 2), Normalize("x", ""), KeepChunk())
    assert program.errors == ()


def test_calls_keep_program_order_across_lines():
    text = "normalize(source_str='b')\nremove_lines(line_start=5, line_end=6)\nnormalize(source_str='a')"
    assert parse_program(text).calls == (Normalize("b", ""), RemoveLines(5, 6), Normalize("a", ""))


def test_indented_lines_are_read():
    text = "    remove_lines(line_start=1, line_end=2)\n    keep_chunk()"
    program = parse_program(text)
    assert program.calls == (RemoveLines(1, 2), KeepChunk())
    assert program.errors == ()


def test_inconsistent_indentation_does_not_lose_calls():
    text = (
        "remove_lines(line_start=1, line_end=2)\n"
        "    remove_lines(line_start=3, line_end=4)\n"
        "  remove_lines(line_start=5, line_end=6)\n"
        "\tnormalize(source_str='x')\n"
        " keep_chunk()\n"
        "drop_doc()"
    )
    program = parse_program(text)
    assert program.calls == (
        RemoveLines(1, 2),
        RemoveLines(3, 4),
        RemoveLines(5, 6),
        Normalize("x", ""),
        KeepChunk(),
        DropDoc(),
    )
    assert program.errors == ()


def test_call_split_over_lines_inside_its_parentheses_is_read():
    assert only_call("remove_lines(\n    line_start=1,\n    line_end=2,\n)") == RemoveLines(1, 2)


def test_line_continuation_backslash_is_tolerated():
    program = parse_program("remove_lines(line_start=1, line_end=2)\\\nkeep_chunk()")
    assert program.calls == (RemoveLines(1, 2), KeepChunk())


def test_windows_line_endings_are_read():
    program = parse_program("remove_lines(line_start=1, line_end=2)\r\nnormalize(source_str='a')\r\nkeep_chunk()\r\n")
    assert program.calls == (RemoveLines(1, 2), Normalize("a", ""), KeepChunk())
    assert program.errors == ()


def test_empty_output_is_an_empty_clean_program():
    program = parse_program("")
    assert program == Program()
    assert program.is_clean


def test_source_text_is_kept_verbatim():
    text = "Sure!\n```python\nkeep_doc()\n```"
    assert parse_program(text).source == text


# --- recorded errors ----------------------------------------------------------------------------------------------


def test_unknown_function_is_an_error_naming_it():
    error = only_error("delete_lines(line_start=1, line_end=2)")
    assert error.kind == "unknown_function"
    assert error.function == "delete_lines"
    assert error.line == 1
    assert error.snippet == "delete_lines(line_start=1, line_end=2)"


def test_unknown_function_does_not_hide_the_calls_around_it():
    program = parse_program("keep_chunk()\nfoo(1)\nremove_lines(line_start=1, line_end=2)")
    assert program.calls == (KeepChunk(), RemoveLines(1, 2))
    assert [(e.kind, e.function, e.line) for e in program.errors] == [("unknown_function", "foo", 2)]


def test_wrapping_a_call_in_another_call_is_an_unknown_function():
    error = only_error("print(remove_lines(line_start=1, line_end=2))")
    assert (error.kind, error.function) == ("unknown_function", "print")


@pytest.mark.parametrize(
    ("text", "function"),
    [
        ("remove_lines(1)", "remove_lines"),
        ("remove_lines(1, 2, 3)", "remove_lines"),
        ("remove_lines()", "remove_lines"),
        ("remove_lines(line_start=3)", "remove_lines"),
        ("remove_lines(line_end=3)", "remove_lines"),
        ("remove_lines(line_start=1, line_start=2)", "remove_lines"),
        ("remove_lines(1, line_start=2)", "remove_lines"),
        ("remove_lines(line_start=1, line_end=2, all=True)", "remove_lines"),
        ("remove_lines(first=1, last=2)", "remove_lines"),
        ("remove_lines(*lines)", "remove_lines"),
        ("remove_lines(**lines)", "remove_lines"),
        ("normalize()", "normalize"),
        ("normalize(target_str='x')", "normalize"),
        ("normalize('a', 'b', 'c')", "normalize"),
        ("normalize(source='a', target='b')", "normalize"),
        ("keep_chunk(1)", "keep_chunk"),
        ("drop_doc(reason='spam')", "drop_doc"),
        ("keep_doc(True)", "keep_doc"),
        ("untouch_doc(0)", "untouch_doc"),
    ],
)
def test_wrong_arity_or_argument_names_are_bad_arguments(text, function):
    error = only_error(text)
    assert error.kind == "bad_arguments"
    assert error.function == function


@pytest.mark.parametrize(
    "value",
    ["1.0", "2.5", "1e3", "True", "False", "None", "'3'", '"3"', "1j", "x", "1+1", "10**2", "--1", "[1]", "-1", "-0.0"],
)
def test_non_integer_or_negative_line_numbers_are_bad_arguments(value):
    for text in (f"remove_lines(line_start={value}, line_end=5)", f"remove_lines(line_start=1, line_end={value})"):
        error = only_error(text)
        assert error.kind == "bad_arguments"
        assert error.function == "remove_lines"


def test_negative_line_number_error_says_so():
    error = only_error("remove_lines(line_start=-1, line_end=3)")
    assert "negative" in error.message


@pytest.mark.parametrize("value", ["1", "1.5", "None", "True", "b'x'", "f'x'", "['x']", "x", "'a' + 'b'"])
def test_non_string_normalize_arguments_are_bad_arguments(value):
    for text in (f"normalize(source_str={value}, target_str='y')", f"normalize(source_str='y', target_str={value})"):
        error = only_error(text)
        assert error.kind == "bad_arguments"
        assert error.function == "normalize"


@pytest.mark.parametrize(
    ("text", "function"),
    [
        ("remove_lines(", "remove_lines"),
        ("remove_lines(line_start=3, line_e", "remove_lines"),
        ("remove_lines(line_start=3, line_end=7", "remove_lines"),
        ('normalize(source_str="abc', "normalize"),
        ('normalize(source_str="abc", target_str="de', "normalize"),
        ("keep_ch", None),
    ],
)
def test_output_cut_off_mid_call_is_an_error(text, function):
    program = parse_program(text)
    assert program.calls == ()
    assert len(program.errors) == 1
    error = program.errors[0]
    assert error.function == function
    if function is not None:
        assert error.kind == "unterminated"
        assert error.line == 1


def test_output_cut_off_inside_a_multiline_string_is_an_unterminated_call():
    program = parse_program("normalize(source_str='''abc\ndef")
    assert program.calls == ()
    assert (program.errors[0].kind, program.errors[0].function) == ("unterminated", "normalize")


def test_cut_off_call_after_complete_calls_keeps_the_complete_ones():
    program = parse_program('remove_lines(line_start=1, line_end=2)\nkeep_chunk()\nnormalize(source_str="ab')
    assert program.calls == (RemoveLines(1, 2), KeepChunk())
    assert [(e.kind, e.function, e.line) for e in program.errors] == [("unterminated", "normalize", 3)]


def test_unclosed_call_does_not_swallow_the_following_lines():
    program = parse_program(
        "remove_lines(line_start=1, line_end=2\nkeep_chunk()\nremove_lines(line_start=4, line_end=5)"
    )
    assert program.calls == (KeepChunk(), RemoveLines(4, 5))
    assert [(e.kind, e.function, e.line) for e in program.errors] == [("unterminated", "remove_lines", 1)]


def test_unterminated_string_does_not_swallow_the_following_lines():
    program = parse_program('normalize(source_str="abc\nremove_lines(line_start=1, line_end=2)')
    assert program.calls == (RemoveLines(1, 2),)
    assert [(e.kind, e.function) for e in program.errors] == [("unterminated", "normalize")]


def test_prose_is_stray_text_without_a_function():
    error = only_error("The document looks fine to me.")
    assert error.kind == "stray_text"
    assert error.function is None


def test_prose_mentioning_an_editing_function_names_it():
    error = only_error("I would remove_lines here but it is fine")
    assert error.kind == "stray_text"
    assert error.function == "remove_lines"


def test_bare_function_name_without_call_is_stray_text():
    error = only_error("drop_doc")
    assert error.kind == "stray_text"


def test_chatty_preamble_is_one_error_and_the_program_is_still_read():
    program = parse_program("Sure! Here's the program:\n```python\nremove_lines(line_start=1, line_end=2)\n```")
    assert program.calls == (RemoveLines(1, 2),)
    assert [(e.kind, e.line) for e in program.errors] == [("stray_text", 1)]


def test_text_before_a_call_on_the_same_line_is_stray_but_the_call_is_read():
    program = parse_program("x = remove_lines(line_start=1, line_end=2)")
    assert program.calls == (RemoveLines(1, 2),)
    assert [e.kind for e in program.errors] == ["stray_text"]


def test_stray_closing_bracket_is_one_error_and_does_not_taint_later_lines():
    program = parse_program(
        "remove_lines(line_start=1, line_end=2)\n)\nkeep_chunk()\nremove_lines(line_start=4, line_end=5)"
    )
    assert program.calls == (RemoveLines(1, 2), KeepChunk(), RemoveLines(4, 5))
    assert len(program.errors) == 1
    assert program.errors[0].line == 2


def test_extra_closing_parenthesis_after_a_call_is_one_error():
    program = parse_program("remove_lines(line_start=1, line_end=2))\nkeep_chunk()")
    assert program.calls == (RemoveLines(1, 2), KeepChunk())
    assert len(program.errors) == 1


def test_unclosed_bracket_in_prose_does_not_swallow_the_following_lines():
    program = parse_program("Notes [see below\nremove_lines(line_start=1, line_end=2)\nkeep_chunk()")
    assert program.calls == (RemoveLines(1, 2), KeepChunk())
    assert len(program.errors) == 1
    assert program.errors[0].line == 1


def test_error_snippets_are_short():
    error = only_error("remove_lines(line_start=" + "1" * 500 + ".5, line_end=2)")
    assert len(error.snippet) <= 80


def test_error_str_names_the_line_and_snippet():
    error = only_error("foo()")
    assert str(error).startswith("line 1: ")
    assert "'foo()'" in str(error)


def test_dotted_call_reads_the_call_and_reports_the_prefix():
    program = parse_program("self.remove_lines(line_start=1, line_end=2)")
    assert program.calls == (RemoveLines(1, 2),)
    assert [e.kind for e in program.errors] == ["stray_text"]


def test_huge_integer_literal_is_an_error_not_a_crash():
    program = parse_program("remove_lines(line_start=" + "9" * 5000 + ", line_end=2)")
    assert program.calls == ()
    assert [e.function for e in program.errors] == ["remove_lines"]


def test_program_of_type_filters_in_order():
    program = parse_program(
        "remove_lines(line_start=1, line_end=2)\nkeep_chunk()\nremove_lines(line_start=5, line_end=5)"
    )
    assert program.of_type(RemoveLines) == [RemoveLines(1, 2), RemoveLines(5, 5)]
    assert program.of_type(Normalize) == []


def test_is_clean_reflects_errors():
    assert parse_program("keep_chunk()").is_clean
    assert not parse_program("keep_chunk(1)").is_clean


# --- warnings and cost --------------------------------------------------------------------------------------------

INVALID_ESCAPE = r'normalize(source_str="\d+ items", target_str="")'


def test_an_invalid_escape_in_a_string_is_read_without_a_warning(capsys, recwarn):
    assert only_call(INVALID_ESCAPE) == Normalize("\\d+ items", "")
    assert len(recwarn) == 0
    assert capsys.readouterr().err == ""


def test_an_invalid_escape_is_read_even_when_warnings_are_errors():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert only_call(INVALID_ESCAPE) == Normalize("\\d+ items", "")
