"""One document as the report's viewer shows it: its programs, and its original lines numbered as the refiner
saw them, removed lines marked, `normalize` edits as an inline diff, from which the result text is rebuilt.

A document's lines are rows `[line, flag, content]`: `line` is the 0-based line number of the original text
(None for a line a newline-making `normalize` added), `flag` is `KEPT`, `REMOVED` or `INSERTED`, and `content`
is the line's text, or, for a line a `normalize` changed, segments `[op, text]` with op "=" (unchanged), "-"
(taken out) or "+" (put in). The original text is every row but the inserted ones without the "+" segments; the
edited text is every row but the removed ones without the "-" segments. The viewer's JavaScript rebuilds the
result text that way, so the page carries each text once, and `document_view` checks that the rebuilt text is
the one the run recorded (it says so in the view when it is not).
"""

from __future__ import annotations

import os
import re
from difflib import SequenceMatcher

from prox.program import ChunkReport
from prox.report.documents import OutputDocument

KEPT, REMOVED, INSERTED = 0, 1, 2
# The viewer shows at most this many characters of a document's original text (the rest is cut, and said so).
MAX_VIEW_CHARS = 100_000
# Lines up to this many characters (both sides together) are compared character by character, longer ones
# word by word, so that one huge changed line costs little.
_CHARACTER_DIFF_LIMIT = 4_000
_TOKENS = re.compile(r"\w+|\s+|[^\w\s]")
_SHOWN_ERRORS = 20


def document_view(document: OutputDocument) -> dict:
    """The JSON-ready view of one document for the viewer."""
    rows = line_rows(document.original, document.replay)
    truncated = _truncate(rows)
    view: dict = {
        "id": document.id,
        "key": document.key,
        "place": document.place,
        "reason": document.reason,
        "lines": document.line_count,
        "removed": document.removed_line_count,
        "rows": rows,
    }
    if truncated:
        view["truncated"] = truncated
    if document.p_keep is not None:
        view["p_keep"] = document.p_keep
    for field in ("refiner", "policy", "doc_program"):
        if document.prox.get(field) is not None:
            view[field] = str(document.prox[field])
    recorded = document.prox.get("chunk_programs")
    if isinstance(recorded, list):
        view["chunks"] = [
            [item.get("first_line"), item.get("last_line"), item.get("program") or ""]
            for item in recorded
            if isinstance(item, dict)
        ]
    if document.replay is not None:
        view["normalizations"] = sum(item.occurrences for item in document.replay.normalizations)
    if document.program_errors:
        view["errors"] = document.program_errors[:_SHOWN_ERRORS]
    if document.error is not None:
        view["error"] = document.error
    view |= _result(document, rows, truncated)
    return view


def _result(document: OutputDocument, rows: list[list], truncated: int) -> dict:
    """How the viewer gets the result text: rebuilt from the rows ("edited"), the original text ("original"),
    none (dropped or error), or, where neither gives what the run recorded, the recorded text itself."""
    if document.place != "kept" or document.result is None:
        return {"result_kind": "none"}
    edited = document.replay is not None and document.replay.keep and document.replay.reason == "edited"
    if truncated:
        return {"result_kind": "edited" if edited else "original"}
    if edited and edited_text(rows) == document.result:
        return {"result_kind": "edited"}
    if not edited and document.original == document.result and document.replay_agrees:
        return {"result_kind": "original"}
    return {
        "result_kind": "recorded",
        "result": document.result[:MAX_VIEW_CHARS],
        "note": "running the recorded programs again under the run's policy does not give the recorded text "
        "(an output of another prox version, or replayed under another policy): the rows show the replay, the "
        "result is the recorded text",
    }


