"""A prox output folder read back for a report: its manifest and account, then every document, streamed.

Each refined, dropped or error record becomes an `OutputDocument`: where it ended (kept, dropped, error) and
why, its original and recorded result text, its programs, and what replaying its recorded chunk programs under
the run's policy did (`prox.program.execute_chunk_programs`, the executor the run itself used). The replay is
what the viewer shows: which lines were removed, which `normalize` calls acted, with the line numbers the
refiner saw. Records of both layouts (`prox`, `prox-release`), JSONL or Parquet, local or remote, are read
with `prox.records`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from prox import storage
from prox.pipeline.manifest import read_manifest
from prox.program import ChunkReport, execute_chunk_programs, get_policy, parse_program
from prox.records.files import output_files
from prox.records.layouts import record_metadata, replay_record
from prox.records.metadata import PROX_KEY
from prox.records.programs import parse_chunk_programs
from prox.records.reading import BadRecord, read_records

Place = Literal["kept", "dropped", "error"]
PLACES: tuple[Place, ...] = ("kept", "dropped", "error")
# The kept documents that no chunk program acted on (a doc-only run, or replayed by `prox execute`).
NO_CHUNK_PROGRAM = "no_chunk_program"
# The lite refiner writes its doc model's probability beside the call: `keep_doc()  # p_keep=0.672`.
_P_KEEP = re.compile(r"p_keep=([0-9]*\.?[0-9]+)")


@dataclass(frozen=True)
class RunOutput:
    """A finished prox output folder: where it is, its run manifest and its account (`stats.json`)."""

    location: str
    manifest: dict
    stats: dict

    @property
    def policy_name(self) -> str:
        return str(self.manifest.get("policy") or "release")


def open_output(location: str) -> RunOutput:
    """The output folder at `location` (a local path or a URL); ValueError, saying what to do, when it is not a
    finished prox output folder."""
    with storage.storage_errors(location, missing="no such folder"):
        if not storage.is_dir(location):
            raise ValueError(f"{location}: no such folder; give the -o folder of a prox refine or prox execute run")
        manifest = read_manifest(location)
        if manifest is None:
            raise ValueError(
                f"{location} is not a prox output folder (it has no logs/prox-run.json); give the -o folder of a "
                "prox refine or prox execute run"
            )
        stats_location = storage.join(location, "stats.json")
        if not storage.exists(stats_location):
            command = manifest.get("command", "refine")
            raise ValueError(
                f"{location} has no stats.json: its run has not finished; run the same prox {command} command again "
                "to finish it, then make the report"
            )
        stats = json.loads(storage.read_text(stats_location))
    return RunOutput(location, manifest, stats)


@dataclass
class OutputDocument:
    """One record of an output folder as the report sees it.

    `key` is the input record's `file:line`, which two runs over the same input share; `reason` is the chunk
    decision of a kept document (`edited`, `unchanged`, `reverted_errors`, `no_chunk_program`), the drop reason
    of a dropped one, and the kind of error (`reason_kind`) of an error record, whose full text is `error`.
    `result` is the recorded text of a kept document; `replay` what its recorded chunk programs did when run again.
    """

    key: str
    id: str
    place: Place
    reason: str
    original: str
    result: str | None
    prox: dict
    replay: ChunkReport | None = None
    error: str | None = None

    @property
    def category(self) -> str:
        return f"{self.place}:{self.reason}"

    @property
    def source_file(self) -> str:
        return self.key.rpartition(":")[0] or self.key

    @cached_property
    def p_keep(self) -> float | None:
        """The doc model's keep probability, where the refiner wrote one beside its doc program."""
        found = _P_KEEP.search(self.prox.get("doc_program") or "")
        return float(found.group(1)) if found else None

    @cached_property
    def line_count(self) -> int:
        return self.original.count("\n") + 1

    @property
    def removed_line_count(self) -> int:
        """Lines the outcome removed: those of a kept edit, none when the edit was reverted or never made."""
        if self.place != "kept" or self.replay is None or self.replay.reason != "edited":
            return 0
        return len(self.replay.removed_lines)

    @cached_property
    def program_errors(self) -> list[str]:
        """The errors met reading the doc program and running the chunk programs again."""
        doc_program = self.prox.get("doc_program")
        errors = list(_doc_program_errors(doc_program)) if isinstance(doc_program, str) else []
        return errors + (list(self.replay.errors) if self.replay is not None else [])

    @property
    def replay_agrees(self) -> bool:
        """Whether running the recorded programs again gives what the run recorded: the same place and, for
        a kept document, the same text. False points at an output made by another executor or policy."""
        if self.replay is None or self.place == "error":
            return True
        if self.place == "dropped":
            return not self.replay.keep
        return self.replay.keep and self.replay.text == self.result


