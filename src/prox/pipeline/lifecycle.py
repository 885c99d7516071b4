"""A run from start to end: run (or submit) the pipeline, write the summary, and say how it ended.

Local and Ray runs finish in the call; a Slurm run is submitted (or, as a dry run, only printed) and its
summary is written by the same command once the job has finished. The exit status tells scripts what happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from datatrove.pipeline.base import PipelineStep

from prox import storage
from prox.pipeline.run import RunSettings, make_executor, run, summarize
from prox.pipeline.summary import format_summary

EXIT_OK = 0
EXIT_UNACCOUNTED = 1  # the account does not add up, tasks are missing, or a replay read fewer records
EXIT_GENERATION_FAILED = 3  # generation failed for more than --max-error-rate of the documents


@dataclass
class RunOutcome:
    """How a run ended: its exit status, its summary (None when nothing finished yet) and lines for the user."""

    status: int
    summary: dict | None = None
    notes: list[str] = field(default_factory=list)
    # What goes to standard output (a dry run's sbatch script); everything else is for stderr.
    stdout: str = ""

    def report(self) -> str:
        lines = [format_summary(self.summary)] if self.summary is not None else []
        return "\n".join([*lines, *self.notes])


def run_to_end(pipeline: list[PipelineStep], settings: RunSettings, dry_run: bool = False) -> RunOutcome:
    """Run the pipeline on its executor (Slurm: submit it) and judge the result."""
    if settings.executor == "slurm":
        return _submit_to_slurm(pipeline, settings, dry_run)
    summary = run(pipeline, settings)
    outcome = judge(summary, settings.max_error_rate)
    plural = "s" if settings.tasks != 1 else ""
    outcome.notes.append(f"ran {settings.tasks} task{plural}, {settings.workers} at a time")
    outcome.notes.append(f"wrote {settings.output} (stats: {settings.output}/stats.json)")
    return outcome


def judge(summary: dict, max_error_rate: float) -> RunOutcome:
    """EXIT_OK when every document is accounted for and generation failed for few enough of them."""
    if not summary["accounted"]:
        return RunOutcome(EXIT_UNACCOUNTED, summary)
    failures = summary["generation_failures"]
    # Documents that reached a refiner: bad input records never did.
    generated = summary["documents_in"] - (summary["errors"] - failures)
    if failures and (failures == generated or failures > max_error_rate * generated):
        note = (
            f"prox: generation failed for {failures} of {generated} documents (more than --max-error-rate "
            f"{max_error_rate}); fix the refiner (is its server up?) and rerun with --retry-errors"
        )
        return RunOutcome(EXIT_GENERATION_FAILED, summary, [note])
    return RunOutcome(EXIT_OK, summary)


def check_replay_count(source: str, output: str) -> RunOutcome:
    """A replay must read back every record the source run wrote (its kept and dropped documents)."""
    stats_path = storage.join(source, "stats.json")
    if not storage.exists(stats_path):
        return RunOutcome(EXIT_OK, notes=[f"prox: {source} has no stats.json, so the replay count was not checked"])
    written = json.loads(storage.read_text(stats_path))
    expected = written.get("kept", 0) + written.get("dropped", 0)
    replayed = json.loads(storage.read_text(storage.join(output, "stats.json")))
    unreadable = replayed["errors"]
    read = replayed["documents_in"] - unreadable
    if read == expected and not unreadable:
        return RunOutcome(EXIT_OK)
    note = (
        f"prox: read {read:,} records from {source} (and {unreadable:,} unreadable), but its stats.json says it "
        f"wrote {expected:,} (kept + dropped): {source} is damaged or incomplete; see {output}/errors"
    )
    return RunOutcome(EXIT_UNACCOUNTED, notes=[note])


def _submit_to_slurm(pipeline: list[PipelineStep], settings: RunSettings, dry_run: bool) -> RunOutcome:
    executor = make_executor(pipeline, settings)
    if dry_run:
        return RunOutcome(EXIT_OK, stdout=slurm_script(executor))
    executor.run()
    if executor.get_incomplete_ranks():
        note = (
            f"submitted Slurm job {executor.job_id}; run this command again once it has finished to write "
            f"{settings.output}/stats.json (finished tasks are not run twice)"
        )
        return RunOutcome(EXIT_OK, notes=[note])
    return judge(summarize(settings), settings.max_error_rate)


def slurm_script(executor) -> str:  # noqa: ANN001 - a datatrove SlurmPipelineExecutor
    """The sbatch script datatrove's Slurm executor would submit, without submitting it."""
    pickled = executor.logging_dir.resolve_paths("executor.pik")
    command = f"launch_pickled_pipeline {pickled}"
    if executor.with_srun:
        command = f"srun -l -n {executor.nodes_per_task} {command}"
    script = executor.get_launch_file_contents(executor.get_sbatch_args(max(1, executor.tasks)), command)
    return script + f"# dry run: nothing was submitted, and {pickled} is written only by a real submission\n"
