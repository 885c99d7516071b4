"""The datatrove steps of a refining run: account for input, doc stage, chunk stage, replay, tally.

Every document leaves a step in exactly one way: passed on (kept so far), written to a dropped writer with
its reason, or written to an errors writer with its reason. Each step counts what it did with
`stat_update` (under the names of `stat_names.py`), and `summary.py` adds those counts up into `OUT/stats.json`.
"""

from __future__ import annotations

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.batching import batched

from prox.chunking import chunk_document
from prox.generators.base import GenerationFailure, ProgramGenerator
from prox.pipeline.stat_names import (
    CHARS_IN,
    CHARS_OUT,
    DOCUMENTS_IN,
    DOCUMENTS_OUT,
    DROPPED_PREFIX,
    ERRORS,
    GENERATION_FAILURES,
    KEPT,
    KEPT_PREFIX,
    LINES_REMOVED,
    NORMALIZATIONS,
    PROGRAM_ERRORS,
    PROGRAMS_CUT,
    WORDS_IN,
    WORDS_OUT,
)
from prox.program import ExecutionPolicy, execute_chunk_programs, execute_doc_program, parse_program
from prox.records.errors import is_error, mark_error
from prox.records.metadata import prox_metadata
from prox.records.programs import parse_chunk_programs, record_chunk_programs

DEFAULT_BATCH_SIZE = 64
# Longer program texts are cut before they are stored and run: a release model writes at most 2,000 tokens
# (doc) or 256 (chunk), far less than this, but a server that ignores max_tokens can return megabytes.
MAX_PROGRAM_CHARS = 16_384


class _WritingStep(PipelineStep):
    """A step that may write documents aside; its writers are closed when its input ends."""

    type = "🧬 - PROX"

    def __init__(self, dropped_writer: DiskWriter | None = None, errors_writer: DiskWriter | None = None):
        super().__init__()
        self.dropped_writer = dropped_writer
        self.errors_writer = errors_writer

    def _drop(self, document: Document, reason: str, rank: int) -> None:
        prox_metadata(document)["drop_reason"] = reason
        self.stat_update(f"{DROPPED_PREFIX}{reason}")
        if self.dropped_writer is not None:
            self.dropped_writer.write(document, rank)

    def _error(self, document: Document, reason: str, rank: int) -> None:
        mark_error(document, reason)
        self.stat_update(ERRORS)
        if self.errors_writer is not None:
            self.errors_writer.write(document, rank)

    def _close_writers(self) -> None:
        for writer in (self.dropped_writer, self.errors_writer):
            if writer is not None:
                writer.close()


class AccountInput(_WritingStep):
    """Counts every input record; sets bad records (error documents from the readers) aside."""

    name = "account input"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        try:
            for document in data or ():
                self.stat_update(DOCUMENTS_IN)
                if is_error(document):
                    self.stat_update(ERRORS)
                    if self.errors_writer is not None:
                        self.errors_writer.write(document, rank)
                    continue
                self.stat_update(CHARS_IN, value=len(document.text))
                self.stat_update(WORDS_IN, value=len(document.text.split()))
                yield document
        finally:
            self._close_writers()


class _GeneratingStep(_WritingStep):
    """A step that asks a generator for programs, a batch of documents at a time."""

    def __init__(
        self,
        generator: ProgramGenerator,
        policy: ExecutionPolicy,
        dropped_writer: DiskWriter | None = None,
        errors_writer: DiskWriter | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ):
        super().__init__(dropped_writer, errors_writer)
        self.generator = generator
        self.policy = policy
        self.batch_size = batch_size
        # The last step that uses the generator frees its models and connections when its input ends.
        self.closes_generator = False

    def _close_writers(self) -> None:
        super()._close_writers()
        if self.closes_generator:
            self.generator.close()

    def _failed(self, document: Document, reason: str, rank: int) -> None:
        """The generator gave no program for this document: set it aside, counted as retryable."""
        self.stat_update(GENERATION_FAILURES)
        self._error(document, reason, rank)

    def _record(self, document: Document, program_text: str) -> str:
        """Stamp the document with what refines it; the program text as stored and run (cut if too long)."""
        metadata = prox_metadata(document)
        metadata["refiner"] = self.generator.label
        metadata["policy"] = self.policy.name
        if len(program_text) <= MAX_PROGRAM_CHARS:
            return program_text
        metadata["programs_cut"] = metadata.get("programs_cut", 0) + 1
        self.stat_update(PROGRAMS_CUT)
        return program_text[:MAX_PROGRAM_CHARS]


class DocStage(_GeneratingStep):
    """Asks the generator for a doc program per document and keeps or drops the document by it."""

    name = "doc stage"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        try:
            for batch in batched(data or (), self.batch_size):
                try:
                    with self.track_time("batch"):
                        programs = self.generator.doc_programs([document.text for document in batch])
                except Exception as error:  # a generator failure costs this batch, not the run
                    for document in batch:
                        self._failed(document, f"doc stage failed: {type(error).__name__}: {error}", rank)
                    continue
                for document, text in zip(batch, programs, strict=True):
                    if isinstance(text, GenerationFailure):
                        self._failed(document, f"doc program: {text.reason}", rank)
                    elif self._apply(document, text, rank):
                        yield document
        finally:
            self._close_writers()

    def _apply(self, document: Document, program_text: str, rank: int) -> bool:
        program_text = self._record(document, program_text)
        program = parse_program(program_text)
        decision = execute_doc_program(program, self.policy)
        metadata = prox_metadata(document)
        metadata["doc_program"] = program_text
        metadata["doc_decision"] = decision.reason
        self.stat_update(PROGRAM_ERRORS, value=len(program.errors))
        if not decision.keep:
            self._drop(document, decision.reason, rank)
            return False
        self.stat_update(KEPT)
        return True


