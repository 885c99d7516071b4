"""`derive_program`: the chunk program that reproduces a teacher's deletion-only rewrite under the release policy."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prox.chunking import CharacterCounter, Chunk, chunk_document, number_line
from prox.program import (
    RELEASE,
    ChunkProgram,
    KeepChunk,
    Normalize,
    RemoveLines,
    execute_chunk_programs,
    parse_program,
    release_readable,
)
from prox.synth.rewrite import Derivation, derive_program

WCXB_DEV = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "line_labels" / "wcxb_dev.jsonl.gz"
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def chunk_of(lines: list[str], first: int, last: int) -> Chunk:
    return Chunk(first, last, "", 0, tuple(lines[first : last + 1]))


def derive(lines: list[str], first: int, last: int, cleaned: str, **options: bool) -> Derivation:
    return derive_program(lines, chunk_of(lines, first, last), cleaned, **options)


def released(lines: list[str], first: int, last: int, program: str) -> list[str]:
    """The chunk's lines after running `program` under the release policy; every other line must be untouched."""
    report = execute_chunk_programs("\n".join(lines), [ChunkProgram(parse_program(program), first, last)], RELEASE)
    assert report.errors == ()
    edited = [] if len(report.removed_lines) == len(lines) else report.edited_text.split("\n")
    after = len(lines) - last - 1
    assert edited[:first] == lines[:first]
    assert edited[len(edited) - after :] == lines[last + 1 :]
    return edited[first : len(edited) - after]


def assert_reproduces(lines: list[str], first: int, last: int, cleaned: str, derivation: Derivation) -> None:
    assert derivation.status == "exact", derivation.rejected
    assert derivation.program is not None
    assert "\n".join(released(lines, first, last, derivation.program)) == cleaned
    assert all(release_readable(call) for call in derivation.calls)


PAGE = [
    "Home | News | Sport | Contact",  # 0
    "Login",  # 1
    "The river flooded the old town",  # 2
    "Water rose two metres overnight. Share this",  # 3
    "Residents were moved to the school.",  # 4
    "Related: Storm season starts",  # 5
    "Subscribe to our newsletter",  # 6
    "Please Share this with friends",  # 7
    "Copyright 2024",  # 8
]


# --- whole lines ------------------------------------------------------------------------------------------------


def test_deleted_lines_become_merged_remove_lines_runs():
    cleaned = "\n".join([PAGE[2], PAGE[3], PAGE[4]])
    derivation = derive(PAGE, 0, 8, cleaned)
    assert derivation.calls == (RemoveLines(0, 1), RemoveLines(5, 8))
    assert derivation.removed_lines == (0, 1, 5, 6, 7, 8)
    assert_reproduces(PAGE, 0, 8, cleaned, derivation)


def test_line_numbers_are_document_wide():
    cleaned = "\n".join([PAGE[4], PAGE[6]])
    derivation = derive(PAGE, 4, 7, cleaned)
    assert derivation.program == "remove_lines(line_start=5, line_end=5)\nremove_lines(line_start=7, line_end=7)"
    assert_reproduces(PAGE, 4, 7, cleaned, derivation)


def test_unchanged_chunk_is_keep_chunk():
    derivation = derive(PAGE, 2, 4, "\n".join(PAGE[2:5]))
    assert derivation.calls == (KeepChunk(),)
    assert derivation.program == "keep_chunk()"
    assert (derivation.exact, derivation.removed_lines, derivation.removed_share) == (True, (), 0.0)


def test_empty_cleaned_text_removes_the_whole_chunk():
    derivation = derive(PAGE, 5, 8, "")
    assert derivation.calls == (RemoveLines(5, 8),)
    assert derivation.removed_share == 1.0
    assert_reproduces(PAGE, 5, 8, "", derivation)


def test_the_alignment_prefers_equal_lines_over_edited_ones():
    lines = ["Home page", "Home", "Welcome to the site"]
    derivation = derive(lines, 0, 2, "Home\nWelcome to the site")
    assert derivation.calls == (RemoveLines(0, 0),)


