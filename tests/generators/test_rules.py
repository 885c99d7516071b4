"""The rules baseline writes real ProX programs that the parser and executor accept."""

from __future__ import annotations

import pytest

from prox.chunking import chunk_document
from prox.generators import make_generator
from prox.program import DropDoc, KeepDoc, RemoveLines, execute_chunk_programs, parse_program

ARTICLE = "\n".join(
    [
        "Home | News | Sport | Contact",
        "Council approves new cycle lanes",
        "The city council voted on Tuesday to build four kilometres of protected cycle lanes along the river.",
        "Work will start in the spring and should take about eight months, the transport office said.",
        "Residents who spoke at the meeting asked for more crossings near the two primary schools.",
        "The council agreed to study the request and to report back before construction begins.",
        "Funding comes from a regional grant and from the city's own transport budget for next year.",
        "Officials expect the lanes to reduce traffic on the old bridge during the morning rush.",
        "This site uses cookies. Read our privacy policy.",
        "Share Tweet Email",
    ]
)
SPAM = "\n".join(["buy cheap watches buy cheap watches buy cheap watches"] * 12)


@pytest.fixture(scope="module")
def rules():
    return make_generator("rules")


def test_spam_gets_drop_doc_naming_the_failing_rule(rules):
    (program_text,) = rules.doc_programs([SPAM])
    program = parse_program(program_text)
    assert program.calls == (DropDoc(),)
    assert "gopher" in program_text or "fineweb" in program_text or "c4" in program_text


def test_clean_article_gets_keep_doc(rules):
    (program_text,) = rules.doc_programs([ARTICLE])
    assert parse_program(program_text).calls == (KeepDoc(),)


def test_lines_failing_c4_line_rules_become_merged_ranges(rules):
    chunks = chunk_document(ARTICLE, rules.chunk_sizer(), rules.chunk_budget)
    (program_text,) = rules.chunk_programs(chunks)
    program = parse_program(program_text)
    assert program.errors == ()
    # Line 0 (menu) and 1 (headline without terminal punctuation) are one run; 8 (cookie policy) and 9 follow.
    assert program.calls == (RemoveLines(0, 1), RemoveLines(8, 9))
    report = execute_chunk_programs(ARTICLE, program)
    assert report.keep and report.reason == "edited"
    assert report.text.splitlines() == ARTICLE.splitlines()[2:8]


def test_line_numbers_are_document_wide_across_chunks(rules):
    text = "\n".join(["A proper sentence that ends well and has words."] * 30 + ["menu"])
    chunks = chunk_document(text, rules.chunk_sizer(), budget=400)
    assert len(chunks) > 1
    programs = rules.chunk_programs(chunks)
    assert programs[:-1] == ["keep_chunk()"] * (len(chunks) - 1)
    assert parse_program(programs[-1]).calls == (RemoveLines(30, 30),)


@pytest.mark.parametrize(
    ("line", "passes"),
    [
        ("A complete sentence with enough words.", True),
        ("Ends with a question mark?", True),
        ('He said "stop."', True),
        ("No terminal punctuation here", False),
        ("Trailing ellipsis is not an ending...", False),
        ("Two words.", False),
        ("Please enable JavaScript to view this page.", False),
        ("By using this site you accept our terms of use.", False),
        ("A sentence with a citation marker at the end.[12]", True),
        ("x" * 1001 + " is one very long word.", False),
    ],
)
def test_c4_line_rules(rules, line, passes):
    assert rules.line_passes(line) is passes


def test_unknown_refiner_names_the_choices():
    with pytest.raises(ValueError, match="choose one of: lite, rules, lm"):
        make_generator("gpt-9")
