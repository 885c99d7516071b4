"""Training examples from a teacher's `prox refine` output: its recorded programs, re-executed under a policy,
label each document keep/drop and each line keep/remove. A `prox synth` output (SFT records) teaches the same
way: each doc record's target program labels its document, each chunk record's target labels its lines.

Kept documents (OUT) and dropped ones (OUT/dropped) are read in either layout, as JSONL(.gz) or Parquet;
OUT/errors, OUT/logs and OUT/stats.json hold no examples. Original texts and programs are read back as
`prox execute` reads them (`replay_record`), so a record labels exactly what a replay would do with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from prox.lite.data import LabelledDoc, LabelledPage
from prox.program import RELEASE, ExecutionPolicy, execute_doc_program, kept_line_flags, parse_program
from prox.records.files import document_files
from prox.records.layouts import replay_record
from prox.records.metadata import PROX_KEY
from prox.records.programs import parse_chunk_programs, removed_lines
from prox.records.reading import read_records_strict
from prox.storage import exists, is_dir, join, storage_errors


def teacher_examples(folder: str | Path, policy: ExecutionPolicy = RELEASE) -> Iterator[LabelledPage | LabelledDoc]:
    """A `LabelledDoc` per document with a doc program, then a `LabelledPage` when it passes the doc stage and
    has chunk programs; `source` is the output record's `file:line`. Unreadable records raise ValueError."""
    for path in _teacher_files(folder):
        for record in read_records_strict(path):
            yield from record_examples(record.where, record.data, policy)


def _teacher_files(folder: str | Path) -> list[str]:
    """The refined and dropped document files of a `prox refine` output folder (a local path or a URL); raises
    ValueError for a folder that holds none."""
    folder = str(folder)
    with storage_errors(folder, missing="no such folder"):
        if not is_dir(folder):
            raise ValueError(f"{folder} is not a prox refine output folder")
        files = document_files(folder)
    if not files:
        raise ValueError(f"{folder} holds no refined or dropped documents (is it a prox refine output folder?)")
    return files


def record_examples(where: str, data: object, policy: ExecutionPolicy) -> Iterator[LabelledPage | LabelledDoc]:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: record is a JSON {type(data).__name__}, not an object")
    try:
        record = replay_record(data)
        prox = record["metadata"][PROX_KEY]
        text, doc_program, recorded = record["text"], prox.get("doc_program"), prox.get("chunk_programs")
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        raise ValueError(f"{where}: not a prox refine record ({type(error).__name__}: {error})") from error
    if not isinstance(text, str) or not isinstance(doc_program, (str, type(None))):
        raise ValueError(f"{where}: the text and the doc program must be strings")
    if doc_program is None and recorded is None:
        raise ValueError(f"{where}: no recorded doc or chunk program (is it a prox refine output record?)")
    if doc_program is not None:
        keep = execute_doc_program(parse_program(doc_program), policy).keep
        yield LabelledDoc(text, int(keep), where)
        if not keep:
            return
    if recorded is not None:
        try:
            programs = parse_chunk_programs(recorded)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from error
        yield LabelledPage(text.split("\n"), list(kept_line_flags(text, programs, policy)), where)


# A chunk record's user message: `[doc]`, the chunk's lines numbered `[NNN]`, `[/doc]` (prox.prompts).
_NUMBERED = re.compile(r"\[(\d+)\](.*)", re.DOTALL)


def is_synth_output(folder: str) -> bool:
    """Whether a folder is a `prox synth` output: its stats.json and record shards."""
    # Imported here: prox.synth reads refine outputs with this module (prox.synth.labels imports it).
    from prox.synth.records import record_shards

    return exists(join(folder, "stats.json")) and bool(record_shards(folder))


def synth_examples(folder: str, policy: ExecutionPolicy = RELEASE) -> Iterator[LabelledPage | LabelledDoc]:
    """A `LabelledDoc` per doc record (its target's keep/drop; a truncated prompt's record gives the cut document),
    and a `LabelledPage` per run of chunk records of one document with consecutive lines (a whole page when all
    its chunks are there), each line labelled by whether the chunk's target removes it."""
    from prox.synth.records import record_shards

    page: LabelledPage | None = None
    next_line = 0
    for path in record_shards(folder):
        for record in read_records_strict(path):
            data, where = record.data, record.where
            try:
                stage, user, target = data["stage"], data["messages"][1]["content"], data["messages"][2]["content"]
            except (KeyError, IndexError, TypeError) as error:
                raise ValueError(f"{where}: not a prox synth record ({type(error).__name__}: {error})") from error
            program = parse_program(target)
            if stage == "doc":
                yield LabelledDoc(user, int(execute_doc_program(program, policy).keep), where)
                continue
            first, last = int(data["first_line"]), int(data["last_line"])
            lines = _chunk_lines(user, first, last, where)
            removed = removed_lines(program, first, last)
            labels: list[int | None] = [int(first + offset not in removed) for offset in range(len(lines))]
            continues = page is not None and first == next_line and first > 0
            if not continues:
                if page is not None:
                    yield page
                page = LabelledPage([], [], where)
            page.lines += lines
            page.labels += labels
            next_line = last + 1
    if page is not None:
        yield page


def _chunk_lines(user: str, first: int, last: int, where: str) -> list[str]:
    """The chunk's lines without their `[NNN]` numbers."""
    body = user.removeprefix("[doc]\n").removesuffix("\n[/doc]")
    lines = []
    for offset, numbered in enumerate(body.split("\n")):
        match = _NUMBERED.fullmatch(numbered)
        if match is None or int(match.group(1)) != first + offset:
            raise ValueError(f"{where}: the chunk's line {first + offset} is not numbered [{first + offset:03d}]")
        lines.append(match.group(2))
    if len(lines) != last - first + 1:
        raise ValueError(f"{where}: the chunk shows {len(lines)} lines, not lines {first}..{last}")
    return lines
