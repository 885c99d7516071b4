"""`prox refine` (run refiners over a corpus) and `prox execute` (replay recorded programs, no model)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from prox.generators import GENERATORS
from prox.generators.lm import BACKENDS
from prox.pipeline.run import (
    DEFAULT_MAX_DOC_CHARS,
    DEFAULT_MAX_ERROR_RATE,
    STAGES,
    RunSettings,
    check_output,
    make_executor,
    refine_pipeline,
    replay_pipeline,
    run,
    summarize,
)
from prox.pipeline.stages import DEFAULT_BATCH_SIZE
from prox.pipeline.summary import format_summary
from prox.program import POLICIES
from prox.prompts import CHUNK_MAX_NEW_TOKENS, DOC_MAX_NEW_TOKENS

# Exit statuses beyond 0 (done) and 2 (a problem to fix before the run: options, OUT, disk full).
EXIT_UNACCOUNTED = 1  # the account does not add up, tasks are missing, or a replay read fewer records
EXIT_GENERATION_FAILED = 3  # generation failed for more than --max-error-rate of the documents

# Backend flags, by the backend they apply to: flag name -> backend option.
_BACKEND_FLAGS = {
    "transformers": {"device": "device", "dtype": "dtype"},
    "openai": {
        "base_url": "base_url",
        "api_key": "api_key",
        "concurrency": "concurrency",
        "request_timeout": "timeout",
        "max_retries": "max_retries",
    },
    "vllm": {},
}


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
    refine.add_argument("--refiner", default="lite", choices=GENERATORS, help="program generator (default: lite)")
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
    add_lite_options(refine)
    add_lm_options(refine)
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


def add_lite_options(parser: argparse.ArgumentParser) -> None:
    lite = parser.add_argument_group("lite refiner (the default)")
    lite.add_argument(
        "--lite-model",
        default=None,
        metavar="DIR",
        help="a model folder written by `prox lite train` (default: the model shipped with prox)",
    )


def add_lm_options(parser: argparse.ArgumentParser) -> None:
    lm = parser.add_argument_group("LM refiner (with --refiner lm; see docs/refine.md)")
    lm.add_argument(
        "--backend", default="transformers", choices=BACKENDS, help="what runs the models (default: transformers)"
    )
    lm.add_argument(
        "--doc-model", metavar="MODEL", help="doc-stage model: a local directory, a Hub id or a server's model name"
    )
    lm.add_argument("--chunk-model", metavar="MODEL", help="chunk-stage model (may be the same as --doc-model)")
    lm.add_argument(
        "--tokenizer", metavar="DIR", help="tokenizer for prompts and chunking (default: the chunk model's)"
    )
    lm.add_argument("--cache", metavar="PATH", help="sqlite request cache (default: OUT/logs/requests.sqlite)")
    lm.add_argument(
        "--no-doc-truncation",
        action="store_true",
        help="cut long documents, not the doc prompt, so the prompt keeps its closing [/INST] (release: truncates)",
    )
    lm.add_argument(
        "--double-bos", action="store_true", help="start chunk prompts with two BOS tokens, as the release's engine did"
    )
    lm.add_argument("--max-new-tokens-doc", type=int, default=DOC_MAX_NEW_TOKENS, help=f"default: {DOC_MAX_NEW_TOKENS}")
    lm.add_argument(
        "--max-new-tokens-chunk", type=int, default=CHUNK_MAX_NEW_TOKENS, help=f"default: {CHUNK_MAX_NEW_TOKENS}"
    )
    lm.add_argument("--device", help="transformers: torch device (default: cuda when available, else cpu)")
    lm.add_argument(
        "--dtype",
        choices=("auto", "bf16", "fp32"),
        help="transformers: weights dtype (default: auto = bf16 on GPUs with bf16 and CPUs with AMX, else fp32)",
    )
    lm.add_argument("--base-url", metavar="URL", help="openai: the server's base URL, e.g. http://localhost:8000/v1")
    lm.add_argument("--api-key", metavar="KEY", help="openai: API key, if the server wants one")
    lm.add_argument("--concurrency", type=int, metavar="N", help="openai: requests in flight at once")
    lm.add_argument("--request-timeout", type=float, metavar="S", help="openai: seconds per request")
    lm.add_argument("--max-retries", type=int, metavar="N", help="openai: retries of a failed request")


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
    parser.add_argument("--tasks", type=int, default=1, help="number of tasks (input files are split among them)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="tasks run at once (default: local min(tasks, CPUs); slurm and ray: all)",
    )
    parser.add_argument("--executor", default="local", choices=("local", "slurm", "ray"), help="default: local")
    parser.add_argument("-v", "--verbose", action="store_true", help="show datatrove's per-task logs")
    slurm = parser.add_argument_group("clusters (with --executor slurm or ray)")
    slurm.add_argument("--dry-run", action="store_true", help="slurm: print the sbatch script instead of submitting it")
    slurm.add_argument("--partition", default="cpu", help="slurm: partition (default: cpu)")
    slurm.add_argument("--time", default="24:00:00", help="slurm: time limit per job (default: 24:00:00)")
    slurm.add_argument("--cpus-per-task", type=int, default=1, help="CPUs per task (default: 1)")
    slurm.add_argument("--gpus-per-task", type=int, default=0, help="GPUs per task, one generator each (default: 0)")
    slurm.add_argument("--mem-per-cpu-gb", type=int, default=2, help="memory per CPU in GB (default: 2)")
    slurm.add_argument("--venv-path", default=None, help="slurm: the venv's bin/activate script to source in each job")


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
    workers = args.workers
    if workers is None:
        workers = min(args.tasks, os.cpu_count() or 1) if args.executor == "local" else -1
    return RunSettings(
        inputs=list(args.inputs),
        output=args.output,
        refiner=getattr(args, "refiner", "lite"),
        refiner_options=refiner_options_from_args(args, stages),
        stages=stages,
        policy=args.policy,
        output_format=args.output_format,
        layout=args.layout,
        text_key=getattr(args, "text_key", "text"),
        id_key=getattr(args, "id_key", "id"),
        tasks=args.tasks,
        workers=workers,
        executor=args.executor,
        batch_size=getattr(args, "batch_size", DEFAULT_BATCH_SIZE),
        chunk_budget=getattr(args, "chunk_budget", None),
        max_doc_chars=getattr(args, "max_doc_chars", DEFAULT_MAX_DOC_CHARS),
        progress=sys.stderr.isatty(),
        cluster={
            "partition": args.partition,
            "time": args.time,
            "cpus_per_task": args.cpus_per_task,
            "gpus_per_task": args.gpus_per_task,
            "mem_per_cpu_gb": args.mem_per_cpu_gb,
            "venv_path": args.venv_path,
        },
        overwrite=args.overwrite,
        retry_errors=getattr(args, "retry_errors", False),
        max_error_rate=max_error_rate,
    )


def refiner_options_from_args(args: argparse.Namespace, stages: tuple[str, ...]) -> dict:
    """The LM refiner's options from its flags; flags that do not apply to the chosen refiner or backend fail."""
    refiner = getattr(args, "refiner", "lite")
    lite_model = getattr(args, "lite_model", None)
    if lite_model is not None and refiner != "lite":
        raise ValueError("--lite-model applies to --refiner lite only")
    lm_flags = ("doc_model", "chunk_model", "tokenizer", "cache", "no_doc_truncation", "double_bos")
    backend_flags = [flag for flags in _BACKEND_FLAGS.values() for flag in flags]
    if refiner != "lm":
        given = [flag for flag in (*lm_flags, *backend_flags) if getattr(args, flag, None)]
        if given:
            raise ValueError(f"--{given[0].replace('_', '-')} applies to --refiner lm only")
        return {"model": lite_model} if lite_model is not None else {}
    for stage, flag in (("doc", "doc_model"), ("chunk", "chunk_model")):
        if stage in stages and not getattr(args, flag):
            raise ValueError(
                f"--refiner lm needs --{flag.replace('_', '-')} MODEL for the {stage} stage "
                "(a model directory, a Hub id or, with --backend openai, the server's model name)"
            )
    for name in ("max_new_tokens_doc", "max_new_tokens_chunk", "concurrency"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    if args.max_retries is not None and args.max_retries < 0:
        raise ValueError("--max-retries must be 0 or more")
    if args.backend == "openai" and not args.base_url:
        raise ValueError("--backend openai needs --base-url URL (the server's, e.g. http://localhost:8000/v1)")
    backend_options = {}
    for backend, flags in _BACKEND_FLAGS.items():
        for flag, option in flags.items():
            value = getattr(args, flag)
            if value is None:
                continue
            if backend != args.backend:
                raise ValueError(f"--{flag.replace('_', '-')} applies to --backend {backend} only")
            backend_options[option] = value
    options = {
        "backend": args.backend,
        "backend_options": backend_options,
        "doc_model": args.doc_model if "doc" in stages else None,
        "chunk_model": args.chunk_model if "chunk" in stages else None,
        "tokenizer": args.tokenizer,
        "truncate_doc_prompt": not args.no_doc_truncation,
        "double_bos": args.double_bos,
        "doc_max_new_tokens": args.max_new_tokens_doc,
        "chunk_max_new_tokens": args.max_new_tokens_chunk,
    }
    if args.cache:
        options["cache_path"] = args.cache
    return options


def run_refine(args: argparse.Namespace) -> int:
    settings = _settings(args)
    check_output(settings.output)
    return _run(refine_pipeline(settings), settings, args)


def run_execute(args: argparse.Namespace) -> int:
    settings = _settings(args)
    check_output(settings.output)
    status = _run(replay_pipeline(settings), settings, args)
    if status != 0 or settings.executor == "slurm":
        return status
    return _check_replay_count(settings.inputs[0], settings.output)


def _run(pipeline: list, settings: RunSettings, args: argparse.Namespace) -> int:
    _quiet_logs(args.verbose)
    if settings.executor == "slurm":
        return _run_slurm(pipeline, settings, args.dry_run)
    summary = run(pipeline, settings)
    print(format_summary(summary), file=sys.stderr)
    print(f"wrote {settings.output} (stats: {settings.output}/stats.json)", file=sys.stderr)
    return exit_status(summary, settings.max_error_rate)


def exit_status(summary: dict, max_error_rate: float) -> int:
    """0 when every document is accounted for and generation failed for few enough of them."""
    if not summary["accounted"]:
        return EXIT_UNACCOUNTED
    failures = summary["generation_failures"]
    # Documents that reached a refiner: bad input records never did.
    generated = summary["documents_in"] - (summary["errors"] - failures)
    if failures and (failures == generated or failures > max_error_rate * generated):
        print(
            f"prox: generation failed for {failures} of {generated} documents (more than --max-error-rate "
            f"{max_error_rate}); fix the refiner (is its server up?) and rerun with --retry-errors",
            file=sys.stderr,
        )
        return EXIT_GENERATION_FAILED
    return 0


def _check_replay_count(source: str, output: str) -> int:
    """A replay must read back every record the source run wrote (its kept and dropped documents)."""
    stats_path = Path(source) / "stats.json"
    if not stats_path.is_file():
        print(f"prox: {source} has no stats.json, so the replayed record count was not checked", file=sys.stderr)
        return 0
    written = json.loads(stats_path.read_text())
    expected = written.get("kept", 0) + written.get("dropped", 0)
    replayed = json.loads((Path(output) / "stats.json").read_text())
    unreadable = replayed["errors"]
    read = replayed["documents_in"] - unreadable
    if read == expected and not unreadable:
        return 0
    print(
        f"prox: read {read:,} records from {source} (and {unreadable:,} unreadable), but its stats.json says it "
        f"wrote {expected:,} (kept + dropped): {source} is damaged or incomplete; see {output}/errors",
        file=sys.stderr,
    )
    return EXIT_UNACCOUNTED


def _run_slurm(pipeline: list, settings: RunSettings, dry_run: bool) -> int:
    executor = make_executor(pipeline, settings)
    if dry_run:
        print(slurm_script(executor))
        return 0
    executor.run()
    if executor.get_incomplete_ranks():
        print(
            f"submitted Slurm job {executor.job_id}; run this command again once it has finished to write "
            f"{settings.output}/stats.json (finished tasks are not run twice)",
            file=sys.stderr,
        )
        return 0
    print(format_summary(summarize(settings)), file=sys.stderr)
    return 0


def slurm_script(executor) -> str:  # noqa: ANN001 - a datatrove SlurmPipelineExecutor
    """The sbatch script datatrove's Slurm executor would submit, without submitting it."""
    pickled = executor.logging_dir.resolve_paths("executor.pik")
    command = f"launch_pickled_pipeline {pickled}"
    if executor.with_srun:
        command = f"srun -l -n {executor.nodes_per_task} {command}"
    script = executor.get_launch_file_contents(executor.get_sbatch_args(max(1, executor.tasks)), command)
    return script + f"# dry run: nothing was submitted, and {pickled} is written only by a real submission\n"


def _quiet_logs(verbose: bool) -> None:
    """datatrove logs every step of every task; prox prints one line per problem and a summary instead."""
    from datatrove.utils.logging import logger

    if not verbose:
        logger.disable("datatrove")
        # transformers draws a "Loading weights" bar per model and task; its bars follow huggingface_hub's switch.
        with contextlib.suppress(ImportError):
            from huggingface_hub.utils import disable_progress_bars

            disable_progress_bars()
