"""`prox synth doc`: doc-stage SFT records from a teacher LLM's two additive 0–5 judgments (PROX_SPEC §5).

Each document is shown to the teacher twice, with the profile's educational-value and extraction-quality
prompts; each answer is a critique and a final score line (`scoring.parse_score`). The teacher sees the
document as the refining model will: for a document whose doc prompt the release cuts at 2000 tokens, the cut
document. An answer whose score cannot be read (missing, given twice with different values, out of range) is
asked again with a follow-up turn naming the problem, up to `score_retries` times: each follow-up extends the
conversation, so it is a new request, never the cached answer again. A document still without both scores is
rejected as `no_score`; one whose request failed after the backend's retries goes to OUT/errors.

The label is `keep_document` (edu >= 3, or edu = 2 and format >= 4, thresholds being options) and the target
`keep_doc()` or `drop_doc()`; the record carries `label`, `scores`, `critiques` (each kind's first answer) and
`score_attempts` beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prox.generators.base import GenerationFailure
from prox.synth.labels import UNRENDERABLE_PROMPT
from prox.synth.output import CountKey, SynthOutput
from prox.synth.records import DocMessage, UnrenderablePrompt, doc_record, doc_user_message
from prox.synth.scoring import (
    EDU_THRESHOLD,
    FORMAT_THRESHOLD,
    MAX_POINTS,
    SCORE_LINES,
    ScoreFailure,
    ScoreKind,
    doc_target,
    keep_document,
    parse_score,
)
from prox.synth.teacher import Messages, doc_score_messages, score_follow_up
from prox.synth.teacher_run import (
    BadInput,
    InputDocument,
    Rejection,
    Settled,
    TeacherMaker,
    TeacherRunSettings,
    failure_reason,
    without_teacher,
    write_settled,
)
from prox.tokenizer import load_tokenizer

DEFAULT_MAX_NEW_TOKENS = 512  # a critique of at most 100 words and the score line, with room to spare
DEFAULT_SCORE_RETRIES = 2
NO_SCORE = "no_score"


@dataclass(frozen=True, kw_only=True)
class DocTeacherSettings(TeacherRunSettings):
    """`prox synth doc`: the teacher run's settings, the label's thresholds and the score retries."""

    command = "prox synth doc"
    edu_threshold: int = EDU_THRESHOLD  # keep when edu >= this ...
    format_threshold: int = FORMAT_THRESHOLD  # ... or edu = edu_threshold - 1 and format >= this
    score_retries: int = DEFAULT_SCORE_RETRIES  # follow-ups per score that cannot be read

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, value in (("--edu-threshold", self.edu_threshold), ("--format-threshold", self.format_threshold)):
            if not 0 <= value <= MAX_POINTS:
                raise ValueError(f"{name} must be a score from 0 to {MAX_POINTS}, got {value}")
        if self.score_retries < 0:
            raise ValueError(f"--score-retries must be 0 or more, got {self.score_retries}")

    @property
    def answer_tokens(self) -> int:
        return self.max_new_tokens or DEFAULT_MAX_NEW_TOKENS

    def describe(self) -> dict:
        return super().describe() | {
            "max_new_tokens": self.answer_tokens,
            "edu_threshold": self.edu_threshold,
            "format_threshold": self.format_threshold,
            "score_retries": self.score_retries,
        }

    def maker(self) -> _DocScorer:
        return _DocScorer(self)

    def sections(self, counts: Mapping[CountKey, float], written: int) -> dict:
        """stats.json's `teacher`, `score_follow_ups` and how often each score was given."""
        scores = {
            kind: {str(points): int(counts.get(("score", kind, str(points)), 0)) for points in range(MAX_POINTS + 1)}
            for kind in SCORE_LINES
        }
        follow_ups = int(counts.get(("score_follow_ups",), 0))
        return super().sections(counts, written) | {"score_follow_ups": follow_ups, "scores": scores}


@dataclass
class _Judgment:
    """One score of one document: the conversation so far, the teacher's answers, and the score or why not."""

    kind: ScoreKind
    conversation: Messages
    answers: list[str] = field(default_factory=list)
    score: int | ScoreFailure | GenerationFailure | None = None


