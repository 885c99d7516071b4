"""The synth commands (`prox synth labels|doc|chunk`) on datatrove's local executor.

The input files are found once and listed in `OUT/logs/synth-inputs.txt`; task `rank` of `tasks` takes the
files datatrove's readers would give it (every `tasks`-th, from `rank`) and makes their records into its own
shards (`prox.synth.output`), its own rejected and errors files, and its own counts, kept as its datatrove stats
(`OUT/logs/stats/TTTTT.json`). When every task has finished, their counts are added up into `OUT/stats.json`.

A rerun resumes: the tasks that finished (datatrove's completion markers) are skipped, and a task that was
killed starts over, its partial files removed first (`attempts.ClearAttempt`); a teacher's answers come back
from the request cache. As for `prox refine`, the run manifest (`OUT/logs/prox-run.json`) makes a rerun with
other settings stop and say what differs. A finished OUT (with stats.json) is refused unless `overwrite`, which
clears it but for the request cache.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict

from datatrove.data import DocumentsPipeline
from datatrove.io import get_datafolder, get_shard_from_paths_file
from datatrove.pipeline.base import PipelineStep

from prox import storage
from prox.pipeline.attempts import ClearAttempt, PublishAttempt, WriterTarget
from prox.pipeline.manifest import build_manifest, located_listing, prepare_output
from prox.pipeline.run import check_output, local_executor, task_counts
from prox.pipeline.summary import finished_tasks, task_totals
from prox.synth.output import STATS_FILE, CountKey, task_file_names
from prox.synth.task import InputFile, SynthCommand, run_task, synth_stats
from prox.synth.teacher_run import REQUEST_CACHE_FILES

INPUTS_FILE = "synth-inputs.txt"


class SynthTask(PipelineStep):
    """A task of a synth command: its share of the input files made into records in OUT, counted."""

    type = "🧬 - PROX"
    name = "synth"
    # The settings are held in a slot, out of `__dict__`: datatrove writes each step's `__dict__` to
    # OUT/logs/executor.json, and a teacher's settings hold its API key.
    __slots__ = ("command",)

    def __init__(self, command: SynthCommand, inputs_file: str):
        super().__init__()
        self.command = command
        self.inputs_file = inputs_file

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        yield from data or ()
        lines = get_shard_from_paths_file(self.inputs_file, rank, world_size)
        files = [InputFile(**json.loads(line)) for line in lines]
        with self.track_time():
            counts = run_task(self.command, files, rank)
        for key, value in counts.items():
            self.stat_update(json.dumps(key), value=value)


def run_synth(command: SynthCommand) -> dict:
    """Run the command's tasks to completion (skipping those finished before), write OUT/stats.json and return
    its content."""
    out = command.output
    files = command.input_files()  # all found before anything is written
    tasks, workers = task_counts(len(files), command.tasks, command.workers)
    check_output(out)
    with storage.storage_errors(out):
        finished = storage.exists(storage.join(out, STATS_FILE))
    if finished and not command.overwrite:
        raise ValueError(
            f"{out} already holds synth output (stats.json); pass --overwrite to replace it, or choose another folder"
        )
    listing = located_listing([file.location for file in files])
    manifest = build_manifest(command.command, command.decisive() | {"tasks": tasks}, listing)
    prepare_output(out, manifest, command.overwrite, keep=REQUEST_CACHE_FILES)
    logs = storage.join(out, "logs")
    inputs_file = storage.join(logs, INPUTS_FILE)
    storage.write_text(inputs_file, "".join(json.dumps(asdict(file), ensure_ascii=False) + "\n" for file in files))
    targets = _targets(out)
    steps = [ClearAttempt(targets), SynthTask(command, inputs_file), PublishAttempt(targets)]
    local_executor(steps, tasks, workers, logs).run()
    done = finished_tasks(logs, tasks)
    stats = synth_stats(command, _counts(logs, done), tasks, len(done))
    storage.write_text(storage.join(out, STATS_FILE), json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    return stats


def _targets(out: str) -> list[WriterTarget]:
    return [(get_datafolder(storage.join(out, folder) if folder else out), name) for folder, name in task_file_names()]


def _counts(logs: str, ranks: list[int]) -> Counter[CountKey]:
    """The synth counts of the tasks, added up (datatrove's own stats left out)."""
    counts: Counter[CountKey] = Counter()
    for rank in ranks:
        for metric, value in task_totals(logs, rank).items():
            if metric.startswith("["):
                counts[tuple(json.loads(metric))] += int(value) if float(value).is_integer() else value
    return counts
