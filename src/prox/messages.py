"""Messages for the command line, which prints every error as one line."""

from __future__ import annotations


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none (libraries such as
    transformers raise messages that run over many lines)."""
    message = str(error).strip()
    return message.splitlines()[0] if message else type(error).__name__