def test_removed_share_counts_the_chunk_words():
    derivation = derive(PAGE, 0, 2, PAGE[2])
    assert derivation.removed_share == pytest.approx(8 / 14)  # "|" counts as a word, as in str.split


# --- deletions inside a line --------------------------------------------------------------------------------------


def test_a_deleted_suffix_becomes_a_normalize():
    cleaned = "\n".join([PAGE[2], "Water rose two metres overnight.", PAGE[4]])
    derivation = derive(PAGE, 2, 4, cleaned)
    # " Share this" also occurs in line 7 (another chunk): the source takes the word before it as context.
    assert derivation.calls == (Normalize("overnight. Share this", "overnight."),)
    assert_reproduces(PAGE, 2, 4, cleaned, derivation)


def test_a_source_occurring_only_in_removed_lines_needs_no_context():
    cleaned = "\n".join([PAGE[2], "Water rose two metres overnight.", PAGE[4]])
    derivation = derive(PAGE, 2, 8, cleaned)
    assert derivation.calls == (Normalize(" Share this", ""), RemoveLines(5, 8))
    assert_reproduces(PAGE, 2, 8, cleaned, derivation)


def test_several_pieces_deleted_in_one_line_become_several_normalizes():
    lines = ["intro", "Ad: The river [edit] flooded the town (photo: AP) again", "outro"]
    cleaned = "intro\nThe river flooded the town again\noutro"
    derivation = derive(lines, 0, 2, cleaned)
    # "(photo: AP)" holds ")", which the release cannot read, so only the first two pieces can go...
    assert derivation.status == "rejected"
    assert "')'" in (derivation.rejected or "")
    cleaned = "intro\nThe river flooded the town again\noutro"
    lines[1] = "Ad: The river [edit] flooded the town [photo] again"
    derivation = derive(lines, 0, 2, cleaned)
    assert [type(call) for call in derivation.calls] == [Normalize, Normalize, Normalize]
    assert_reproduces(lines, 0, 2, cleaned, derivation)


def test_a_deletion_inside_a_word_takes_whole_words_of_context():
    lines = ["The colour of the sea", "nothing"]
    derivation = derive(lines, 0, 0, "The color of the sea")
    assert derivation.calls == (Normalize("colour", "color"),)
    lines = ["The colour of the sea", "colour"]
    derivation = derive(lines, 0, 0, "The color of the sea")
    assert derivation.calls == (Normalize("colour of", "color of"),)
    assert_reproduces(lines, 0, 0, "The color of the sea", derivation)


def test_no_unique_source_is_rejected_or_skipped_on_request():
    lines = ["Great article Share this", "body", "Great article Share this too"]
    derivation = derive(lines, 0, 1, "Great article\nbody")
    assert derivation.status == "rejected"
    assert derivation.rejected == (
        "line 0: cannot delete ' Share this': every readable source around it also occurs elsewhere in the document"
    )
    partial = derive(lines, 0, 1, "Great article\nbody", skip_inexpressible=True)
    assert (partial.status, partial.program) == ("partial", "keep_chunk()")
    assert partial.notes == (derivation.rejected,)


def test_a_line_removed_by_the_chunk_does_not_block_a_source():
    lines = ["same line X", "same line X"]
    derivation = derive(lines, 0, 1, "same line")
    assert derivation.calls == (Normalize(" X", ""), RemoveLines(1, 1))
    assert_reproduces(lines, 0, 1, "same line", derivation)


def test_a_chunk_needing_too_many_normalizes_is_rejected():
    lines = [" ".join(f"w{index} x{index}" for index in range(60)), "end"]
    cleaned = " ".join(f"w{index}" for index in range(60))
    assert derive(lines, 0, 1, cleaned + "\nend").exact
    lines = [" ".join(f"w{index} x{index}" for index in range(120)), "end"]
    cleaned = " ".join(f"w{index}" for index in range(120))
    derivation = derive(lines, 0, 1, cleaned + "\nend")
    assert derivation.rejected == "line 0: its deletions would take the chunk past 100 normalize calls"


