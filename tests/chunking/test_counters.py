"""Line sizers against the release's count: `len(tokenizer.encode(f"[{i:03d}]{line}"))`, one call per line."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models, pre_tokenizers

from prox.chunking import (
    BatchedTokenCounter,
    CharacterCounter,
    SegmentCachedTokenCounter,
    chunk_document,
    token_counter,
)


def release_sizes(tokenizer: Tokenizer, lines: list[str]) -> list[int]:
    """The release's count, written independently of prox: one encode per numbered line, BOS included."""
    return [len(tokenizer.encode(f"[{index:03d}]{line}")) for index, line in enumerate(lines)]


@pytest.fixture(scope="module")
def segment_counter(llama2_tokenizer: Tokenizer) -> SegmentCachedTokenCounter:
    """One counter for the module, so later tests also exercise a warm cache."""
    return SegmentCachedTokenCounter(llama2_tokenizer)


NASTY_LINES = [
    "",
    " ",
    "  ",
    "   ",
    "\t",
    "word",
    "two  spaces",
    "three   spaces here",
    " leading space",
    "  two leading spaces",
    "trailing space ",
    "trailing spaces  ",
    " both ",
    "tab\tinside",
    "\tleading tab",
    "trailing tab\t",
    "space \t tab \t mix",
    "<s>",
    "</s>",
    "<unk>",
    "text <s> inside",
    "text</s>inside",
    "a <unk> b",
    "<s><s></s>",
    "<s",
    "s>",
    "< s >",
    "]",
    "] starts with bracket",
    "]]]",
    ", starts with comma",
    ",",
    "(starts with paren)",
    "(",
    "0",
    "123 starts with digits",
    "2024-01-01",
    "[001] looks numbered",
    "[999]",
    "▁",
    "▁▁",
    "▁ ▁ ▁",
    "▁word",
    "word▁",
    "word▁ next",
    "word ▁next",
    "a▁▁ b c",
    "foo▁ ",
    " ▁",
    "▁ ",
    "x ▁ y ▁▁ z",
    "emoji 😀 and 👩‍👩‍👧 family",
    "😀",
    "中文文本 和 日本語のテキスト",
    "한국어 텍스트",
    "e\u0301 combining acute",
    "a\u0308\u0301 stacked combining",
    "\u0301 leading combining",
    "zero\u200bwidth space",
    "no\xa0break space",
    "ideographic\u3000space",
    "carriage\rreturn",
    "vertical\x0btab and\x0cform feed",
    "right-to-left עברית العربية",
    "<0x01> looks like a byte token",
    "mixed: ▁<s> ]( 1,2 😀  \t",
]

# Texts the cached counter must send to its exact path.
CONTROL_LINES = ["nul\x00inside", "\x00", "soh\x01inside", "\x01 leading soh"]


def test_llama2_tokenizer_is_supported(llama2_tokenizer):
    assert SegmentCachedTokenCounter.supports(llama2_tokenizer)
    assert isinstance(token_counter(llama2_tokenizer), SegmentCachedTokenCounter)


def test_counters_name_their_unit(llama2_tokenizer):
    assert CharacterCounter.unit == "characters"
    assert BatchedTokenCounter(llama2_tokenizer).unit == "tokens"
    assert SegmentCachedTokenCounter(llama2_tokenizer).unit == "tokens"


@pytest.mark.parametrize("line", NASTY_LINES + CONTROL_LINES)
def test_segment_counter_is_exact_on_a_nasty_line(llama2_tokenizer, line):
    lines = ["first line", line, f"{line} {line}", f"{line}\t{line}", "last line"]
    assert SegmentCachedTokenCounter(llama2_tokenizer).sizes(lines) == release_sizes(llama2_tokenizer, lines)


def test_segment_counter_is_exact_on_all_nasty_lines_in_one_document(llama2_tokenizer, segment_counter):
    expected = release_sizes(llama2_tokenizer, NASTY_LINES)
    assert segment_counter.sizes(NASTY_LINES) == expected
    assert segment_counter.sizes(NASTY_LINES) == expected  # warm cache


def test_segment_counter_is_exact_when_a_document_holds_control_characters(llama2_tokenizer, segment_counter):
    lines = NASTY_LINES + CONTROL_LINES
    assert segment_counter.sizes(lines) == release_sizes(llama2_tokenizer, lines)


def test_segment_counter_is_exact_on_a_literal_space_mark_before_a_space(llama2_tokenizer):
    # `▁` then a space normalise to `▁▁`, a vocabulary token that spans the word boundary.
    lines = ["▁ ▁ ▁", "foo▁ ", "foo▁ bar", "▁ x"]
    assert SegmentCachedTokenCounter(llama2_tokenizer).sizes(lines) == release_sizes(llama2_tokenizer, lines)


def test_segment_counter_is_exact_on_a_20000_character_line(llama2_tokenizer, segment_counter):
    words = ["alpha", "βeta", "😀", "中文", "x1", "(y)", "z,"]
    line = " ".join(words[index % len(words)] + str(index % 13) for index in range(5000))[:20_000]
    assert len(line) == 20_000
    lines = ["short", line, line + " tail", "end"]
    assert segment_counter.sizes(lines) == release_sizes(llama2_tokenizer, lines)


