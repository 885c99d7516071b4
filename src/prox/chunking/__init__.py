"""Line numbering and chunk packing for the chunk stage."""

from prox.chunking.chunker import DEFAULT_TOKEN_BUDGET, Chunk, chunk_document
from prox.chunking.counters import (
    BatchedTokenCounter,
    CharacterCounter,
    LineSizer,
    SegmentCachedTokenCounter,
    token_counter,
)
from prox.chunking.numbering import number_line, number_lines

__all__ = [
    "DEFAULT_TOKEN_BUDGET",
    "BatchedTokenCounter",
    "CharacterCounter",
    "Chunk",
    "LineSizer",
    "SegmentCachedTokenCounter",
    "chunk_document",
    "number_line",
    "number_lines",
    "token_counter",
]
