"""Properties that hold for every input: the parser and executor never raise, round trips, policy agreement."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from prox.program import (
    RELEASE,
    STRICT,
    ChunkProgram,
    DropDoc,
    KeepChunk,
    KeepDoc,
    Normalize,
    ParseError,
    Program,
    RemoveLines,
    execute_chunk_programs,
    parse_program,
    serialize,
)
from prox.program.release import read_operations, release_program_text

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ERROR_KINDS = {"syntax", "unknown_function", "bad_arguments", "unterminated", "stray_text"}

FRAGMENTS = [
    "remove_lines(",
    "normalize(",
    "keep_chunk()",
    "drop_doc()",
    "keep_doc()",
    "untouch_doc()",
    "line_start=",
    "line_end=",
    "start=",
    "end=",
    "source_str=",
    "target_str=",
    "3",
    "-1",
    "1.5",
    "10000",
    ", ",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    '"',
    "'",
    '"""',
    "'''",
    "\\",
    "\\n",
    "\n",
    "\r\n",
    "\t",
    "    ",
    " ",
    ";",
    "#",
    "```python\n",
    "```",
    "x",
    "\x00",
    "é",
    "😀",
]
call_like_text = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)
any_text = st.one_of(st.text(), call_like_text)


def assert_well_formed(program: Program, text: str) -> None:
    assert program.source == text
    line_count = len(text.split("\n"))
    for error in program.errors:
        assert isinstance(error, ParseError)
        assert error.kind in ERROR_KINDS
        assert 1 <= error.line <= line_count
        assert len(error.snippet) <= 80
    for call in program.calls:
        if isinstance(call, RemoveLines):
            assert type(call.start) is int and type(call.end) is int
            assert call.start >= 0 and call.end >= 0
        if isinstance(call, Normalize):
            assert type(call.source) is str and type(call.target) is str


@FAST
@given(st.text())
def test_parser_never_raises_on_arbitrary_text(text):
    assert_well_formed(parse_program(text), text)


@FAST
@given(call_like_text)
def test_parser_never_raises_on_fragments_of_call_syntax(text):
    assert_well_formed(parse_program(text), text)


@FAST
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))
def test_parsing_is_deterministic(text):
    assert parse_program(text) == parse_program(text)


line_numbers = st.integers(min_value=0, max_value=10**6) | st.integers(min_value=0)
calls = st.one_of(
    st.builds(RemoveLines, line_numbers, line_numbers),
    st.builds(Normalize, st.text(), st.text()),
    st.just(DropDoc()),
    st.just(KeepDoc()),
    st.just(KeepChunk()),
)
programs = st.lists(calls, max_size=12).map(lambda cs: Program(tuple(cs)))


@FAST
@given(programs)
def test_parse_of_serialize_round_trips(program):
    assert parse_program(serialize(program)) == program


@FAST
@given(programs)
def test_serialize_is_stable_after_one_round_trip(program):
    text = serialize(program)
    assert serialize(parse_program(text)) == text


documents = st.one_of(
    st.text(),
    st.lists(st.text(alphabet="ab c\t.é", max_size=15), max_size=30).map("\n".join),
)


@st.composite
def chunked_programs(draw):
    """Arbitrary chunk programs over arbitrary (possibly wrong) spans, from parsed text or generated calls."""
    chunks = []
    for _ in range(draw(st.integers(0, 4))):
        program = parse_program(draw(any_text)) if draw(st.booleans()) else draw(programs)
        first = draw(st.integers(0, 50))
        last = draw(st.integers(0, 50))
        chunks.append(ChunkProgram(program, first, last))
    return chunks


@FAST
@given(st.data(), documents)
def test_executor_never_raises_and_reports_consistently(data, text):
    chunks = data.draw(chunked_programs())
    for policy in (RELEASE, STRICT):
        report = execute_chunk_programs(text, chunks, policy)
        assert report.words_in == len(text.split())
        assert report.words_out == len(report.edited_text.split())
        assert (report.text is None) == (not report.keep)
        if report.reason == "reverted_errors":
            assert report.text == text
        elif report.keep:
            assert report.text == report.edited_text
        assert list(report.removed_lines) == sorted(set(report.removed_lines))
        assert all(index >= 0 for index in report.removed_lines)
        if policy.parser == "ast":
            assert report.calls == sum(len(chunk.program.calls) for chunk in chunks)
        else:
            outputs = [chunk.program.source or serialize(chunk.program) for chunk in chunks]
            assert report.calls == len(read_operations(release_program_text(outputs)))
        if report.keep and report.reason != "reverted_errors":
            assert len(report.errors) < policy.revert_at_errors


