"""Program generators: everything that writes ProX programs, behind one interface."""

from __future__ import annotations

from prox.generators.base import DEFAULT_CHARACTER_BUDGET, GenerationFailure, ProgramGenerator, ProgramText

GENERATORS = ("rules",)


def make_generator(name: str) -> ProgramGenerator:
    """The generator called `name`; the error lists the names that exist."""
    if name == "rules":
        from prox.generators.rules import RulesGenerator

        return RulesGenerator()
    raise ValueError(f"unknown refiner {name!r}; choose one of: {', '.join(GENERATORS)}")


__all__ = [
    "DEFAULT_CHARACTER_BUDGET",
    "GENERATORS",
    "GenerationFailure",
    "ProgramGenerator",
    "ProgramText",
    "make_generator",
]
