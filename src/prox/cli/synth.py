"""`prox synth`: SFT data for refining models; `prox synth labels` makes it from labels that exist already,
`prox synth doc` and `prox synth chunk` from a teacher LLM's judgments."""

from __future__ import annotations

import argparse
import os
import sys
import time

from prox.chunking import DEFAULT_TOKEN_BUDGET
from prox.cli.refine import quiet_logs
from prox.pipeline.run import DEFAULT_MAX_TASKS
from prox.pipeline.synth import run_synth
from prox.synth.chunk_teacher import FEWSHOT_MAX_NEW_TOKENS, METHODS, ChunkTeacherSettings
from prox.synth.doc_teacher import DEFAULT_MAX_NEW_TOKENS, DEFAULT_SCORE_RETRIES, DocTeacherSettings
from prox.synth.fewshot import DEFAULT_MAX_REMOVED_SHARE
from prox.synth.labels import AMBIGUOUS_CHOICES, LabelSettings
from prox.synth.output import DEFAULT_RECORDS_PER_SHARD
from prox.synth.profile import available_profiles
from prox.synth.scoring import EDU_THRESHOLD, FORMAT_THRESHOLD
from prox.synth.task import SynthCommand, exit_status
from prox.synth.teacher_run import TeacherRunSettings


def add_parser(commands: argparse._SubParsersAction) -> None:
    synth = commands.add_parser(
        "synth",
        help="make SFT data for refining models (records a trainer reads)",
        description="Make SFT records for training ProX refining models: the prompts `prox refine --refiner lm` "
        "sends, each with the program the refiner should write. See docs/synth.md.",
    )
    actions = synth.add_subparsers(dest="action", metavar="ACTION", required=True)
    _add_labels(actions)
    _add_doc(actions)
    _add_chunk(actions)


def _add_labels(actions: argparse._SubParsersAction) -> None:
    labels = actions.add_parser(
        "labels",
        help="SFT records from line-labelled pages, labelled documents and prox refine outputs (no teacher LLM)",
        description="SFT records without a teacher LLM. SOURCE is a file of line-labelled pages (records with "
        "`lines` and `labels`: chunk records, each chunk's runs of lines labelled 0 as remove_lines calls), a "
        "file of labelled documents (records with `text` and a 0/1 `label`: doc records, keep_doc() or drop_doc()), "
        "or the output folder of a `prox refine` run (any refiner as teacher: its recorded programs executed again). "
        "Files are JSONL (plain, .gz or .zst) or Parquet; sources and OUT may be local paths or URLs. The input "
        "files are split over --tasks tasks; each writes its doc-TTTTT-NNNNN.jsonl.gz and chunk-TTTTT-NNNNN.jsonl.gz "
        "shards, OUT/rejected (each rejected example with its reason) and OUT/errors (bad input records), and "
        "OUT/stats.json adds them up. Running the same command again after an interruption resumes it (finished "
        "tasks are kept). The same input gives the same records.",
    )
    labels.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="labelled record files or prox refine output folders"
    )
    labels.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (a path or a URL)")
    _add_tokenizer_option(labels)
    labels.add_argument(
        "--stages", default="doc,chunk", help="which records to make: doc, chunk or doc,chunk (default: doc,chunk)"
    )
    labels.add_argument(
        "--chunk-budget",
        type=int,
        default=DEFAULT_TOKEN_BUDGET,
        metavar="N",
        help=f"tokens per chunk, as prox refine --chunk-budget (default: {DEFAULT_TOKEN_BUDGET})",
    )
    labels.add_argument(
        "--ambiguous",
        default="label",
        choices=AMBIGUOUS_CHOICES,
        help="lines of a labelled page whose alignment score is ambiguous (0.2 < score < 0.8): take their 0/1 "
        "label, keep them, or reject the chunks holding one (default: label)",
    )
    _add_run_options(labels, "replace an earlier synth output in OUT")
    labels.set_defaults(run=run_labels)


def run_labels(args: argparse.Namespace) -> int:
    settings = LabelSettings(
        sources=tuple(args.sources),
        output=args.output,
        tokenizer=args.tokenizer,
        stages=tuple(stage.strip() for stage in args.stages.split(",") if stage.strip()),
        chunk_budget=args.chunk_budget,
        ambiguous=args.ambiguous,
        **_run_options(args),
    )
    started = time.perf_counter()
    stats = _run(settings)
    print(f"prox synth labels: {summary(stats)} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0 if stats["accounted"] else 1


def _run(settings: SynthCommand) -> dict:
    quiet_logs(verbose=False)
    return run_synth(settings)


def summary(stats: dict) -> str:
    """One line: what was written, rejected and bad."""
    inputs, examples, stages = stats["inputs"], stats["examples"], stats["records_per_stage"]
    reasons = stats["rejected_inputs_by_reason"] | stats["rejected_examples_by_reason"]
    why = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items(), key=lambda item: -item[1]))
    return (
        f"wrote {examples['written']:,} records ({stages['doc']:,} doc, {stages['chunk']:,} chunk) from "
        f"{inputs['records']:,} input records; rejected {inputs['rejected']:,} input records and "
        f"{examples['rejected']:,} examples" + (f" ({why})" if why else "") + f"; {inputs['errors']:,} bad input "
        "records"
    )


