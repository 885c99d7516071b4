"""The output folder of a synth command, and its account; the same input gives the same bytes.

A run's tasks each write their own files (task number TTTTT, then shard number NNNNN):
- `OUT/doc-TTTTT-NNNNN.jsonl.gz`, `OUT/chunk-TTTTT-NNNNN.jsonl.gz`: the SFT records of each stage (`records.py`),
  in the order of the task's input records, `records_per_shard` to a shard, so one stage's shards load as one
  table (`OUT/chunk-*.jsonl.gz`).
- `OUT/rejected/rejected-TTTTT-NNNNN.jsonl.gz`: each rejected example (the record it would have been) and each
  input record that made none, with `kind` ("example" or "input"), `reason` (a short name) and `detail`.
- `OUT/errors/errors-TTTTT-NNNNN.jsonl.gz`: bad input records, as `prox refine` writes them (`id`, `source`,
  `reason`, `text`).
A task writes each file under its unfinished name (`PART_SUFFIX` appended); the run renames the task's files
when the task has finished, and removes what a killed attempt left (`prox.pipeline.attempts`).

Each task counts what it wrote (`SynthOutput.counts`); the run adds the tasks' counts up and `account` turns the
sum into `OUT/stats.json`'s account: input records = accepted + rejected + errors; examples made = written +
rejected; records per stage and per source; doc keep/drop balance; what the chunk targets do.

A record whose rendered prompt the task wrote before (same stage, byte-identical prompt) is rejected as
`duplicate_prompt`: the first one written wins, so list the most trusted source first. Shards are gzip with
mtime 0 and no file name inside, records are serialized by orjson, and nothing in the account depends on the
clock.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import BinaryIO

import orjson

from prox.program import Normalize, RemoveLines, execute_doc_program, parse_program
from prox.records.errors import error_document, error_record
from prox.records.files import PART_SUFFIX
from prox.records.programs import removed_lines
from prox.storage import filesystem, is_remote, join
from prox.synth.records import STAGES, render_prompt

DEFAULT_RECORDS_PER_SHARD = 10_000
STATS_FILE = "stats.json"
REJECTED_FOLDER = "rejected"
ERRORS_FOLDER = "errors"
DUPLICATE_PROMPT = "duplicate_prompt"
_COMPRESSION_LEVEL = 6
# A shard's name; `task` and `shard` are five-digit numbers, or `${rank}` and `${shard}` in a name template.
_SHARD_NAME = "{series}-{task}-{shard}.jsonl.gz" + PART_SUFFIX
# (folder under OUT, series) of every shard series a task writes.
_SERIES = (("", "doc"), ("", "chunk"), (REJECTED_FOLDER, "rejected"), (ERRORS_FOLDER, "errors"))
# A count's key names what it counts: ("source", origin, field), ("rejected_input", reason), ...
CountKey = tuple[str, ...]


def task_file_names() -> list[tuple[str, str]]:
    """(folder under OUT, name template) of every shard series a task writes, with `${rank}` for the task and
    `${shard}` for the shard number, under the unfinished names."""
    return [(folder, _SHARD_NAME.format(series=series, task="${rank}", shard="${shard}")) for folder, series in _SERIES]


class ShardWriter:
    """One task's JSONL.gz shards `SERIES-TTTTT-00000.jsonl.gz.part`, ... in a folder (a path or a URL),
    `per_shard` records each, opened on the first record."""

    def __init__(self, folder: str, series: str, task: int, per_shard: int = DEFAULT_RECORDS_PER_SHARD):
        if per_shard < 1:
            raise ValueError(f"records per shard must be at least 1, got {per_shard}")
        self.folder, self.series, self.task, self.per_shard = folder, series, task, per_shard
        self.shards = 0
        self.in_shard = 0
        self._raw: BinaryIO | None = None
        self._gzip: gzip.GzipFile | None = None

    def write(self, record: dict) -> None:
        if self._gzip is None or self.in_shard == self.per_shard:
            self._open_next()
        assert self._gzip is not None
        self._gzip.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        self.in_shard += 1

    def close(self) -> None:
        if self._gzip is not None:
            self._gzip.close()
        if self._raw is not None:
            self._raw.close()
        self._gzip = self._raw = None

    def _open_next(self) -> None:
        self.close()
        name = _SHARD_NAME.format(series=self.series, task=f"{self.task:05d}", shard=f"{self.shards:05d}")
        location = join(self.folder, name)
        fs, path = filesystem(location)
        if not is_remote(location):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._raw = fs.open(path, "wb")
        # No file name and mtime 0 in the gzip header: the same records give the same bytes.
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=_COMPRESSION_LEVEL)
        self.shards += 1
        self.in_shard = 0


class SynthOutput:
    """One task's files in OUT: writes records, rejections and errors, and counts them per source.

    Every input record ends in exactly one of `input_accepted` (it made examples, each then `offer`ed or
    `reject`ed), `input_rejected` or `input_error`; `close` finishes the files and returns the counts.
    """

    def __init__(self, location: str, task: int = 0, records_per_shard: int = DEFAULT_RECORDS_PER_SHARD):
        self.location = location
        self.records = {stage: ShardWriter(location, stage, task, records_per_shard) for stage in STAGES}
        self.rejected = ShardWriter(join(location, REJECTED_FOLDER), "rejected", task, records_per_shard)
        self.errors = ShardWriter(join(location, ERRORS_FOLDER), "errors", task, records_per_shard)
        self.counts: Counter[CountKey] = Counter()
        self._prompts: dict[bytes, tuple[str, str]] = {}

    def count(self, *key: str, value: float = 1) -> None:
        """Add to one of the task's counts (a command's own: teacher requests, scores given, ...)."""
        self.counts[key] += value

    def input_accepted(self, origin: str) -> None:
        self._per_source(origin, "records", "accepted")

    def input_rejected(self, origin: str, item: dict, reason: str, detail: str) -> None:
        """An input record that makes no example; `item` names it (`source`, `id`)."""
        self._per_source(origin, "records", "rejected")
        self.count("rejected_input", reason)
        self.rejected.write({"kind": "input", "reason": reason, "detail": detail, **item})

    def input_error(self, origin: str, where: str, reason: str, raw: str) -> None:
        """A bad input record: written to OUT/errors and said on stderr, one line."""
        self._per_source(origin, "records", "errors")
        self.errors.write(error_record(error_document(where, reason, raw)))

    def offer(self, origin: str, record: dict) -> bool:
        """Write the record, unless its prompt was written before (then it is rejected); whether it was written."""
        prompt = render_prompt(record)
        program = record["messages"][2]["content"]
        key = hashlib.blake2b(f"{record['stage']}\0{prompt}".encode(), digest_size=16).digest()
        if key in self._prompts:
            first, first_program = self._prompts[key]
            target = "the same target" if program == first_program else f"another target: {first_program!r}"
            self.reject(origin, record, DUPLICATE_PROMPT, f"the prompt of {first}, written before, with {target}")
            return False
        self._prompts[key] = (str(record["id"]), program)
        self.records[record["stage"]].write(record)
        self._per_source(origin, record["stage"])
        self._describe_target(record, program)
        return True

    def reject(self, origin: str, record: dict, reason: str, detail: str) -> None:
        """An example that is not written: the record it would have been goes to OUT/rejected with the reason."""
        self._per_source(origin, "rejected_examples")
        self.count("rejected_example", reason)
        self.rejected.write({"kind": "example", "reason": reason, "detail": detail, **record})

    def close(self) -> Counter[CountKey]:
        """Finish the files; the task's counts."""
        for writer in (*self.records.values(), self.rejected, self.errors):
            writer.close()
        return self.counts

    def _per_source(self, origin: str, *fields: str) -> None:
        for name in fields:
            self.count("source", origin, name)

    def _describe_target(self, record: dict, program: str) -> None:
        parsed = parse_program(program)
        if record["stage"] == "doc":
            self.count("doc_label", "keep" if execute_doc_program(parsed).keep else "drop")
            self.count("doc_prompt_truncated", value=bool(record.get("prompt_truncated")))
            return
        first, last = record["first_line"], record["last_line"]
        removals, normalizations = parsed.of_type(RemoveLines), parsed.of_type(Normalize)
        removed = removed_lines(parsed, first, last)
        self.count("chunk_target", "with_edits" if removals or normalizations else "keep_chunk")
        self.count("chunk_target", "remove_lines_calls", value=len(removals))
        self.count("chunk_target", "normalize_calls", value=len(normalizations))
        self.count("removed_share_sum", value=len(removed) / (last - first + 1))


