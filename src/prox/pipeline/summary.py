"""`OUT/stats.json`: the per-task datatrove stats of a run, added up into one account of every document."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

_TOTALS = (
    "documents_in",
    "documents_out",
    "errors",
    "chars_in",
    "chars_out",
    "words_in",
    "words_out",
    "lines_removed",
    "normalizations",
    "program_errors",
)


def step_totals(logging_dir: str | Path) -> dict[str, float]:
    """Every metric of every task (completed ones from earlier, resumed runs too), summed over steps."""
    totals: dict[str, float] = defaultdict(float)
    for path in sorted(Path(logging_dir, "stats").glob("*.json")):
        for step in json.loads(path.read_text()):  # datatrove's PipelineStats.to_json layout
            for metric, value in step.get("stats", {}).items():
                totals[metric] += value.get("total", 0) if isinstance(value, dict) else value
    return totals


def build_summary(totals: dict[str, float]) -> dict:
    """The account of a run: documents in = kept + dropped + errors, and what the edits did."""
    dropped = {
        metric.removeprefix("dropped_"): int(value)
        for metric, value in sorted(totals.items())
        if metric.startswith("dropped_")
    }
    kept_by = {
        metric.removeprefix("kept_"): int(value)
        for metric, value in sorted(totals.items())
        if metric.startswith("kept_")
    }
    summary = {name: int(totals.get(name, 0)) for name in _TOTALS}
    documents_in, kept, errors = summary["documents_in"], summary["documents_out"], summary["errors"]
    return {
        "documents_in": documents_in,
        "kept": kept,
        "kept_by_decision": kept_by,
        "dropped": sum(dropped.values()),
        "dropped_by_reason": dropped,
        "errors": errors,
        "accounted": documents_in == kept + sum(dropped.values()) + errors,
        "lines_removed": summary["lines_removed"],
        "normalizations": summary["normalizations"],
        "program_errors": summary["program_errors"],
        "chars_in": summary["chars_in"],
        "chars_out": summary["chars_out"],
        "words_in": summary["words_in"],
        "words_out": summary["words_out"],
    }


def write_summary(logging_dir: str | Path, output: str | Path) -> dict:
    summary = build_summary(step_totals(logging_dir))
    Path(output).write_text(json.dumps(summary, indent=2) + "\n")
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
    if not summary["accounted"]:
        lines.append("WARNING: documents in != kept + dropped + errors; please report this as a bug")
    return "\n".join(lines)
