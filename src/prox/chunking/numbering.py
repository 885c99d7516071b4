"""The `[NNN]` line numbering that chunk programs refer to."""

from __future__ import annotations


def number_line(index: int, line: str) -> str:
    """`[007]text`: zero-padded to three digits, more when needed, no space after `]`."""
    return f"[{index:03d}]{line}"


def number_lines(lines: list[str], first: int = 0) -> list[str]:
    """Numbered lines, the first one numbered `first` (indices are document-wide)."""
    return [number_line(first + offset, line) for offset, line in enumerate(lines)]
