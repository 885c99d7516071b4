"""The few-shot (ProX) chunk method: a teacher's per-noise-type answers for one chunk, read with prox's parser,
checked against the chunk, and merged into one canonical program, or rejected with the reason.

Checks, per answer: it reads as calls with no parse error (prose outside a ```python block is ignored); only
chunk calls; each `remove_lines` range is in order and inside the chunk's lines; each `normalize` has a
non-blank source found within one line of the chunk, holds no newline (it would shift the line numbers) and, by
default, reads back the same through the release's parser. Then, on the merged program: the share of the chunk's
words it removes is at most `max_removed_share`.

Merging: the union of the ranges, sorted and merged (`merge_intervals`, as the executor does); each distinct
normalize once, longer sources first (so a shorter source cannot spoil a longer one), minus those whose source
only occurs in removed lines; `keep_chunk()` when nothing is left. With `head_tail_lines` = N (for a teacher that
over-removes, as the paper did with one), only `remove_lines` calls touching the document's first or last N
lines are kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from prox.chunking import Chunk, number_line
from prox.program import (
    RELEASE,
    Call,
    ChunkProgram,
    KeepChunk,
    Normalize,
    Program,
    RemoveLines,
    execute_chunk_programs,
    parse_program,
    release_readable,
    serialize,
)
from prox.program.release import merge_intervals

DEFAULT_MAX_REMOVED_SHARE = 0.8
# The merged program's effect is measured as the release would run it, but on parsed calls.
_MEASURE = RELEASE.with_overrides(name="fewshot measure", parser="ast")
_FENCE_LINE = re.compile(r"^\s*```[\w+-]*\s*$")


@dataclass(frozen=True)
class FewshotOptions:
    """How much of a teacher's few-shot answers to trust."""

    # Reject a chunk whose merged program removes more than this share of its words.
    max_removed_share: float = DEFAULT_MAX_REMOVED_SHARE
    # Trust only `remove_lines` calls touching the document's first or last N lines (None: trust every call).
    head_tail_lines: int | None = None
    # Reject normalize calls the release's parser would read differently (a `,` `=` `)` `"` or `\` in a string).
    release_readable: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.max_removed_share <= 1:
            raise ValueError(f"max_removed_share must be between 0 and 1; got {self.max_removed_share}")
        if self.head_tail_lines is not None and self.head_tail_lines < 1:
            raise ValueError(f"head_tail_lines must be at least 1; got {self.head_tail_lines}")


@dataclass(frozen=True)
class MergedProgram:
    """An accepted chunk: the canonical program and what it does to the chunk."""

    text: str  # serialized: one keyword-argument call per line
    calls: tuple[Call, ...]
    removed_lines: tuple[int, ...]
    removed_share: float  # of the chunk's words
    per_type: dict[str, str]  # each noise type's checked program, serialized
    distrusted: tuple[str, ...] = field(default=())  # calls left out under head/tail trust, with why


@dataclass(frozen=True)
class FewshotRejection:
    """A chunk whose teacher answers cannot be used; `noise_type` names the answer at fault, if one is."""

    reason: str
    noise_type: str | None = None

    def __str__(self) -> str:
        return f"{self.noise_type}: {self.reason}" if self.noise_type else self.reason


def merge_fewshot(
    chunk: Chunk,
    answers: Mapping[str, str],
    document_lines: int | None = None,
    options: FewshotOptions | None = None,
) -> MergedProgram | FewshotRejection:
    """One canonical program from a chunk's per-noise-type answers, or why the chunk is rejected.

    `document_lines` (the document's line count) is needed only for head/tail trust.
    """
    options = options or FewshotOptions()
    if options.head_tail_lines is not None and document_lines is None:
        raise ValueError("head/tail trust needs the document's line count (document_lines)")
    lines = chunk_lines(chunk)
    calls: list[RemoveLines | Normalize] = []
    per_type: dict[str, str] = {}
    for noise_type, answer in answers.items():
        checked = check_answer(answer, chunk, options, lines)
        if isinstance(checked, str):
            return FewshotRejection(checked, noise_type)
        per_type[noise_type] = serialize(checked) or serialize([KeepChunk()])
        calls.extend(checked)
    distrusted: list[str] = []
    if options.head_tail_lines is not None and document_lines is not None:
        calls, distrusted = _head_and_tail(calls, document_lines, options.head_tail_lines)
    merged = merge_calls(calls, chunk.first_line, lines)
    removed = [line for start, end in _ranges(merged) for line in range(start, end + 1)]
    share = removed_word_share(chunk, merged)
    if share > options.max_removed_share:
        return FewshotRejection(f"removes {share:.0%} of the chunk's words (limit {options.max_removed_share:.0%})")
    return MergedProgram(
        text=serialize(merged or [KeepChunk()]),
        calls=tuple(merged or [KeepChunk()]),
        removed_lines=tuple(removed),
        removed_share=share,
        per_type=per_type,
        distrusted=tuple(distrusted),
    )


