"""Run doc and chunk programs on documents under an `ExecutionPolicy`; never raises on any program.

Decisions and their reasons:
- doc stage: `drop_doc` or `keep_doc` (strict also `no_decision`, which keeps the document);
- chunk stage: kept as `edited`, `unchanged` or `reverted_errors` (the original text, the program being
  distrusted), or dropped as `empty`, `nearly_all_removed`, `too_few_words` or `over_removal`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prox.program.calls import EDITING_FUNCTIONS, DropDoc, KeepDoc, Normalize, Program, RemoveLines, serialize
from prox.program.policy import RELEASE, ExecutionPolicy


@dataclass(frozen=True)
class DocDecision:
    """The doc-stage verdict on one document."""

    keep: bool
    reason: str
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChunkProgram:
    """A chunk's program with the document lines (inclusive, 0-based) that the chunk showed the model."""

    program: Program
    first_line: int
    last_line: int


@dataclass(frozen=True)
class AppliedNormalize:
    source: str
    target: str
    occurrences: int


@dataclass(frozen=True)
class SkippedNormalize:
    source: str
    target: str
    why: str


@dataclass(frozen=True)
class ChunkReport:
    """What a document's chunk programs did to it and what was decided.

    `text` is the document's final text, None when it is dropped; `edited_text` is the text after all
    edits whatever the decision (so a reverted or dropped edit can still be inspected).
    """

    keep: bool
    reason: str
    text: str | None
    edited_text: str
    removed_lines: tuple[int, ...] = ()
    normalizations: tuple[AppliedNormalize, ...] = ()
    skipped_normalizations: tuple[SkippedNormalize, ...] = ()
    errors: tuple[str, ...] = ()
    words_in: int = 0
    words_out: int = 0
    calls: int = 0


def execute_doc_program(program: Program, policy: ExecutionPolicy = RELEASE) -> DocDecision:
    """Keep or drop a document from its doc-stage program."""
    if policy.doc_drop_rule == "substring":
        text = program.source or serialize(program)
        return DocDecision(False, "drop_doc") if "drop" in text else DocDecision(True, "keep_doc")
    drops, keeps = program.of_type(DropDoc), program.of_type(KeepDoc)
    errors = tuple(str(error) for error in program.errors)
    if drops and not keeps:
        return DocDecision(False, "drop_doc", errors)
    if keeps and not drops:
        return DocDecision(True, "keep_doc", errors)
    problem = "both drop_doc() and keep_doc()" if drops else "neither drop_doc() nor keep_doc()"
    return DocDecision(True, "no_decision", (*errors, f"program has {problem}; the document is kept"))


def execute_chunk_programs(
    text: str, programs: Program | Sequence[ChunkProgram], policy: ExecutionPolicy = RELEASE
) -> ChunkReport:
    """Apply a document's chunk programs to its text and decide keep, revert or drop.

    A bare `Program` is taken as one chunk covering the whole document (the release's joined program).
    """
    original_lines = text.split("\n")
    if isinstance(programs, Program):
        programs = [ChunkProgram(programs, 0, len(original_lines) - 1)]
    errors = [
        str(error)
        for chunk in programs
        for error in chunk.program.errors
        if policy.count_all_parse_errors or error.function in EDITING_FUNCTIONS
    ]
    normalizations: list[AppliedNormalize] = []
    skipped: list[SkippedNormalize] = []
    ranges: list[tuple[int, int, ChunkProgram]] = []
    edited = text
    calls = 0
    for chunk in programs:
        for call in chunk.program.calls:
            calls += 1
            if isinstance(call, (RemoveLines, Normalize)) and call.positional and not policy.accept_positional:
                errors.append(f"{call.to_source()}: positional arguments are not accepted by this policy")
            elif isinstance(call, Normalize):
                edited = _normalize(edited, call, chunk, policy, normalizations, skipped, errors)
            elif isinstance(call, RemoveLines):
                ranges.append((call.start, call.end, chunk))

    lines = edited.split("\n")
    removed = _removed_ranges(ranges, len(lines), policy, errors)
    kept_lines, removed_lines = _split_by_ranges(lines, removed)
    edited = "\n".join(kept_lines) if removed else edited

    words_in, words_out = len(text.split()), len(edited.split())
    keep, reason = _decide(text, edited, words_in, words_out, len(errors), policy)
    final = None if not keep else (text if reason == "reverted_errors" else edited)
    return ChunkReport(
        keep=keep,
        reason=reason,
        text=final,
        edited_text=edited,
        removed_lines=tuple(removed_lines),
        normalizations=tuple(normalizations),
        skipped_normalizations=tuple(skipped),
        errors=tuple(errors),
        words_in=words_in,
        words_out=words_out,
        calls=calls,
    )


