"""`prox synth labels`: SFT records without a teacher LLM, from labels that exist already.

Three kinds of SOURCE, in any mix, read as `prox lite train` reads them (`prox.lite.data`, `prox.lite.distill`):
- line-labelled pages (the `line_labels` schema): chunk records. The page is chunked as the chunk stage chunks
  it (same chunker, tokenizer and budget); each chunk's target removes its runs of lines labelled 0, one
  `remove_lines` call per run, or is `keep_chunk()`. Pages the scoring protocol skips (`gold_empty`,
  `gold_recall` < 0.9, no lines) and pages with only `snippet_labels` (most lines unlabelled) make no records.
- labelled documents (the `dclm_quality` schema): doc records, `label` 1 → `keep_doc()`, 0 → `drop_doc()`.
- `prox refine` output folders (any refiner as teacher): the recorded programs are executed again under the
  release policy; the doc program's decision makes a doc record, and for a document the doc stage kept, the lines
  its chunk programs removed make chunk records, chunked again with the records' tokenizer and budget.

Ambiguous lines (alignment score strictly between 0.2 and 0.8, which the scoring protocol leaves out) need a
decision, as every line of a chunk does: `label` (default) takes the aligner's own 0/1 label, `keep` keeps them,
`reject` rejects each chunk holding one. On the WCXB dev pages 6% of lines are ambiguous and 62% of chunks hold
one; most are short menu items labelled 0, and 90% agree with the nearest unambiguous lines on both sides, so
keeping them would split a removed menu into many runs (24,879 runs instead of 14,044).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import orjson
from tokenizers import Tokenizer

from prox.chunking import DEFAULT_TOKEN_BUDGET, LineSizer, chunk_document, token_counter
from prox.lite.data import LabelledDoc, LabelledPage, doc_from_record, page_from_record
from prox.lite.distill import record_examples
from prox.program import RELEASE, DropDoc, KeepDoc, serialize
from prox.records.files import document_files
from prox.records.labels import MIN_GOLD_RECALL, is_ambiguous
from prox.records.layouts import record_metadata
from prox.records.metadata import PROX_KEY
from prox.records.reading import BadRecord, Record
from prox.storage import is_dir, require_file, storage_errors
from prox.synth.output import DEFAULT_RECORDS_PER_SHARD, SynthOutput
from prox.synth.records import (
    STAGES,
    UnrenderablePrompt,
    chunk_record,
    doc_record,
    doc_user_message,
    removal_program,
    removed_share,
    require_tokenizer,
)
from prox.synth.task import InputFile, InputRecord, SynthCommand
from prox.tokenizer import load_tokenizer

Ambiguous = Literal["label", "keep", "reject"]
AMBIGUOUS_CHOICES: tuple[str, ...] = get_args(Ambiguous)
LINE_LABELS_TEACHER = "gold:line-labels"
DOC_LABELS_TEACHER = "gold:doc-labels"

# Why an input record makes no example, and why an example is rejected (stats.json counts them by these names).
PROTOCOL_SKIP = "protocol_skip"
SNIPPET_LABELS_ONLY = "snippet_labels_only"
NOT_FOR_STAGES = "not_for_stages"
EMPTY_DOCUMENT = "empty_document"
AMBIGUOUS_LINES = "ambiguous_lines"
UNRENDERABLE_PROMPT = "unrenderable_prompt"


@dataclass(frozen=True)
class LabelSettings(SynthCommand):
    """What `prox synth labels` reads and writes, and how it makes records; checks itself."""

    command = "prox synth labels"
    sources: tuple[str, ...]
    output: str
    tokenizer: str | None  # the LM refiner's tokenizer: doc prompts are cut and chunks sized with it
    stages: tuple[str, ...] = STAGES
    chunk_budget: int = DEFAULT_TOKEN_BUDGET  # tokens per chunk, as `prox refine --chunk-budget`
    ambiguous: Ambiguous = "label"  # what an ambiguous line of a labelled page becomes (see the module's doc)
    limit: int | None = None  # read at most this many input records per task
    records_per_shard: int = DEFAULT_RECORDS_PER_SHARD
    tasks: int | None = None  # None: a task per input file (capped)
    workers: int | None = None  # tasks at once; None: min(tasks, CPUs)
    overwrite: bool = False  # replace an earlier synth output in OUT
    progress: bool = False  # a progress bar on stderr

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError("give at least one SOURCE: a labelled record file or a prox refine output folder")
        require_tokenizer(self.tokenizer)
        unknown = [stage for stage in self.stages if stage not in STAGES]
        if unknown or not self.stages:
            raise ValueError(f"--stages takes doc, chunk or doc,chunk, got {','.join(self.stages) or 'nothing'}")
        if self.chunk_budget < 1:
            raise ValueError(f"--chunk-budget must be at least 1, got {self.chunk_budget}")
        if self.ambiguous not in AMBIGUOUS_CHOICES:
            raise ValueError(f"--ambiguous takes one of {', '.join(AMBIGUOUS_CHOICES)}, got {self.ambiguous}")
        self.check_run_options()

    def describe(self) -> dict:
        """The settings as stats.json records them."""
        return {
            "tokenizer": self.tokenizer,
            "stages": list(self.stages),
            "chunk_budget": self.chunk_budget,
            "ambiguous": self.ambiguous,
            "limit": self.limit,
            "records_per_shard": self.records_per_shard,
        }

    @property
    def origins(self) -> tuple[str, ...]:
        return self.sources

    def input_files(self) -> list[InputFile]:
        files = []
        for source in self.sources:
            kind, paths = _source_files(source)
            files += [InputFile(source, kind, path) for path in paths]
        return files

    def maker(self) -> _RecordMaker:
        return _RecordMaker(self, load_tokenizer(str(self.tokenizer)))


def _source_files(source: str) -> tuple[str, list[str]]:
    """("refine", its document files) for a `prox refine` output folder, ("labels", [source]) for a file."""
    with storage_errors(source):
        if not is_dir(source):
            require_file(source)
            return "labels", [source]
        files = document_files(source)
    if not files:
        raise ValueError(f"{source} holds no refined or dropped documents (is it a prox refine output folder?)")
    return "refine", files


@dataclass
class _Page:
    """A line-labelled page to chunk: its lines decided (None: ambiguous and undecided), and its ambiguous lines."""

    page: LabelledPage
    ambiguous: frozenset[int] = frozenset()


class _RecordMaker:
    """Turns each input record into records, rejections or an error on the output."""

    batch_size = 64  # any: records are made one by one

    def __init__(self, settings: LabelSettings, tokenizer: Tokenizer):
        self.settings = settings
        self.tokenizer = tokenizer
        self.sizer: LineSizer = token_counter(tokenizer)

    def add(self, output: SynthOutput, batch: list[InputRecord]) -> None:
        for item in batch:
            self._add(output, item.file.origin, item.file.kind, item.record)

    def close(self, output: SynthOutput) -> None:
        pass

    def _add(self, output: SynthOutput, origin: str, kind: str, record: Record | BadRecord) -> None:
        if isinstance(record, BadRecord):
            output.input_error(origin, record.where, record.reason, record.raw)
            return
        where, data = record.where, record.data
        try:
            if not isinstance(data, dict):
                raise ValueError(f"record is a JSON {type(data).__name__}, not an object")
            examples, teacher = self._examples(kind, where, data)
        except (ValueError, TypeError) as error:  # fields of the wrong kind, which the readers do not all check
            output.input_error(origin, where, str(error).removeprefix(f"{where}: "), raw_record(data))
            return
        base = {"source": where, "id": record_id(data, where)}
        if isinstance(examples, tuple):  # why the record makes no example
            output.input_rejected(origin, base, *examples)
            return
        wanted = [example for example in examples if _stage_of(example) in self.settings.stages]
        if not wanted:
            made = " and ".join(sorted({_stage_of(example) for example in examples}))
            detail = f"it makes {made} records only, and --stages is {','.join(self.settings.stages)}"
            output.input_rejected(origin, base, NOT_FOR_STAGES, detail)
            return
        output.input_accepted(origin)
        for example in wanted:
            if isinstance(example, LabelledDoc):
                self._doc(output, origin, base, example, teacher)
            else:
                self._chunks(output, origin, base, example, teacher)

    def _examples(self, kind: str, where: str, data: dict) -> tuple[list[LabelledDoc | _Page] | tuple[str, str], str]:
        """The record's examples and their teacher; instead of examples, (reason, detail) for a record that makes
        none. ValueError for a bad record."""
        if kind == "refine":
            prox = record_metadata(data).get(PROX_KEY)  # read before `record_examples` takes the record apart
            teacher = f"refiner:{(prox.get('refiner') if isinstance(prox, dict) else None) or 'unknown'}"
            examples = list(record_examples(where, data, RELEASE))
            return [_Page(example) if isinstance(example, LabelledPage) else example for example in examples], teacher
        if "lines" not in data:
            return [doc_from_record(data, where)], DOC_LABELS_TEACHER
        page = page_from_record(data, where)
        if page is None:
            return (PROTOCOL_SKIP, _skip_detail(data)), LINE_LABELS_TEACHER
        if "labels" not in data:
            return (SNIPPET_LABELS_ONLY, "only the lines holding a human snippet are labelled"), LINE_LABELS_TEACHER
        if any("\n" in line for line in page.lines):
            raise ValueError("a line holds a newline: a page's lines are its document's lines")
        scores = data.get("scores") or [None] * len(page.lines)
        ambiguous = frozenset(index for index, score in enumerate(scores) if is_ambiguous(score))
        raw = data["labels"]
        decided: list[int | None] = []
        for index, label in enumerate(page.labels):
            if label is None and index in ambiguous:
                if self.settings.ambiguous == "keep":
                    label = 1
                elif self.settings.ambiguous == "label" and raw[index] is not None:
                    label = int(raw[index])
            decided.append(label)
        page.labels = decided
        return [_Page(page, ambiguous)], LINE_LABELS_TEACHER

    def _doc(self, output: SynthOutput, origin: str, base: dict, example: LabelledDoc, teacher: str) -> None:
        program = serialize([KeepDoc() if example.label else DropDoc()])
        judgments = {"label": example.label}
        draft = {"stage": "doc", **base, "teacher": teacher, "target": program, **judgments}
        if not example.text.strip():
            output.reject(origin, draft, EMPTY_DOCUMENT, "the document holds no text")
            return
        try:
            message = doc_user_message(example.text, self.tokenizer)
        except UnrenderablePrompt as error:
            output.reject(origin, draft, UNRENDERABLE_PROMPT, str(error))
            return
        record = doc_record(
            message, program, record_id=base["id"], source=base["source"], teacher=teacher, judgments=judgments
        )
        output.offer(origin, record)

    def _chunks(self, output: SynthOutput, origin: str, base: dict, labelled: _Page, teacher: str) -> None:
        labels = labelled.page.labels
        for chunk in chunk_document("\n".join(labelled.page.lines), self.sizer, self.settings.chunk_budget):
            lines = range(chunk.first_line, chunk.last_line + 1)
            removed = [index for index in lines if labels[index] == 0]
            judgments = {
                "removed_lines": removed,
                "removed_share": round(removed_share(chunk, removed), 6),
                "ambiguous_lines": [index for index in lines if index in labelled.ambiguous],
            }
            record = chunk_record(
                chunk,
                removal_program(chunk, removed),
                record_id=f"{base['id']}/lines-{chunk.first_line}-{chunk.last_line}",
                source=base["source"],
                teacher=teacher,
                judgments=judgments,
            )
            undecided = [index for index in lines if labels[index] is None]
            if undecided:
                shown = ", ".join(map(str, undecided[:5])) + (", ..." if len(undecided) > 5 else "")
                detail = f"{len(undecided)} lines have no decided label ({shown}): ambiguous, or unlabelled"
                output.reject(origin, record, AMBIGUOUS_LINES, detail)
                continue
            output.offer(origin, record)


def _stage_of(example: LabelledDoc | _Page) -> str:
    return "doc" if isinstance(example, LabelledDoc) else "chunk"


def record_id(data: dict, where: str) -> str:
    """The input record's id, or where it was read when it has none."""
    value = data.get("id")
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "" else where


def _skip_detail(page: dict) -> str:
    """Which of the scoring protocol's rules leaves the page out."""
    if page.get("gold_empty"):
        return "gold_empty: the benchmark's gold holds no main content"
    if not page["lines"]:
        return "the page has no lines"
    return f"gold_recall {page.get('gold_recall')} < {MIN_GOLD_RECALL}: the lines cover the gold poorly"


def raw_record(data: object) -> str:
    return orjson.dumps(data, default=str).decode()  # Parquet rows may hold bytes