def line_rows(original: str, report: ChunkReport | None) -> list[list]:
    """The rows of a document: its original lines, marked by what its chunk programs did (`report`)."""
    lines = original.split("\n")
    if report is None:
        return [[index, KEPT, line] for index, line in enumerate(lines)]
    removed = set(report.removed_lines)
    kept = report.edited_text.split("\n")
    if not report.edited_text and len(removed) == len(lines):
        kept = []  # every line removed
    if len(kept) + len(removed) != len(lines) or any(index >= len(lines) for index in removed):
        # A normalize added or took out newlines: line numbers no longer match; show a diff of the lines.
        return _diff_rows(lines, report.edited_text.split("\n"))
    rows = []
    edited_lines = iter(kept)
    for index, line in enumerate(lines):
        if index in removed:
            rows.append([index, REMOVED, line])
            continue
        edited = next(edited_lines)
        rows.append([index, KEPT, line if edited == line else inline_diff(line, edited)])
    return rows


def _diff_rows(lines: list[str], edited_lines: list[str]) -> list[list]:
    rows: list[list] = []
    matcher = SequenceMatcher(None, lines, edited_lines, autojunk=False)
    for tag, start, end, edited_start, edited_end in matcher.get_opcodes():
        if tag == "equal":
            rows.extend([index, KEPT, lines[index]] for index in range(start, end))
        elif tag == "replace" and end - start == edited_end - edited_start:
            rows.extend(
                [index, KEPT, inline_diff(lines[index], edited_lines[edited_start + index - start])]
                for index in range(start, end)
            )
        else:
            rows.extend([index, REMOVED, lines[index]] for index in range(start, end))
            rows.extend([None, INSERTED, edited_lines[index]] for index in range(edited_start, edited_end))
    return rows


def inline_diff(before: str, after: str) -> list[list[str]]:
    """Segments `[op, text]` that turn `before` into `after`: "=" kept, "-" taken out, "+" put in."""
    # The common start and end are cut off first: an edit usually changes one stretch of a line.
    # (commonprefix compares strings character by character, which is what is wanted here)
    start = len(os.path.commonprefix([before, after]))  # noqa: RUF071
    end = len(os.path.commonprefix([before[start:][::-1], after[start:][::-1]]))  # noqa: RUF071
    middle_before, middle_after = before[start : len(before) - end], after[start : len(after) - end]
    if len(middle_before) + len(middle_after) <= _CHARACTER_DIFF_LIMIT:
        old, new = list(middle_before), list(middle_after)
    else:
        old, new = _TOKENS.findall(middle_before), _TOKENS.findall(middle_after)
    segments: list[list[str]] = []

    def add(op: str, parts: list[str]) -> None:
        text = "".join(parts)
        if not text:
            return
        if segments and segments[-1][0] == op:
            segments[-1][1] += text
        else:
            segments.append([op, text])

    add("=", [before[:start]])
    for tag, first, last, new_first, new_last in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            add("=", old[first:last])
        else:
            add("-", old[first:last])
            add("+", new[new_first:new_last])
    add("=", [before[len(before) - end :]])
    return segments


def original_text(rows: list[list]) -> str:
    """The text the rows were made from."""
    return "\n".join(_row_text(row, skip="+") for row in rows if row[1] != INSERTED)


def edited_text(rows: list[list]) -> str:
    """The text after the edits the rows show."""
    return "\n".join(_row_text(row, skip="-") for row in rows if row[1] != REMOVED)


def _row_text(row: list, skip: str) -> str:
    content = row[2]
    return content if isinstance(content, str) else "".join(text for op, text in content if op != skip)


def _truncate(rows: list[list]) -> int:
    """Cut the rows past MAX_VIEW_CHARS characters of text; how many rows were cut."""
    total = 0
    for index, row in enumerate(rows):
        text = _row_text(row, skip="")
        if len(text) > MAX_VIEW_CHARS:  # one huge line (a single-line document): shown cut, without its diff
            row[2] = text[:MAX_VIEW_CHARS]
        total += len(text) + 1
        if total > MAX_VIEW_CHARS:
            cut = len(rows) - index - 1
            del rows[index + 1 :]
            return cut
    return 0
