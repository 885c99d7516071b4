"""Run doc and chunk programs on documents under an `ExecutionPolicy`; never raises on any program.

Under a policy with `parser="release"` the chunk programs' raw text is read as the release reads it
(`release.py`); under `parser="ast"` their parsed calls act. Both feed the same decision.

Decisions and their reasons:
- doc stage: `drop_doc` or `keep_doc` (strict also `no_decision`, which keeps the document);
- chunk stage: kept as `edited`, `unchanged` or `reverted_errors` (the original text, the program being
  distrusted), or dropped as `empty`, `nearly_all_removed`, `too_few_words` or `over_removal`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from prox.program.calls import EDITING_FUNCTIONS, DropDoc, KeepDoc, Normalize, Program, RemoveLines, serialize
from prox.program.policy import RELEASE, ExecutionPolicy
from prox.program.release import (
    RemoveAll,
    RemoveRange,
    Replace,
    Unread,
    interval_errors,
    merge_intervals,
    read_operations,
    release_program_text,
)

# A normalize that would make the document longer than this is skipped as an error: the release would try
# (a chain of normalize("a" -> "aa") calls doubles the text each time) and run out of memory.
_MAX_EDITED_CHARS = 1 << 26


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
    edits whatever the decision (so a reverted or dropped edit can still be inspected). `calls` counts the
    parsed calls (`ast` parser) or the lines read as operations (`release` parser).
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
    if isinstance(programs, Program):
        programs = [ChunkProgram(programs, 0, text.count("\n"))]
    edit = _release_edit(text, programs) if policy.parser == "release" else _ast_edit(text, programs, policy)
    words_in, words_out = len(text.split()), len(edit.text.split())
    keep, reason = _decide(text, edit.text, words_in, words_out, len(edit.errors), policy)
    final = None if not keep else (text if reason == "reverted_errors" else edit.text)
    return ChunkReport(
        keep=keep,
        reason=reason,
        text=final,
        edited_text=edit.text,
        removed_lines=tuple(edit.removed_lines),
        normalizations=tuple(edit.normalizations),
        skipped_normalizations=tuple(edit.skipped),
        errors=tuple(edit.errors),
        words_in=words_in,
        words_out=words_out,
        calls=edit.calls,
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


@dataclass
class _Edit:
    """What a document's programs did to its text, before any decision."""

    text: str
    removed_lines: list[int] = field(default_factory=list)
    normalizations: list[AppliedNormalize] = field(default_factory=list)
    skipped: list[SkippedNormalize] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    calls: int = 0


def _release_edit(text: str, programs: Sequence[ChunkProgram]) -> _Edit:
    """Run the chunk programs' raw text as the release does: every normalize in order, then the line removals."""
    program_text = release_program_text(chunk.program.source or serialize(chunk.program) for chunk in programs)
    operations = read_operations(program_text)
    edit = _Edit(text, calls=len(operations))
    ranges: list[tuple[int, int]] = []
    remove_all = False
    for operation in operations:
        edit.errors.extend(operation.errors)
        action = operation.action
        if isinstance(action, Replace):
            _replace(edit, action)
        elif isinstance(action, RemoveRange):
            ranges.append((action.start, action.end))
        elif isinstance(action, RemoveAll):
            remove_all = True
        elif isinstance(action, Unread):
            edit.skipped.append(SkippedNormalize(action.arguments, "", "unread_arguments"))
    lines = edit.text.split("\n")
    last = len(lines) - 1
    if remove_all:
        removed = [(0, last)]
    else:
        # Negative and past-the-end indices name no line; a reversed range names none.
        clamped = ((max(start, 0), min(end, last)) for start, end in ranges)
        removed = merge_intervals((start, end) for start, end in clamped if start <= end)
    edit.errors.extend(interval_errors(ranges, len(lines)))
    if removed:
        kept, edit.removed_lines = _split_by_ranges(lines, removed)
        edit.text = "\n".join(kept)
    return edit


def _replace(edit: _Edit, action: Replace) -> None:
    """Apply one release normalize to the whole text, recording whether and how often it acted."""
    source, target = action.source, action.target
    if source == "" or (action.skips_blank_source and source == " "):
        edit.skipped.append(SkippedNormalize(source, target, "ignored_source"))
        return
    occurrences = edit.text.count(source)
    if occurrences == 0:
        edit.skipped.append(SkippedNormalize(source, target, "absent"))
        return
    growth = occurrences * (len(target) - len(source))
    if growth > 0 and len(edit.text) + growth > _MAX_EDITED_CHARS:
        edit.skipped.append(SkippedNormalize(source, target, "too_large"))
        problem = f"the text would pass {_MAX_EDITED_CHARS} characters"
        edit.errors.append(f"normalize {source[:40]!r} -> {target[:40]!r}: {problem}")
        return
    edit.normalizations.append(AppliedNormalize(source, target, occurrences))
    edit.text = edit.text.replace(source, target)


def _ast_edit(text: str, programs: Sequence[ChunkProgram], policy: ExecutionPolicy) -> _Edit:
    """Run the chunk programs' parsed calls under the policy's rules."""
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
    return _Edit(edited, removed_lines, normalizations, skipped, errors, calls)


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
        return merge_intervals(valid)
    # Unscoped, the ranges are checked as the release checks them: one error per merged range past the end.
    errors.extend(interval_errors([(start, end) for start, end, _ in ranges], line_count))
    return merge_intervals([(start, min(end, last_line)) for start, end, _ in ranges if start <= min(end, last_line)])


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
    # A division, as the release computes it, so the boundary falls exactly where the release's does.
    if words_out / words_in <= policy.min_kept_word_share and trusted:
        return False, "nearly_all_removed"
    if words_out <= policy.min_words:
        return False, "too_few_words"
    if not trusted:
        return True, "reverted_errors"
    cap = policy.max_removed_word_share
    if cap is not None and words_in - words_out > cap * words_in:
        return False, "over_removal"
    return True, "unchanged" if edited == original else "edited"
