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

from collections import Counter
from dataclasses import dataclass, field

from tokenizers import Tokenizer

from prox.generators.base import GenerationFailure
from prox.generators.lm.chat import ChatMessage
from prox.synth.labels import UNRENDERABLE_PROMPT
from prox.synth.output import SynthOutput
from prox.synth.profile import Profile
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
from prox.synth.teacher import Messages, doc_score_messages
from prox.synth.teacher_run import (
    BadInput,
    InputDocument,
    Rejection,
    Settled,
    TeacherLLM,
    TeacherRunSettings,
    failure_reason,
    teach,
    without_teacher,
    write_settled,
)
from prox.tokenizer import load_tokenizer

COMMAND = "prox synth doc"
DEFAULT_MAX_NEW_TOKENS = 512  # a critique of at most 100 words and the score line, with room to spare
DEFAULT_SCORE_RETRIES = 2
NO_SCORE = "no_score"
# The follow-up turn after an answer whose score cannot be read.
SCORE_FOLLOW_UP = (
    "Your answer did not end as asked: {problem}. Reply with only the final line, in exactly this form, where "
    "<points> is a whole number from 0 to {points}:\n{label}: <points>"
)


@dataclass(frozen=True, kw_only=True)
class DocTeacherSettings(TeacherRunSettings):
    """`prox synth doc`: the teacher run's settings, the label's thresholds and the score retries."""

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


def synth_doc(
    settings: DocTeacherSettings, tokenizer: Tokenizer | None = None, teacher: TeacherLLM | None = None
) -> dict:
    """Score every input document with the teacher, write its record to OUT and return stats.json's content;
    `tokenizer` is the one `settings.tokenizer` names when it is loaded already, `teacher` replaces the one the
    settings name."""
    tokenizer = tokenizer or load_tokenizer(str(settings.tokenizer))
    profile = settings.load_profile()
    return teach(settings, COMMAND, lambda llm: _DocScorer(settings, profile, tokenizer, llm), teacher)


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


class _DocScorer:
    """Turns each batch of input records into doc records, rejections and errors."""

    def __init__(self, settings: DocTeacherSettings, profile: Profile, tokenizer: Tokenizer, teacher: TeacherLLM):
        self.settings = settings
        self.profile = profile
        self.tokenizer = tokenizer
        self.teacher = teacher
        self.follow_ups = 0
        self.scores: dict[str, Counter] = {kind: Counter() for kind in SCORE_LINES}

    def add(self, output: SynthOutput, batch: list[InputDocument | BadInput]) -> None:
        prepared = [self._prepare(item) for item in batch]
        self._score(
            [judgment for item in prepared if isinstance(item, _Scoring) for judgment in item.judgments.values()]
        )
        for item in prepared:  # in input order
            settled = self._write(output, item) if isinstance(item, _Scoring) else item
            if settled is not None:
                write_settled(output, settled)

    def account(self) -> dict:
        """stats.json's `score_follow_ups` and how often each score was given."""
        scores = {
            kind: {str(points): counts[points] for points in range(MAX_POINTS + 1)}
            for kind, counts in self.scores.items()
        }
        return {"score_follow_ups": self.follow_ups, "scores": scores}

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

    def _score(self, judgments: list[_Judgment]) -> None:
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
                    follow_up = SCORE_FOLLOW_UP.format(
                        problem=judgment.score.reason, points=MAX_POINTS, label=SCORE_LINES[judgment.kind]
                    )
                    judgment.conversation += (ChatMessage("assistant", result.text), ChatMessage("user", follow_up))
                    retried.append(judgment)
            self.follow_ups += len(retried)
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
            self.scores[kind][score] += 1
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
