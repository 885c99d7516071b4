"""Read untrusted model output into a `Program` with Python's tokenizer and `ast`, never eval/exec.

Tokens find where each call starts and ends; `ast` reads the call's arguments, which must be plain
literals. Anything else (prose, unknown functions, bad arguments, output cut off mid-call) becomes a
recorded `ParseError` and reading goes on with the next line: the parser never raises.
"""

from __future__ import annotations

import ast
import re
import tokenize
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from prox.program.calls import (
    EDITING_FUNCTIONS,
    Call,
    DropDoc,
    KeepChunk,
    KeepDoc,
    Normalize,
    ParseError,
    ParseErrorKind,
    Program,
    RemoveLines,
)

# Function name -> (parameter names in positional order, {accepted keyword: parameter}).
_NO_ARGUMENTS: tuple[tuple[str, ...], dict[str, str]] = ((), {})
_SIGNATURES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "drop_doc": _NO_ARGUMENTS,
    "keep_doc": _NO_ARGUMENTS,
    "keep_chunk": _NO_ARGUMENTS,
    "untouch_doc": _NO_ARGUMENTS,
    "remove_lines": (
        ("start", "end"),
        {"line_start": "start", "line_end": "end", "start": "start", "end": "end"},
    ),
    "normalize": (("source", "target"), {"source_str": "source", "target_str": "target"}),
}
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {")", "]", "}"}
_SKIPPED = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
# A whole fence line (```python), or a fence glued to the start or end of a line of code.
_FENCE = re.compile(r"^\s*```[\w+-]*\s*$|^\s*```|```\s*$")
_SNIPPET_CHARS = 80
# A garbage output can make every line a restart point; past this many, the rest is one error.
_MAX_RESTARTS = 1000
# An open call is given up as unterminated once it runs this many lines: without a bound, output cut off
# after many unclosed calls is re-read to its end from every restart point (quadratic time). A new call on a
# later line ends it sooner (see `_read_from`), so cut-off calls cost what they read, not 50 lines each.
_MAX_CALL_LINES = 50


def parse_program(text: str) -> Program:
    """Read a doc or chunk program from raw model output; never raises."""
    return _Reader(text).read()


@dataclass
class _Pending:
    """A call whose closing parenthesis has not been seen yet."""

    name: str
    start: tuple[int, int]
    depth: int = 1
    last: tokenize.TokenInfo | None = None


