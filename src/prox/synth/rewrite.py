"""Turn a teacher's cleaned text of a chunk into the minimal chunk program that reproduces it (RefineX-style).

The teacher is shown a chunk and returns it with the noise deleted. `derive_program` writes the program that
makes the same edit under the release policy: `remove_lines` for each run of deleted whole lines,
`normalize(source_str=..., target_str=...)` for each piece deleted inside a kept line, `keep_chunk()` when
nothing changed. It runs the program under `RELEASE` on the whole document before answering, and never raises
on any teacher text: what it cannot derive comes back rejected, with the reason.

What counts as a change (strict: every character counts):
- The cleaned text is split on "\\n" ("" is no line at all). Each of its lines must come from a chunk line, in
  order, by deleting characters. A leading `[NNN]` (optionally followed by one space) is taken for the chunk
  display's numbering and stripped only when NNN is that line's own number and the line reads better without
  it (fewer characters deleted).
- Whitespace is text. A blank line the teacher dropped is a removed line; a trailing space it stripped is an
  in-line deletion, which needs a normalize like any other; a blank line, newline or space it added is added
  text. With `ignore_trailing_whitespace=True`, whitespace at line ends and blank lines around the cleaned
  text are not compared; the chunk's own trailing whitespace is then kept, and the result is partial where the
  texts differ only there.
- Added, changed or reordered text rejects the chunk. With `deletions_only=True` the deletions the teacher
  clearly made are kept (a chunk line is removed only when no teacher line stands for it) and the program comes
  back partial, with the reasons.

Why normalize sources carry context: the release applies a normalize to every occurrence in the whole
document, before any line is removed, and reads its strings by slicing (`release_readable`). A source is
therefore the deleted piece widened with the fewest whole words of neighbouring context that make it occur
exactly once in the lines that survive (the chunk's removed lines do not count, other chunks' lines do); the
target keeps that context: `normalize(source_str="overnight. Share this", target_str="overnight.")`. A
deletion holding `,` `=` `)` `"` or a backslash, or whose every readable context occurs elsewhere, cannot be
written: the chunk is rejected, or with `skip_inexpressible=True` that piece stays in the line and the program
comes back partial. So do the deletions of a line that would take the chunk past 100 normalize calls: a refiner
could never write that program (the release gives it 256 tokens).

The check runs this chunk's program alone. Programs derived for two chunks of one document each touch only
their own lines, except in the rare case that one chunk's in-line deletion creates another chunk's source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Literal

from prox.chunking import Chunk, number_line
from prox.program import (
    RELEASE,
    Call,
    ChunkProgram,
    KeepChunk,
    Normalize,
    RemoveLines,
    execute_chunk_programs,
    parse_program,
    release_readable,
    serialize,
)

# The release cuts a normalize's arguments at these characters and never unescapes a backslash.
_UNREADABLE = frozenset(',=)"\\')
# Above this many candidate (teacher line, chunk line) pairs the alignment takes the earliest fit instead of
# the one with the fewest edits: a pathological chunk (hundreds of blank teacher lines) stays fast.
_MAX_ALIGNMENT_CELLS = 400_000
# Diagnosing a failed alignment compares lines pairwise inside each differing block, up to this many pairs.
_MAX_BLOCK_CELLS = 20_000
# Lines longer than this are compared without difflib's quadratic matching (a chunk can be one huge line).
_MAX_DIFF_CHARS = 5_000
# A chunk program needs few normalize calls: a refiner writes at most 256 tokens per chunk in the release. More
# deleted pieces than this in one chunk are not written (and would make the source search quadratic).
_MAX_NORMALIZES = 100
# A teacher line this similar to a chunk line is taken for an edit of it (difflib's ratio).
_SIMILAR = 0.5
_SNIPPET_CHARS = 60
_WORDS = re.compile(r"\s+|\S+")


@dataclass(frozen=True)
class Derivation:
    """The program derived from one chunk's cleaned text, or why there is none.

    `program` is the serialized program (None when rejected) and `calls` its calls. `exact` is true when the
    program, run under the release policy, turns the chunk into the cleaned text character for character (the
    text as read: without the `[NNN]` prefixes it may carry).
    A partial program (not exact, not rejected) makes only some of the teacher's edits; `notes` say which
    were left out. `removed_lines` are document-wide; `removed_share` is the share of the chunk's words
    (`str.split`) that the program removes.
    """

    program: str | None
    calls: tuple[Call, ...] = ()
    exact: bool = False
    rejected: str | None = None
    notes: tuple[str, ...] = ()
    removed_lines: tuple[int, ...] = ()
    removed_share: float = 0.0

    @property
    def status(self) -> Literal["exact", "partial", "rejected"]:
        if self.rejected is not None:
            return "rejected"
        return "exact" if self.exact else "partial"


def derive_program(
    document_lines: Sequence[str] | str,
    chunk: Chunk,
    cleaned: str,
    deletions_only: bool = False,
    *,
    skip_inexpressible: bool = False,
    ignore_trailing_whitespace: bool = False,
) -> Derivation:
    """The minimal chunk program that turns `chunk` into `cleaned` under the release policy, checked by running it.

    `document_lines` is the whole document (its lines, or its text), which `chunk` (from `chunk_document`)
    is part of; a normalize acts on all of it. Raises ValueError only when the chunk is not part of it.
    """
    lines = document_lines.split("\n") if isinstance(document_lines, str) else list(document_lines)
    first, last = chunk.first_line, chunk.last_line
    if not 0 <= first <= last < len(lines) or (chunk.lines and tuple(lines[first : last + 1]) != chunk.lines):
        raise ValueError(f"chunk lines {first}-{last} are not lines of this {len(lines)}-line document")
    teacher, trimmed = _teacher_lines(cleaned, ignore_trailing_whitespace)
    matcher = _Matcher(lines[first : last + 1], first, teacher, ignore_trailing_whitespace)
    notes: list[str] = []
    fit = _alignment(matcher)
    if fit is not None:
        kept = {i: matcher.kept(j, i) or "" for i, j in fit.items()}
        # The teacher's lines as read: without the `[NNN]` prefixes, with their own whitespace.
        wanted = None if trimmed else [matcher.variant(j, i) for i, j in fit.items()]
    else:
        kept, problems = _loose_alignment(matcher)
        if not deletions_only:
            return _rejected([message for _, message in problems])
        notes.extend(message for _, message in problems)
        wanted = None
    plan = _plan_calls(lines, first, matcher.chunk, kept)
    if plan.problems and not skip_inexpressible:
        return _rejected(plan.problems)
    notes.extend(plan.problems)
    calls = plan.calls or [KeepChunk()]
    program = serialize(calls)
    produced = _run(lines, first, last, program)
    if produced != plan.output:
        # Every step above is meant to make this impossible; refuse rather than hand out a wrong example.
        return _rejected([f"the derived program does not make the intended edit under the release policy: {program!r}"])
    exact = produced == wanted
    if not exact and not notes:
        notes.append("reproduces the teacher's text except for whitespace at line ends or around it")
    words_in = sum(len(line.split()) for line in matcher.chunk)
    words_out = sum(len(line.split()) for line in produced)
    return Derivation(
        program=program,
        calls=tuple(calls),
        exact=exact,
        notes=tuple(notes),
        removed_lines=tuple(plan.removed),
        removed_share=(words_in - words_out) / words_in if words_in else 0.0,
    )


def _rejected(problems: list[str]) -> Derivation:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return Derivation(program=None, rejected=(problems[0] if problems else "no program could be derived") + more)


def _teacher_lines(cleaned: str, ignore_trailing_whitespace: bool) -> tuple[list[str], bool]:
    """The cleaned text's lines, and whether blank lines around them were dropped (then it is not exact)."""
    lines = cleaned.split("\n") if cleaned else []
    count = len(lines)
    if ignore_trailing_whitespace:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
    return lines, len(lines) != count


