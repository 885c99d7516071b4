"""`prox synth chunk`: chunk-stage SFT records from a teacher LLM, on the chunks the chunk stage would send.

Each document is chunked as `prox refine` chunks it (`chunk_document` with the refiner's tokenizer and budget),
and each chunk is shown to the teacher as the chunk stage shows it. Two methods:

- `fewshot` (ProX): one few-shot prompt per noise type of the profile; the answers are read with prox's parser,
  checked against the chunk and merged into one canonical program (`fewshot.merge_fewshot`), or the chunk is
  rejected with the reason. `head_tail_lines` trusts the teacher only near the page's start and end.
- `rewrite` (RefineX): one prompt; the teacher returns the chunk with its noise deleted and prox derives the
  minimal program that reproduces that text under the release policy (`rewrite.derive_program`). A rewrite that
  adds, changes or reorders text is rejected, or with `deletions_only` only its plain deletions are kept.

Either way a program removing more than `max_removed_share` of the chunk's words is rejected (`over_removal`).
A document any of whose requests failed after the backend's retries goes to OUT/errors, whole; the rest of its
answers are cached, so a rerun asks only for what failed. Records carry `method`, `removed_lines`,
`removed_share` (of the chunk's lines, as other chunk records), `removed_word_share`, and per method the
teacher's `per_type_programs` or its `rewrite` (with `exact` and `notes`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from prox.chunking import DEFAULT_TOKEN_BUDGET, Chunk, chunk_document, token_counter
from prox.generators.lm.chat import ChatAnswer, ChatResult
from prox.synth.fewshot import DEFAULT_MAX_REMOVED_SHARE, FewshotOptions, FewshotRejection, merge_fewshot
from prox.synth.output import CountKey, SynthOutput
from prox.synth.records import chunk_record, removed_share
from prox.synth.rewrite import derive_program
from prox.synth.teacher import Messages, fewshot_messages, rewrite_answer, rewrite_messages
from prox.synth.teacher_run import (
    BadInput,
    InputDocument,
    Settled,
    TeacherMaker,
    TeacherRunSettings,
    failure_reason,
    without_teacher,
    write_settled,
)
from prox.tokenizer import load_tokenizer

Method = Literal["fewshot", "rewrite"]
METHODS: tuple[str, ...] = get_args(Method)
FEWSHOT_MAX_NEW_TOKENS = 1024  # a program: a few calls, or many normalize calls on a messy chunk
# Why a chunk is rejected (stats.json counts them by these names).
OVER_REMOVAL = "over_removal"
NO_REWRITE = "no_rewrite_block"
INVALID_PROGRAM = "invalid_program"
DERIVATION_FAILED = "derivation_failed"
# A few-shot rejection's short name, by how `fewshot.merge_fewshot` words it: the start of its reason, or for a
# call at fault the problem after the call; anything else is INVALID_PROGRAM.
_FEWSHOT_REASONS = (
    ("removes ", OVER_REMOVAL),
    ("unreadable program", "unreadable_program"),
    ("no call in the answer", "unreadable_program"),
    ("lines outside the chunk", "line_out_of_range"),
    ("the range ends before it starts", "line_out_of_range"),
    ("not a chunk-stage call", "not_a_chunk_call"),
    ("a blank source_str", "bad_normalize"),
    ("source_str is in no line", "bad_normalize"),
    ("a newline in a string", "bad_normalize"),
    ("the release's parser", "bad_normalize"),
)
# A rewrite's rejection, by how `rewrite.derive_program` words its first problem after the line it names;
# anything else is DERIVATION_FAILED.
_REWRITE_REASONS = (
    ("cannot delete", "inexpressible_deletion"),
    ("text added", "rewrite_adds_text"),
    ("blank line added", "rewrite_adds_text"),
    ("text changed", "rewrite_changes_text"),
    ("moved", "rewrite_reorders_text"),
    ("repeated", "rewrite_reorders_text"),
)
_LINE_NAMED = re.compile(r"^(?:(?:after|before) )?line \d+: ")


@dataclass(frozen=True, kw_only=True)
class ChunkTeacherSettings(TeacherRunSettings):
    """`prox synth chunk`: the teacher run's settings, the method, the chunking and what to trust."""

    command = "prox synth chunk"
    method: Method
    chunk_budget: int = DEFAULT_TOKEN_BUDGET  # tokens per chunk, as `prox refine --chunk-budget`
    max_removed_share: float = DEFAULT_MAX_REMOVED_SHARE  # reject a program removing more of a chunk's words
    head_tail_lines: int | None = None  # fewshot: trust remove_lines only within the page's first/last N lines
    deletions_only: bool = False  # rewrite: keep a rewrite's plain deletions when it also adds or changes text

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method not in METHODS:
            raise ValueError(f"--method takes one of {', '.join(METHODS)}, got {self.method!r}")
        if self.chunk_budget < 1:
            raise ValueError(f"--chunk-budget must be at least 1, got {self.chunk_budget}")
        if self.method != "fewshot" and self.head_tail_lines is not None:
            raise ValueError("--head-tail-lines applies to --method fewshot only")
        if self.method != "rewrite" and self.deletions_only:
            raise ValueError("--deletions-only applies to --method rewrite only")
        self.fewshot_options()  # checks the share and the head/tail lines

    def fewshot_options(self) -> FewshotOptions:
        try:
            return FewshotOptions(max_removed_share=self.max_removed_share, head_tail_lines=self.head_tail_lines)
        except ValueError as error:
            raise ValueError(f"--{str(error).replace('_', '-')}") from None

    @property
    def answer_tokens(self) -> int:
        """New tokens per answer: a rewrite repeats the chunk, so twice the chunk's budget by default."""
        if self.max_new_tokens:
            return self.max_new_tokens
        return FEWSHOT_MAX_NEW_TOKENS if self.method == "fewshot" else 2 * self.chunk_budget

    def describe(self) -> dict:
        return super().describe() | {
            "max_new_tokens": self.answer_tokens,
            "method": self.method,
            "chunk_budget": self.chunk_budget,
            "max_removed_share": self.max_removed_share,
            "head_tail_lines": self.head_tail_lines,
            "deletions_only": self.deletions_only,
        }

    def maker(self) -> _ChunkTeacher:
        return _ChunkTeacher(self)

    def sections(self, counts: Mapping[CountKey, float], written: int) -> dict:
        """stats.json's `teacher`, and for rewrites `rewrites`: reproduced exactly, or in part (--deletions-only)."""
        sections = super().sections(counts, written)
        if self.method == "rewrite":
            sections["rewrites"] = {name: int(counts.get(("rewrite", name), 0)) for name in ("exact", "partial")}
        return sections


