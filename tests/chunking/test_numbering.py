from prox.chunking import number_line, number_lines


def test_index_is_zero_padded_to_three_digits():
    assert number_line(0, "a") == "[000]a"
    assert number_line(7, "a") == "[007]a"
    assert number_line(42, "a") == "[042]a"
    assert number_line(999, "a") == "[999]a"


def test_index_past_999_uses_as_many_digits_as_it_needs():
    assert number_line(1000, "a") == "[1000]a"
    assert number_line(9999, "a") == "[9999]a"
    assert number_line(12345, "a") == "[12345]a"


def test_no_space_is_added_after_the_bracket():
    assert number_line(3, "text") == "[003]text"
    assert number_line(3, " text") == "[003] text"
    assert number_line(3, "") == "[003]"


def test_line_text_is_kept_as_it_is():
    line = "  \t<s>[001]▁ tail  "
    assert number_line(5, line) == "[005]" + line


def test_number_lines_numbers_from_a_document_wide_first_index():
    assert number_lines(["a", "b", "c"]) == ["[000]a", "[001]b", "[002]c"]
    assert number_lines(["a", "b"], first=998) == ["[998]a", "[999]b"]
    assert number_lines(["a", "b"], first=999) == ["[999]a", "[1000]b"]
    assert number_lines([], first=5) == []
