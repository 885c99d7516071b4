"""The ProX program language: typed calls, the parser, policies and the executor."""

from prox.program.calls import (
    Call,
    DropDoc,
    KeepChunk,
    KeepDoc,
    Normalize,
    ParseError,
    Program,
    RemoveLines,
    serialize,
)
from prox.program.execute import (
    ChunkProgram,
    ChunkReport,
    DocDecision,
    execute_chunk_programs,
    execute_doc_program,
    kept_line_flags,
)
from prox.program.parse import parse_program
from prox.program.policy import POLICIES, RELEASE, STRICT, ExecutionPolicy, get_policy
from prox.program.release import release_readable

__all__ = [
    "POLICIES",
    "RELEASE",
    "STRICT",
    "Call",
    "ChunkProgram",
    "ChunkReport",
    "DocDecision",
    "DropDoc",
    "ExecutionPolicy",
    "KeepChunk",
    "KeepDoc",
    "Normalize",
    "ParseError",
    "Program",
    "RemoveLines",
    "execute_chunk_programs",
    "execute_doc_program",
    "get_policy",
    "kept_line_flags",
    "parse_program",
    "release_readable",
    "serialize",
]
