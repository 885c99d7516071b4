"""Assemble a refining (or replay) pipeline from settings and run it on a datatrove executor.

OUT layout: refined documents in OUT, dropped ones in OUT/dropped, bad ones in OUT/errors, datatrove's
logs, per-task stats and completion markers in OUT/logs (which is what makes a re-run resume), the run
manifest in OUT/logs/prox-run.json (a rerun resumes only with the same settings), and the summed account
in OUT/stats.json.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from datatrove.pipeline.base import PipelineStep

from prox import storage
from prox.generators import ProgramGenerator, RefinerSettings
from prox.generators.lite import LiteSettings
from prox.pipeline.attempts import ClearAttempt, PublishAttempt, writer_targets
from prox.pipeline.manifest import build_manifest, input_listing, prepare_output
from prox.pipeline.outputs import OutputFormat, document_writer, errors_writer
from prox.pipeline.readers import InputFiles, ProxJsonlReader, ProxParquetReader, find_inputs
from prox.pipeline.stages import DEFAULT_BATCH_SIZE, AccountInput, ChunkStage, DocStage, ReplayStage, TallyKept
from prox.pipeline.summary import reopen_failed_tasks, write_summary
from prox.program import get_policy
from prox.records.files import document_files
from prox.records.layouts import Layout, replay_record

Executor = Literal["local", "slurm", "ray"]
STAGES = ("doc", "chunk")
DEFAULT_MAX_DOC_CHARS = 10_000_000
# With no --tasks, a run has one task per input file, up to this many (a task reads whole files).
DEFAULT_MAX_TASKS = 256
# A run whose generation failed for more than this share of its documents exits non-zero.
DEFAULT_MAX_ERROR_RATE = 0.01


@dataclass(frozen=True)
class ClusterSettings:
    """Where tasks run on a cluster: the Slurm partition and time limit, each task's resources (Slurm and Ray)."""

    partition: str = "cpu"
    time: str = "24:00:00"
    cpus_per_task: int = 1
    gpus_per_task: int = 0
    mem_per_cpu_gb: int = 2
    venv_path: str | None = None  # the venv's bin/activate, sourced in each Slurm job

    def __post_init__(self) -> None:
        for name in ("cpus_per_task", "mem_per_cpu_gb"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if self.gpus_per_task < 0:
            raise ValueError("--gpus-per-task must be 0 or more")


@dataclass
class RunSettings:
    """Everything `prox refine` and `prox execute` need, with the CLI's defaults."""

    inputs: list[str]
    output: str
    refiner: RefinerSettings = field(default_factory=LiteSettings)
    stages: tuple[str, ...] = STAGES
    policy: str = "release"
    output_format: OutputFormat = "jsonl"
    layout: Layout = "prox"
    text_key: str = "text"
    id_key: str = "id"
    # None: one task per input file, at most DEFAULT_MAX_TASKS (see `resolve_tasks`).
    tasks: int | None = None
    # None: locally min(tasks, CPUs); on Slurm and Ray, all tasks at once (the scheduler decides).
    workers: int | None = None
    executor: Executor = "local"
    batch_size: int = DEFAULT_BATCH_SIZE
    chunk_budget: int | None = None
    max_doc_chars: int = DEFAULT_MAX_DOC_CHARS
    progress: bool = False
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    # Clear an earlier run in OUT first instead of resuming it.
    overwrite: bool = False
    # Run again the tasks whose documents' generation failed (LM answers already received are cached).
    retry_errors: bool = False
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE

    def manifest_settings(self) -> dict:
        """The settings that decide this run's output (besides the refiner and the inputs)."""
        return {
            "policy": self.policy,
            "stages": list(self.stages),
            "tasks": self.tasks,
            "layout": self.layout,
            "output_format": self.output_format,
            "text_key": self.text_key,
            "id_key": self.id_key,
            "max_doc_chars": self.max_doc_chars,
            "chunk_budget": self.chunk_budget,
        }

    @property
    def logging_dir(self) -> str:
        return storage.join(self.output, "logs")


def resolve_tasks(settings: RunSettings, files: InputFiles) -> None:
    """Fill in the default task and worker counts (`task_counts`)."""
    local = settings.executor == "local"
    settings.tasks, settings.workers = task_counts(files.count, settings.tasks, settings.workers, local)


def task_counts(files: int, tasks: int | None, workers: int | None, local: bool = True) -> tuple[int, int]:
    """The tasks and workers of a run over `files` input files, defaults filled in: a task per input file (up to
    DEFAULT_MAX_TASKS), locally run on every CPU (on a cluster all at once: -1)."""
    if tasks is None:
        tasks = max(1, min(files, DEFAULT_MAX_TASKS))
    if workers is None:
        workers = min(tasks, os.cpu_count() or 1) if local else -1
    return tasks, workers


def check_output(output: str) -> None:
    """Fail early, with what to do, when OUT cannot be written (a local folder or a URL)."""
    probe = storage.join(output, ".prox-write-test")
    try:
        storage.write_text(probe, "")
        storage.remove(probe)
    except OSError as error:
        if storage.is_remote(output):
            raise ValueError(f"cannot write to {storage.explain(output, error)}") from None
        raise ValueError(f"cannot write to {output} ({error.strerror}); choose another -o folder") from None
    except Exception as error:  # a remote store's client raises its own kinds (no bucket, no credentials)
        raise ValueError(f"cannot write to {storage.explain(output, error)}") from None


def readers(settings: RunSettings, files: InputFiles, replay: bool = False) -> list[PipelineStep]:
    """One reader per input format; each lists its files in OUT/logs so every task sees the same list."""
    steps: list[PipelineStep] = []
    common = {
        "text_key": settings.text_key,
        "id_key": settings.id_key,
        "max_chars": settings.max_doc_chars,
        "doc_progress": settings.progress,
    }
    if replay:
        common |= {"text_key": "text", "id_key": "id", "transform": replay_record}
    for name, reader_class, paths in (
        ("jsonl", ProxJsonlReader, files.jsonl),
        ("parquet", ProxParquetReader, files.parquet),
    ):
        if not paths:
            continue
        paths_file = storage.join(settings.logging_dir, f"inputs-{name}.txt")
        storage.write_text(paths_file, "".join(f"{path}\n" for path in paths))
        steps.append(reader_class(files.root, paths_file=paths_file, **common))
    return steps


def refine_pipeline(settings: RunSettings, generator: ProgramGenerator | None = None) -> list[PipelineStep]:
    """reader(s) → account input → doc stage → chunk stage → tally → writer; `generator` overrides
    `settings.refiner` (for generators built in code)."""
    unknown = set(settings.stages) - set(STAGES)
    if unknown or not settings.stages:
        raise ValueError(f"--stages takes doc, chunk or doc,chunk; got {','.join(settings.stages) or 'nothing'}")
    policy = get_policy(settings.policy)
    files = find_inputs(settings.inputs, exclude=settings.output)
    resolve_tasks(settings, files)
    generator = generator or settings.refiner.for_stages(settings.stages).for_output(settings.logging_dir).build()
    refiner = {"refiner": generator.describe()}
    manifest = build_manifest("refine", refiner | settings.manifest_settings(), input_listing(files))
    prepare_output(settings.output, manifest, settings.overwrite)
    out = settings.output
    steps = readers(settings, files)
    dropped, errors = storage.join(out, "dropped"), storage.join(out, "errors")
    steps.append(AccountInput(errors_writer=errors_writer(errors, "read_")))
    if "doc" in settings.stages:
        steps.append(
            DocStage(
                generator,
                policy,
                dropped_writer=document_writer(dropped, "doc_", settings.output_format, settings.layout),
                errors_writer=errors_writer(errors, "doc_"),
                batch_size=settings.batch_size,
            )
        )
    if "chunk" in settings.stages:
        steps.append(
            ChunkStage(
                generator,
                policy,
                dropped_writer=document_writer(dropped, "chunk_", settings.output_format, settings.layout),
                errors_writer=errors_writer(errors, "chunk_"),
                batch_size=settings.batch_size,
                chunk_budget=settings.chunk_budget,
            )
        )
    steps[-1].closes_generator = True  # the last stage that uses the generator frees it
    steps.append(TallyKept())
    steps.append(document_writer(out, "", settings.output_format, settings.layout))
    return _with_attempts(steps)


def _with_attempts(steps: list[PipelineStep]) -> list[PipelineStep]:
    """The steps between one that clears a killed attempt's files and one that publishes this attempt's."""
    targets = writer_targets(steps)
    return [ClearAttempt(targets), *steps, PublishAttempt(targets)]


def replay_pipeline(settings: RunSettings) -> list[PipelineStep]:
    """Recorded programs of an earlier run (its kept and dropped documents) re-executed under a policy."""
    source = settings.inputs[0]
    if not storage.is_dir(storage.join(source, "logs")):
        raise ValueError(f"{source} is not a prox refine output folder (no logs/ inside)")
    documents = document_files(source)
    if not documents:
        raise ValueError(f"{source} holds no refined or dropped documents to replay")
    files = find_inputs(documents)
    resolve_tasks(settings, files)
    # Replays of one source folder share a root; a different source is a different run.
    located = source if storage.is_remote(source) else str(Path(source).resolve())
    settings_now = {"source": located} | settings.manifest_settings()
    prepare_output(settings.output, build_manifest("execute", settings_now, input_listing(files)), settings.overwrite)
    out = settings.output
    dropped, errors = storage.join(out, "dropped"), storage.join(out, "errors")
    steps = readers(settings, files, replay=True)
    steps.append(AccountInput(errors_writer=errors_writer(errors, "read_")))
    steps.append(
        ReplayStage(
            get_policy(settings.policy),
            dropped_writer=document_writer(dropped, "replay_", settings.output_format, settings.layout),
            errors_writer=errors_writer(errors, "replay_"),
        )
    )
    steps.append(TallyKept())
    steps.append(document_writer(out, "", settings.output_format, settings.layout))
    return _with_attempts(steps)


def make_executor(pipeline: list[PipelineStep], settings: RunSettings):  # noqa: ANN201 - a datatrove executor
    """The datatrove executor for `settings.executor`."""
    storage.filesystem(settings.logging_dir)  # a fresh listing of the completion markers, not a cached one
    if settings.executor == "local":
        return local_executor(pipeline, settings.tasks, settings.workers, settings.logging_dir)
    if settings.executor == "ray":
        try:
            import ray
        except ImportError:
            raise ValueError("--executor ray needs Ray: pip install 'prox[ray]'") from None
        from datatrove.executor.ray import RayPipelineExecutor

        if not ray.is_initialized():
            # Joins the cluster named by RAY_ADDRESS (or a running local one), else starts a local cluster.
            ray.init(log_to_driver=False)
        return RayPipelineExecutor(
            pipeline,
            tasks=settings.tasks,
            workers=settings.workers,
            logging_dir=settings.logging_dir,
            cpus_per_task=settings.cluster.cpus_per_task,
            gpus_per_task=settings.cluster.gpus_per_task,
            mem_per_cpu_gb=settings.cluster.mem_per_cpu_gb,
        )
    if settings.executor == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        options = {"job_name": "prox-refine"} | asdict(settings.cluster)
        return SlurmPipelineExecutor(
            pipeline, tasks=settings.tasks, workers=settings.workers, logging_dir=settings.logging_dir, **options
        )
    raise ValueError(f"unknown executor {settings.executor!r}; choose local, slurm or ray")


def local_executor(pipeline: list[PipelineStep], tasks: int, workers: int, logging_dir: str):  # noqa: ANN201
    """datatrove's local executor: `workers` processes (forked, on Linux) run the `tasks` tasks."""
    from datatrove.executor import LocalPipelineExecutor

    storage.filesystem(logging_dir)  # a fresh listing of the completion markers, not a cached one
    return LocalPipelineExecutor(
        pipeline,
        tasks=tasks,
        workers=workers,
        logging_dir=logging_dir,
        start_method="fork" if sys.platform.startswith("linux") else "spawn",
    )


def run(pipeline: list[PipelineStep], settings: RunSettings) -> dict:
    """Run the pipeline to completion (skipping tasks finished by an earlier run) and write OUT/stats.json."""
    if settings.retry_errors:
        reopen_failed_tasks(settings.logging_dir, settings.tasks)
    make_executor(pipeline, settings).run()
    return summarize(settings)


def summarize(settings: RunSettings) -> dict:
    """Write OUT/stats.json from the finished tasks of this run's configuration."""
    return write_summary(settings.logging_dir, storage.join(settings.output, "stats.json"), settings.tasks)