# --- aligning the teacher's lines with the chunk's ------------------------------------------------------------


class _Matcher:
    """Which teacher line can stand for which chunk line, and as what text (the line minus deleted characters)."""

    def __init__(self, chunk: list[str], first: int, teacher: list[str], ignore_trailing: bool = False) -> None:
        self.chunk = chunk
        self.first = first
        self.teacher = teacher
        self.ignore_trailing = ignore_trailing
        self._cache: dict[tuple[int, int], tuple[str, str] | None] = {}

    def variants(self, j: int, i: int) -> list[str]:
        """Teacher line j as written, then without a `[NNN]` / `[NNN] ` prefix naming chunk line i."""
        text = self.teacher[j]
        prefix = number_line(self.first + i, "")
        if not text.startswith(prefix):
            return [text]
        rest = text[len(prefix) :]
        return [text, rest, rest[1:]] if rest.startswith(" ") else [text, rest]

    def kept(self, j: int, i: int) -> str | None:
        """Chunk line i as teacher line j keeps it, or None when teacher line j is not a deletion of it."""
        found = self._fit(j, i)
        return found[0] if found else None

    def variant(self, j: int, i: int) -> str:
        """Teacher line j as read against chunk line i: without the prefix when that is how it fits."""
        found = self._fit(j, i)
        return found[1] if found else self.variants(j, i)[-1]

    def _fit(self, j: int, i: int) -> tuple[str, str] | None:
        key = (j, i)
        if key not in self._cache:
            self._cache[key] = None
            line = self.chunk[i]
            base = line.rstrip() if self.ignore_trailing else line
            for variant in self.variants(j, i):  # longest first: the fewest deleted characters wins
                core = variant.rstrip() if self.ignore_trailing else variant
                if _is_subsequence(core, base):
                    self._cache[key] = (core + line[len(base) :], variant)
                    break
        return self._cache[key]


