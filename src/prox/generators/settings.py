"""Typed refiner settings: each refiner owns one frozen dataclass of its options that checks itself when it is
made and builds the refiner.

The command line (`prox.cli.options`) turns each field into a flag from the field's metadata (`option()`), so a
new refiner needs its module and one line in `generators.REFINERS`, and no CLI code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field, fields
from typing import Any, ClassVar

from prox.generators.base import ProgramGenerator


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    metavar: str | None = None,
    kind: type = str,
    choices: Sequence[str] | dict[str, type[OptionSet]] | None = None,
) -> Any:
    """A settings field that is also a command-line flag (`--field-name` unless `flag`); `kind` is its type
    (bool fields are switches). `choices` as a dict of option sets makes the field pick one of them by name
    (the LM backends): the field holds that set's settings, and only its flags may be given."""
    metadata = {"help": help, "flag": flag, "metavar": metavar, "kind": kind, "choices": choices}
    return field(default=default, metadata=metadata)


def flag_of(settings_field: Any) -> str:
    """The command-line flag of a settings field."""
    return settings_field.metadata.get("flag") or "--" + settings_field.name.replace("_", "-")


class OptionSet:
    """Settings whose fields are flags; see `option()`. Subclasses are frozen dataclasses."""

    # A short title for the flags' group in --help.
    title: ClassVar[str] = ""

    @classmethod
    def from_options(cls, **options: Any) -> OptionSet:
        """Settings from keyword options; an unknown option is a ValueError naming the known ones."""
        known = [item.name for item in fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(options) - set(known))
        if unknown:
            takes = f"takes only {', '.join(known)}" if known else "takes no options"
            raise ValueError(f"the {cls.label()} {takes} (got {', '.join(unknown)})")
        return cls(**options)

    @classmethod
    def label(cls) -> str:
        """What the settings are of, in messages."""
        return cls.title or cls.__name__


class RefinerSettings(OptionSet):
    """A refiner's settings: `build()` makes the refiner."""

    name: ClassVar[str]

    @classmethod
    def label(cls) -> str:
        return f"{cls.name} refiner"

    def build(self) -> ProgramGenerator:
        raise NotImplementedError

    def for_stages(self, stages: Sequence[str]) -> RefinerSettings:
        """These settings for a run of `stages`; ValueError, saying what is missing, when they cannot run them."""
        return self

    def for_output(self, logging_dir: str) -> RefinerSettings:
        """These settings for a run whose logs go to `logging_dir` (where an LM refiner keeps its request cache)."""
        return self