def check_answer(
    answer: str, chunk: Chunk, options: FewshotOptions | None = None, lines: Sequence[str] | None = None
) -> list[RemoveLines | Normalize] | str:
    """The editing calls of one teacher answer, checked against the chunk (whose `lines` may be given, if known),
    or the first problem found."""
    options = options or FewshotOptions()
    lines = chunk_lines(chunk) if lines is None else lines
    program = parse_program(program_text(answer))
    if program.errors:
        return f"unreadable program: {program.errors[0]}"
    if not program.calls:
        return "no call in the answer"
    calls: list[RemoveLines | Normalize] = []
    for call in program.calls:
        problem = _call_problem(call, chunk, lines, options)
        if problem:
            return f"{call.to_source()}: {problem}"
        if isinstance(call, (RemoveLines, Normalize)):
            calls.append(call)
    return calls


def _call_problem(call: Call, chunk: Chunk, lines: Sequence[str], options: FewshotOptions) -> str | None:
    if isinstance(call, KeepChunk):
        return None
    if isinstance(call, RemoveLines):
        if call.start > call.end:
            return "the range ends before it starts"
        if call.start < chunk.first_line or call.end > chunk.last_line:
            return f"lines outside the chunk's lines {chunk.first_line}-{chunk.last_line}"
        return None
    if isinstance(call, Normalize):
        if not call.source.strip():
            return "a blank source_str"
        if "\n" in call.source or "\n" in call.target:
            return "a newline in a string would shift the line numbers"
        if not any(call.source in line for line in lines):
            return "source_str is in no line of the chunk"
        if options.release_readable and not release_readable(Normalize(call.source, call.target)):
            return "the release's parser would read it differently (a , = ) \" or \\ in a string)"
        return None
    return "not a chunk-stage call"


def merge_calls(
    calls: Sequence[RemoveLines | Normalize], first_line: int, lines: Sequence[str]
) -> list[RemoveLines | Normalize]:
    """The canonical program of checked calls: merged, sorted ranges, then distinct normalize calls that still
    act, longest source first. `lines` are the chunk's lines, the first one numbered `first_line`."""
    ranges = merge_intervals((call.start, call.end) for call in calls if isinstance(call, RemoveLines))
    removed = {line for start, end in ranges for line in range(start, end + 1)}
    kept_lines = [line for index, line in enumerate(lines) if first_line + index not in removed]
    normalizations = dict.fromkeys(Normalize(call.source, call.target) for call in calls if isinstance(call, Normalize))
    acting = [call for call in normalizations if any(call.source in line for line in kept_lines)]
    acting.sort(key=lambda call: (-len(call.source), call.source, call.target))
    return [*(RemoveLines(start, end) for start, end in ranges), *acting]


def removed_word_share(chunk: Chunk, calls: Sequence[Call]) -> float:
    """The share of the chunk's words that `calls` remove, run as the release runs a chunk program."""
    lines = chunk_lines(chunk)
    # Empty lines before the chunk keep its line numbers document-wide and add no words.
    text = "\n" * chunk.first_line + "\n".join(lines)
    program = ChunkProgram(Program(tuple(calls)), chunk.first_line, chunk.last_line)
    report = execute_chunk_programs(text, [program], _MEASURE)
    return 1 - report.words_out / report.words_in if report.words_in else 0.0


def program_text(answer: str) -> str:
    """The code of an answer: its last ```-fenced block (to the end, if never closed), else the whole answer."""
    lines = answer.split("\n")
    fences = [index for index, line in enumerate(lines) if _FENCE_LINE.match(line)]
    if not fences:
        return answer
    # Fences pair up in order: (open, close), (open, close), ...; an odd last one opens a block never closed.
    opening = fences[-1] if len(fences) % 2 else fences[-2]
    closing = len(lines) if len(fences) % 2 else fences[-1]
    return "\n".join(lines[opening + 1 : closing])


def chunk_lines(chunk: Chunk) -> tuple[str, ...]:
    """The chunk's lines without their `[NNN]` numbers."""
    count = chunk.last_line - chunk.first_line + 1
    if len(chunk.lines) == count:
        return chunk.lines
    numbered = chunk.text.split("\n")
    if len(numbered) != count:
        raise ValueError(f"chunk text has {len(numbered)} lines, not lines {chunk.first_line}-{chunk.last_line}")
    return tuple(line.removeprefix(number_line(chunk.first_line + offset, "")) for offset, line in enumerate(numbered))


def _head_and_tail(
    calls: list[RemoveLines | Normalize], document_lines: int, head_tail_lines: int
) -> tuple[list[RemoveLines | Normalize], list[str]]:
    """The `remove_lines` calls touching the document's first or last N lines, and why each other call was left out."""
    head_end, tail_start = head_tail_lines - 1, document_lines - head_tail_lines
    kept: list[RemoveLines | Normalize] = []
    left_out: list[str] = []
    for call in calls:
        if isinstance(call, RemoveLines) and (call.start <= head_end or call.end >= tail_start):
            kept.append(call)
        else:
            where = "normalize is not trusted" if isinstance(call, Normalize) else "not in the head or tail"
            left_out.append(f"{call.to_source()}: {where} (head/tail trust, {head_tail_lines} lines)")
    return kept, left_out


def _ranges(calls: Sequence[Call]) -> list[tuple[int, int]]:
    return [(call.start, call.end) for call in calls if isinstance(call, RemoveLines)]