def test_segment_counter_is_exact_with_four_digit_line_numbers(llama2_tokenizer, segment_counter):
    lines = [NASTY_LINES[index % len(NASTY_LINES)] + f" line {index}" for index in range(12_345)]
    assert segment_counter.sizes(lines) == release_sizes(llama2_tokenizer, lines)


def test_segment_counter_is_exact_when_its_cache_overflows(llama2_tokenizer, wcxb_pages):
    counter = SegmentCachedTokenCounter(llama2_tokenizer, max_cached_words=500)
    for lines in wcxb_pages[:20]:
        assert counter.sizes(lines) == release_sizes(llama2_tokenizer, lines)
    assert len(counter.word_sizes) < 500 + 10_000


def test_segment_counter_is_exact_on_every_wcxb_page(llama2_tokenizer, wcxb_pages):
    # All 1,497 pages (~22 MB), no sampling; the reference's encode per line dominates (10-25 s on 2 cores).
    counter = SegmentCachedTokenCounter(llama2_tokenizer)
    mismatched = [
        index
        for index, lines in enumerate(wcxb_pages)
        if counter.sizes(lines) != release_sizes(llama2_tokenizer, lines)
    ]
    assert mismatched == []


_PIECES = [" ", "  ", "▁", "\t", "<s>", "</s>", "<unk>", "]", "[", "(", ",", "0", "7", "a", "the", "ing", "é"]
_PIECES += ["e\u0301", "😀", "中", "\xa0", "\u3000", "\r", "<0x41>", "\x00", "\x01", "[012]", "▁▁", "Hello"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=10).map("".join), min_size=1, max_size=8))
def test_segment_counter_is_exact_on_generated_lines(llama2_tokenizer, segment_counter, lines):
    assert segment_counter.sizes(lines) == release_sizes(llama2_tokenizer, lines)


def test_batched_counter_is_exact_on_nasty_lines(llama2_tokenizer):
    lines = NASTY_LINES + CONTROL_LINES
    assert BatchedTokenCounter(llama2_tokenizer).sizes(lines) == release_sizes(llama2_tokenizer, lines)


def test_counters_size_an_empty_line_list_as_empty(llama2_tokenizer):
    assert SegmentCachedTokenCounter(llama2_tokenizer).sizes([]) == []
    assert BatchedTokenCounter(llama2_tokenizer).sizes([]) == []
    assert CharacterCounter().sizes([]) == []


def _word_level_tokenizer() -> Tokenizer:
    vocab = {"[UNK]": 0, "[": 1, "]": 2, "000": 3, "001": 4, "hello": 5, "world": 6}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def test_tokenizer_with_a_pre_tokenizer_gets_the_batched_counter():
    tokenizer = _word_level_tokenizer()
    assert not SegmentCachedTokenCounter.supports(tokenizer)
    counter = token_counter(tokenizer)
    assert isinstance(counter, BatchedTokenCounter)
    lines = ["hello world", "hello  there"]
    assert counter.sizes(lines) == release_sizes(tokenizer, lines) == [5, 5]
    with pytest.raises(ValueError, match="BatchedTokenCounter"):
        SegmentCachedTokenCounter(tokenizer)


def _edited(tokenizer: Tokenizer, edit) -> Tokenizer:
    config = json.loads(tokenizer.to_str())
    edit(config)
    return Tokenizer.from_str(json.dumps(config))


def _add_pre_tokenizer(config: dict) -> None:
    config["pre_tokenizer"] = {"type": "Whitespace"}


def _add_spanning_token(config: dict) -> None:
    config["model"]["vocab"]["a▁b"] = len(config["model"]["vocab"])


def _add_digit_bracket_token(config: dict) -> None:
    config["model"]["vocab"]["0]"] = len(config["model"]["vocab"])


def _drop_byte_fallback(config: dict) -> None:
    config["model"]["byte_fallback"] = False


def _ignore_merges(config: dict) -> None:
    config["model"]["ignore_merges"] = True


def _drop_normalizer(config: dict) -> None:
    config["normalizer"] = None


@pytest.mark.parametrize(
    "edit",
    [
        _add_pre_tokenizer,
        _add_spanning_token,
        _add_digit_bracket_token,
        _drop_byte_fallback,
        _ignore_merges,
        _drop_normalizer,
    ],
)
def test_llama2_variants_the_word_sum_cannot_count_are_not_supported(llama2_tokenizer, edit):
    variant = _edited(llama2_tokenizer, edit)
    assert not SegmentCachedTokenCounter.supports(variant)
    assert isinstance(token_counter(variant), BatchedTokenCounter)


def test_character_counter_counts_characters_of_numbered_lines():
    lines = ["abc", "", "😀 x"]
    assert CharacterCounter().sizes(lines) == [8, 5, 8]
    many = ["x"] * 1001
    assert CharacterCounter().sizes(many)[-1] == len("[1000]x")


def test_character_budget_is_in_characters():
    lines = ["aaaa", "bb", "c", "dddddddddddddddd"]  # numbered sizes 9, 7, 6, 21
    chunks = chunk_document("\n".join(lines), CharacterCounter(), budget=16)
    assert [(chunk.first_line, chunk.last_line, chunk.size) for chunk in chunks] == [(0, 1, 16), (2, 2, 6), (3, 3, 21)]
    assert chunks[0].text == "[000]aaaa\n[001]bb"