def _is_subsequence(short: str, long: str) -> bool:
    if len(short) > len(long):
        return False
    if short == long or not short:
        return True
    position = 0
    for char in short:
        position = long.find(char, position) + 1
        if not position:
            return False
    return True


def _alignment(matcher: _Matcher) -> dict[int, int] | None:
    """Chunk line → teacher line for an order-preserving fit of every teacher line, or None if there is none.

    Among all fits it takes one with the fewest in-line edits, then the fewest runs of removed lines. Every fit
    maps teacher line j between its earliest and its latest possible chunk line, so only that window is searched.
    """
    chunk_size, teacher_size = len(matcher.chunk), len(matcher.teacher)
    if teacher_size == 0:
        return {}
    if teacher_size > chunk_size:
        return None
    earliest: list[int] = []
    index = 0
    for j in range(teacher_size):
        while index < chunk_size and matcher.kept(j, index) is None:
            index += 1
        if index == chunk_size:
            return None
        earliest.append(index)
        index += 1
    latest = [0] * teacher_size
    index = chunk_size - 1
    for j in reversed(range(teacher_size)):
        while index >= 0 and matcher.kept(j, index) is None:
            index -= 1
        if index < 0:
            return None
        latest[j] = index
        index -= 1
    if sum(high - low + 1 for low, high in zip(earliest, latest, strict=True)) > _MAX_ALIGNMENT_CELLS:
        return {i: j for j, i in enumerate(earliest)}
    return _fewest_edits(matcher, earliest, latest)


def _fewest_edits(matcher: _Matcher, earliest: list[int], latest: list[int]) -> dict[int, int]:
    """Dynamic programming over the windows. Costs, each outweighing any number of the next: an in-line edit, a
    run of removed lines, a teacher line read without its `[NNN]` prefix (so a literal reading wins a tie)."""
    chunk_size = len(matcher.chunk)
    run_cost = len(matcher.teacher) + 1
    edit_cost = (chunk_size + 2) * run_cost
    unreachable = float("inf")
    costs: list[list[float]] = []
    back: list[list[int]] = []
    for j, (low, high) in enumerate(zip(earliest, latest, strict=True)):
        row = [unreachable] * (high - low + 1)
        pointers = [-1] * (high - low + 1)
        if j:
            previous, previous_low = costs[-1], earliest[j - 1]
            prefix_best, prefix_at = _prefix_minima(previous, previous_low)
        for i in range(low, high + 1):
            kept = matcher.kept(j, i)
            if kept is None:
                continue
            cost = (0 if kept == matcher.chunk[i] else edit_cost) + (matcher.variant(j, i) != matcher.teacher[j])
            if not j:
                row[i - low] = cost + run_cost * (i > 0)
                continue
            best, at = unreachable, -1
            if 0 <= i - 1 - previous_low < len(previous):  # right after the previous kept line: no new run
                best, at = previous[i - 1 - previous_low], i - 1
            gap_end = min(i - 2, previous_low + len(previous) - 1)
            if gap_end >= previous_low and prefix_best[gap_end - previous_low] + run_cost < best:
                best, at = prefix_best[gap_end - previous_low] + run_cost, prefix_at[gap_end - previous_low]
            if at >= 0:
                row[i - low], pointers[i - low] = best + cost, at
        costs.append(row)
        back.append(pointers)
    final_low = earliest[-1]
    totals = [cost + run_cost * (final_low + offset < chunk_size - 1) for offset, cost in enumerate(costs[-1])]
    at = final_low + totals.index(min(totals))
    fit: dict[int, int] = {}
    for j in reversed(range(len(earliest))):
        fit[at] = j
        at = back[j][at - earliest[j]]
    return dict(sorted(fit.items()))


