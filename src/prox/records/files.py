"""Which files of a `prox refine` or `prox execute` output folder are the run's data.

Refined documents lie in OUT, dropped ones in OUT/dropped and error records in OUT/errors, as `.jsonl.gz` or
`.parquet` files. A task writes each file under a temporary name (`PART_SUFFIX` appended) and renames it once
the task has finished, so a `.part` file, or any other name, is never output.
"""

from __future__ import annotations

from pathlib import Path

from prox.storage import join, list_folder

# What a finished task's data files end with; a task's unfinished files carry PART_SUFFIX after that.
OUTPUT_SUFFIXES = (".jsonl.gz", ".parquet")
PART_SUFFIX = ".part"


def is_output_file(name: str) -> bool:
    """Whether a file name is a finished data file of a run (not a task's unfinished `.part` file)."""
    return name.endswith(OUTPUT_SUFFIXES)


def output_files(folder: str | Path) -> list[str]:
    """The finished data files directly in one folder of a run (a local path or a URL), sorted; none when there
    is no such folder."""
    return [location for location in list_folder(str(folder)) if is_output_file(location)]


def document_files(output: str | Path) -> list[str]:
    """The refined, then the dropped, document files of a run's output folder, in a stable order."""
    return output_files(output) + output_files(join(str(output), "dropped"))