@dataclass
class _Document:
    """A chunked document and its conversations with the teacher: per chunk, one per noise type (fewshot) or one
    (rewrite)."""

    item: InputDocument
    lines: list[str]
    chunks: list[Chunk]
    conversations: list[dict[str, Messages]]


class _ChunkTeacher(TeacherMaker):
    """Turns each batch of input documents into chunk records, rejections and errors."""

    settings: ChunkTeacherSettings

    def __init__(self, settings: ChunkTeacherSettings):
        super().__init__(settings)
        self.profile = settings.load_profile()
        self.sizer = token_counter(load_tokenizer(str(settings.tokenizer)))
        self.options = settings.fewshot_options()

    def teach(self, output: SynthOutput, batch: list[InputDocument | BadInput]) -> None:
        prepared = [self._prepare(item) for item in batch]
        documents = [document for document in prepared if isinstance(document, _Document)]
        asked = [messages for document in documents for chunk in document.conversations for messages in chunk.values()]
        results = iter(self.teacher.ask(asked, self.settings.answer_tokens))
        for item in prepared:  # in input order
            settled = item
            if isinstance(item, _Document):
                settled = self._write(
                    output, item, [{name: next(results) for name in chunk} for chunk in item.conversations]
                )
            if settled is not None:
                write_settled(output, settled)

    def _prepare(self, item: InputDocument | BadInput) -> _Document | Settled:
        """The document's chunks and what to ask about each, or how it is settled without the teacher."""
        document = without_teacher(item)
        if not isinstance(document, InputDocument):
            return document
        chunks = chunk_document(document.text, self.sizer, self.settings.chunk_budget)
        if self.settings.method == "fewshot":
            conversations = [fewshot_messages(self.profile, chunk) for chunk in chunks]
        else:
            conversations = [{"rewrite": rewrite_messages(self.profile, chunk)} for chunk in chunks]
        return _Document(document, document.text.split("\n"), chunks, conversations)

    def _write(self, output: SynthOutput, document: _Document, answers: list[dict[str, ChatResult]]) -> Settled | None:
        """Write the records (or rejections) of the document's chunks; or, when a request failed, say so."""
        item = document.item
        failed = failure_reason([result for chunk in answers for result in chunk.values()])
        if failed:
            return BadInput(item.origin, item.where, failed, item.raw)
        output.input_accepted(item.origin)
        for chunk, chunk_answers in zip(document.chunks, answers, strict=True):
            texts = {name: result.text for name, result in chunk_answers.items() if isinstance(result, ChatAnswer)}
            if self.settings.method == "fewshot":
                self._fewshot(output, document, chunk, texts)
            else:
                self._rewrite(output, document, chunk, texts["rewrite"])
        return None

    def _fewshot(self, output: SynthOutput, document: _Document, chunk: Chunk, answers: dict[str, str]) -> None:
        merged = merge_fewshot(chunk, answers, len(document.lines), self.options)
        if isinstance(merged, FewshotRejection):
            draft = self._record(document, chunk, "", {"method": "fewshot", "teacher_answers": answers})
            output.reject(document.item.origin, draft, _fewshot_reason(merged), str(merged))
            return
        judgments = {
            "method": "fewshot",
            **_removal(chunk, merged.removed_lines, merged.removed_share),
            "per_type_programs": merged.per_type,
        }
        if merged.distrusted:
            judgments["distrusted"] = list(merged.distrusted)
        output.offer(document.item.origin, self._record(document, chunk, merged.text, judgments))

    def _rewrite(self, output: SynthOutput, document: _Document, chunk: Chunk, answer: str) -> None:
        origin = document.item.origin
        cleaned = rewrite_answer(answer)
        if cleaned is None:
            draft = self._record(document, chunk, "", {"method": "rewrite", "teacher_answer": answer})
            detail = "the answer holds no complete [doc]…[/doc] block (an answer cut off at --max-new-tokens has none)"
            output.reject(origin, draft, NO_REWRITE, detail)
            return
        derivation = derive_program(document.lines, chunk, cleaned, self.settings.deletions_only)
        judgments: dict[str, object] = {"method": "rewrite", "rewrite": cleaned}
        if derivation.program is None or derivation.rejected is not None:
            detail = derivation.rejected or "no program could be derived"
            draft = self._record(document, chunk, "", judgments)
            output.reject(origin, draft, _rewrite_reason(detail), detail)
            return
        judgments |= {
            **_removal(chunk, derivation.removed_lines, derivation.removed_share),
            "exact": derivation.exact,
            "notes": list(derivation.notes),
        }
        record = self._record(document, chunk, derivation.program, judgments)
        if derivation.removed_share > self.settings.max_removed_share:
            limit = self.settings.max_removed_share
            detail = f"removes {derivation.removed_share:.0%} of the chunk's words (limit {limit:.0%})"
            output.reject(origin, record, OVER_REMOVAL, detail)
            return
        if output.offer(origin, record):
            output.count("rewrite", "exact" if derivation.exact else "partial")

    def _record(self, document: _Document, chunk: Chunk, program: str, judgments: dict) -> dict:
        return chunk_record(
            chunk,
            program,
            record_id=f"{document.item.id}/lines-{chunk.first_line}-{chunk.last_line}",
            source=document.item.where,
            teacher=self.settings.teacher,
            judgments=judgments,
        )


def _removal(chunk: Chunk, removed_lines: Sequence[int], word_share: float) -> dict:
    return {
        "removed_lines": list(removed_lines),
        "removed_share": round(removed_share(chunk, removed_lines), 6),
        "removed_word_share": round(word_share, 6),
    }


def _fewshot_reason(rejection: FewshotRejection) -> str:
    """The short name stats.json counts a few-shot rejection by."""
    reason = rejection.reason
    problem = reason if reason.startswith(("removes ", "unreadable program", "no call")) else reason.rsplit(": ", 1)[-1]
    return next((name for words, name in _FEWSHOT_REASONS if problem.startswith(words)), INVALID_PROGRAM)


def _rewrite_reason(rejected: str) -> str:
    """The short name stats.json counts a rejected rewrite by."""
    problem = _LINE_NAMED.sub("", rejected, count=1)
    return next((name for words, name in _REWRITE_REASONS if problem.startswith(words)), DERIVATION_FAILED)