@functools.lru_cache(maxsize=4096)
def _doc_program_errors(program: str) -> tuple[str, ...]:
    # Doc programs repeat (`keep_doc()`, `drop_doc()`, the lite refiner's with one of 1,001 p_keep values).
    return tuple(str(error) for error in parse_program(program).errors)


def read_documents(output: RunOutput) -> Iterator[OutputDocument | BadRecord]:
    """Every record of the output folder: refined, then dropped, then error records, file by file; an
    unreadable record or file is a `BadRecord`."""
    policy = output.policy_name
    folders = (output.location, storage.join(output.location, "dropped"), storage.join(output.location, "errors"))
    for place, folder in zip(PLACES, folders, strict=True):
        for path in output_files(folder):
            for item in read_records(path):
                if isinstance(item, BadRecord):
                    yield item
                elif not isinstance(item.data, dict):
                    yield BadRecord(item.file, item.line, f"a JSON {type(item.data).__name__}, not a record")
                elif place == "error":
                    yield _error_document(item.data)
                else:
                    yield _document(item.data, place, policy)


def _document(data: dict, place: Place, run_policy: str) -> OutputDocument:
    """A refined or dropped record of either layout, its recorded chunk programs replayed."""
    metadata = record_metadata(data)
    recorded = metadata.get(PROX_KEY) if isinstance(metadata.get(PROX_KEY), dict) else {}
    drop_reason = recorded.get("drop_reason") or metadata.get("drop_reason")  # prox, prox-release layout
    chunk_decision = recorded.get("chunk_decision")
    recorded_text = data.get("text") if isinstance(data.get("text"), str) else ""
    replayed = replay_record(data)  # the original text and the programs, whatever the layout
    prox = replayed["metadata"].get(PROX_KEY) or {}
    original = replayed["text"] if isinstance(replayed["text"], str) else ""
    replay = _replay(original, prox, str(prox.get("policy") or run_policy))
    if place == "kept":
        reason = chunk_decision or (replay.reason if replay is not None else NO_CHUNK_PROGRAM)
    else:
        reason = drop_reason or "unknown"
    key = str(prox.get("source") or data.get("id"))
    return OutputDocument(
        key=key,
        id=str(data.get("id")),
        place=place,
        reason=reason,
        original=original,
        result=recorded_text if place == "kept" else None,
        prox=prox,
        replay=replay,
    )


def _replay(original: str, prox: dict, policy: str) -> ChunkReport | None:
    """The recorded chunk programs run again on the original text; None when there are none (or unreadable)."""
    recorded = prox.get("chunk_programs")
    if recorded is None:
        return None
    try:
        rules = get_policy(policy)
        programs = parse_chunk_programs(recorded, parsed=rules.parser != "release")
        return execute_chunk_programs(original, programs, rules)
    except ValueError:
        return None  # unreadable recorded programs or an unknown policy: shown without a replay


def _error_document(data: dict) -> OutputDocument:
    reason = str(data.get("reason") or "unknown")
    text = data.get("text")
    return OutputDocument(
        key=str(data.get("source") or data.get("id")),
        id=str(data.get("id")),
        place="error",
        reason=reason_kind(reason),
        original=text if isinstance(text, str) else "",
        result=None,
        prox={},
        error=reason,
    )


_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_CALL = re.compile(r"\b[a-z_]+\([^()]*\)")
_LOCATION = re.compile(r"^lines? \d+(?:-\d+)?: ")
_NUMBER = re.compile(r"(?<![A-Za-z])(?<![A-Za-z]-)\d+(?:,\d{3})*")  # not the 8 of "UTF-8"
_PLACEHOLDER = re.compile(r"^(?:…: )+|(?:: …)+$")


def reason_kind(message: str) -> str:
    """An error or program-error message without its particulars (positions, numbers, quoted text, details
    in parentheses), so that messages of one kind count together: "malformed JSON (…)" → "malformed JSON",
    "lines 3-99: start past the last line (50)" → "start past the last line"."""
    kind = _QUOTED.sub("…", message)
    kind = _CALL.sub("…", kind)
    kind = kind.split(" (", 1)[0]
    kind = _LOCATION.sub("", kind)
    kind = _PLACEHOLDER.sub("", kind)
    kind = _NUMBER.sub("N", kind).strip()
    return kind or "unknown"