@pytest.mark.parametrize("character", [",", "=", ")", '"', "\\"])
def test_deleting_a_character_the_release_cannot_read_is_rejected(character: str):
    lines = [f"Price 10{character} free shipping", "Order now"]
    derivation = derive(lines, 0, 1, "Price 10\nOrder now")
    assert derivation.status == "rejected"
    assert f"the release cannot read a normalize holding {character!r}" in (derivation.rejected or "")


@pytest.mark.parametrize("character", [",", "=", ")", '"'])
def test_context_stops_at_characters_the_release_cannot_read(character: str):
    lines = [f"a{character}bc Share", "x c Share"]
    derivation = derive(lines, 0, 0, f"a{character}bc")
    assert derivation.calls == (Normalize("bc Share", "bc"),)  # not a whole word: the room ends there
    assert_reproduces(lines, 0, 0, f"a{character}bc", derivation)
    lines = [f"a{character}bc Share", "x bc Share"]
    derivation = derive(lines, 0, 0, f"a{character}bc")
    assert derivation.rejected == (
        "line 0: cannot delete ' Share': every readable source around it also occurs elsewhere in the document"
    )


def test_sources_that_need_only_a_space_take_context():
    lines = ["a  b", "c d"]
    derivation = derive(lines, 0, 1, "a b\nc d")
    assert derivation.calls == (Normalize(" b", "b"),)  # a source of one space is ignored by the release
    assert_reproduces(lines, 0, 1, "a b\nc d", derivation)


# --- the [NNN] prefixes -------------------------------------------------------------------------------------------


def test_numbered_and_plain_teacher_lines_give_the_same_program():
    plain = "\n".join([PAGE[2], "Water rose two metres overnight.", PAGE[4]])
    numbered = "\n".join([number_line(2, PAGE[2]), "[003] Water rose two metres overnight.", PAGE[4]])
    assert derive(PAGE, 0, 8, numbered) == derive(PAGE, 0, 8, plain)
    assert derive(PAGE, 0, 8, numbered).exact


def test_the_chunk_as_displayed_is_unchanged():
    for chunk in chunk_document("\n".join(PAGE), CharacterCounter(), budget=120):
        assert derive_program(PAGE, chunk, chunk.text).program == "keep_chunk()"


def test_a_prefix_naming_another_line_is_text():
    derivation = derive(PAGE, 0, 8, number_line(3, PAGE[2]))
    assert derivation.rejected == f"line 2: text added: {'[003]'!r}"


def test_a_line_that_really_starts_with_its_number_keeps_it():
    lines = ["[000]x y", "z"]
    assert derive(lines, 0, 1, "[000]x y").calls == (RemoveLines(1, 1),)
    assert derive(lines, 0, 1, "[000][000]x y").calls == (RemoveLines(1, 1),)


# --- what is not a deletion ---------------------------------------------------------------------------------------


def test_added_text_is_rejected_with_the_line():
    derivation = derive(PAGE, 2, 4, "\n".join([PAGE[2], PAGE[3] + " (AP)", PAGE[4]]))
    assert derivation.rejected == "line 3: text added: ' (AP)'"
    assert (derivation.program, derivation.calls) == (None, ())


def test_an_added_line_is_rejected():
    derivation = derive(PAGE, 2, 4, "\n".join([PAGE[2], "Breaking news!", PAGE[4]]))
    assert derivation.rejected == "after line 2: text added: 'Breaking news!'"


def test_changed_words_are_rejected():
    derivation = derive(PAGE, 2, 4, "\n".join([PAGE[2], PAGE[3].replace("rose", "climbed"), PAGE[4]]))
    assert derivation.rejected == "line 3: text changed: 'rose' -> 'climbed'"


def test_reordered_lines_are_rejected():
    derivation = derive(PAGE, 2, 4, "\n".join([PAGE[2], PAGE[4], PAGE[3]]))
    assert derivation.rejected in ("line 3: moved (lines reordered)", "line 4: moved (lines reordered)")


