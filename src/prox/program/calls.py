"""The ProX function space as typed values: calls, parse errors and programs.

A program is data: the calls a model wrote plus the errors met while reading them. It can be stored
with a document and executed again later under another policy without re-running any model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DOC_FUNCTIONS = ("drop_doc", "keep_doc")
CHUNK_FUNCTIONS = ("remove_lines", "normalize", "keep_chunk")
# Functions whose calls change text; unless a policy counts every parse error, only errors in these count.
EDITING_FUNCTIONS = ("remove_lines", "normalize")


@dataclass(frozen=True)
class DropDoc:
    """`drop_doc()`: remove the whole document."""

    def to_source(self) -> str:
        return "drop_doc()"


@dataclass(frozen=True)
class KeepDoc:
    """`keep_doc()`: keep the document unchanged."""

    def to_source(self) -> str:
        return "keep_doc()"


@dataclass(frozen=True)
class KeepChunk:
    """`keep_chunk()` (or the `untouch_doc()` seen in the wild): the chunk is clean, a no-op."""

    def to_source(self) -> str:
        return "keep_chunk()"


@dataclass(frozen=True)
class RemoveLines:
    """`remove_lines(line_start=a, line_end=b)`: delete document lines a..b, inclusive, 0-based.

    `positional` records that the model wrote `remove_lines(a, b)`, a form the release could not read; a
    policy that does not accept positional calls counts it as an error. It is not part of the call's identity.
    """

    start: int
    end: int
    positional: bool = field(default=False, compare=False)

    def to_source(self) -> str:
        return f"remove_lines(line_start={self.start}, line_end={self.end})"


@dataclass(frozen=True)
class Normalize:
    """`normalize(source_str="x", target_str="y")`: replace the string x by y."""

    source: str
    target: str = ""
    positional: bool = field(default=False, compare=False)

    def to_source(self) -> str:
        return f"normalize(source_str={quote(self.source)}, target_str={quote(self.target)})"


Call = DropDoc | KeepDoc | KeepChunk | RemoveLines | Normalize

ParseErrorKind = Literal["syntax", "unknown_function", "bad_arguments", "unterminated", "stray_text"]


@dataclass(frozen=True)
class ParseError:
    """Why part of a model's output could not be read as a call.

    `function` names the function the broken text was calling, when that is known; a policy that does not
    count all parse errors counts only those in calls that edit text.
    """

    kind: ParseErrorKind
    message: str
    line: int
    snippet: str
    function: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}: {self.snippet!r}"


@dataclass(frozen=True)
class Program:
    """The calls read from one model output, in order, with the errors met on the way.

    `source` keeps the raw text, which the release policy reads itself (the release sliced raw text); it
    is not part of the program's identity, so `parse(serialize(p)) == p` compares calls and errors only.
    """

    calls: tuple[Call, ...] = ()
    errors: tuple[ParseError, ...] = ()
    source: str = field(default="", compare=False, repr=False)

    def of_type(self, kind: type) -> list:
        """The calls of one type, in program order."""
        return [call for call in self.calls if isinstance(call, kind)]

    @property
    def is_clean(self) -> bool:
        return not self.errors


def serialize(program: Program | list[Call] | tuple[Call, ...]) -> str:
    """Canonical text of a program: one keyword-argument call per line; errors are not text."""
    calls = program.calls if isinstance(program, Program) else program
    return "\n".join(call.to_source() for call in calls)


def quote(value: str) -> str:
    """A double-quoted Python string literal for `value` that reads back to exactly `value`."""
    escaped = []
    for char in value:
        if char == "\\":
            escaped.append("\\\\")
        elif char == '"':
            escaped.append('\\"')
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\r":
            escaped.append("\\r")
        elif char == "\t":
            escaped.append("\\t")
        elif not char.isprintable():
            code = ord(char)
            escaped.append(
                f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            )
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'
