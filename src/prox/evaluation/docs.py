"""Document-level evaluation: a refiner's doc programs (keep or drop) against human quality labels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prox.evaluation.gold import read_records
from prox.evaluation.metrics import BinaryScores
from prox.generators.base import GenerationFailure, ProgramGenerator
from prox.pipeline.stages import batches
from prox.program import ExecutionPolicy, execute_doc_program, parse_program

BATCH_SIZE = 64


def read_labelled_docs(path: str | Path, limit: int | None = None) -> Iterator[dict]:
    """Documents with `text` and a 0/1 `label` (1 = worth pre-training on)."""
    for number, (where, record) in enumerate(read_records(path), start=1):
        if limit is not None and number > limit:
            return
        if not isinstance(record.get("text"), str) or record.get("label") not in (0, 1, True, False):
            raise ValueError(f"{where}: a labelled document needs a string 'text' and a 0/1 'label'")
        yield record


def evaluate_docs(docs: Iterator[dict], generator: ProgramGenerator, policy: ExecutionPolicy) -> dict[str, float | int]:
    """Accuracy, keep-class F1 and balanced accuracy of the doc stage's keep/drop decisions."""
    scores = BinaryScores()
    failures = 0
    for batch in batches(docs, BATCH_SIZE):
        for record, program in zip(batch, generator.doc_programs([r["text"] for r in batch]), strict=True):
            if isinstance(program, GenerationFailure):
                failures += 1
                continue
            scores.add(int(record["label"]), int(execute_doc_program(parse_program(program), policy).keep))
    return {"failed_docs": failures, **scores.report()}
