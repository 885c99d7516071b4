"""`prox verify OUT`: check from what is on disk that every input record ended exactly once in OUT.

The inputs listed in the run manifest are read again with the run's own readers; each record (bad ones
included) has a position, `file:line`, that the run stored with it (`metadata.prox.source` in refined and
dropped records, `source` in error records). Every expected position must appear exactly once across
OUT, OUT/dropped and OUT/errors, every output file must decode to its end, no task may be unfinished and
no `.part` file of a killed attempt may be left.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prox import storage
from prox.pipeline.manifest import read_manifest
from prox.pipeline.readers import ProxJsonlReader, ProxParquetReader
from prox.pipeline.summary import finished_tasks
from prox.records.errors import source_of
from prox.records.files import PART_SUFFIX, output_files
from prox.records.layouts import record_metadata, replay_record
from prox.records.metadata import PROX_KEY
from prox.records.reading import BadRecord, read_records

_SHOWN = 5  # positions listed per kind of problem


@dataclass
class Verification:
    """What `verify_output` found: counts per place and the problems, none when OUT is whole."""

    expected: int = 0
    found: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_output(output: str | Path) -> Verification:
    """Check OUT (a local folder or a URL) against its manifest's inputs; never raises for damaged outputs
    (they are problems)."""
    out = str(output)
    manifest = read_manifest(out)
    if manifest is None:
        raise ValueError(f"{out} has no logs/prox-run.json: not a prox output folder, or made by an older prox")
    result = Verification()
    finished = finished_tasks(storage.join(out, "logs"), manifest["tasks"])
    missing_tasks = sorted(set(range(manifest["tasks"])) - set(finished))
    if missing_tasks:
        result.problems.append(f"{len(missing_tasks)} tasks not finished (first: {missing_tasks[0]})")
    leftovers = [_relative(location, out) for location in storage.list_tree(out) if location.endswith(PART_SUFFIX)]
    if leftovers:
        result.problems.append(f"{len(leftovers)} unfinished files of killed attempts: {', '.join(leftovers[:3])}")

    expected = Counter(_input_positions(manifest))
    result.expected = sum(expected.values())
    found: Counter[str] = Counter()
    for place, folder in (
        ("kept", out),
        ("dropped", storage.join(out, "dropped")),
        ("errors", storage.join(out, "errors")),
    ):
        count = 0
        for path in output_files(folder):
            for record in read_records(path):
                if isinstance(record, BadRecord):  # a damaged output file is a finding, not a crash
                    result.problems.append(f"{_relative(record.file, out)}:{record.line}: {record.reason}")
                    continue
                found[_position(record.data, place)] += 1
                count += 1
        result.found[place] = count

    missing = sorted((expected - found).elements())
    extra = found - expected
    duplicated = sorted(position for position in extra if position in expected)
    unknown = sorted(position for position in extra if position not in expected)
    for label, positions in (
        ("input records missing from OUT", missing),
        ("input records in OUT more than once", duplicated),
        ("records in OUT that are not from the inputs", unknown),
    ):
        if positions:
            shown = ", ".join(positions[:_SHOWN]) + (" …" if len(positions) > _SHOWN else "")
            result.problems.append(f"{len(positions)} {label}: {shown}")
    return result


def _input_positions(manifest: dict) -> Iterator[str]:
    """The position of every input record (bad ones included), read with the run's own readers."""
    inputs = manifest["inputs"]
    options = {
        "text_key": manifest.get("text_key", "text"),
        "id_key": manifest.get("id_key", "id"),
        "max_chars": manifest.get("max_doc_chars", 10_000_000),
    }
    if manifest.get("command") == "execute":
        options |= {"text_key": "text", "id_key": "id", "transform": replay_record}
    readers = {
        "jsonl": ProxJsonlReader(inputs["root"], paths_file=None, **options),
        "parquet": ProxParquetReader(inputs["root"], paths_file=None, **options),
    }
    # The readers name each bad record on stderr as they meet it; the run has said that already.
    with contextlib.redirect_stderr(io.StringIO()):
        for item in inputs["files"]:
            for document in readers[item["format"]].read_file(item["path"]):
                yield source_of(document)


def _relative(location: str, out: str) -> str:
    return location[len(out) :].lstrip("/") if location.startswith(out) else location


def _position(record: object, place: str) -> str:
    if not isinstance(record, dict):
        return f"(not a record: {str(record)[:40]})"
    if place == "errors":
        return str(record.get("source"))
    prox = record_metadata(record).get(PROX_KEY) or {}
    return str(prox.get("source", record.get("id")))


def format_verification(output: str | Path, result: Verification) -> str:
    counts = ", ".join(f"{count:,} {place}" for place, count in result.found.items())
    if result.ok:
        return f"{output}: verified: {result.expected:,} input records, each exactly once ({counts})"
    lines = [f"{output}: NOT verified: {result.expected:,} input records; found {counts}"]
    lines.extend(f"  - {problem}" for problem in result.problems)
    return "\n".join(lines)