_SOURCE_FIELDS = ("records", "accepted", "rejected", "errors", "doc", "chunk", "rejected_examples")
_CHUNK_TARGETS = ("keep_chunk", "with_edits", "remove_lines_calls", "normalize_calls")


def account(counts: Mapping[CountKey, float], sources: Iterable[str]) -> dict:
    """The account of a run from its tasks' summed counts: every source is listed, counted or not."""
    per_source: dict[str, Counter] = {source: Counter() for source in sources}
    for key, value in counts.items():
        if key[0] == "source":
            per_source.setdefault(key[1], Counter())[key[2]] += int(value)
    total: Counter = Counter()
    for source_counts in per_source.values():
        total.update(source_counts)
    rejected_inputs = _named(counts, "rejected_input")
    rejected_examples = _named(counts, "rejected_example")
    inputs = {name: total[name] for name in ("records", "accepted", "rejected", "errors")}
    written = {stage: total[stage] for stage in STAGES}
    examples = {
        "made": sum(written.values()) + total["rejected_examples"],
        "written": sum(written.values()),
        "rejected": total["rejected_examples"],
    }
    chunk_targets: dict[str, float | int] = {
        name: int(counts.get(("chunk_target", name), 0)) for name in _CHUNK_TARGETS
    }
    removed_share_sum = counts.get(("removed_share_sum",), 0.0)
    chunk_targets["mean_removed_share"] = round(removed_share_sum / written["chunk"], 6) if written["chunk"] else 0.0
    return {
        "inputs": inputs,
        "examples": examples,
        "accounted": inputs["records"] == inputs["accepted"] + inputs["rejected"] + inputs["errors"]
        and examples["rejected"] == sum(rejected_examples.values())
        and inputs["rejected"] == sum(rejected_inputs.values()),
        "rejected_inputs_by_reason": rejected_inputs,
        "rejected_examples_by_reason": rejected_examples,
        "records_per_stage": written,
        "records_per_source": {
            origin: {name: source_counts[name] for name in _SOURCE_FIELDS}
            for origin, source_counts in per_source.items()
        },
        "doc_labels": {label: int(counts.get(("doc_label", label), 0)) for label in ("keep", "drop")},
        "doc_prompts_truncated": int(counts.get(("doc_prompt_truncated",), 0)),
        "chunk_targets": chunk_targets,
    }


def _named(counts: Mapping[CountKey, float], kind: str) -> dict[str, int]:
    """The counts of one kind, by their name (a reason), sorted by name."""
    return dict(sorted((key[1], int(value)) for key, value in counts.items() if key[0] == kind and value))