def test_a_repeated_line_is_rejected():
    derivation = derive(PAGE, 2, 4, "\n".join([PAGE[2], PAGE[3], PAGE[3], PAGE[4]]))
    assert derivation.rejected == "line 3: repeated"


def test_several_problems_are_counted():
    cleaned = "\n".join(["Breaking!", PAGE[2], PAGE[3] + " (AP)", PAGE[4]])
    assert derive(PAGE, 2, 4, cleaned).rejected == "before line 2: text added: 'Breaking!' (and 1 more)"


def test_deletions_only_keeps_the_clear_deletions():
    cleaned = "\n".join([PAGE[2], PAGE[3].replace("rose", "climbed")])
    derivation = derive(PAGE, 0, 8, cleaned, deletions_only=True)
    assert derivation.status == "partial"
    assert derivation.notes == ("line 3: text changed: 'rose' -> 'climbed'",)
    # Lines no teacher line stands for are removed; the changed line stays as it was.
    assert derivation.calls == (RemoveLines(0, 1), RemoveLines(4, 8))
    assert released(PAGE, 0, 8, derivation.program or "") == [PAGE[2], PAGE[3]]


def test_deletions_only_keeps_a_moved_line_and_plain_deletions_in_a_changed_line():
    cleaned = "\n".join([PAGE[4], "The river flooded", PAGE[2]])
    derivation = derive(PAGE, 2, 4, cleaned, deletions_only=True)
    assert derivation.notes == ("line 2: repeated", "line 4: moved (lines reordered)")
    assert released(PAGE, 2, 4, derivation.program or "") == [PAGE[2], PAGE[4]]  # no teacher line stands for 3
    cleaned = "\n".join([PAGE[2], "Water rose overnight. Share that", PAGE[4]])
    derivation = derive(PAGE, 2, 4, cleaned, deletions_only=True)
    assert derivation.notes == ("line 3: text changed: 'this' -> 'that'",)
    assert released(PAGE, 2, 4, derivation.program or "") == [PAGE[2], "Water rose overnight. Share this", PAGE[4]]


def test_deletions_only_keeps_lines_where_the_teacher_rewrote():
    cleaned = "\n".join([PAGE[2], "A completely new sentence about it.", PAGE[8]])
    derivation = derive(PAGE, 0, 8, cleaned, deletions_only=True)
    kept = released(PAGE, 0, 8, derivation.program or "")
    assert kept == PAGE[2:]  # lines 3-7 face the rewritten text: none of them counts as deleted


# --- whitespace ---------------------------------------------------------------------------------------------------


def test_whitespace_is_text_by_default():
    lines = ["a b ", "a b", "", "", "c"]
    derivation = derive(lines, 0, 4, "a b\na b\n\nc")
    assert derivation.calls == (Normalize("b ", "b"), RemoveLines(2, 2))  # a stripped space, a dropped blank line
    assert_reproduces(lines, 0, 4, "a b\na b\n\nc", derivation)
    assert derive(lines, 0, 4, "a b \na b\n\n\nc\n").rejected == "after line 4: blank line added"


def test_ignoring_trailing_whitespace_keeps_the_chunks_own():
    lines = ["a b ", "a b", "", "c  "]
    derivation = derive(lines, 0, 3, "\na b\na b\nc\n", ignore_trailing_whitespace=True)
    assert derivation.calls == (RemoveLines(2, 2),)
    assert derivation.status == "partial"
    assert derivation.notes == ("reproduces the teacher's text except for whitespace at line ends or around it",)


# --- inputs -------------------------------------------------------------------------------------------------------


def test_the_document_may_be_given_as_text():
    text = "\n".join(PAGE)
    chunk = chunk_document(text, CharacterCounter(), budget=10_000)[0]
    assert derive_program(text, chunk, PAGE[2]) == derive_program(PAGE, chunk, PAGE[2])


def test_a_chunk_from_another_document_is_an_error():
    with pytest.raises(ValueError, match="not lines of this"):
        derive_program(PAGE, Chunk(0, 1, "", 0, ("x", "y")), "x")
    with pytest.raises(ValueError, match="not lines of this"):
        derive_program(PAGE, Chunk(5, 20, "", 0), "x")


