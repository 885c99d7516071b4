"""Training examples for the lite refiner: line-labelled pages and keep/drop-labelled documents.

Three sources feed it, in any mix: line-labelled pages (the `line_labels` schema: `lines` and `labels`, or
`snippet_labels` where only some lines are labelled), documents with a 0/1 `label` (the `dclm_quality`
schema), and `prox refine` outputs carrying an LM refiner's programs or `prox synth` outputs (SFT records) whose
target programs label them (see `prox.lite.distill`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prox.records.labels import check_labelled_doc, is_ambiguous, skips_page
from prox.records.reading import read_records_strict
from prox.storage import is_dir, storage_errors


@dataclass
class LabelledPage:
    """A document as lines, each labelled keep (1), remove (0) or unknown (None)."""

    lines: list[str]
    labels: list[int | None]
    source: str


@dataclass
class LabelledDoc:
    """A document labelled keep (1) or drop (0)."""

    text: str
    label: int
    source: str


def page_from_record(record: dict, where: str) -> LabelledPage | None:
    """The labelled page of a `line_labels` record; None for pages the scoring protocol skips.

    Ambiguous lines (alignment score strictly between 0.2 and 0.8) are left unlabelled, as in `prox eval lines`.
    """
    lines = record.get("lines")
    labels = record.get("labels", record.get("snippet_labels"))
    if not isinstance(lines, list) or not isinstance(labels, list) or len(lines) != len(labels):
        raise ValueError(
            f"{where}: a line-labelled page needs 'lines' and 'labels' (or 'snippet_labels') of equal length"
        )
    if skips_page(record):
        return None
    scores = record.get("scores") or [None] * len(lines)
    cleaned = [
        None if label is None or is_ambiguous(score) else int(label)
        for label, score in zip(labels, scores, strict=True)
    ]
    return LabelledPage([str(line) for line in lines], cleaned, where)


def doc_from_record(record: dict, where: str) -> LabelledDoc:
    check_labelled_doc(record, where)
    return LabelledDoc(record["text"], int(record["label"]), where)


def read_examples(location: str | Path) -> Iterator[LabelledPage | LabelledDoc]:
    """Examples from one file (JSONL, plain or compressed, or Parquet) of either schema, or from a `prox refine`
    or `prox synth` output folder; a local path or a URL."""
    location = str(location)
    with storage_errors(location):
        folder = is_dir(location)
    if folder:
        from prox.lite.distill import is_synth_output, synth_examples, teacher_examples

        yield from synth_examples(location) if is_synth_output(location) else teacher_examples(location)
        return
    for record in read_records_strict(location):
        if "lines" in record.data:
            page = page_from_record(record.data, record.where)
            if page is not None:
                yield page
        else:
            yield doc_from_record(record.data, record.where)