def _prefix_minima(values: list[float], low: int) -> tuple[list[float], list[int]]:
    best, at = float("inf"), -1
    minima, positions = [], []
    for offset, value in enumerate(values):
        if value < best:
            best, at = value, low + offset
        minima.append(best)
        positions.append(at)
    return minima, positions


def _loose_alignment(matcher: _Matcher) -> tuple[dict[int, str], list[tuple[float, str]]]:
    """For a cleaned text that is not a deletion of the chunk: the deletions it clearly makes, and what else it did.

    Teacher lines are paired with chunk lines in order (equal lines first, then similar ones); a paired line
    keeps only the characters the teacher plainly deleted. A chunk line is removed only when no teacher line
    stands for it: one the teacher moved, or one in a stretch the teacher rewrote, stays.
    """
    chunk, teacher, first = matcher.chunk, matcher.teacher, matcher.first
    keys = [_display_key(matcher, j) for j in range(len(teacher))]
    pairs: dict[int, int] = {}  # teacher line → chunk line
    stretches: list[tuple[range, range]] = []  # chunk lines and teacher lines that differ
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, chunk, keys, autojunk=False).get_opcodes():
        if tag == "equal":
            pairs.update((j1 + offset, i1 + offset) for offset in range(i2 - i1))
        elif tag == "replace":
            pairs.update(_pair_block(matcher, range(i1, i2), range(j1, j2)))
            stretches.append((range(i1, i2), range(j1, j2)))
    paired_chunk = {i: j for j, i in pairs.items()}
    kept: dict[int, str] = {}
    problems: list[tuple[float, str]] = []
    explained: set[int] = set()  # teacher lines that are chunk lines moved or repeated
    previous = -1
    for j, text in enumerate(teacher):
        if j in pairs:
            i = previous = pairs[j]
            derived = matcher.kept(j, i)
            if derived is None:
                variant = matcher.variants(j, i)[-1]
                derived = _plain_deletions(chunk[i], variant)
                problems.append((i, f"line {first + i}: {_difference(chunk[i], variant)}"))
            kept[i] = derived
            continue
        # A blank line is a deletion of any line: one the teacher adds is never taken for a moved line.
        fits = [i for i in range(len(chunk)) if text.strip() and matcher.kept(j, i) is not None]
        moved = next((i for i in fits if i not in paired_chunk and i not in kept), None)
        added = "blank line added" if not text.strip() else f"text added: {_snippet(text)}"
        if moved is not None:
            kept[moved] = matcher.kept(j, moved) or ""  # kept where it was: the teacher did not delete it
            problems.append((moved, f"line {first + moved}: moved (lines reordered)"))
            explained.add(j)
        elif fits:
            problems.append((fits[0], f"line {first + fits[0]}: repeated"))
            explained.add(j)
        elif previous >= 0:
            problems.append((previous + 0.5, f"after line {first + previous}: {added}"))
        else:
            problems.append((-0.5, f"before line {first}: {added}"))
    for chunk_lines, teacher_lines in stretches:
        if any(j not in pairs and j not in explained for j in teacher_lines):
            for i in chunk_lines:  # the teacher may have rewritten these: not a plain deletion, so they stay
                kept.setdefault(i, chunk[i])
    problems.sort(key=lambda problem: problem[0])
    return dict(sorted(kept.items())), problems