# --- properties ---------------------------------------------------------------------------------------------------

PLAIN_WORDS = ["the", "cat", "Share", "this", "Home", "news", "a", "to", "of", "read", "more", "2024", "I"]
AWKWARD_WORDS = ["a,b", "x=1", "(c)", '"q"', "back\\slash", "tab\tbed", "[001]", " ", "é"]


@st.composite
def documents_and_cleanings(draw: st.DrawFn, words: list[str]) -> tuple[list[str], int, int, str, str]:
    """A document with words repeated across lines (some lines repeated whole), a chunk of it, a cleaning of that
    chunk that only deletes (whole lines, runs of words, any substrings inside kept lines), and the same cleaning
    as the teacher may write it: with `[NNN]` prefixes, unless a line holds a "[" (which could make them ambiguous).
    """
    line = st.lists(st.sampled_from(words), max_size=8).map(" ".join)
    lines = draw(st.lists(line, min_size=1, max_size=20))
    for _ in range(draw(st.integers(0, 3))):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(lines)))
    first = draw(st.integers(0, len(lines) - 1))
    last = draw(st.integers(first, len(lines) - 1))
    numbered = draw(st.booleans()) and not any("[" in line for line in lines[first : last + 1])
    cleaned = []
    for index in range(first, last + 1):
        action = draw(st.sampled_from(["keep", "drop", "words", "substrings"]))
        text = lines[index]
        if action == "drop":
            continue
        if action == "words":
            tokens = text.split(" ")
            start = draw(st.integers(0, len(tokens)))
            end = draw(st.integers(start, len(tokens)))
            text = " ".join(tokens[:start] + tokens[end:])
        elif action == "substrings":
            for _ in range(draw(st.integers(1, 3))):
                start = draw(st.integers(0, len(text)))
                end = draw(st.integers(start, len(text)))
                text = text[:start] + text[end:]
        cleaned.append((number_line(index, text) if numbered else text, text))
    return lines, first, last, "\n".join(shown for shown, _ in cleaned), "\n".join(text for _, text in cleaned)


@FAST
@given(documents_and_cleanings(PLAIN_WORDS + AWKWARD_WORDS))
def test_a_derived_program_reproduces_any_deletion_only_cleaning(case: tuple[list[str], int, int, str, str]):
    lines, first, last, cleaned, expected = case
    derivation = derive(lines, first, last, cleaned)
    assert derivation.status in ("exact", "rejected")
    if derivation.status == "rejected":
        assert derivation.rejected and derivation.program is None
        assert "cannot delete" in derivation.rejected  # a deletion never reads as added, changed or moved text
        return
    assert_reproduces(lines, first, last, expected, derivation)


