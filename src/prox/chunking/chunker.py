"""Pack a document's numbered lines greedily into chunks of at most a budget of tokens or characters."""

from __future__ import annotations

from dataclasses import dataclass

from prox.chunking.counters import LineSizer
from prox.chunking.numbering import number_lines

DEFAULT_TOKEN_BUDGET = 1500


@dataclass(frozen=True)
class Chunk:
    """Numbered lines first_line..last_line (inclusive, document-wide) joined by newlines.

    `lines` are the same lines without their numbers; `size` is what they cost in the sizer's unit.
    """

    first_line: int
    last_line: int
    text: str
    size: int
    lines: tuple[str, ...] = ()


def chunk_document(text: str, sizer: LineSizer, budget: int = DEFAULT_TOKEN_BUDGET) -> list[Chunk]:
    """The release's greedy packing: a line that does not fit starts a new chunk; a line larger than the
    budget is a chunk of its own. Lines are `text.split("\\n")`, so every document has at least one."""
    if budget < 1:
        raise ValueError(f"chunk budget must be positive, got {budget}")
    lines = text.split("\n")
    sizes = sizer.sizes(lines)
    chunks: list[Chunk] = []
    start, used = 0, 0
    for index, size in enumerate(sizes):
        if index > start and used + size > budget:
            chunks.append(_chunk(lines, start, index, used))
            start, used = index, 0
        used += size
    chunks.append(_chunk(lines, start, len(lines), used))
    return chunks


def _chunk(lines: list[str], start: int, stop: int, size: int) -> Chunk:
    return Chunk(start, stop - 1, "\n".join(number_lines(lines[start:stop], start)), size, tuple(lines[start:stop]))