def _display_key(matcher: _Matcher, j: int) -> str:
    """Teacher line j without a `[NNN]` prefix that names one of the chunk's lines (for pairing lines up)."""
    text = matcher.teacher[j]
    if text.startswith("[") and "]" in text:
        number = text[1 : text.index("]")]
        if number.isdecimal() and 0 <= int(number) - matcher.first < len(matcher.chunk):
            variants = matcher.variants(j, int(number) - matcher.first)
            return variants[1] if len(variants) > 1 else text
    return text


def _pair_block(matcher: _Matcher, chunk_range: range, teacher_range: range) -> dict[int, int]:
    """Teacher line → chunk line for one differing block: an order-preserving pairing that favours deletions,
    then similar lines (dynamic programming over the block; nothing is paired in a block too large to compare)."""
    rows, columns = len(chunk_range), len(teacher_range)
    if rows * columns > _MAX_BLOCK_CELLS:
        return {}
    score = [[0] * (columns + 1) for _ in range(rows + 1)]
    for a in range(rows - 1, -1, -1):
        for b in range(columns - 1, -1, -1):
            best = max(score[a + 1][b], score[a][b + 1])
            pair = _pair_score(matcher, teacher_range[b], chunk_range[a])
            if pair:
                best = max(best, pair + score[a + 1][b + 1])
            score[a][b] = best
    pairs: dict[int, int] = {}
    a = b = 0
    while a < rows and b < columns:
        pair = _pair_score(matcher, teacher_range[b], chunk_range[a])
        if pair and score[a][b] == pair + score[a + 1][b + 1]:
            pairs[teacher_range[b]] = chunk_range[a]
            a, b = a + 1, b + 1
        elif score[a][b] == score[a + 1][b]:
            a += 1
        else:
            b += 1
    return pairs


def _pair_score(matcher: _Matcher, j: int, i: int) -> int:
    """3 when teacher line j is a deletion of chunk line i, 1 when it is similar to it, else 0."""
    if matcher.kept(j, i) is not None:
        return 3
    line, variant = matcher.chunk[i], matcher.variants(j, i)[-1]
    similar = SequenceMatcher(None, line, variant, autojunk=False)
    if similar.real_quick_ratio() < _SIMILAR or similar.quick_ratio() < _SIMILAR:
        return 0
    return 1 if len(line) + len(variant) > _MAX_DIFF_CHARS or similar.ratio() >= _SIMILAR else 0


def _plain_deletions(line: str, changed: str) -> str:
    """The line without the whole words and spaces that the changed line plainly deletes (between unchanged text)."""
    if len(line) + len(changed) > _MAX_DIFF_CHARS:
        return line
    words, changed_words = _WORDS.findall(line), _WORDS.findall(changed)
    opcodes = SequenceMatcher(None, words, changed_words, autojunk=False).get_opcodes()
    return "".join("".join(words[i1:i2]) for tag, i1, i2, _, _ in opcodes if tag != "delete")


def _difference(line: str, changed: str) -> str:
    """What a changed line does besides deleting: the first text it adds, or the first words it replaces."""
    if len(line) + len(changed) > _MAX_DIFF_CHARS:
        same = next((at for at, (a, b) in enumerate(zip(line, changed, strict=False)) if a != b), len(changed))
        return f"text changed from character {same}: {_snippet(line[same:])} -> {_snippet(changed[same:])}"
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, line, changed, autojunk=False).get_opcodes():
        if tag == "insert":
            return f"text added: {_snippet(changed[j1:j2])}"
        if tag == "replace":
            old, new = _around_words(line, i1, i2), _around_words(changed, j1, j2)
            return f"text changed: {_snippet(old)} -> {_snippet(new)}"
    return f"text changed: {_snippet(line)} -> {_snippet(changed)}"


def _around_words(text: str, start: int, end: int) -> str:
    """text[start:end] widened to the words it cuts into."""
    while start > 0 and not text[start - 1].isspace() and (start == end or not text[start].isspace()):
        start -= 1
    while end < len(text) and not text[end].isspace() and (start == end or not text[end - 1].isspace()):
        end += 1
    return text[start:end]