_TEACHER_OUTPUT = (
    "The input files are split over --tasks tasks; each writes its {stage}-TTTTT-NNNNN.jsonl.gz shards, OUT/rejected "
    "(each rejected example or document with its reason) and OUT/errors (bad input records, and documents whose "
    "teacher requests failed), and OUT/stats.json adds them up. Each answer of the teacher is cached in "
    "OUT/logs/requests.sqlite as it arrives, so running the same command again after an interruption keeps the "
    "finished tasks and asks the teacher only what it has not answered. See docs/synth.md."
)


def _add_doc(actions: argparse._SubParsersAction) -> None:
    doc = actions.add_parser(
        "doc",
        help="doc records from a teacher LLM's educational and extraction-quality scores",
        description="Doc-stage SFT records from a teacher LLM. Each document (a JSONL or Parquet record with a "
        "`text` field) is scored by the teacher with the profile's two additive 0-5 prompts (educational value, "
        "extraction quality), through an OpenAI-compatible chat completions server; the target is keep_doc() when "
        "edu >= --edu-threshold, or edu is one less and format >= --format-threshold, else drop_doc(). A score "
        "that cannot be read is asked for again (--score-retries), then the document is rejected. "
        + _TEACHER_OUTPUT.format(stage="doc"),
    )
    _add_teacher_options(doc, str(DEFAULT_MAX_NEW_TOKENS))
    group = doc.add_argument_group("labels")
    group.add_argument(
        "--edu-threshold",
        type=int,
        default=EDU_THRESHOLD,
        metavar="N",
        help=f"keep a document whose educational score is at least N (default: {EDU_THRESHOLD})",
    )
    group.add_argument(
        "--format-threshold",
        type=int,
        default=FORMAT_THRESHOLD,
        metavar="N",
        help="... or whose educational score is one less and whose extraction-quality score is at least N "
        f"(default: {FORMAT_THRESHOLD})",
    )
    group.add_argument(
        "--score-retries",
        type=int,
        default=DEFAULT_SCORE_RETRIES,
        metavar="N",
        help="ask again, with a follow-up turn, up to N times for a score that cannot be read (missing, given twice, "
        f"out of range) before rejecting the document (default: {DEFAULT_SCORE_RETRIES})",
    )
    doc.set_defaults(run=run_doc)


def _add_chunk(actions: argparse._SubParsersAction) -> None:
    chunk = actions.add_parser(
        "chunk",
        help="chunk records from a teacher LLM: few-shot programs (ProX) or rewrites turned into programs (RefineX)",
        description="Chunk-stage SFT records from a teacher LLM, on the chunks prox refine's chunk stage makes (same "
        "chunker, --tokenizer and --chunk-budget), each shown to the teacher as the chunk stage shows it. "
        "--method fewshot asks one few-shot prompt per noise type and merges the checked programs; --method rewrite "
        "asks for the chunk with its noise deleted and derives the minimal program that reproduces it under the "
        "release policy. " + _TEACHER_OUTPUT.format(stage="chunk"),
    )
    chunk.add_argument("--method", required=True, choices=METHODS, help="required: fewshot (ProX) or rewrite (RefineX)")
    _add_teacher_options(chunk, f"fewshot {FEWSHOT_MAX_NEW_TOKENS}, rewrite twice --chunk-budget")
    group = chunk.add_argument_group("chunks")
    group.add_argument(
        "--chunk-budget",
        type=int,
        default=DEFAULT_TOKEN_BUDGET,
        metavar="N",
        help=f"tokens per chunk, as prox refine --chunk-budget (default: {DEFAULT_TOKEN_BUDGET})",
    )
    group.add_argument(
        "--max-removed-share",
        type=float,
        default=DEFAULT_MAX_REMOVED_SHARE,
        metavar="X",
        help="reject a chunk whose program removes more than this share of its words (default: "
        f"{DEFAULT_MAX_REMOVED_SHARE})",
    )
    group.add_argument(
        "--head-tail-lines",
        type=int,
        metavar="N",
        help="fewshot: trust only remove_lines calls touching the page's first or last N lines (for a teacher that "
        "over-removes)",
    )
    group.add_argument(
        "--deletions-only",
        action="store_true",
        help="rewrite: where the teacher also added, changed or reordered text, keep its plain deletions instead of "
        "rejecting the chunk",
    )
    chunk.set_defaults(run=run_chunk)


