"""Sizes of a document's numbered lines `[NNN]line`, in tokens or characters, for chunk packing.

The release counts each numbered line as `len(tokenizer.encode(numbered_line))`, BOS included. Calling
the tokenizer once per line is slow, and even one batched call spends most of its time running BPE over
text it has seen before. `SegmentCachedTokenCounter` gets the same numbers far faster for SentencePiece-
style BPE tokenizers (Llama-2, the released refiners): it proves from the vocabulary that no token spans
the boundary before a space, so a line's count is the sum of cached counts of its space-separated words.
Tokenizers that do not pass the checks get `BatchedTokenCounter`, one batched call per document.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from itertools import accumulate
from typing import Protocol

from tokenizers import Encoding, Tokenizer

from prox.chunking.numbering import number_line

_SPACE_MARK = "▁"
_SENTENCEPIECE_NORMALIZER = {
    "type": "Sequence",
    "normalizers": [
        {"type": "Prepend", "prepend": _SPACE_MARK},
        {"type": "Replace", "pattern": {"String": " "}, "content": _SPACE_MARK},
    ],
}
_BYTE_TOKEN = re.compile(r"<0x[0-9A-Fa-f]{2}>")
# Marks a line start in the joined text; documents that contain it take the exact path.
_LINE_MARK = "\x00"
# Joins words for one encode call; `supports` checks that no vocabulary token contains it.
_SEPARATOR = "\x01"
_WORDS_PER_CALL = 500


class LineSizer(Protocol):
    """Sizes of the numbered lines of one document, line i numbered i."""

    unit: str

    def sizes(self, lines: list[str]) -> list[int]: ...


class CharacterCounter:
    """Characters of each numbered line: a budget for refiners that need no tokenizer."""

    unit = "characters"

    def sizes(self, lines: list[str]) -> list[int]:
        return [len(number_line(index, line)) for index, line in enumerate(lines)]


class BatchedTokenCounter:
    """Exact token counts (BOS included) from one batched tokenizer call per document."""

    unit = "tokens"

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def sizes(self, lines: list[str]) -> list[int]:
        numbered = [number_line(index, line) for index, line in enumerate(lines)]
        return [len(encoding) for encoding in self.tokenizer.encode_batch_fast(numbered)]


class SegmentCachedTokenCounter:
    """Exact token counts from cached per-word counts; only valid where `supports(tokenizer)` holds.

    A numbered line `[NNN]w0 w1 w2` normalises to `▁[NNN]w0▁w1▁w2`. No vocabulary token contains a
    non-space character followed by `▁`, nor a digit followed by `]`, so BPE never merges across those
    boundaries and the count splits exactly into: count(`[NNN`) + count(`]w0`) + count(`▁w1`) + ...
    Lines with two spaces in a row or a literal `▁` before a space (runs of `▁` can merge across the word
    boundary) or with special-token text take the exact path.
    """

    unit = "tokens"

    def __init__(self, tokenizer: Tokenizer, max_cached_words: int = 2_000_000) -> None:
        if not self.supports(tokenizer):
            raise ValueError("tokenizer is not a SentencePiece-style BPE tokenizer; use BatchedTokenCounter")
        self.tokenizer = tokenizer
        self.exact = BatchedTokenCounter(tokenizer)
        self.bare = Tokenizer.from_str(tokenizer.to_str())
        self.bare.normalizer = None
        self.bare.post_processor = None
        self.special_texts = [token.content for token in tokenizer.get_added_tokens_decoder().values()]
        self.max_cached_words = max_cached_words
        self.word_sizes: dict[str, int] = {}
        self.prefix_sizes: list[int] = []

    @staticmethod
    def supports(tokenizer: Tokenizer) -> bool:
        """Whether the word-sum shortcut is exact for this tokenizer (checked on its vocabulary)."""
        config = json.loads(tokenizer.to_str())
        model = config.get("model") or {}
        if (
            config.get("normalizer") != _SENTENCEPIECE_NORMALIZER
            or config.get("pre_tokenizer") is not None
            or model.get("type") != "BPE"
            or model.get("dropout") not in (None, 0.0)
            or model.get("ignore_merges")  # whole-word vocabulary lookups would bypass the merges
        ):
            return False
        specials = {token.content for token in tokenizer.get_added_tokens_decoder().values()}
        for token in tokenizer.get_vocab():
            if token in specials or _BYTE_TOKEN.fullmatch(token):
                continue
            if re.search(r"[^▁]▁", token) or re.search(r"[0-9]\]", token) or _SEPARATOR in token:
                return False
        return bool(model.get("byte_fallback")) and f"<0x{ord(_SEPARATOR):02X}>" in tokenizer.get_vocab()

    def sizes(self, lines: list[str]) -> list[int]:
        if not lines:
            return []
        text = "\n".join(lines)
        if _LINE_MARK in text or _SEPARATOR in text:
            return self.exact.sizes(lines)
        # Each line's first word carries the line mark, so "]" + word is what gets counted for it.
        words = (_LINE_MARK + text.replace("\n", " " + _LINE_MARK)).split(" ")
        running = list(accumulate(self._word_sizes(words), initial=0))
        ends = list(accumulate(line.count(" ") + 1 for line in lines))
        starts = [0, *ends[:-1]]
        prefixes = self._prefix_sizes(len(lines))
        sizes = [
            prefix + running[end] - running[start] for prefix, start, end in zip(prefixes, starts, ends, strict=True)
        ]
        irregular = self._irregular_lines(text, lines)
        if irregular:
            exact = self.tokenizer.encode_batch_fast([number_line(i, lines[i]) for i in irregular])
            for index, encoding in zip(irregular, exact, strict=True):
                sizes[index] = len(encoding)
        return sizes

    def _word_sizes(self, words: list[str]) -> list[int]:
        cache = self.word_sizes
        try:
            return list(map(cache.__getitem__, words))
        except KeyError:
            pass
        if len(cache) > self.max_cached_words:
            cache.clear()
        missing = list(set(words).difference(cache))
        pieces = [("]" + word[1:]) if word[:1] == _LINE_MARK else _SPACE_MARK + word for word in missing]
        groups = [pieces[start : start + _WORDS_PER_CALL] for start in range(0, len(pieces), _WORDS_PER_CALL)]
        joined = self.bare.encode_batch([_SEPARATOR.join(group) for group in groups], add_special_tokens=False)
        sizes = [size for group, encoding in zip(groups, joined, strict=True) for size in _piece_sizes(group, encoding)]
        cache.update(zip(missing, sizes, strict=True))
        return list(map(cache.__getitem__, words))

    def _prefix_sizes(self, count: int) -> list[int]:
        """Tokens of `[NNN` (BOS and leading `▁` included) for lines 0..count-1."""
        while len(self.prefix_sizes) < count:
            number = len(self.prefix_sizes)
            self.prefix_sizes.append(len(self.tokenizer.encode(number_line(number, "")[:-1])))
        return self.prefix_sizes[:count]

    def _irregular_lines(self, text: str, lines: list[str]) -> list[int]:
        """Lines the word sum cannot count: double spaces, `▁ `, or special-token text. Checked per document first."""
        if not self._irregular(text):
            return []
        return [index for index, line in enumerate(lines) if self._irregular(line)]

    def _irregular(self, text: str) -> bool:
        # A word ending in `▁` followed by a space normalises to `▁▁`, which the vocabulary may merge.
        return "  " in text or _SPACE_MARK + " " in text or any(special in text for special in self.special_texts)


def _piece_sizes(pieces: list[str], encoding: Encoding) -> list[int]:
    """Token counts of pieces encoded as one separator-joined string: no token can contain the separator,
    so tokens never cross it, and each piece's tokens are those that start inside it."""
    starts = [offset[0] for offset in encoding.offsets]
    sizes = []
    position = first_token = 0
    for piece in pieces:
        end = position + len(piece)
        next_token = bisect_left(starts, end, first_token)
        sizes.append(next_token - first_token)
        first_token = next_token + 1  # past the separator's own byte token
        position = end + 1
    return sizes


def token_counter(tokenizer: Tokenizer) -> LineSizer:
    """The fastest exact token counter for this tokenizer."""
    if SegmentCachedTokenCounter.supports(tokenizer):
        return SegmentCachedTokenCounter(tokenizer)
    return BatchedTokenCounter(tokenizer)
