"""Program generators: everything that writes ProX programs, behind one interface."""

from __future__ import annotations

from typing import Any

from prox.generators.base import DEFAULT_CHARACTER_BUDGET, GenerationFailure, ProgramGenerator, ProgramText

GENERATORS = ("lite", "rules", "lm")


def make_generator(name: str, **options: Any) -> ProgramGenerator:
    """The generator called `name`, built from its options; the error lists the names that exist.

    `lite` takes `model` (a folder written by `prox lite train`; the model shipped with prox by default).
    `lm` takes the fields of `LMSettings` (`doc_model`, `chunk_model`, ...), `backend` (transformers, vllm or
    openai) and `backend_options` (a dict for that backend); see `prox.generators.lm.make_lm_generator`.
    """
    if name == "lite":
        unknown = sorted(set(options) - {"model"})
        if unknown:
            raise ValueError(f"the lite refiner takes only a model (got {', '.join(unknown)})")
        from prox.generators.lite import LiteGenerator

        return LiteGenerator(options.get("model"))
    if name == "rules":
        if options:
            raise ValueError(f"the rules refiner takes no options (got {', '.join(sorted(options))})")
        from prox.generators.rules import RulesGenerator

        return RulesGenerator()
    if name == "lm":
        from prox.generators.lm import make_lm_generator

        return make_lm_generator(**options)
    raise ValueError(f"unknown refiner {name!r}; choose one of: {', '.join(GENERATORS)}")


__all__ = [
    "DEFAULT_CHARACTER_BUDGET",
    "GENERATORS",
    "GenerationFailure",
    "ProgramGenerator",
    "ProgramText",
    "make_generator",
]