def _add_teacher_options(parser: argparse.ArgumentParser, max_new_tokens: str) -> None:
    """INPUT, OUT, the tokenizer, the teacher and the prompts: what `synth doc` and `synth chunk` share."""
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="JSONL/Parquet files (or folders of them) of documents"
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (a path or a URL)")
    _add_tokenizer_option(parser)
    teacher = parser.add_argument_group("teacher")
    teacher.add_argument(
        "--teacher-url",
        required=True,
        metavar="URL",
        help="required: the OpenAI-compatible server's base URL (vllm serve, a hosted API), e.g. "
        "http://localhost:8000/v1; requests go to URL/chat/completions",
    )
    teacher.add_argument("--teacher-model", required=True, metavar="NAME", help="required: the teacher model's name")
    teacher.add_argument("--api-key", metavar="KEY", help="API key, if the server wants one (default: $OPENAI_API_KEY)")
    teacher.add_argument(
        "--concurrency", type=int, default=16, metavar="N", help="requests in flight at once, per task (default: 16)"
    )
    teacher.add_argument(
        "--request-timeout", type=float, default=300.0, metavar="S", help="seconds per request (default: 300)"
    )
    teacher.add_argument(
        "--max-retries",
        type=int,
        default=4,
        metavar="N",
        help="retries of a request that fails (429, 5xx, timeout, dropped connection) before its document goes to "
        "OUT/errors (default: 4)",
    )
    teacher.add_argument(
        "--max-new-tokens", type=int, metavar="N", help=f"tokens per answer (default: {max_new_tokens})"
    )
    prompts = teacher.add_mutually_exclusive_group()
    prompts.add_argument(
        "--profile",
        choices=available_profiles(),
        help="the teacher's prompts: a profile shipped with prox (default: web)",
    )
    prompts.add_argument("--prompts", metavar="DIR", help="the teacher's prompts: a profile folder of your own")
    _add_run_options(parser, "replace a finished synth output in OUT (the request cache stays)")


def _add_run_options(parser: argparse.ArgumentParser, overwrite: str) -> None:
    """How the run reads and writes: what every synth command shares."""
    run = parser.add_argument_group("run")
    run.add_argument(
        "--tasks",
        type=int,
        metavar="N",
        help=f"tasks; the input files are split among them (default: one per input file, at most {DEFAULT_MAX_TASKS})",
    )
    run.add_argument("--workers", type=int, metavar="N", help="tasks run at once (default: min(tasks, CPUs))")
    run.add_argument("--limit", type=int, metavar="N", help="read at most N input records per task")
    run.add_argument(
        "--records-per-shard",
        type=int,
        default=DEFAULT_RECORDS_PER_SHARD,
        metavar="N",
        help=f"records per output shard (default: {DEFAULT_RECORDS_PER_SHARD:,})",
    )
    run.add_argument("--overwrite", action="store_true", help=overwrite)


def _run_options(args: argparse.Namespace) -> dict:
    """The settings fields of `_add_run_options`' flags."""
    return {
        "limit": args.limit,
        "records_per_shard": args.records_per_shard,
        "tasks": args.tasks,
        "workers": args.workers,
        "overwrite": args.overwrite,
        "progress": sys.stderr.isatty(),
    }


def _teacher_run(args: argparse.Namespace) -> dict:
    """The `TeacherRunSettings` fields, from the parsed flags."""
    return {
        "inputs": tuple(args.inputs),
        "output": args.output,
        "tokenizer": args.tokenizer,
        "teacher_url": args.teacher_url,
        "teacher_model": args.teacher_model,
        "api_key": args.api_key or os.environ.get("OPENAI_API_KEY") or None,
        "concurrency": args.concurrency,
        "request_timeout": args.request_timeout,
        "max_retries": args.max_retries,
        "max_new_tokens": args.max_new_tokens,
        "profile": args.profile,
        "prompts": args.prompts,
        **_run_options(args),
    }


def run_doc(args: argparse.Namespace) -> int:
    settings = DocTeacherSettings(
        **_teacher_run(args),
        edu_threshold=args.edu_threshold,
        format_threshold=args.format_threshold,
        score_retries=args.score_retries,
    )
    return _run_teacher(settings)


def run_chunk(args: argparse.Namespace) -> int:
    settings = ChunkTeacherSettings(
        **_teacher_run(args),
        method=args.method,
        chunk_budget=args.chunk_budget,
        max_removed_share=args.max_removed_share,
        head_tail_lines=args.head_tail_lines,
        deletions_only=args.deletions_only,
    )
    return _run_teacher(settings)


def _run_teacher(settings: TeacherRunSettings) -> int:
    command = settings.command
    started = time.perf_counter()
    stats = _run(settings)
    teacher = stats["teacher"]
    print(
        f"{command}: {summary(stats)}; teacher: {teacher['requests']:,} requests ({teacher['cache_hits']:,} answered "
        f"from the cache, {teacher['failed']:,} failed), {teacher['prompt_tokens']:,} tokens in, "
        f"{teacher['completion_tokens']:,} out; in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    status = exit_status(stats)
    if status and stats["inputs"]["records"] and stats["inputs"]["errors"] == stats["inputs"]["records"]:
        print(f"{command}: every input record is in OUT/errors; see the reasons there (or above)", file=sys.stderr)
    return status


def _add_tokenizer_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tokenizer",
        metavar="DIR",
        help="required: the LM refiner's tokenizer (a directory holding tokenizer.json; for the released ProX "
        "refiners, the Llama-2 tokenizer): doc prompts are cut at 2000 tokens and chunks sized with it",
    )