class ChunkStage(_GeneratingStep):
    """Chunks each document, asks the generator for chunk programs and executes them under the policy."""

    name = "chunk stage"

    def __init__(
        self,
        generator: ProgramGenerator,
        policy: ExecutionPolicy,
        dropped_writer: DiskWriter | None = None,
        errors_writer: DiskWriter | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        chunk_budget: int | None = None,
    ):
        super().__init__(generator, policy, dropped_writer, errors_writer, batch_size)
        self.chunk_budget = chunk_budget or generator.chunk_budget
        self._sizer = None

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._sizer = self._sizer or self.generator.chunk_sizer()
        try:
            for batch in batched(data or (), self.batch_size):
                chunks = [chunk_document(document.text, self._sizer, self.chunk_budget) for document in batch]
                try:
                    with self.track_time("batch"):
                        programs = self.generator.chunk_programs([chunk for doc in chunks for chunk in doc])
                except Exception as error:
                    for document in batch:
                        self._failed(document, f"chunk stage failed: {type(error).__name__}: {error}", rank)
                    continue
                position = 0
                for document, document_chunks in zip(batch, chunks, strict=True):
                    texts = programs[position : position + len(document_chunks)]
                    position += len(document_chunks)
                    failure = next((text for text in texts if isinstance(text, GenerationFailure)), None)
                    if failure is not None:
                        self._failed(document, f"chunk program: {failure.reason}", rank)
                        continue
                    recorded = record_chunk_programs(document_chunks, [self._record(document, text) for text in texts])
                    if execute_recorded(self, document, recorded, self.policy, rank):
                        yield document
        finally:
            self._close_writers()


class ReplayStage(_WritingStep):
    """Re-executes the programs recorded by an earlier run under another policy; runs no model.

    Its input is an earlier run's output read back with its original text (see `records.layouts.replay_record`).
    """

    name = "replay"

    def __init__(
        self,
        policy: ExecutionPolicy,
        dropped_writer: DiskWriter | None = None,
        errors_writer: DiskWriter | None = None,
    ):
        super().__init__(dropped_writer, errors_writer)
        self.policy = policy

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        try:
            for document in data or ():
                metadata = prox_metadata(document)
                metadata["policy"] = self.policy.name
                if metadata.get("doc_program") is not None:
                    decision = execute_doc_program(parse_program(metadata["doc_program"]), self.policy)
                    metadata["doc_decision"] = decision.reason
                    if not decision.keep:
                        self._drop(document, decision.reason, rank)
                        continue
                recorded = metadata.get("chunk_programs")
                if recorded is None:
                    # The chunk stage never saw this document (it had been dropped, or ran doc-only).
                    metadata["chunk_decision"] = "no_chunk_program"
                    self.stat_update(KEPT)
                    yield document
                elif execute_recorded(self, document, recorded, self.policy, rank):
                    yield document
        finally:
            self._close_writers()


def execute_recorded(
    step: _WritingStep, document: Document, recorded: list[dict], policy: ExecutionPolicy, rank: int
) -> bool:
    """Execute a document's recorded chunk programs, store the outcome, and drop it or keep it."""
    original = document.text
    report = execute_chunk_programs(original, parse_chunk_programs(recorded), policy)
    metadata = prox_metadata(document)
    metadata["chunk_programs"] = recorded
    metadata["chunk_program"] = "\n".join(item["program"] for item in recorded)
    metadata["chunk_decision"] = report.reason
    metadata["removed_lines"] = len(report.removed_lines)
    metadata["normalizations"] = sum(item.occurrences for item in report.normalizations)
    metadata["program_errors"] = list(report.errors)
    step.stat_update(PROGRAM_ERRORS, value=len(report.errors))
    if not report.keep:
        step._drop(document, report.reason, rank)
        return False
    step.stat_update(KEPT)
    step.stat_update(f"{KEPT_PREFIX}{report.reason}")
    if report.reason in ("edited",):
        step.stat_update(LINES_REMOVED, value=len(report.removed_lines))
        step.stat_update(NORMALIZATIONS, value=metadata["normalizations"])
        metadata["raw_content"] = original
        document.text = report.text or ""
    return True


class TallyKept(PipelineStep):
    """Counts what reaches the output: documents, characters and whitespace-separated words."""

    type = "🧬 - PROX"
    name = "tally kept"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for document in data or ():
            self.stat_update(DOCUMENTS_OUT)
            self.stat_update(CHARS_OUT, value=len(document.text))
            self.stat_update(WORDS_OUT, value=len(document.text.split()))
            yield document
