"""`prox refine` (run refiners over a corpus) and `prox execute` (replay recorded programs, no model)."""

from __future__ import annotations

import argparse
import contextlib
import sys

from prox.cli.options import add_cluster_options, add_refiner_options, cluster_from_args, refiner_from_args
from prox.pipeline.lifecycle import RunOutcome, check_replay_count, run_to_end
from prox.pipeline.run import (
    DEFAULT_MAX_DOC_CHARS,
    DEFAULT_MAX_ERROR_RATE,
    DEFAULT_MAX_TASKS,
    STAGES,
    RunSettings,
    check_output,
    refine_pipeline,
    replay_pipeline,
)
from prox.pipeline.stages import DEFAULT_BATCH_SIZE
from prox.program import POLICIES


def add_parsers(commands: argparse._SubParsersAction) -> None:
    refine = commands.add_parser(
        "refine",
        help="refine a corpus: doc stage (keep/drop) then chunk stage (line edits)",
        description="Refine JSONL/Parquet documents: a refiner writes a doc program (keep or drop) and chunk "
        "programs (remove lines, normalize strings) for each document; the executor runs them under a policy. "
        "OUT gets the refined documents, OUT/dropped the dropped ones with reasons, OUT/errors the bad input "
        "records, OUT/stats.json the account of every document. Re-running the same command after a crash "
        "resumes: finished tasks are skipped; a rerun with other settings stops and says what differs. "
        "Exit status: 0 done; 1 the account does not add up; 2 a problem to fix first (options, OUT, disk "
        "full); 3 generation failed for more than --max-error-rate of the documents.",
    )
    refine.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="files, globs or folders of .jsonl[.gz|.zst] / .parquet"
    )
    refine.add_argument(
        "--stages", default="doc,chunk", help="which stages to run: doc, chunk or doc,chunk (default: doc,chunk)"
    )
    refine.add_argument("--text-key", default="text", help="input field holding the text (default: text)")
    refine.add_argument(
        "--id-key", default="id", help="input field holding the id (default: id; a stable id is made when absent)"
    )
    refine.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="documents per generator call")
    refine.add_argument(
        "--chunk-budget", type=int, default=None, help="chunk size in the refiner's unit (tokens or characters)"
    )
    refine.add_argument(
        "--max-doc-chars",
        type=int,
        default=DEFAULT_MAX_DOC_CHARS,
        help=f"documents longer than this go to OUT/errors (default: {DEFAULT_MAX_DOC_CHARS:,})",
    )
    refine.add_argument(
        "--retry-errors",
        action="store_true",
        help="run again the tasks where generation failed for some documents (e.g. a server was down), folding "
        "the new results in; LM answers already received come from the request cache",
    )
    refine.add_argument(
        "--max-error-rate",
        type=float,
        default=DEFAULT_MAX_ERROR_RATE,
        metavar="SHARE",
        help="exit with status 3 when generation failed for more than this share of the documents "
        f"(default: {DEFAULT_MAX_ERROR_RATE}); bad input records do not count",
    )
    add_refiner_options(refine)
    _add_common(refine)
    refine.set_defaults(run=run_refine)

    execute = commands.add_parser(
        "execute",
        help="re-execute the programs recorded by prox refine under another policy (no model)",
        description="Replay: read OUT of an earlier `prox refine` (its refined and dropped documents), run only the "
        "executor on the recorded programs under --policy, and write a new output folder. No model runs. Exits "
        "with status 1 when fewer records were read back than the earlier run's stats.json says it wrote.",
    )
    execute.add_argument("inputs", nargs=1, metavar="OUT", help="the output folder of an earlier prox refine")
    _add_common(execute)
    execute.set_defaults(run=run_execute)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="clear an earlier run in OUT and start over (default: resume it when its settings are the same)",
    )
    parser.add_argument(
        "--policy", default="release", choices=tuple(POLICIES), help="execution policy (default: release)"
    )
    parser.add_argument("--output-format", default="jsonl", choices=("jsonl", "parquet"), help="default: jsonl (gzip)")
    parser.add_argument(
        "--layout",
        default="prox",
        choices=("prox", "prox-release"),
        help="record layout: prox (metadata.prox holds programs and decisions) or prox-release (the released "
        "ProX corpora: raw_content, doc_content, text, metadata.doc_program, metadata.chunk_program)",
    )
    parser.add_argument(
        "--tasks",
        type=int,
        default=None,
        help=f"number of tasks; input files are split among them (default: one per input file, at most "
        f"{DEFAULT_MAX_TASKS})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="tasks run at once (default: local min(tasks, CPUs); slurm and ray: all)",
    )
    parser.add_argument("--executor", default="local", choices=("local", "slurm", "ray"), help="default: local")
    parser.add_argument("-v", "--verbose", action="store_true", help="show datatrove's per-task logs")
    add_cluster_options(parser)


