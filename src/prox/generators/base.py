"""The interface every program generator implements: a batch of documents or chunks in, program texts out.

Generators return raw program text, exactly as a model would write it; the pipeline parses and executes it,
so a rules baseline, the lite refiner and an LM backend all pass through the same parser and policies.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from prox.chunking import CharacterCounter, Chunk, LineSizer

# For generators without a tokenizer: about four characters a token, like the 1500-token budget.
DEFAULT_CHARACTER_BUDGET = 6000


@dataclass(frozen=True)
class GenerationFailure:
    """Stands in for the program of one input whose generation failed (e.g. a request that still failed
    after its retries); the pipeline sets that document aside in OUT/errors with the reason."""

    reason: str


ProgramText = str | GenerationFailure


class ProgramGenerator(ABC):
    """Writes doc programs (`drop_doc()`/`keep_doc()`) and chunk programs for batches of inputs.

    Each method returns one entry per input, in order: the program text, or a `GenerationFailure`.
    Raising fails the whole batch instead.
    """

    name: str = "generator"

    @abstractmethod
    def doc_programs(self, texts: Sequence[str]) -> list[ProgramText]:
        """One doc-stage program text per document text."""

    @abstractmethod
    def chunk_programs(self, chunks: Sequence[Chunk]) -> list[ProgramText]:
        """One chunk-stage program text per chunk (line numbers are document-wide)."""

    # How many units of `chunk_sizer()` one chunk may hold.
    chunk_budget: int = DEFAULT_CHARACTER_BUDGET

    def chunk_sizer(self) -> LineSizer:
        """How this generator measures chunks; LM generators count their tokenizer's tokens."""
        return CharacterCounter()

    @property
    def label(self) -> str:
        """Names this refiner (and its model) in each record's metadata, e.g. `lite@3f2a9c1d0b7e`."""
        return self.name

    def describe(self) -> dict:
        """Everything that decides this refiner's programs (name, model identities, settings), for the run
        manifest: a rerun with a different description does not resume the same output folder."""
        return {"name": self.name}

    def close(self) -> None:  # noqa: B027 - optional hook, most generators hold nothing
        """Release models, engines or connections."""