def kept_line_flags(
    text: str, programs: Program | Sequence[ChunkProgram], policy: ExecutionPolicy = RELEASE
) -> list[int]:
    """1/0 per line of `text` after its chunk programs ran: the edit's lines when it is kept, every line when
    it is reverted or unchanged, none when the document is dropped."""
    report = execute_chunk_programs(text, programs, policy)
    line_count = text.count("\n") + 1
    if not report.keep:
        return [0] * line_count
    if report.reason != "edited":
        return [1] * line_count
    removed = set(report.removed_lines)
    return [0 if index in removed else 1 for index in range(line_count)]


def _normalize(
    text: str,
    call: Normalize,
    chunk: ChunkProgram,
    policy: ExecutionPolicy,
    applied: list[AppliedNormalize],
    skipped: list[SkippedNormalize],
    errors: list[str],
) -> str:
    """Apply one normalize call, recording whether and how often it acted."""
    if call.source in policy.ignored_normalize_sources:
        skipped.append(SkippedNormalize(call.source, call.target, "ignored_source"))
        return text
    if not policy.chunk_scoped:
        occurrences = text.count(call.source)
        if occurrences == 0:
            skipped.append(SkippedNormalize(call.source, call.target, "absent"))
            return text
        applied.append(AppliedNormalize(call.source, call.target, occurrences))
        return text.replace(call.source, call.target)
    if "\n" in call.source or "\n" in call.target:
        skipped.append(SkippedNormalize(call.source, call.target, "newline"))
        errors.append(f"{call.to_source()}: a newline would change the line numbering")
        return text
    lines = text.split("\n")
    first, last = chunk.first_line, min(chunk.last_line, len(lines) - 1)
    inside = "\n".join(lines[first : last + 1])
    occurrences = inside.count(call.source) if first <= last else 0
    if occurrences == 0:
        skipped.append(SkippedNormalize(call.source, call.target, "absent"))
        errors.append(f"{call.to_source()}: source does not occur in lines {first}-{last}")
        return text
    applied.append(AppliedNormalize(call.source, call.target, occurrences))
    lines[first : last + 1] = inside.replace(call.source, call.target).split("\n")
    return "\n".join(lines)


def _removed_ranges(
    ranges: list[tuple[int, int, ChunkProgram]], line_count: int, policy: ExecutionPolicy, errors: list[str]
) -> list[tuple[int, int]]:
    """The merged, sorted, in-bounds line ranges to delete, after the policy's validity checks."""
    last_line = line_count - 1
    negative = [item for item in ranges if item[0] < 0 or item[1] < 0]
    for start, end, _ in negative:  # only hand-built calls: the parser rejects negative numbers
        errors.append(f"{RemoveLines(start, end).to_source()}: negative line number")
    ranges = [item for item in ranges if item[0] >= 0 and item[1] >= 0]
    if policy.chunk_scoped:
        valid = []
        for start, end, chunk in ranges:
            if chunk.first_line <= start <= end <= min(chunk.last_line, last_line):
                valid.append((start, end))
            else:
                call = RemoveLines(start, end).to_source()
                errors.append(f"{call}: not inside the chunk's lines {chunk.first_line}-{chunk.last_line}")
        return _merge(valid)
    # The release merges the raw ranges (reversed ones included) and counts one error per merged range
    # that starts past the last line or ends past it; a reversed range removes nothing.
    for start, end in _merge([(start, end) for start, end, _ in ranges]):
        if start > last_line:
            errors.append(f"lines {start}-{end}: start past the last line ({last_line})")
        elif end > last_line:
            errors.append(f"lines {start}-{end}: end past the last line ({last_line}); clamped")
    return _merge([(start, min(end, last_line)) for start, end, _ in ranges if start <= min(end, last_line)])


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort ranges and merge those that overlap or touch, as the release does."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges, key=lambda r: r[0]):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _split_by_ranges(lines: list[str], ranges: list[tuple[int, int]]) -> tuple[list[str], list[int]]:
    """(lines outside the ranges, indices inside them); ranges are merged, sorted and in bounds."""
    kept: list[str] = []
    removed: list[int] = []
    position = 0
    for start, end in ranges:
        kept.extend(lines[position:start])
        removed.extend(range(start, end + 1))
        position = end + 1
    kept.extend(lines[position:])
    return kept, removed


def _decide(
    original: str, edited: str, words_in: int, words_out: int, error_count: int, policy: ExecutionPolicy
) -> tuple[bool, str]:
    """(keep, reason) by the release's rules in their order, plus the policy's optional removal cap."""
    # Not defined by the release: a document with no words is dropped as empty whatever its program.
    if words_in == 0:
        return False, "empty"
    trusted = error_count < policy.revert_at_errors
    if words_out <= policy.min_kept_word_share * words_in and trusted:
        return False, "nearly_all_removed"
    if words_out <= policy.min_words:
        return False, "too_few_words"
    if not trusted:
        return True, "reverted_errors"
    cap = policy.max_removed_word_share
    if cap is not None and words_in - words_out > cap * words_in:
        return False, "over_removal"
    return True, "unchanged" if edited == original else "edited"
