"""`OUT/stats.json`: the per-task datatrove stats of a run, added up into one account of every document.

Only the tasks of the run's own configuration count (`logs/stats/{rank}.json` for rank < tasks, with a
completion marker), and the account holds only when every one of them has finished.
"""

from __future__ import annotations

import json
from collections import defaultdict

from prox import storage
from prox.pipeline.stat_names import DROPPED_PREFIX, GENERATION_FAILURES, KEPT_PREFIX, TOTALS


def finished_tasks(logging_dir: str, tasks: int) -> list[int]:
    """The ranks below `tasks` that have both a completion marker and their stats (local folder or URL)."""
    listed = set(storage.list_tree(logging_dir))
    return [
        rank for rank in range(tasks) if _marker(logging_dir, rank) in listed and _stats(logging_dir, rank) in listed
    ]


def _marker(logging_dir: str, rank: int) -> str:
    return storage.join(logging_dir, "completions", f"{rank:05d}")


def _stats(logging_dir: str, rank: int) -> str:
    return storage.join(logging_dir, "stats", f"{rank:05d}.json")


def task_totals(logging_dir: str, rank: int) -> dict[str, float]:
    """Every metric of one finished task, summed over its steps."""
    totals: dict[str, float] = defaultdict(float)
    for step in json.loads(storage.read_text(_stats(logging_dir, rank))):  # datatrove's PipelineStats layout
        for metric, value in step.get("stats", {}).items():
            totals[metric] += value.get("total", 0) if isinstance(value, dict) else value
    return totals


def step_totals(logging_dir: str, tasks: int) -> dict[str, float]:
    """Every metric of the run's finished tasks (those of earlier, resumed attempts too), summed."""
    totals: dict[str, float] = defaultdict(float)
    for rank in finished_tasks(logging_dir, tasks):
        for metric, value in task_totals(logging_dir, rank).items():
            totals[metric] += value
    return totals


def reopen_failed_tasks(logging_dir: str, tasks: int) -> tuple[int, int]:
    """Mark the finished tasks whose generation failed for some documents as not finished, so the run does
    them again (their files are replaced when they rerun). Returns (tasks reopened, documents that failed)."""
    reopened = failed = 0
    for rank in finished_tasks(logging_dir, tasks):
        failures = int(task_totals(logging_dir, rank).get(GENERATION_FAILURES, 0))
        if failures:
            storage.remove(_marker(logging_dir, rank))
            storage.remove(_stats(logging_dir, rank))
            reopened, failed = reopened + 1, failed + failures
    return reopened, failed


def build_summary(totals: dict[str, float], tasks: int, tasks_finished: int) -> dict:
    """The account of a run: documents in = kept + dropped + errors, and what the edits did."""
    dropped = {
        metric.removeprefix(DROPPED_PREFIX): int(value)
        for metric, value in sorted(totals.items())
        if metric.startswith(DROPPED_PREFIX)
    }
    kept_by = {
        metric.removeprefix(KEPT_PREFIX): int(value)
        for metric, value in sorted(totals.items())
        if metric.startswith(KEPT_PREFIX)
    }
    summary = {name: int(totals.get(name, 0)) for name in TOTALS}
    documents_in, kept, errors = summary["documents_in"], summary["documents_out"], summary["errors"]
    return {
        "tasks": tasks,
        "tasks_finished": tasks_finished,
        "documents_in": documents_in,
        "kept": kept,
        "kept_by_decision": kept_by,
        "dropped": sum(dropped.values()),
        "dropped_by_reason": dropped,
        "errors": errors,
        "generation_failures": summary["generation_failures"],
        "accounted": tasks_finished == tasks and documents_in == kept + sum(dropped.values()) + errors,
        "lines_removed": summary["lines_removed"],
        "normalizations": summary["normalizations"],
        "program_errors": summary["program_errors"],
        "programs_cut": summary["programs_cut"],
        "chars_in": summary["chars_in"],
        "chars_out": summary["chars_out"],
        "words_in": summary["words_in"],
        "words_out": summary["words_out"],
    }


def write_summary(logging_dir: str, output: str, tasks: int) -> dict:
    finished = len(finished_tasks(logging_dir, tasks))
    summary = build_summary(step_totals(logging_dir, tasks), tasks, finished)
    storage.write_text(output, json.dumps(summary, indent=2) + "\n")
    return summary


def format_summary(summary: dict) -> str:
    """A few lines for the end of a run."""
    reasons = ", ".join(f"{reason} {count}" for reason, count in summary["dropped_by_reason"].items()) or "none"
    kept_share = summary["kept"] / summary["documents_in"] if summary["documents_in"] else 0.0
    chars_share = summary["chars_out"] / summary["chars_in"] if summary["chars_in"] else 0.0
    lines = [
        f"documents: {summary['documents_in']} in, {summary['kept']} kept ({kept_share:.0%}), "
        f"{summary['dropped']} dropped, {summary['errors']} errors",
        f"dropped by reason: {reasons}",
        f"edits: {summary['lines_removed']} lines removed, {summary['normalizations']} normalizations, "
        f"{summary['program_errors']} program errors",
        f"characters: {summary['chars_in']:,} in, {summary['chars_out']:,} out ({chars_share:.0%})",
    ]
    if summary["generation_failures"]:
        lines.append(
            f"generation failed for {summary['generation_failures']} documents (set aside in OUT/errors); run the "
            "same command with --retry-errors to retry them"
        )
    if summary["programs_cut"]:
        lines.append(f"{summary['programs_cut']} program texts were longer than prox stores and were cut")
    if summary["tasks_finished"] < summary["tasks"]:
        lines.append(
            f"only {summary['tasks_finished']} of {summary['tasks']} tasks have finished; run the same command "
            "again to finish the others"
        )
    elif not summary["accounted"]:
        lines.append("WARNING: documents in != kept + dropped + errors; please report this as a bug")
    return "\n".join(lines)