class _Reader:
    def __init__(self, text: str) -> None:
        self.source = text
        self.lines = [_FENCE.sub(lambda m: " " * len(m.group(0)), line) for line in text.split("\n")]
        self.calls: list[Call] = []
        self.errors: list[ParseError] = []

    def read(self) -> Program:
        first = 0
        restarts = 0
        while first < len(self.lines):
            restart = self._read_from(first)
            if restart is None:
                break
            resume, costly = restart
            restarts += costly
            if restarts > _MAX_RESTARTS:
                self._error("syntax", "too many unreadable lines; the rest was skipped", resume, "")
                break
            first = max(resume, first + 1)
        return Program(tuple(self.calls), tuple(self.errors), self.source)

    def _read_from(self, first: int) -> tuple[int, bool] | None:
        """Read calls from line `first` (0-based) on; return the line to restart at after unreadable text, and
        whether that restart re-reads lines (only those count against `_MAX_RESTARTS`)."""
        pending: _Pending | None = None
        name_token: tokenize.TokenInfo | None = None
        stray: list[tokenize.TokenInfo] = []
        stray_depth = 0
        unmatched_closer = False
        try:
            for token in self._tokens(first):
                kind, string = token.type, token.string
                if kind == tokenize.NL and pending is None and stray_depth > 0:
                    # A bracket opened by prose and left open: restart on the next line rather than let the
                    # tokenizer read the rest of the output as that bracket's contents.
                    self._flush_stray([*stray, name_token] if name_token is not None else stray)
                    return token.start[0], False
                if kind in _SKIPPED:
                    continue
                if pending is not None and token.start[0] - pending.start[0] >= _MAX_CALL_LINES:
                    self._unterminated(pending, token.start)
                    return pending.start[0], True
                if pending is not None:
                    previous, pending.last = pending.last, token
                    if (
                        string == "("
                        and previous is not None
                        and previous.type == tokenize.NAME
                        and previous.start[0] > pending.start[0]
                    ):
                        # A call on a later line: arguments are literals, so this call was cut off. Read on
                        # from the new call rather than re-read these lines from the next one (quadratic).
                        self._unterminated(pending, previous.start)
                        return previous.start[0] - 1, False
                    if string in _OPENERS:
                        pending.depth += 1
                    elif string in _CLOSERS:
                        pending.depth -= 1
                        if pending.depth == 0:
                            self._finish_call(pending, token.end)
                            pending = None
                    elif kind in (tokenize.NEWLINE, tokenize.ENDMARKER):
                        self._unterminated(pending)
                        pending = None
                    continue
                if kind in (tokenize.NEWLINE, tokenize.ENDMARKER) or (string == ";" and stray_depth == 0):
                    if name_token is not None:
                        stray.append(name_token)
                        name_token = None
                    self._flush_stray(stray)
                    stray, stray_depth = [], 0
                    if unmatched_closer and kind == tokenize.NEWLINE:
                        # The tokenizer now believes every later line continues this one: start it afresh.
                        return token.start[0], False
                    continue
                if kind == tokenize.OP and string == "(" and name_token is not None and stray_depth == 0:
                    pending = _Pending(name_token.string, name_token.start)
                    name_token = None
                    continue
                if name_token is not None:
                    stray.append(name_token)
                    name_token = None
                if kind == tokenize.NAME and stray_depth == 0:
                    name_token = token
                    continue
                stray.append(token)
                if string in _OPENERS:
                    stray_depth += 1
                elif string in _CLOSERS:
                    if stray_depth > 0:
                        stray_depth -= 1
                    else:
                        unmatched_closer = True
        except (tokenize.TokenError, SyntaxError, ValueError) as error:
            # Each branch returns the 1-based row of the offending line: reading restarts after it.
            error_row = min(_error_row(error, first), len(self.lines))
            if pending is not None:
                self._unterminated(pending)
                return pending.start[0], True
            if isinstance(error, IndentationError) and error_row - 1 > first:
                if name_token is not None:
                    stray.append(name_token)
                self._flush_stray(stray)
                return error_row - 1, True  # the badly indented line is read again as a fresh first line
            restart = stray[0].start[0] if stray_depth > 0 and stray else error_row
            self._error("syntax", _tokenizer_message(error), error_row, self._line(error_row))
            return restart, True
        return None

    def _tokens(self, first: int) -> Iterator[tokenize.TokenInfo]:
        """Tokens of lines[first:], with rows renumbered to 1-based rows of the whole output."""
        rows = iter(range(first, len(self.lines)))
        last = len(self.lines) - 1

        def readline() -> str:
            # Lines are handed over one at a time: a restart costs what it reads, not the whole rest.
            row = next(rows, None)
            if row is None:
                return ""
            return self.lines[row] if row == last else self.lines[row] + "\n"

        for token in tokenize.generate_tokens(readline):
            yield token._replace(
                start=(token.start[0] + first, token.start[1]), end=(token.end[0] + first, token.end[1])
            )

    def _finish_call(self, pending: _Pending, end: tuple[int, int]) -> None:
        text = self._slice(pending.start, end)
        line = pending.start[0]
        try:
            with warnings.catch_warnings():
                # Model output such as "\d" is an invalid escape: Python warns (SyntaxWarning, or
                # DeprecationWarning before 3.12) on stderr, or raises under -W error. Read it as Python would.
                warnings.simplefilter("ignore")
                node = ast.parse(text.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            self._error("syntax", f"not a readable call ({type(error).__name__})", line, text, pending.name)
            return
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            self._error("syntax", "not a plain function call", line, text, pending.name)
            return
        result = _call_from_ast(node)
        if isinstance(result, tuple):
            kind, message = result
            self._error(kind, message, line, text, pending.name)
        else:
            self.calls.append(result)

    def _unterminated(self, pending: _Pending, end: tuple[int, int] | None = None) -> None:
        # The snippet keeps 80 characters: slicing to the end of a long output for each cut-off call is quadratic.
        row = min(pending.start[0] + 1, len(self.lines))
        end = min(end or (row, len(self.lines[row - 1])), (row, len(self.lines[row - 1])))
        text = self._slice(pending.start, end)
        self._error("unterminated", "call is never closed (output cut off?)", pending.start[0], text, pending.name)

    def _flush_stray(self, tokens: list[tokenize.TokenInfo]) -> None:
        if not tokens:
            return
        text = self._slice(tokens[0].start, tokens[-1].end)
        mentioned = next((t.string for t in tokens if t.string in EDITING_FUNCTIONS), None)
        self._error("stray_text", "text that is not a call", tokens[0].start[0], text, mentioned)

    def _error(self, kind: ParseErrorKind, message: str, line: int, snippet: str, function: str | None = None) -> None:
        snippet = snippet.strip()
        if len(snippet) > _SNIPPET_CHARS:
            snippet = snippet[: _SNIPPET_CHARS - 1] + "…"
        self.errors.append(ParseError(kind, message, line, snippet, function))

    def _slice(self, start: tuple[int, int], end: tuple[int, int]) -> str:
        """Source text between two 1-based (row, col) token positions."""
        (start_row, start_col), (end_row, end_col) = start, end
        if start_row == end_row:
            return self.lines[start_row - 1][start_col:end_col]
        parts = [self.lines[start_row - 1][start_col:], *self.lines[start_row : end_row - 1]]
        parts.append(self.lines[end_row - 1][:end_col] if end_row <= len(self.lines) else "")
        return "\n".join(parts)

    def _line(self, row: int) -> str:
        return self.lines[row - 1] if 0 < row <= len(self.lines) else ""


def _call_from_ast(node: ast.Call) -> Call | tuple[ParseErrorKind, str]:
    """The typed call for a parsed call node, or (error kind, message)."""
    name = node.func.id  # type: ignore[attr-defined]
    signature = _SIGNATURES.get(name)
    if signature is None:
        return "unknown_function", f"unknown function {name}()"
    positional_names, keyword_names = signature
    if len(node.args) > len(positional_names):
        return "bad_arguments", f"{name}() takes {len(positional_names)} arguments, got {len(node.args)}"
    values: dict[str, object] = {}
    for parameter, argument in zip(positional_names, node.args, strict=False):
        if isinstance(argument, ast.Starred):
            return "bad_arguments", f"{name}() got a starred argument"
        values[parameter] = _literal(argument)
    for keyword in node.keywords:
        parameter = keyword_names.get(keyword.arg or "")
        if parameter is None:
            return "bad_arguments", f"{name}() got an unexpected argument {keyword.arg or '**'}"
        if parameter in values:
            return "bad_arguments", f"{name}() got {parameter} twice"
        values[parameter] = _literal(keyword.value)
    positional = bool(node.args)
    if name == "drop_doc":
        return DropDoc()
    if name == "keep_doc":
        return KeepDoc()
    if name in ("keep_chunk", "untouch_doc"):
        return KeepChunk()
    if name == "remove_lines":
        return _remove_lines(values, positional)
    return _normalize(values, positional)


def _remove_lines(values: dict[str, object], positional: bool) -> RemoveLines | tuple[ParseErrorKind, str]:
    for parameter in ("start", "end"):
        if parameter not in values:
            return "bad_arguments", f"remove_lines() is missing line_{parameter}"
        value = values[parameter]
        if type(value) is not int:
            return "bad_arguments", f"remove_lines() line_{parameter} must be an integer, got {_describe(value)}"
        if value < 0:
            return "bad_arguments", f"remove_lines() line_{parameter} must not be negative, got {value}"
    return RemoveLines(values["start"], values["end"], positional)  # type: ignore[arg-type]


def _normalize(values: dict[str, object], positional: bool) -> Normalize | tuple[ParseErrorKind, str]:
    if "source" not in values:
        return "bad_arguments", "normalize() is missing source_str"
    values.setdefault("target", "")
    for parameter in ("source", "target"):
        if type(values[parameter]) is not str:
            return "bad_arguments", f"normalize() {parameter}_str must be a string, got {_describe(values[parameter])}"
    return Normalize(values["source"], values["target"], positional)  # type: ignore[arg-type]


_NOT_A_LITERAL = object()


def _literal(node: ast.expr) -> object:
    """The value of a constant or a signed number; anything else is `_NOT_A_LITERAL`."""
    if isinstance(node, ast.Constant):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, (ast.USub, ast.UAdd))
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) in (int, float)
    ):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    return _NOT_A_LITERAL


def _describe(value: object) -> str:
    return "an expression" if value is _NOT_A_LITERAL else repr(value)


def _error_row(error: Exception, first: int) -> int:
    """The 1-based row of the whole output that a tokenizer error, raised reading lines[first:], points at."""
    row = getattr(error, "lineno", None)
    if row is None and len(error.args) > 1 and isinstance(error.args[1], tuple):
        row = error.args[1][0]
    return first + (row if isinstance(row, int) and row > 0 else 1)


def _tokenizer_message(error: Exception) -> str:
    message = error.args[0] if error.args else type(error).__name__
    return f"unreadable text ({message})"