def _snippet(text: str) -> str:
    return repr(text if len(text) <= _SNIPPET_CHARS else text[: _SNIPPET_CHARS - 1] + "…")


# --- writing the calls ----------------------------------------------------------------------------------------


@dataclass
class _Plan:
    calls: list[Call] = field(default_factory=list)
    output: list[str] = field(default_factory=list)  # the chunk's lines after the calls
    removed: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _plan_calls(lines: list[str], first: int, chunk: list[str], kept: dict[int, str]) -> _Plan:
    """Calls in line order: a `remove_lines` per run of lines missing from `kept`, normalizes for in-line edits.

    Normalizes are searched for on the document as the earlier normalizes leave it; lines this chunk removes
    are blanked there, since what a normalize does to them does not matter.
    """
    plan = _Plan()
    state = list(lines)
    for i in range(len(chunk)):
        if i not in kept:
            state[first + i] = ""
            plan.removed.append(first + i)
    run_start = None
    for i, line in enumerate(chunk):
        if i not in kept:
            run_start = first + i if run_start is None else run_start
            continue
        if run_start is not None:
            plan.calls.append(RemoveLines(run_start, first + i - 1))
            run_start = None
        plan.output.append(_edit_line(state, first + i, line, kept[i], plan))
    if run_start is not None:
        plan.calls.append(RemoveLines(run_start, first + len(chunk) - 1))
    return plan


def _edit_line(state: list[str], index: int, line: str, kept: str, plan: _Plan) -> str:
    """Append the normalizes that turn document line `index` into `kept`; returns the line as they leave it."""
    current, shift = line, 0
    pieces = _deleted_pieces(line, kept)
    written = sum(isinstance(call, Normalize) for call in plan.calls)
    if written + len(pieces) > _MAX_NORMALIZES:
        plan.problems.append(f"line {index}: its deletions would take the chunk past {_MAX_NORMALIZES} normalize calls")
        return current
    for start, end in pieces:
        start, end = start - shift, end - shift
        call = _normalize_for(state, index, current, start, end)
        if isinstance(call, str):
            plan.problems.append(call)
            continue
        plan.calls.append(call)
        current = current[:start] + current[end:]
        state[index] = current
        shift += end - start
    return current