@FAST
@given(
    st.lists(st.text(max_size=12), min_size=1, max_size=8),
    st.data(),
    st.text(max_size=60),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_any_teacher_text_gives_a_derivation(lines, data, cleaned, deletions_only, skip, whitespace):
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    first = data.draw(st.integers(0, len(lines) - 1))
    last = data.draw(st.integers(first, len(lines) - 1))
    if data.draw(st.booleans()):  # also texts close to the chunk
        cleaned = "\n".join(lines[first : last + 1]) + cleaned
    derivation = derive(
        lines, first, last, cleaned, deletions_only=deletions_only, skip_inexpressible=skip,
        ignore_trailing_whitespace=whitespace,
    )  # fmt: skip
    if derivation.status == "rejected":
        assert derivation.program is None and derivation.rejected
        return
    produced = released(lines, first, last, derivation.program or "")
    if derivation.exact and not any(line.startswith("[") for line in cleaned.split("\n")):
        assert "\n".join(produced) == cleaned
    assert 0.0 <= derivation.removed_share <= 1.0


def random_cleanings(kind: str, hard: bool, cases: int = 300, seed: int = 0) -> Counter:
    """Outcomes of derivation on random documents and random deletion-only cleanings of one kind.

    Words are drawn Zipf-like from 200 (`hard`: uniformly from 13), 3-12 per line (`hard`: 1-10, plus whole lines
    copied elsewhere). A deletion inside a line can only be written when its line's text does not also occur in a
    surviving line, which short lines of a tiny vocabulary often do: `hard` shows that limit of the release.
    """
    rng = random.Random(seed)
    vocabulary = PLAIN_WORDS if hard else [f"w{index}" for index in range(200)]
    weights = [1.0] * len(vocabulary) if hard else [1 / (rank + 1) for rank in range(len(vocabulary))]
    shortest, longest = (1, 10) if hard else (3, 12)
    outcomes: Counter = Counter()
    for _ in range(cases):
        lines = [
            " ".join(rng.choices(vocabulary, weights, k=rng.randint(shortest, longest)))
            for _ in range(rng.randint(5, 40))
        ]
        for _ in range(rng.randint(0, 3) if hard else 0):
            lines.insert(rng.randrange(len(lines)), rng.choice(lines))
        first = rng.randrange(len(lines))
        last = rng.randrange(first, len(lines))
        cleaned = []
        for text in lines[first : last + 1]:
            if rng.random() < 0.3:
                continue
            tokens = text.split(" ")
            if kind == "suffix" and rng.random() < 0.5 and len(tokens) > 1:
                text = " ".join(tokens[: rng.randrange(1, len(tokens))])
            elif kind == "words" and rng.random() < 0.5:
                start = rng.randrange(len(tokens))
                text = " ".join(tokens[:start] + tokens[rng.randrange(start, len(tokens)) + 1 :])
            elif kind == "substrings" and rng.random() < 0.5:
                start = rng.randrange(len(text) + 1)
                text = text[:start] + text[rng.randrange(start, len(text) + 1) :]
            cleaned.append(text)
        derivation = derive(lines, first, last, "\n".join(cleaned))
        if derivation.status == "exact":
            assert "\n".join(released(lines, first, last, derivation.program or "")) == "\n".join(cleaned)
        outcomes[derivation.status] += 1
    return outcomes


@pytest.mark.parametrize(
    ("kind", "max_rejected", "max_rejected_hard"),
    [("lines", 0.0, 0.0), ("suffix", 0.03, 1.0), ("words", 0.05, 1.0), ("substrings", 0.05, 1.0)],
)
def test_rejection_rate_on_random_deletion_only_cleanings(kind: str, max_rejected: float, max_rejected_hard: float):
    rates = {}
    for hard, limit in ((False, max_rejected), (True, max_rejected_hard)):
        outcomes = random_cleanings(kind, hard)
        assert outcomes["partial"] == 0
        rates["hard" if hard else "plain"] = rate = outcomes["rejected"] / sum(outcomes.values())
        assert rate <= limit
    print(f"rejected chunks, {kind} deletions: {rates['plain']:.1%} (hard documents: {rates['hard']:.1%})")


# --- gold labels --------------------------------------------------------------------------------------------------


def test_gold_line_labels_are_reproduced_exactly():
    if not WCXB_DEV.is_file():
        pytest.skip(f"shared WCXB pages not found at {WCXB_DEV}")
    outcomes: Counter = Counter()
    with gzip.open(WCXB_DEV, "rt", encoding="utf-8") as handle:
        pages = [json.loads(line) for _, line in zip(range(50), handle, strict=False)]
    for page in pages:
        lines, labels = page["lines"], page["labels"]
        if not lines:
            continue
        for chunk in chunk_document("\n".join(lines), CharacterCounter(), budget=6000):
            indices = range(chunk.first_line, chunk.last_line + 1)
            cleaned = "\n".join(lines[index] for index in indices if labels[index] == 1)
            derivation = derive_program(lines, chunk, cleaned)
            outcomes[derivation.status] += 1
            if derivation.status != "exact":
                pytest.fail(f"{page['id']} lines {chunk.first_line}-{chunk.last_line}: {derivation}")
    assert outcomes["exact"] > 100
