"""Execution policies: the thresholds and rules that turn a program's edits into a decision.

A policy is one small value, not a code path: the executor reads its fields. `release` is exactly the
GAIR-NLP/ProX release (PROX_SPEC §4): it reads the raw program text by the release's string slicing.
`strict` reads programs with the safe parser and trusts model output less.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal


@dataclass(frozen=True)
class ExecutionPolicy:
    """How programs are executed and how their results decide a document's fate."""

    name: str
    # How chunk programs are read. "release": the raw text, sliced line by line exactly as the release did
    # (`release.py`); the fields marked (ast) below then have no effect. "ast": the calls of the safe parser.
    parser: Literal["release", "ast"] = "release"
    # Drop the document when the kept words are at most this share of the original (and errors are few).
    # Written as the release computes it from threshold_2=0.95: 1 - 0.95 is 0.05000000000000004.
    min_kept_word_share: float = 1 - 0.95
    # Drop the document when this many words or fewer remain.
    min_words: int = 10
    # With this many counted errors the program is distrusted and the original text is kept.
    revert_at_errors: int = 2
    # "substring": drop when the raw doc output contains "drop" (the release); "calls": only a parsed
    # drop_doc() without a keep_doc() drops.
    doc_drop_rule: Literal["substring", "calls"] = "substring"
    # (ast) Apply positional calls such as remove_lines(3, 7); otherwise each is an error.
    accept_positional: bool = False
    # (ast) Count every parse error; otherwise only errors in calls to remove_lines or normalize count.
    count_all_parse_errors: bool = False
    # (ast) Line ranges must lie inside the chunk that wrote them; normalize acts only inside that chunk, only
    # when its source occurs there and neither string holds a newline; an absent source is an error.
    chunk_scoped: bool = False
    # Drop the document when edits remove more than this share of its words (a DCLM-style guard).
    max_removed_word_share: float | None = None
    # (ast) Normalize sources that are ignored outright.
    ignored_normalize_sources: tuple[str, ...] = ("", " ")

    def with_overrides(self, **changes: object) -> ExecutionPolicy:
        """A copy with some fields changed (e.g. a different removal cap)."""
        return replace(self, **changes)  # type: ignore[arg-type]


RELEASE = ExecutionPolicy(name="release")
STRICT = ExecutionPolicy(
    name="strict",
    parser="ast",
    doc_drop_rule="calls",
    accept_positional=True,
    count_all_parse_errors=True,
    chunk_scoped=True,
    max_removed_word_share=0.8,
)
POLICIES = {policy.name: policy for policy in (RELEASE, STRICT)}


def get_policy(name: str) -> ExecutionPolicy:
    """The named policy; the error lists the names that exist."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of: {', '.join(POLICIES)}") from None