@FAST
@given(any_text, documents)
def test_executor_never_raises_on_a_bare_parsed_program(output, text):
    program = parse_program(output)
    for policy in (RELEASE, STRICT):
        report = execute_chunk_programs(text, program, policy)
        assert report.reason in {
            "edited",
            "unchanged",
            "reverted_errors",
            "empty",
            "nearly_all_removed",
            "too_few_words",
            "over_removal",
        }


@FAST
@given(st.data(), documents)
def test_removed_lines_are_document_line_indices(data, text):
    # Normalize strings without newlines keep the line count, so removed indices must name document lines.
    newline_free = st.text().filter(lambda s: "\n" not in s)
    chunk_calls = st.lists(
        st.one_of(st.builds(RemoveLines, line_numbers, line_numbers), st.builds(Normalize, newline_free, newline_free)),
        max_size=8,
    )
    line_count = len(text.split("\n"))
    chunks = [
        ChunkProgram(
            Program(tuple(data.draw(chunk_calls))), data.draw(st.integers(0, 40)), data.draw(st.integers(0, 40))
        )
        for _ in range(data.draw(st.integers(1, 3)))
    ]
    for policy in (RELEASE, STRICT):
        report = execute_chunk_programs(text, chunks, policy)
        assert set(report.removed_lines) <= set(range(line_count))


@FAST
@given(st.data(), documents)
def test_strict_never_removes_outside_the_chunk_that_asked(data, text):
    line_count = len(text.split("\n"))
    first = data.draw(st.integers(0, line_count))
    last = data.draw(st.integers(first, line_count + 2))
    ranges = data.draw(st.lists(st.tuples(line_numbers, line_numbers), max_size=6))
    chunk = ChunkProgram(Program(tuple(RemoveLines(s, e) for s, e in ranges)), first, last)
    report = execute_chunk_programs(text, [chunk], STRICT)
    assert set(report.removed_lines) <= set(range(first, min(last, line_count - 1) + 1))


# --- release and strict agree on clean programs ------------------------------------------------------------------

WORDS = ["alpha", "beta", "gamma", "delta", "x", "yy", "a-b", "é", "😀", "the", "then"]


@st.composite
def clean_cases(draw):
    """A document, chunk spans partitioning its lines, and a clean program per chunk (see the test)."""
    line_count = draw(st.integers(1, 14))
    lines = [" ".join(draw(st.lists(st.sampled_from(WORDS), max_size=7))) for _ in range(line_count)]
    cuts = sorted(draw(st.sets(st.integers(1, line_count - 1), max_size=3))) if line_count > 1 else []
    bounds = [0, *cuts, line_count]
    spans = [(bounds[i], bounds[i + 1] - 1) for i in range(len(bounds) - 1)]
    current = list(lines)
    chunks = []
    for first, last in spans:
        chunk_calls = []
        for _ in range(draw(st.integers(0, 3))):
            if draw(st.booleans()):
                start = draw(st.integers(first, last))
                end = draw(st.integers(start, min(last, start + 2)))
                chunk_calls.append(RemoveLines(start, end))
                continue
            line = current[draw(st.integers(first, last))]
            if not line:
                continue
            a = draw(st.integers(0, len(line) - 1))
            source = line[a : draw(st.integers(a + 1, len(line)))]
            target = draw(st.text(alphabet="QZ é", max_size=4))
            inside = "\n".join(current[first : last + 1])
            whole = "\n".join(current)
            # Clean: not ignored, and every occurrence in the document lies in this chunk.
            if source in ("", " ") or whole.count(source) != inside.count(source):
                continue
            chunk_calls.append(Normalize(source, target))
            current[first : last + 1] = inside.replace(source, target).split("\n")
        chunks.append(ChunkProgram(Program(tuple(chunk_calls)), first, last))
    return "\n".join(lines), chunks


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(clean_cases())
def test_release_and_strict_agree_on_clean_programs(case):
    """Clean: keyword args, ranges inside their chunk, normalize sources that occur only in their chunk and hold no
    newline and are not "" or " ", targets without newlines, at most 80% of words removed."""
    text, chunks = case
    release = execute_chunk_programs(text, chunks, RELEASE)
    assume(release.words_in - release.words_out <= 0.8 * release.words_in)
    strict = execute_chunk_programs(text, chunks, STRICT)
    assert release.errors == strict.errors == ()
    assert (strict.keep, strict.reason, strict.text) == (release.keep, release.reason, release.text)
    assert strict.removed_lines == release.removed_lines
