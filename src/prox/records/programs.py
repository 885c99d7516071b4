"""Chunk programs as a run records them and as the executor runs them.

A run records a document's chunk programs in `metadata.prox.chunk_programs`, one
`{"first_line", "last_line", "program"}` per chunk (lines of the whole document, 0-based, inclusive), so that
`prox execute`, distillation and evaluation can run them again under any policy.
"""

from __future__ import annotations

from collections.abc import Sequence

from prox.chunking import Chunk
from prox.program import ChunkProgram, Program, RemoveLines, parse_program


def record_chunk_programs(chunks: Sequence[Chunk], texts: Sequence[str]) -> list[dict]:
    """The recorded form of each chunk's program text."""
    return [
        {"first_line": chunk.first_line, "last_line": chunk.last_line, "program": text}
        for chunk, text in zip(chunks, texts, strict=True)
    ]


def parse_chunk_programs(recorded: object, parsed: bool = True) -> list[ChunkProgram]:
    """Recorded chunk programs as executable `ChunkProgram`s (a missing program is an empty one); raises
    ValueError, saying what is wrong, for anything that is not a list of recorded chunk programs.

    With `parsed=False` each program keeps only its raw text, which is all a policy with `parser="release"`
    reads (parsing costs more than running such a policy)."""
    if not isinstance(recorded, list):
        raise ValueError(f"chunk_programs is a {type(recorded).__name__}, not a list")
    try:
        programs = []
        for item in recorded:
            program = item["program"] or ""
            if not isinstance(program, str):
                raise TypeError(f"program is a {type(program).__name__}, not a string")
            readable = parse_program(program) if parsed else Program(source=program)
            programs.append(ChunkProgram(readable, int(item["first_line"]), int(item["last_line"])))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"unreadable chunk_programs ({type(error).__name__}: {error})") from error
    return programs


def removed_lines(program: Program, first_line: int, last_line: int) -> set[int]:
    """The lines of a chunk (document-wide `first_line`..`last_line`, inclusive) that the program's
    `remove_lines` calls name, before any policy reverts or drops the edit."""
    return {
        line
        for call in program.of_type(RemoveLines)
        for line in range(max(call.start, first_line), min(call.end, last_line) + 1)
    }
