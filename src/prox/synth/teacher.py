"""What a teacher LLM is asked, as chat messages built from a prompt profile: two scoring prompts per document,
one few-shot prompt per noise type per chunk, one rewrite prompt per chunk. Pure functions: nothing is sent here.

A chunk is shown to the teacher exactly as the chunk stage shows it to a refining model
(`prox.prompts.chunk_user_message`: its `[NNN]`-numbered lines inside `[doc]…[/doc]`), so the line numbers the
teacher writes are the ones the student will see.
"""

from __future__ import annotations

import re

from prox.chunking import Chunk
from prox.generators.lm.chat import ChatMessage
from prox.prompts import chunk_user_message
from prox.synth.profile import Profile, fill
from prox.synth.scoring import MAX_POINTS, SCORE_LINES, ScoreKind

Messages = tuple[ChatMessage, ...]

_REWRITE_BODY = re.compile(r"\[doc\][ \t]*\n?(?P<body>.*?)\n?[ \t]*\[/doc\]", re.DOTALL)


def teacher_messages(profile: Profile, user: str) -> Messages:
    """The profile's system message, then `user`."""
    return (ChatMessage("system", profile.system), ChatMessage("user", user))


def doc_score_messages(profile: Profile, text: str) -> dict[ScoreKind, Messages]:
    """The two scoring conversations for a raw document: educational value, then format (extraction) quality."""
    return {
        "educational": teacher_messages(profile, fill(profile.doc_educational, document=text)),
        "format": teacher_messages(profile, fill(profile.doc_format, document=text)),
    }


def score_follow_up(profile: Profile, conversation: Messages, answer: str, kind: ScoreKind, problem: str) -> Messages:
    """The scoring conversation carried on after an answer whose score cannot be read: the answer, then the
    profile's follow-up turn naming the problem and asking for the score line alone."""
    question = fill(profile.score_follow_up, problem=problem, points=str(MAX_POINTS), label=SCORE_LINES[kind])
    return (*conversation, ChatMessage("assistant", answer), ChatMessage("user", question))


def fewshot_messages(profile: Profile, chunk: Chunk) -> dict[str, Messages]:
    """One few-shot conversation per noise type of the profile, each showing the chunk as the chunk stage does."""
    shown = chunk_user_message(chunk)
    return {
        noise_type: teacher_messages(
            profile, fill(template, functions=profile.chunk_functions, rules=profile.chunk_rules, chunk=shown)
        )
        for noise_type, template in profile.fewshot.items()
    }


def rewrite_messages(profile: Profile, chunk: Chunk) -> Messages:
    """The rewrite conversation: the chunk as the chunk stage shows it, to be returned with its noise deleted."""
    return teacher_messages(profile, fill(profile.rewrite, chunk=chunk_user_message(chunk)))


def rewrite_answer(text: str) -> str | None:
    """The body of the last `[doc]…[/doc]` block of a rewrite answer (its kept lines, still `[NNN]`-numbered, as
    the rewrite prompt asks), or None when the answer has no complete block. An empty body means "all noise"."""
    bodies = [match.group("body") for match in _REWRITE_BODY.finditer(text)]
    return bodies[-1] if bodies else None
