"""Greedy packing against an independent copy of the release's `trunc_text` loop."""

from __future__ import annotations

from itertools import pairwise

import pytest
from tokenizers import Tokenizer

from prox.chunking import (
    DEFAULT_TOKEN_BUDGET,
    BatchedTokenCounter,
    CharacterCounter,
    Chunk,
    chunk_document,
    token_counter,
)


def release_trunc_text(text: str, count, budget: int = 1500) -> list[tuple[int, int, str]]:
    """The release's loop, written apart from prox: (first line, last line, chunk text) per chunk.

    `count(numbered_line)` is `len(tokenizer.encode(numbered_line))` in the release.
    """
    chunks: list[tuple[int, int, str]] = []
    current: list[str] = []
    first = running = 0
    for index, line in enumerate(text.split("\n")):
        numbered = f"[{index:03d}]{line}"
        size = count(numbered)
        if running + size <= budget:
            if not current:
                first = index
            current.append(numbered)
            running += size
            continue
        if current:
            chunks.append((first, index - 1, "\n".join(current)))
        if size > budget:
            chunks.append((index, index, numbered))
            current, running = [], 0
        else:
            current, first, running = [numbered], index, size
    if current:
        chunks.append((first, first + len(current) - 1, "\n".join(current)))
    return chunks


def tokens(tokenizer: Tokenizer):
    return lambda numbered: len(tokenizer.encode(numbered))


def spans(chunks: list[Chunk]) -> list[tuple[int, int, str]]:
    return [(chunk.first_line, chunk.last_line, chunk.text) for chunk in chunks]


def assert_packs_like_the_release(text: str, tokenizer: Tokenizer, budget: int) -> list[Chunk]:
    expected = release_trunc_text(text, tokens(tokenizer), budget)
    chunks = chunk_document(text, token_counter(tokenizer), budget)
    assert spans(chunks) == expected
    assert spans(chunk_document(text, BatchedTokenCounter(tokenizer), budget)) == expected
    return chunks


def line_of_tokens(tokenizer: Tokenizer, index: int, wanted: int) -> str:
    """A line whose numbered form `[index]line` is exactly `wanted` tokens, BOS included."""
    line = ""
    while len(tokenizer.encode(f"[{index:03d}]{line}")) < wanted:
        line += " the"
    assert len(tokenizer.encode(f"[{index:03d}]{line}")) == wanted
    return line


def test_default_budget_is_the_releases_1500_tokens():
    assert DEFAULT_TOKEN_BUDGET == 1500


def test_empty_document_is_one_chunk_of_one_empty_line(llama2_tokenizer):
    chunks = assert_packs_like_the_release("", llama2_tokenizer, 1500)
    assert spans(chunks) == [(0, 0, "[000]")]


def test_single_line_is_one_chunk(llama2_tokenizer):
    chunks = assert_packs_like_the_release("just one line", llama2_tokenizer, 1500)
    assert spans(chunks) == [(0, 0, "[000]just one line")]
    assert chunks[0].size == len(llama2_tokenizer.encode("[000]just one line"))


def test_empty_lines_are_numbered_and_counted(llama2_tokenizer):
    text = "\n\nmiddle\n\n\n"
    chunks = assert_packs_like_the_release(text, llama2_tokenizer, 1500)
    assert chunks[0].text == "[000]\n[001]\n[002]middle\n[003]\n[004]\n[005]"
    assert assert_packs_like_the_release(text, llama2_tokenizer, 13) != chunks  # empty lines cost tokens too


def test_line_exactly_at_the_budget_fits_alone(llama2_tokenizer):
    line = line_of_tokens(llama2_tokenizer, 0, 1500)
    chunks = assert_packs_like_the_release(line, llama2_tokenizer, 1500)
    assert [(chunk.first_line, chunk.last_line, chunk.size) for chunk in chunks] == [(0, 0, 1500)]


def test_lines_filling_the_budget_exactly_share_a_chunk_and_one_more_token_splits(llama2_tokenizer):
    first = line_of_tokens(llama2_tokenizer, 0, 1000)
    second = line_of_tokens(llama2_tokenizer, 1, 500)
    chunks = assert_packs_like_the_release(f"{first}\n{second}", llama2_tokenizer, 1500)
    assert [(chunk.first_line, chunk.last_line, chunk.size) for chunk in chunks] == [(0, 1, 1500)]
    second = line_of_tokens(llama2_tokenizer, 1, 501)
    chunks = assert_packs_like_the_release(f"{first}\n{second}\nafter", llama2_tokenizer, 1500)
    assert [(chunk.first_line, chunk.last_line) for chunk in chunks] == [(0, 0), (1, 2)]


