"""Flags made from typed settings, and settings built back from parsed flags: the refiners' and the clusters'.

Every refiner's settings class (`prox.generators.REFINERS`) lists its options as fields; each field becomes a
flag here, for `prox refine`, `prox eval` and any later command that picks a refiner. A flag of a refiner
(or LM backend) other than the chosen one is an error that names the refiner it applies to.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from dataclasses import Field, fields

from prox.generators import REFINERS, RefinerSettings
from prox.generators.settings import OptionSet, flag_of
from prox.pipeline.run import ClusterSettings


def add_refiner_options(parser: argparse.ArgumentParser, default: str = "lite") -> None:
    """`--refiner` and the flags of every refiner's settings, one group per refiner."""
    parser.add_argument(
        "--refiner", default=default, choices=tuple(REFINERS), help=f"what writes the programs (default: {default})"
    )
    for settings_class in REFINERS.values():
        group = parser.add_argument_group(settings_class.title or settings_class.label())
        for item, _ in _flags(settings_class):
            _add_flag(group, item)


def refiner_from_args(args: argparse.Namespace, stages: Sequence[str]) -> RefinerSettings:
    """The chosen refiner's settings from the parsed flags, checked for the stages that run."""
    chosen = REFINERS[args.refiner]
    for name, other in REFINERS.items():
        if other is not chosen:
            _refuse_given(args, other, f"--refiner {name}")
    values: dict[str, object] = {}
    for item in fields(chosen):  # type: ignore[arg-type]
        value = getattr(args, _dest(item))
        option_sets = _option_sets(item)
        if option_sets:
            picked = value or _name_of(item.default, option_sets)
            for name, other in option_sets.items():
                if name != picked:
                    _refuse_given(args, other, f"{flag_of(item)} {name}")
            values[item.name] = _build(option_sets[picked], args)
        elif value is not None:
            values[item.name] = value
    settings = chosen(**values)
    return settings.for_stages(stages)


def _build(settings_class: type[OptionSet], args: argparse.Namespace) -> OptionSet:
    given = {item.name: getattr(args, _dest(item)) for item in fields(settings_class)}  # type: ignore[arg-type]
    return settings_class(**{name: value for name, value in given.items() if value is not None})


def _refuse_given(args: argparse.Namespace, settings_class: type[OptionSet], owner: str) -> None:
    for item, _ in _flags(settings_class):
        if getattr(args, _dest(item), None) not in (None, False):
            raise ValueError(f"{flag_of(item)} applies to {owner} only")


def _flags(settings_class: type[OptionSet]) -> Iterator[tuple[Field, type[OptionSet]]]:
    """Every flag field of a settings class, with the fields of the option sets its choice fields pick from."""
    for item in fields(settings_class):  # type: ignore[arg-type]
        yield item, settings_class
        for option_set in _option_sets(item).values():
            yield from _flags(option_set)


def _option_sets(item: Field) -> dict[str, type[OptionSet]]:
    choices = item.metadata.get("choices")
    return choices if isinstance(choices, dict) else {}


def _name_of(default: object, option_sets: dict[str, type[OptionSet]]) -> str:
    return next(name for name, option_set in option_sets.items() if isinstance(default, option_set))


def _dest(item: Field) -> str:
    return flag_of(item).lstrip("-").replace("-", "_")


def _add_flag(group: argparse._ArgumentGroup, item: Field) -> None:
    metadata = item.metadata
    help_text = metadata.get("help")
    if metadata.get("kind") is bool:
        group.add_argument(flag_of(item), dest=_dest(item), action="store_true", default=None, help=help_text)
        return
    choices = metadata.get("choices")
    group.add_argument(
        flag_of(item),
        dest=_dest(item),
        type=metadata.get("kind") or str,
        choices=tuple(choices) if choices else None,
        default=None,
        metavar=metadata.get("metavar"),
        help=help_text,
    )


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """Where tasks run with --executor slurm or ray (`ClusterSettings`)."""
    defaults = ClusterSettings()
    cluster = parser.add_argument_group("clusters (with --executor slurm or ray)")
    flags: list[tuple[str, type, object, str]] = [
        ("--partition", str, defaults.partition, f"slurm: partition (default: {defaults.partition})"),
        ("--time", str, defaults.time, f"slurm: time limit per job (default: {defaults.time})"),
        ("--cpus-per-task", int, defaults.cpus_per_task, f"CPUs per task (default: {defaults.cpus_per_task})"),
        ("--gpus-per-task", int, defaults.gpus_per_task, "GPUs per task, one generator each (default: 0)"),
        (
            "--mem-per-cpu-gb",
            int,
            defaults.mem_per_cpu_gb,
            f"memory per CPU in GB (default: {defaults.mem_per_cpu_gb})",
        ),
        ("--venv-path", str, None, "slurm: the venv's bin/activate script to source in each job"),
    ]
    cluster.add_argument("--dry-run", action="store_true", help="slurm: print the sbatch script, submit nothing")
    for flag, kind, default, help_text in flags:
        cluster.add_argument(flag, type=kind, default=default, help=help_text)


def cluster_from_args(args: argparse.Namespace) -> ClusterSettings:
    return ClusterSettings(
        partition=args.partition,
        time=args.time,
        cpus_per_task=args.cpus_per_task,
        gpus_per_task=args.gpus_per_task,
        mem_per_cpu_gb=args.mem_per_cpu_gb,
        venv_path=args.venv_path,
    )
