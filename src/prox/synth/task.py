"""What a synth command is to the run that executes it (`prox.pipeline.synth`): its input files, found once before
any task starts; one task's work, its share of those files made into records in OUT; and the stats.json the
tasks' counts add up to.

Every synth command (`labels`, `doc`, `chunk`) is a `SynthCommand`: its settings, which list the input files,
say which settings decide its records, and make the `RecordMaker` that turns a batch of input records into
records, rejections and errors on a task's `SynthOutput`.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from prox.records.reading import BadRecord, Record, read_records
from prox.synth.output import CountKey, SynthOutput, account


@dataclass(frozen=True)
class InputFile:
    """A file of input records: the SOURCE or INPUT it was found in (as given), its kind for the command, and
    where it is."""

    origin: str
    kind: str
    location: str


@dataclass(frozen=True)
class InputRecord:
    """A record of an input file, or what could not be read of it, with the file it came from."""

    file: InputFile
    record: Record | BadRecord


class RecordMaker(Protocol):
    """Turns input records into records, rejections and errors on a task's output."""

    batch_size: int  # input records handed to `add` at once

    def add(self, output: SynthOutput, batch: list[InputRecord]) -> None: ...

    def close(self, output: SynthOutput) -> None:
        """Add what the maker counted itself to the output's counts, and free what it holds."""


class SynthCommand:
    """The settings of a synth command, as the run sees them; each command's settings class fills these in."""

    command: ClassVar[str] = "prox synth"
    output: str
    tasks: int | None  # None: a task per input file (capped)
    workers: int | None  # None: min(tasks, CPUs)
    limit: int | None  # input records per task
    records_per_shard: int
    overwrite: bool
    progress: bool

    def check_run_options(self) -> None:
        """Raise a ValueError naming the flag for a run option (declared here) out of its range."""
        for name, value in (("--limit", self.limit), ("--tasks", self.tasks), ("--workers", self.workers)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.records_per_shard < 1:
            raise ValueError(f"--records-per-shard must be at least 1, got {self.records_per_shard}")

    def input_files(self) -> list[InputFile]:
        """Every input file, in order; raises ValueError for an input that holds none."""
        raise NotImplementedError

    @property
    def origins(self) -> tuple[str, ...]:
        """The SOURCEs or INPUTs as given, which stats.json counts records by."""
        raise NotImplementedError

    def describe(self) -> dict:
        """The settings stats.json records."""
        raise NotImplementedError

    def decisive(self) -> dict:
        """The settings that decide the records: a rerun into an unfinished OUT resumes only with the same."""
        return self.describe()

    def maker(self) -> RecordMaker:
        """A task's record maker."""
        raise NotImplementedError

    def sections(self, counts: Mapping[CountKey, float], written: int) -> dict:
        """The command's own parts of stats.json, from the summed counts; `written` records in all."""
        return {}


def run_task(command: SynthCommand, files: Sequence[InputFile], task: int) -> Counter[CountKey]:
    """Make the records of the input files into task `task`'s files in OUT; the task's counts."""
    from datatrove.utils.batching import batched
    from tqdm import tqdm

    output = SynthOutput(command.output, task, command.records_per_shard)
    maker = command.maker()
    try:
        with tqdm(
            total=command.limit,
            unit=" records",
            desc=f"{command.command} (task {task})",
            disable=not command.progress,
            file=sys.stderr,
        ) as bar:
            for batch in batched(read_inputs(files, command.limit), maker.batch_size):
                maker.add(output, batch)
                bar.update(len(batch))
    finally:
        maker.close(output)
        counts = output.close()
    return counts


def read_inputs(files: Iterable[InputFile], limit: int | None = None) -> Iterator[InputRecord]:
    """Every record of the files in order, at most `limit`."""
    count = 0
    for file in files:
        for record in read_records(file.location):
            if limit is not None and count == limit:
                return
            count += 1
            yield InputRecord(file, record)


def synth_stats(command: SynthCommand, counts: Mapping[CountKey, float], tasks: int, finished: int) -> dict:
    """stats.json: what ran, on what, then the account of the finished tasks' summed counts and the command's
    own parts. It adds up only when every task has finished."""
    header = {"command": command.command, "sources": list(command.origins), "settings": command.describe()}
    tally = account(counts, command.origins)
    tally["accounted"] = tally["accounted"] and finished == tasks
    return header | {"tasks": tasks} | tally | command.sections(counts, tally["examples"]["written"])


def exit_status(stats: dict) -> int:
    """0; 1 when the account does not add up, or when every input record was an error (a teacher that never
    answered, inputs that are not records)."""
    inputs = stats["inputs"]
    all_failed = inputs["records"] > 0 and inputs["errors"] == inputs["records"]
    return 1 if all_failed or not stats["accounted"] else 0
