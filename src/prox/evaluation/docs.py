"""Document-level evaluation: a refiner's doc programs (keep or drop) against human quality labels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from datatrove.utils.batching import batched

from prox.generators.base import GenerationFailure, ProgramGenerator
from prox.program import ExecutionPolicy, execute_doc_program, parse_program
from prox.records.labels import BinaryScores, check_labelled_doc
from prox.records.reading import read_records_strict

BATCH_SIZE = 64


def read_labelled_docs(path: str | Path, limit: int | None = None) -> Iterator[dict]:
    """Documents with `text` and a 0/1 `label` (1 = worth pre-training on)."""
    for number, record in enumerate(read_records_strict(path), start=1):
        if limit is not None and number > limit:
            return
        check_labelled_doc(record.data, record.where)
        yield record.data


def evaluate_docs(docs: Iterator[dict], generator: ProgramGenerator, policy: ExecutionPolicy) -> dict[str, float | int]:
    """Accuracy, keep-class F1 and balanced accuracy of the doc stage's keep/drop decisions."""
    scores = BinaryScores()
    failures = 0
    for batch in batched(docs, BATCH_SIZE):
        for record, program in zip(batch, generator.doc_programs([r["text"] for r in batch]), strict=True):
            if isinstance(program, GenerationFailure):
                failures += 1
                continue
            scores.add(int(record["label"]), int(execute_doc_program(parse_program(program), policy).keep))
    return {"failed_docs": failures, **scores.report()}
