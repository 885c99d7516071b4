"""Training examples from a teacher's `prox refine` output: its recorded programs, re-executed under a policy,
label each document keep/drop and each line keep/remove.

Kept documents (OUT) and dropped ones (OUT/dropped) are read in either layout, as JSONL(.gz) or Parquet;
OUT/errors, OUT/logs and OUT/stats.json hold no examples. Original texts and programs are read back as
`prox execute` reads them (`replay_record`), so a record labels exactly what a replay would do with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prox.evaluation.gold import read_records
from prox.lite.data import LabelledDoc, LabelledPage
from prox.pipeline.metadata import PROX_KEY
from prox.pipeline.outputs import replay_record
from prox.program import (
    RELEASE,
    ChunkProgram,
    ExecutionPolicy,
    execute_doc_program,
    kept_line_flags,
    parse_program,
)

DATA_SUFFIXES = (".jsonl.gz", ".jsonl", ".parquet")


def teacher_examples(folder: str | Path, policy: ExecutionPolicy = RELEASE) -> Iterator[LabelledPage | LabelledDoc]:
    """A `LabelledDoc` per document with a doc program, then a `LabelledPage` when it passes the doc stage and
    has chunk programs; `source` is the output record's `file:line`. Unreadable records raise ValueError."""
    for path in output_files(folder):
        for where, data in _file_records(path):
            yield from _record_examples(where, data, policy)


def output_files(folder: str | Path) -> list[Path]:
    """The refined and dropped document files of a `prox refine` output folder, in a stable order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a prox refine output folder")
    files = [
        path
        for directory in (folder, folder / "dropped")
        for path in sorted(directory.glob("*"))
        if path.is_file() and path.name.endswith(DATA_SUFFIXES)
    ]
    if not files:
        raise ValueError(f"{folder} holds no refined or dropped documents (is it a prox refine output folder?)")
    return files


def _record_examples(where: str, data: object, policy: ExecutionPolicy) -> Iterator[LabelledPage | LabelledDoc]:
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
        programs = _chunk_programs(where, recorded)
        yield LabelledPage(text.split("\n"), list(kept_line_flags(text, programs, policy)), where)


def _chunk_programs(where: str, recorded: object) -> list[ChunkProgram]:
    """The recorded `chunk_programs` ({first_line, last_line, program} each) as executable chunk programs."""
    if not isinstance(recorded, list):
        raise ValueError(f"{where}: chunk_programs is a {type(recorded).__name__}, not a list")
    try:
        programs = []
        for item in recorded:
            program = item["program"] or ""
            if not isinstance(program, str):
                raise TypeError(f"program is a {type(program).__name__}, not a string")
            programs.append(ChunkProgram(parse_program(program), int(item["first_line"]), int(item["last_line"])))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{where}: unreadable chunk_programs ({type(error).__name__}: {error})") from error
    return programs


def _file_records(path: Path) -> Iterator[tuple[str, object]]:
    """(`file:line`, record) for each record of a JSONL(.gz) or Parquet file (line = row for Parquet)."""
    count = 0
    try:
        for where, record in _parquet_records(path) if path.name.endswith(".parquet") else read_records(path):
            count += 1
            yield where, record
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path}:{count + 1}: cannot read the record ({type(error).__name__}: {error})") from error


def _parquet_records(path: Path) -> Iterator[tuple[str, dict]]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches():
        for row in batch.to_pylist():
            number += 1
            yield f"{path}:{number}", row
