"""The `rules` generator: the heuristic baseline the paper compared against, written as ProX programs.

Doc stage: `drop_doc()` when a document fails datatrove's Gopher repetition, Gopher quality, C4 (document
rules) or FineWeb quality filter, the failing rule named in a comment. Chunk stage: `remove_lines(...)` for
runs of lines that fail C4's line rules (terminal punctuation, at least 3 words, no "javascript", no
cookie/policy phrases, no word over 1000 characters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prox.chunking import Chunk
from prox.generators.base import ProgramGenerator
from prox.generators.settings import RefinerSettings
from prox.program import RemoveLines, serialize

_MIN_WORDS_PER_LINE = 3
_MAX_WORD_LENGTH = 1000


class RulesGenerator(ProgramGenerator):
    """Gopher + C4 + FineWeb document rules and C4 line rules, as programs."""

    name = "rules"

    def __init__(self) -> None:
        try:
            from datatrove.pipeline.filters import (
                C4QualityFilter,
                FineWebQualityFilter,
                GopherQualityFilter,
                GopherRepetitionFilter,
            )
            from datatrove.pipeline.filters.c4_filters import CITATION_REGEX, END_PUNCTUATION, POLICY_SUBSTRINGS
        except ImportError as error:  # pragma: no cover - datatrove is a dependency
            raise ImportError(f"the rules generator cannot load its filters: {error}") from error
        self._filters = [
            ("gopher_repetition", GopherRepetitionFilter()),
            ("gopher_quality", GopherQualityFilter()),
            # Document-level C4 rules only: the line rules are this generator's chunk programs.
            (
                "c4",
                C4QualityFilter(
                    filter_no_terminal_punct=False,
                    min_words_per_line=-1,
                    max_word_length=-1,
                    filter_javascript=False,
                    filter_policy=False,
                ),
            ),
            ("fineweb_quality", FineWebQualityFilter()),
        ]
        self._citation = CITATION_REGEX
        self._end_punctuation = END_PUNCTUATION
        self._policy_phrases = POLICY_SUBSTRINGS

    def doc_programs(self, texts: Sequence[str]) -> list[str]:
        return [self._doc_program(text) for text in texts]

    def chunk_programs(self, chunks: Sequence[Chunk]) -> list[str]:
        return [self._chunk_program(chunk) for chunk in chunks]

    def _doc_program(self, text: str) -> str:
        from datatrove.data import Document

        for name, document_filter in self._filters:
            # A fresh document each time: the C4 filter rewrites the text it is given.
            verdict = document_filter.filter(Document(text=text, id=""))
            passed, reason = verdict if isinstance(verdict, tuple) else (verdict, "")
            if not passed:
                return f"drop_doc()  # {name}: {reason}".rstrip(": ")
        return "keep_doc()"

    def _chunk_program(self, chunk: Chunk) -> str:
        calls: list[RemoveLines] = []
        for offset, line in enumerate(chunk.lines):
            if self.line_passes(line):
                continue
            index = chunk.first_line + offset
            if calls and calls[-1].end == index - 1:
                calls[-1] = RemoveLines(calls[-1].start, index)
            else:
                calls.append(RemoveLines(index, index))
        return serialize(calls) if calls else "keep_chunk()"

    def line_passes(self, line: str) -> bool:
        """C4's line rules, as datatrove applies them."""
        line = line.strip()
        words = line.split()
        if any(len(word) > _MAX_WORD_LENGTH for word in words):
            return False
        line = self._citation.sub("", line)
        if not line.endswith(self._end_punctuation) or line.endswith("..."):
            return False
        if len(words) < _MIN_WORDS_PER_LINE:
            return False
        lowered = line.lower()
        return "javascript" not in lowered and not any(phrase in lowered for phrase in self._policy_phrases)


@dataclass(frozen=True)
class RulesSettings(RefinerSettings):
    """The rules baseline has no options."""

    name = "rules"
    title = "rules refiner"

    def build(self) -> RulesGenerator:
        return RulesGenerator()
