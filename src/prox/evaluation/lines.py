"""Line-level evaluation: which lines a refiner's chunk programs keep, against line-labelled pages.

Protocol of ../shared/data/README.md (its rules in `prox.records.labels`): pages with `gold_empty` or
`gold_recall < 0.9` are skipped; lines with an ambiguous alignment score (0.2 < score < 0.8) are skipped; lines
are micro-averaged. A page's predicted kept lines come from executing its chunk programs under the policy: the
edited lines when the edit is kept, every line when the program is reverted, no line when the document is
dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prox.chunking import chunk_document
from prox.generators.base import GenerationFailure, ProgramGenerator
from prox.program import ExecutionPolicy, kept_line_flags
from prox.records.labels import BinaryScores, is_ambiguous, skips_page
from prox.records.programs import parse_chunk_programs, record_chunk_programs
from prox.records.reading import read_records_strict


def read_pages(path: str | Path, limit: int | None = None) -> Iterator[dict]:
    """Scorable line-labelled pages (JSONL, plain or compressed, or Parquet)."""
    count = 0
    for record in read_records_strict(path):
        where, page = record.where, record.data
        if "labels" not in page and "snippet_labels" in page:  # only lines holding a human snippet are labelled
            page["labels"] = page["snippet_labels"]
        if "lines" not in page or "labels" not in page:
            raise ValueError(f"{where}: a line-labelled page needs 'lines' and 'labels' (or 'snippet_labels')")
        if skips_page(page):
            continue
        yield page
        count += 1
        if limit is not None and count >= limit:
            return


def predicted_keep(text: str, generator: ProgramGenerator, policy: ExecutionPolicy) -> list[int] | None:
    """1/0 per line of `text` after its chunk programs ran; None when generation failed."""
    chunks = chunk_document(text, generator.chunk_sizer(), generator.chunk_budget)
    texts = generator.chunk_programs(chunks)
    if any(isinstance(program, GenerationFailure) for program in texts):
        return None
    return kept_line_flags(text, parse_chunk_programs(record_chunk_programs(chunks, texts)), policy)


def evaluate_lines(
    pages: Iterator[dict], generator: ProgramGenerator, policy: ExecutionPolicy
) -> dict[str, float | int]:
    """Keep- and remove-class scores over all scorable lines of the pages."""
    scores = BinaryScores()
    page_count = failures = 0
    for page in pages:
        page_count += 1
        predicted = predicted_keep("\n".join(page["lines"]), generator, policy)
        if predicted is None:
            failures += 1
            continue
        line_scores = page.get("scores") or [None] * len(page["lines"])
        for gold, guess, score in zip(page["labels"], predicted, line_scores, strict=True):
            if gold is None or is_ambiguous(score):
                continue
            scores.add(int(gold), guess)
    return {"pages": page_count, "failed_pages": failures, **scores.report()}