def _deleted_pieces(line: str, kept: str) -> list[tuple[int, int]]:
    """Spans of `line` to delete, left to right, so that `kept` (a subsequence of it) remains: few pieces."""
    if line == kept:
        return []
    prefix = 0
    limit = min(len(line), len(kept))
    while prefix < limit and line[prefix] == kept[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and line[-1 - suffix] == kept[-1 - suffix]:
        suffix += 1
    line_middle, kept_middle = line[prefix : len(line) - suffix], kept[prefix : len(kept) - suffix]
    gaps: list[tuple[int, int]] = []  # (start, end) in line_middle
    at = line_middle.find(kept_middle)
    opcodes: list[tuple[str, int, int, int, int]] = []
    if at < 0 and len(line_middle) <= _MAX_DIFF_CHARS:
        opcodes = SequenceMatcher(None, line_middle, kept_middle, autojunk=False).get_opcodes()
    if at >= 0:
        gaps = [(0, at), (at + len(kept_middle), len(line_middle))]
    elif opcodes and all(tag in ("equal", "delete") for tag, *_ in opcodes):
        gaps = [(i1, i2) for tag, i1, i2, _, _ in opcodes if tag == "delete"]
    else:  # difflib's blocks did not line up, or the line is too long for it: each kept character at its first fit
        position = 0
        for char in kept_middle:
            found = line_middle.find(char, position)
            gaps.append((position, found))
            position = found + 1
        gaps.append((position, len(line_middle)))
    return [(prefix + start, prefix + end) for start, end in gaps if end > start]


def _normalize_for(state: list[str], index: int, current: str, start: int, end: int) -> Normalize | str:
    """A release-readable normalize that deletes current[start:end] of document line `index` and changes no other
    surviving text, or the reason there is none. Its source is the piece plus the least context, in whole words,
    that makes it unique in the document."""
    piece = current[start:end]
    where = f"line {index}: cannot delete {_snippet(piece)}"
    unreadable = sorted({char for char in piece if not _readable(char)})
    if unreadable:
        return f"{where}: the release cannot read a normalize holding {''.join(unreadable)!r}"
    text = "\n".join(state)
    intended = sum(len(line) + 1 for line in state[:index]) + start
    left_room = _readable_run(current, start, -1)
    right_room = _readable_run(current, end, 1)
    # For every other occurrence of the piece: how far its surroundings agree with the intended one's, capped
    # at the room there is. The source is unique once its context disagrees with each, on one side or the other.
    need_right = [0] * (left_room + 1)  # need_right[x]: right context needed with x characters of left context
    position = text.find(piece)
    while position >= 0:
        if position != intended:
            left = _agreement(text, position - 1, intended - 1, -1, left_room)
            right = _agreement(text, position + len(piece), intended + len(piece), 1, right_room)
            need_right[left] = max(need_right[left], right + 1)
        position = text.find(piece, position + 1)
    for x in range(left_room - 1, -1, -1):  # more left context also has to beat the ones agreeing further
        need_right[x] = max(need_right[x], need_right[x + 1])
    # Context ends at word edges (or where the room ends), so sources read as text: "colour of", not "ur o".
    lefts = [x for x in range(left_room + 1) if x == left_room or _edge(current, start - x, x == 0, start=True)]
    rights = [y for y in range(right_room + 1) if y == right_room or _edge(current, end + y, y == 0, start=False)]
    best: tuple[int, int] | None = None
    for x in lefts:
        # need_right only falls as x grows, and the room's ends count as edges: keeping to edges loses no source.
        need = max(need_right[x], 1) if piece == " " and x == 0 else need_right[x]  # the release ignores " "
        y = next((y for y in rights if y >= need), None)
        if y is not None and (best is None or x + y < sum(best)):
            best = (x, y)
    if best is None:
        return f"{where}: every readable source around it also occurs elsewhere in the document"
    left, right = best
    call = Normalize(current[start - left : end + right], current[start - left : start] + current[end : end + right])
    if not release_readable(call):  # the context holds only readable characters, so this cannot happen
        return f"{where}: the release would not read {call.to_source()!r} back"
    return call


def _edge(text: str, position: int, at_piece: bool, start: bool) -> bool:
    """Whether a source may start (`start`) or end at `position`: at a word's edge, or anywhere but inside a word
    when that is the deleted piece's own edge."""
    before = position == 0 or text[position - 1].isspace()
    after = position == len(text) or text[position].isspace()
    if at_piece:
        return before or after
    return (before and not after) if start else (after and not before)


def _readable(char: str) -> bool:
    return char.isprintable() and char not in _UNREADABLE


def _readable_run(text: str, position: int, step: int) -> int:
    """How many readable characters lie next to `position` in `text`, going left (-1) or right (+1)."""
    count = 0
    index = position - 1 if step < 0 else position
    while 0 <= index < len(text) and _readable(text[index]):
        count += 1
        index += step
    return count


def _agreement(text: str, other: int, intended: int, step: int, cap: int) -> int:
    """How many characters, from `other` and `intended` outwards, agree (at most `cap`)."""
    count = 0
    while count < cap and 0 <= other < len(text) and text[other] == text[intended]:
        count += 1
        other += step
        intended += step
    return count


def _run(lines: list[str], first: int, last: int, program: str) -> list[str] | None:
    """The chunk's lines after running `program` under the release policy, or None if it did anything else:
    an error, a skipped normalize, or a change outside the chunk."""
    report = execute_chunk_programs("\n".join(lines), [ChunkProgram(parse_program(program), first, last)], RELEASE)
    if report.errors or report.skipped_normalizations:
        return None
    edited = [] if len(report.removed_lines) == len(lines) else report.edited_text.split("\n")
    after = len(lines) - last - 1
    if len(edited) != len(lines) - len(report.removed_lines):
        return None
    if edited[:first] != lines[:first] or edited[len(edited) - after :] != lines[last + 1 :]:
        return None
    return edited[first : len(edited) - after]