def test_line_one_token_over_the_budget_is_a_chunk_of_its_own(llama2_tokenizer):
    line = line_of_tokens(llama2_tokenizer, 1, 1501)
    chunks = assert_packs_like_the_release(f"before\n{line}\nafter", llama2_tokenizer, 1500)
    assert [(chunk.first_line, chunk.last_line, chunk.size) for chunk in chunks] == [
        (0, 0, chunks[0].size),
        (1, 1, 1501),
        (2, 2, chunks[2].size),
    ]


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_line_over_the_budget_stands_alone_wherever_it_is(llama2_tokenizer, where):
    short = [f"short line {index}" for index in range(6)]
    position = {"first": 0, "middle": 3, "last": 6}[where]
    lines = [*short[:position], "long " * 400, *short[position:]]
    chunks = assert_packs_like_the_release("\n".join(lines), llama2_tokenizer, 100)
    alone = [chunk for chunk in chunks if chunk.first_line == chunk.last_line == position]
    assert len(alone) == 1
    assert alone[0].size > 100
    assert all(chunk.size <= 100 for chunk in chunks if chunk is not alone[0])


def test_consecutive_lines_over_the_budget_are_separate_chunks(llama2_tokenizer):
    text = "\n".join(["long " * 50, "long " * 60, "short", "long " * 70])
    chunks = assert_packs_like_the_release(text, llama2_tokenizer, 30)
    assert [(chunk.first_line, chunk.last_line) for chunk in chunks] == [(0, 0), (1, 1), (2, 2), (3, 3)]


@pytest.mark.parametrize("budget", [1, 7, 20, 64, 1500])
def test_small_and_default_budgets_pack_like_the_release(llama2_tokenizer, budget):
    lines = ["", "alpha beta", "  spaced  out  ", "<s> special </s>", "▁ marks ▁ here", "😀 中文", "x" * 300]
    assert_packs_like_the_release("\n".join(lines * 5), llama2_tokenizer, budget)


def test_documents_past_999_lines_number_with_four_digits(llama2_tokenizer):
    text = "\n".join(f"line number {index}" for index in range(1500))
    chunks = assert_packs_like_the_release(text, llama2_tokenizer, 1500)
    assert chunks[-1].last_line == 1499
    assert chunks[-1].text.endswith("\n[1499]line number 1499")
    assert "[999]line number 999\n[1000]line number 1000" in "\n".join(chunk.text for chunk in chunks)


def test_chunks_cover_the_document_in_order(llama2_tokenizer):
    lines = [f"sentence {index} " * (index % 17) for index in range(400)]
    chunks = assert_packs_like_the_release("\n".join(lines), llama2_tokenizer, 200)
    assert chunks[0].first_line == 0
    assert chunks[-1].last_line == len(lines) - 1
    assert all(after.first_line == before.last_line + 1 for before, after in pairwise(chunks))
    assert "\n".join(chunk.text for chunk in chunks) == "\n".join(f"[{i:03d}]{line}" for i, line in enumerate(lines))
    assert all(chunk.lines == tuple(lines[chunk.first_line : chunk.last_line + 1]) for chunk in chunks)


def test_chunk_size_is_the_sum_of_its_line_sizes(llama2_tokenizer):
    text = "one\ntwo three\n\nfour"
    (chunk,) = chunk_document(text, token_counter(llama2_tokenizer))
    lines = text.split("\n")
    assert chunk.size == sum(len(llama2_tokenizer.encode(f"[{i:03d}]{line}")) for i, line in enumerate(lines))


@pytest.mark.parametrize("budget", [0, -5])
def test_budget_must_be_positive(llama2_tokenizer, budget):
    with pytest.raises(ValueError, match="positive"):
        chunk_document("text", CharacterCounter(), budget)


@pytest.mark.parametrize("budget", [1500, 300])
def test_real_pages_pack_like_the_release(llama2_tokenizer, wcxb_pages, budget):
    # ~100 pages spread over the file; the smaller budget makes many more chunk boundaries.
    counter = token_counter(llama2_tokenizer)
    count = tokens(llama2_tokenizer)
    pages = wcxb_pages[:: max(1, len(wcxb_pages) // 100)]
    for lines in pages:
        text = "\n".join(lines)
        assert spans(chunk_document(text, counter, budget)) == release_trunc_text(text, count, budget)


def test_character_budget_packs_like_the_release_loop_with_len(wcxb_pages):
    for lines in wcxb_pages[:50]:
        text = "\n".join(lines)
        assert spans(chunk_document(text, CharacterCounter(), 2000)) == release_trunc_text(text, len, 2000)
