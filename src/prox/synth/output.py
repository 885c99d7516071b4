"""The output folder of a synth command, and its account; the same input gives the same bytes.

- `OUT/doc-00000.jsonl.gz`, `OUT/chunk-00000.jsonl.gz`, ...: the SFT records of each stage (`records.py`), in input
  order, `records_per_shard` to a shard, so one stage's shards load as one table.
- `OUT/rejected/rejected-00000.jsonl.gz`: each rejected example (the record it would have been) and each input
  record that made none, with `kind` ("example" or "input"), `reason` (a short name) and `detail`.
- `OUT/errors/errors-00000.jsonl.gz`: bad input records, as `prox refine` writes them (`id`, `source`, `reason`,
  `text`).
- `OUT/stats.json`, written last: input records = accepted + rejected + errors; examples made = written +
  rejected; records per stage and per source; doc keep/drop balance; what the chunk targets do.

A record whose rendered prompt was written before (same stage, byte-identical prompt) is rejected as
`duplicate_prompt`: the first one written wins, so list the most trusted source first. Shards are gzip with
mtime 0 and no file name inside, records are serialized by orjson, and nothing in stats.json depends on the clock.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import posixpath
from collections import Counter
from collections.abc import Sequence
from typing import BinaryIO

import orjson

from prox.program import Normalize, RemoveLines, execute_doc_program, parse_program
from prox.records.errors import error_document, error_record
from prox.storage import filesystem, is_dir, is_remote, join, list_folder, remove, require_output_place, write_text
from prox.synth.records import STAGES, render_prompt

DEFAULT_RECORDS_PER_SHARD = 10_000
STATS_FILE = "stats.json"
REJECTED_FOLDER = "rejected"
ERRORS_FOLDER = "errors"
DUPLICATE_PROMPT = "duplicate_prompt"
_COMPRESSION_LEVEL = 6


class ShardWriter:
    """JSONL.gz shards `PREFIX-00000.jsonl.gz`, ... in a folder (a path or a URL), `per_shard` records each,
    opened on the first record."""

    def __init__(self, folder: str, prefix: str, per_shard: int = DEFAULT_RECORDS_PER_SHARD):
        if per_shard < 1:
            raise ValueError(f"records per shard must be at least 1, got {per_shard}")
        self.folder, self.prefix, self.per_shard = folder, prefix, per_shard
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
        location = join(self.folder, f"{self.prefix}-{self.shards:05d}.jsonl.gz")
        fs, path = filesystem(location)
        if not is_remote(location):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._raw = fs.open(path, "wb")
        # No file name and mtime 0 in the gzip header: the same records give the same bytes.
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=_COMPRESSION_LEVEL)
        self.shards += 1
        self.in_shard = 0


class SynthOutput:
    """OUT of a synth command: writes records, rejections and errors, and counts them per source.

    Every input record ends in exactly one of `input_accepted` (it made examples, each then `offer`ed or
    `reject`ed), `input_rejected` or `input_error`; `close` writes stats.json and returns it.
    """

    def __init__(
        self,
        location: str,
        sources: Sequence[str] = (),
        records_per_shard: int = DEFAULT_RECORDS_PER_SHARD,
        overwrite: bool = False,
    ):
        prepare_output(location, overwrite)
        self.location = location
        self.records = {stage: ShardWriter(location, stage, records_per_shard) for stage in STAGES}
        self.rejected = ShardWriter(join(location, REJECTED_FOLDER), "rejected", records_per_shard)
        self.errors = ShardWriter(join(location, ERRORS_FOLDER), "errors", records_per_shard)
        self.per_source: dict[str, Counter] = {source: Counter() for source in sources}
        self.rejected_inputs: Counter = Counter()
        self.rejected_examples: Counter = Counter()
        self.doc_labels: Counter = Counter(keep=0, drop=0)
        self.chunk_targets: Counter = Counter(keep_chunk=0, with_edits=0, remove_lines_calls=0, normalize_calls=0)
        self.removed_share_sum = 0.0
        self.truncated_prompts = 0
        self._prompts: dict[bytes, tuple[str, str]] = {}

    def input_accepted(self, origin: str) -> None:
        self._count(origin, "records", "accepted")

    def input_rejected(self, origin: str, item: dict, reason: str, detail: str) -> None:
        """An input record that makes no example; `item` names it (`source`, `id`)."""
        self._count(origin, "records", "rejected")
        self.rejected_inputs[reason] += 1
        self.rejected.write({"kind": "input", "reason": reason, "detail": detail, **item})

    def input_error(self, origin: str, where: str, reason: str, raw: str) -> None:
        """A bad input record: written to OUT/errors and said on stderr, one line."""
        self._count(origin, "records", "errors")
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
        self._count(origin, "written", record["stage"])
        self._describe_target(record, program)
        return True

    def reject(self, origin: str, record: dict, reason: str, detail: str) -> None:
        """An example that is not written: the record it would have been goes to OUT/rejected with the reason."""
        self._count(origin, "rejected_examples")
        self.rejected_examples[reason] += 1
        self.rejected.write({"kind": "example", "reason": reason, "detail": detail, **record})

    def close(self, header: dict) -> dict:
        """Finish the shards and write stats.json: `header` (what ran, on what) then the account."""
        for writer in (*self.records.values(), self.rejected, self.errors):
            writer.close()
        stats = header | self.account()
        write_text(join(self.location, STATS_FILE), json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
        return stats

    def account(self) -> dict:
        total = Counter()
        for counts in self.per_source.values():
            total.update(counts)
        inputs = {name: total[name] for name in ("records", "accepted", "rejected", "errors")}
        written = {stage: total[stage] for stage in STAGES}
        examples = {
            "made": sum(written.values()) + total["rejected_examples"],
            "written": sum(written.values()),
            "rejected": total["rejected_examples"],
        }
        chunk_targets: dict[str, float | int] = dict(self.chunk_targets)
        chunks = written["chunk"]
        chunk_targets["mean_removed_share"] = round(self.removed_share_sum / chunks, 6) if chunks else 0.0
        return {
            "inputs": inputs,
            "examples": examples,
            "accounted": inputs["records"] == inputs["accepted"] + inputs["rejected"] + inputs["errors"]
            and examples["rejected"] == sum(self.rejected_examples.values())
            and inputs["rejected"] == sum(self.rejected_inputs.values()),
            "rejected_inputs_by_reason": dict(sorted(self.rejected_inputs.items())),
            "rejected_examples_by_reason": dict(sorted(self.rejected_examples.items())),
            "records_per_stage": written,
            "records_per_source": {
                origin: {name: counts[name] for name in _SOURCE_FIELDS} for origin, counts in self.per_source.items()
            },
            "doc_labels": dict(self.doc_labels),
            "doc_prompts_truncated": self.truncated_prompts,
            "chunk_targets": chunk_targets,
        }

    def _count(self, origin: str, *names: str) -> None:
        counts = self.per_source.setdefault(origin, Counter())
        for name in names:
            counts[name] += 1

    def _describe_target(self, record: dict, program: str) -> None:
        parsed = parse_program(program)
        if record["stage"] == "doc":
            self.doc_labels["keep" if execute_doc_program(parsed).keep else "drop"] += 1
            self.truncated_prompts += bool(record.get("prompt_truncated"))
            return
        first, last = record["first_line"], record["last_line"]
        removals, normalizations = parsed.of_type(RemoveLines), parsed.of_type(Normalize)
        removed = {line for call in removals for line in range(max(call.start, first), min(call.end, last) + 1)}
        self.chunk_targets["with_edits" if removals or normalizations else "keep_chunk"] += 1
        self.chunk_targets["remove_lines_calls"] += len(removals)
        self.chunk_targets["normalize_calls"] += len(normalizations)
        self.removed_share_sum += len(removed) / (last - first + 1)


_SOURCE_FIELDS = ("records", "accepted", "rejected", "errors", "doc", "chunk", "rejected_examples")


def prepare_output(location: str, overwrite: bool) -> None:
    """Check that OUT can be written and holds no earlier synth output; with `overwrite`, remove that output."""
    require_output_place(location)
    names = {posixpath.basename(found) for found in list_folder(location)}
    earlier = sorted(name for name in names if name == STATS_FILE or _is_shard(name))
    earlier += [f"{folder}/" for folder in (REJECTED_FOLDER, ERRORS_FOLDER) if is_dir(join(location, folder))]
    if not earlier:
        return
    if not overwrite:
        shown = ", ".join(earlier[:3]) + (", ..." if len(earlier) > 3 else "")
        raise ValueError(
            f"{location} already holds synth output ({shown}); pass --overwrite to replace it, or choose another folder"
        )
    for name in earlier:
        remove(join(location, name.rstrip("/")), recursive=name.endswith("/"))


def _is_shard(name: str) -> bool:
    stage, _, rest = name.partition("-")
    return stage in STAGES and rest.endswith(".jsonl.gz")
