"""Read chunk programs the way the GAIR-NLP/ProX release does: by slicing strings, one line at a time.

The release never parses a program. It joins a document's chunk outputs, each stripped of spaces, with
newlines, strips spaces off the ends of the whole, and takes every line that *starts* with `remove_lines` or
`normalize` as an operation. It cuts the text between the line's first "(" and first ")" at commas, and takes
each value as the text between the first and second "=" of its piece. Everything else is ignored. The rules
here are the release's (its utils/chunk_utils.py), quirks included; docs/program.md lists them one by one.
Reading never raises: whatever the release would count as an error is recorded with the operation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prox.program.calls import Call, Normalize, RemoveLines

_SNIPPET_CHARS = 80


@dataclass(frozen=True)
class RemoveRange:
    """Lines `start`..`end` inclusive; any integers, so negative or reversed ranges are possible."""

    start: int
    end: int


@dataclass(frozen=True)
class RemoveAll:
    """A `remove_lines` line that contains `all=True` anywhere: every line of the document goes."""


@dataclass(frozen=True)
class Replace:
    """Replace `source` by `target` everywhere in the document, as `str.replace` does.

    Only the two-argument form skips a source of "" or " " (`skips_blank_source`); the one-argument form
    `normalize(source_str=" ")` deletes every space.
    """

    source: str
    target: str
    skips_blank_source: bool


@dataclass(frozen=True)
class Unread:
    """A `normalize` whose arguments hold two or more commas: the release does nothing and counts no error."""

    arguments: str


Action = RemoveRange | RemoveAll | Replace | Unread


@dataclass(frozen=True)
class Operation:
    """One program line the release acts on: what it does (`None`: nothing) and the errors it counts there."""

    line: int
    text: str
    action: Action | None
    errors: tuple[str, ...] = ()


def release_program_text(outputs: Iterable[str]) -> str:
    """A document's program as the release runs it: its chunk outputs, each stripped of spaces, one per line."""
    return "\n".join(output.strip(" ") for output in outputs)


def read_operations(program_text: str) -> list[Operation]:
    """The operations of a program text, in order; lines that start with neither function are skipped."""
    operations = []
    # Only spaces, and only at the ends of the whole text: an indented later line is not an operation.
    for number, line in enumerate(program_text.strip(" ").split("\n"), start=1):
        if line.startswith("remove_lines"):
            operations.append(_read_remove_lines(number, line))
        elif line.startswith("normalize"):
            operations.append(_read_normalize(number, line))
    return operations


def merge_intervals(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Intervals sorted by start (stably) and merged where one starts at most one past the previous end.

    Reversed intervals are merged as they come, as the release does: (3, 7) then (5, 2) gives (3, 7).
    """
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals, key=lambda interval: interval[0]):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def interval_errors(intervals: Iterable[tuple[int, int]], line_count: int) -> list[str]:
    """One error per merged interval that starts past the last line, else one per merged interval ending past it."""
    errors = []
    last = line_count - 1
    for start, end in merge_intervals(intervals):
        if start > last:
            errors.append(f"lines {start}-{end}: start past the last line ({last})")
        elif end > last:
            errors.append(f"lines {start}-{end}: end past the last line ({last})")
    return errors


def release_readable(call: Call) -> bool:
    """Whether the release reads `call.to_source()` back as this very call (calls it ignores are readable).

    False for a normalize whose strings hold a `,` `=` `)` `"` backslash or a character that `serialize`
    escapes: the release would cut or keep the text differently.
    """
    if isinstance(call, RemoveLines):
        expected: Action = RemoveRange(call.start, call.end)
    elif isinstance(call, Normalize):
        expected = Replace(call.source, call.target, skips_blank_source=True)
    else:
        return True
    operations = read_operations(call.to_source())
    return len(operations) == 1 and not operations[0].errors and operations[0].action == expected


def _read_remove_lines(number: int, line: str) -> Operation:
    if "all=True" in line:
        return Operation(number, line, RemoveAll())
    arguments, errors = _arguments(number, line)
    if arguments is None:
        return Operation(number, line, None, errors)
    pieces = arguments.split(",")
    # The first piece is the start and the second the end, whatever their keywords say.
    start = _integer(pieces[0])
    end = _integer(pieces[1]) if len(pieces) > 1 else None
    if start is None or end is None:
        problem = "needs two comma-separated keyword=integer arguments (positional numbers cannot be read)"
        return Operation(number, line, None, (*errors, _error(number, line, problem)))
    return Operation(number, line, RemoveRange(start, end), errors)


def _read_normalize(number: int, line: str) -> Operation:
    arguments, errors = _arguments(number, line)
    if arguments is None:
        return Operation(number, line, None, errors)
    pieces = arguments.split(",")
    if len(pieces) > 2:
        return Operation(number, line, Unread(arguments), errors)
    source = _string(pieces[0])
    target = _string(pieces[1]) if len(pieces) == 2 else ""
    if source is None or target is None:
        problem = "needs keyword=string arguments (positional strings cannot be read)"
        return Operation(number, line, None, (*errors, _error(number, line, problem)))
    return Operation(number, line, Replace(source, target, skips_blank_source=len(pieces) == 2), errors)


def _arguments(number: int, line: str) -> tuple[str | None, tuple[str, ...]]:
    """The text between the first "(" and the first ")" of the line, and the errors met finding it."""
    opening = line.find("(")
    if opening < 0:
        return None, (_error(number, line, "no '(': not read"),)
    closing = line.find(")")
    if closing < 0:
        # The release slices up to index -1: the line's last character is lost, and reading goes on.
        problem = "no ')' (output cut off?): read without the line's last character"
        return line[opening + 1 : len(line) - 1], (_error(number, line, problem),)
    return line[opening + 1 : closing], ()


def _integer(piece: str) -> int | None:
    """`int()` of the text between the piece's first and second "=", or None when there is no such number."""
    parts = piece.split("=", 2)
    if len(parts) < 2:
        return None
    try:
        # int() also takes " 3 ", "03", "+3", "-3", "1_0" and other scripts' digits, as the release did.
        return int(parts[1])
    except ValueError:
        return None


def _string(piece: str) -> str | None:
    """The text between the piece's first and second "=", with double quotes stripped off its ends; no unescaping."""
    parts = piece.split("=", 2)
    return parts[1].strip('"') if len(parts) >= 2 else None


def _error(number: int, line: str, problem: str) -> str:
    shown = line if len(line) <= _SNIPPET_CHARS else line[: _SNIPPET_CHARS - 1] + "…"
    return f"line {number}: {shown!r}: {problem}"
