"""Reading gold files: JSONL, plain or gzip, one record per line, with where each came from."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path


def read_records(path: str | Path) -> Iterator[tuple[str, dict]]:
    """(`file:line`, record) for each line of a .jsonl or .jsonl.gz file."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            yield f"{path}:{number}", json.loads(line)