@dataclass
class _Scoring:
    document: InputDocument
    message: DocMessage
    judgments: dict[ScoreKind, _Judgment]


class _DocScorer(TeacherMaker):
    """Turns each batch of input documents into doc records, rejections and errors."""

    settings: DocTeacherSettings

    def __init__(self, settings: DocTeacherSettings):
        super().__init__(settings)
        self.profile = settings.load_profile()
        self.tokenizer = load_tokenizer(str(settings.tokenizer))

    def teach(self, output: SynthOutput, batch: list[InputDocument | BadInput]) -> None:
        prepared = [self._prepare(item) for item in batch]
        judgments = [
            judgment for item in prepared if isinstance(item, _Scoring) for judgment in item.judgments.values()
        ]
        self._score(output, judgments)
        for item in prepared:  # in input order
            settled = self._write(output, item) if isinstance(item, _Scoring) else item
            if settled is not None:
                write_settled(output, settled)

    def _prepare(self, item: InputDocument | BadInput) -> _Scoring | Settled:
        """The document's two judgments to ask for, or how it is settled without the teacher."""
        document = without_teacher(item)
        if not isinstance(document, InputDocument):
            return document
        try:
            message = doc_user_message(document.text, self.tokenizer)
        except UnrenderablePrompt as error:
            return Rejection(document, UNRENDERABLE_PROMPT, str(error))
        # The teacher judges what the refining model will see: for a cut prompt, the cut document.
        conversations = doc_score_messages(self.profile, message.content)
        judgments = {kind: _Judgment(kind, messages) for kind, messages in conversations.items()}
        return _Scoring(document, message, judgments)

    def _score(self, output: SynthOutput, judgments: list[_Judgment]) -> None:
        """Ask for every judgment at once; ask again, with a follow-up, those whose score cannot be read."""
        pending = judgments
        for attempt in range(self.settings.score_retries + 1):
            results = self.teacher.ask([judgment.conversation for judgment in pending], self.settings.answer_tokens)
            retried = []
            for judgment, result in zip(pending, results, strict=True):
                if isinstance(result, GenerationFailure):
                    judgment.score = result
                    continue
                judgment.answers.append(result.text)
                judgment.score = parse_score(result.text, judgment.kind)
                if isinstance(judgment.score, ScoreFailure) and attempt < self.settings.score_retries:
                    judgment.conversation = score_follow_up(
                        self.profile, judgment.conversation, result.text, judgment.kind, judgment.score.reason
                    )
                    retried.append(judgment)
            output.count("score_follow_ups", value=len(retried))
            pending = retried
            if not pending:
                break

    def _write(self, output: SynthOutput, scoring: _Scoring) -> Settled | None:
        """Write the scored document's record; or, when it makes none, say how it is settled instead."""
        document, judgments = scoring.document, scoring.judgments
        failed = failure_reason([judgment.score for judgment in judgments.values()])
        if failed:
            return BadInput(document.origin, document.where, failed, document.raw)
        scores = {kind: judgment.score for kind, judgment in judgments.items()}
        judged = {
            "scores": {kind: score for kind, score in scores.items() if isinstance(score, int)},
            "critiques": {kind: judgment.answers[0] for kind, judgment in judgments.items()},
            "score_attempts": {kind: len(judgment.answers) for kind, judgment in judgments.items()},
        }
        unread = [f"{kind}: {score.reason}" for kind, score in scores.items() if isinstance(score, ScoreFailure)]
        if unread:
            attempts = self.settings.score_retries + 1
            detail = f"{'; '.join(unread)} (after {attempts} attempt{'s' if attempts > 1 else ''})"
            return Rejection(document, NO_SCORE, detail, {"teacher": self.settings.teacher, **judged})
        educational, format_score = scores["educational"], scores["format"]
        assert isinstance(educational, int) and isinstance(format_score, int)
        for kind, score in judged["scores"].items():
            output.count("score", kind, str(score))
        keep = keep_document(educational, format_score, self.settings.edu_threshold, self.settings.format_threshold)
        record = doc_record(
            scoring.message,
            doc_target(keep),
            record_id=document.id,
            source=document.where,
            teacher=self.settings.teacher,
            judgments={"label": int(keep), **judged},
        )
        output.input_accepted(document.origin)
        output.offer(document.origin, record)
        return None
