"""Document builders shared by the program tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest


def build_document(word_counts: Sequence[int]) -> str:
    """A document whose line i holds `word_counts[i]` distinct words `l{i}w{j}`; no word occurs twice."""
    return "\n".join(" ".join(f"l{i}w{j}" for j in range(count)) for i, count in enumerate(word_counts))


@pytest.fixture(scope="session")
def document() -> Callable[[Sequence[int]], str]:
    """`document([5] * 40)`: a 40-line document of 200 words (session-scoped, so hypothesis tests may use it)."""
    return build_document