def _settings(args: argparse.Namespace) -> RunSettings:
    listed = tuple(stage.strip() for stage in getattr(args, "stages", "doc,chunk").split(",") if stage.strip())
    stages = listed or STAGES
    for name in ("tasks", "workers", "batch_size"):
        value = getattr(args, name, 1)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    max_error_rate = getattr(args, "max_error_rate", DEFAULT_MAX_ERROR_RATE)
    if not 0 <= max_error_rate <= 1:
        raise ValueError(f"--max-error-rate takes a share between 0 and 1, got {max_error_rate}")
    settings = RunSettings(
        inputs=list(args.inputs),
        output=args.output,
        stages=stages,
        policy=args.policy,
        output_format=args.output_format,
        layout=args.layout,
        text_key=getattr(args, "text_key", "text"),
        id_key=getattr(args, "id_key", "id"),
        tasks=args.tasks,
        workers=args.workers,
        executor=args.executor,
        batch_size=getattr(args, "batch_size", DEFAULT_BATCH_SIZE),
        chunk_budget=getattr(args, "chunk_budget", None),
        max_doc_chars=getattr(args, "max_doc_chars", DEFAULT_MAX_DOC_CHARS),
        progress=sys.stderr.isatty(),
        cluster=cluster_from_args(args),
        overwrite=args.overwrite,
        retry_errors=getattr(args, "retry_errors", False),
        max_error_rate=max_error_rate,
    )
    if hasattr(args, "refiner"):
        settings.refiner = refiner_from_args(args, stages)
    return settings


def run_refine(args: argparse.Namespace) -> int:
    settings = _settings(args)
    check_output(settings.output)
    quiet_logs(args.verbose)
    return _report(run_to_end(refine_pipeline(settings), settings, args.dry_run))


def run_execute(args: argparse.Namespace) -> int:
    settings = _settings(args)
    check_output(settings.output)
    quiet_logs(args.verbose)
    outcome = _report(run_to_end(replay_pipeline(settings), settings, args.dry_run))
    if outcome != 0 or settings.executor == "slurm":
        return outcome
    return _report(check_replay_count(settings.inputs[0], settings.output))


def _report(outcome: RunOutcome) -> int:
    """Print how the run ended (the sbatch script of a dry run on stdout, the rest on stderr); its exit status."""
    if outcome.stdout:
        print(outcome.stdout)
    if report := outcome.report():
        print(report, file=sys.stderr)
    return outcome.status


def quiet_logs(verbose: bool) -> None:
    """datatrove logs every step of every task; prox prints one line per problem and a summary instead."""
    from datatrove.utils.logging import logger

    if not verbose:
        logger.disable("datatrove")
        # transformers draws a "Loading weights" bar per model and task; its bars follow huggingface_hub's switch.
        with contextlib.suppress(ImportError):
            from huggingface_hub.utils import disable_progress_bars

            disable_progress_bars()
