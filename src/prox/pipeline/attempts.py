"""One task's attempt at its output files: cleared when the attempt starts, published when it finishes.

Writers write `{name}.part`; `PublishAttempt`, the last step, renames this task's `.part` files to their
final names once every writer before it has closed. `ClearAttempt`, the first step, removes whatever an
earlier, killed attempt of the same task left (its `.part` files, and final files if it died while
publishing). So OUT only ever holds files of finished tasks, whatever set of files each attempt wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from datatrove.data import DocumentsPipeline
from datatrove.io import DataFolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter

from prox.records.files import PART_SUFFIX

# (the writer's folder, its output file name template with `${rank}`, and `${shard}` where a task writes a
# numbered series of files)
WriterTarget = tuple[DataFolder, str]


def writer_targets(steps: Iterable[PipelineStep]) -> list[WriterTarget]:
    """Every writer among `steps` (writers, or steps holding `dropped_writer`/`errors_writer`)."""
    targets: list[WriterTarget] = []
    for step in steps:
        candidates = [step, getattr(step, "dropped_writer", None), getattr(step, "errors_writer", None)]
        for writer in candidates:
            if isinstance(writer, DiskWriter):
                targets.append((writer.output_folder, writer.output_filename.template))
    return targets


def _task_files(targets: list[WriterTarget], rank: int) -> list[tuple[DataFolder, str]]:
    """(folder, name) of each file of this task in its writers' folders, unfinished or final.

    A writer that splits large outputs prefixes a counter (`000_00003.parquet`), and a series numbers its files
    (`${shard}`), so names are matched, not built.
    """
    files = []
    for folder, template in targets:
        part = template.replace("${rank}", f"{rank:05d}")
        final = re.escape(part.removesuffix(PART_SUFFIX)).replace(re.escape("${shard}"), r"\d+")
        pattern = re.compile(rf"(\d+_)?{final}({re.escape(PART_SUFFIX)})?")
        if folder.isdir(""):
            files.extend((folder, name) for name in folder.ls("", detail=False) if pattern.fullmatch(name))
    return files


class ClearAttempt(PipelineStep):
    """First step: removes the files an earlier attempt of this task left behind."""

    type = "🧬 - PROX"
    name = "clear attempt"

    def __init__(self, targets: list[WriterTarget]):
        super().__init__()
        self.targets = targets

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for folder, name in _task_files(self.targets, rank):
            folder.rm(name)
        yield from data or ()


class PublishAttempt(PipelineStep):
    """Last step: once its input is exhausted (every writer closed), gives this task's files their final names."""

    type = "🧬 - PROX"
    name = "publish attempt"

    def __init__(self, targets: list[WriterTarget]):
        super().__init__()
        self.targets = targets

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        yield from data or ()
        for folder, name in _task_files(self.targets, rank):
            if name.endswith(PART_SUFFIX):
                folder.mv(name, name.removesuffix(PART_SUFFIX))
