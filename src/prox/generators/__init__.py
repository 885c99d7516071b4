"""Program generators ("refiners" to users): everything that writes ProX programs, behind one interface.

Each refiner owns a typed settings class (`generators.settings.RefinerSettings`) that checks its options and
builds it; `REFINERS` registers them by name. The command line makes its flags from these classes.
"""

from __future__ import annotations

from typing import Any

from prox.generators.base import DEFAULT_CHARACTER_BUDGET, GenerationFailure, ProgramGenerator, ProgramText
from prox.generators.lite import LiteSettings
from prox.generators.lm import LMRefinerSettings
from prox.generators.rules import RulesSettings
from prox.generators.settings import RefinerSettings

REFINERS: dict[str, type[RefinerSettings]] = {
    "lite": LiteSettings,
    "rules": RulesSettings,
    "lm": LMRefinerSettings,
}
GENERATORS = tuple(REFINERS)


def refiner_settings(name: str, **options: Any) -> RefinerSettings:
    """The settings of the refiner called `name` from keyword options; the error lists the names that exist."""
    try:
        settings_class = REFINERS[name]
    except KeyError:
        raise ValueError(f"unknown refiner {name!r}; choose one of: {', '.join(REFINERS)}") from None
    return settings_class.from_options(**options)  # type: ignore[return-value]


def make_generator(name: str, **options: Any) -> ProgramGenerator:
    """The refiner called `name`, built from its options (the fields of its settings class; for `lm`, the
    fields of `LMSettings`, `backend` and `backend_options`)."""
    return refiner_settings(name, **options).build()


__all__ = [
    "DEFAULT_CHARACTER_BUDGET",
    "GENERATORS",
    "REFINERS",
    "GenerationFailure",
    "ProgramGenerator",
    "ProgramText",
    "RefinerSettings",
    "make_generator",
    "refiner_settings",
]
