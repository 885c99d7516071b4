"""What `prox synth doc` and `prox synth chunk` share: their settings, the teacher LLM behind its request cache,
the input documents, and the output folder they resume.

The teacher is asked through the OpenAI backend's chat mode (its retries, its concurrency limit), a batch of
documents at a time, and every answer is kept in a sqlite request cache: `OUT/logs/requests.sqlite` for a local
OUT, `~/.cache/prox/requests/<digest of OUT>/requests.sqlite` for a remote one. A run killed with kill -9 is
resumed by running the same command again: OUT holds no stats.json yet, so its unfinished records are written
again from the start, and the teacher is asked only what it had not answered (a kill loses at most the answers of
the batch in flight, which are cached when the batch ends). A finished OUT (with stats.json) is refused unless
`--overwrite`; the cache outlives `--overwrite`, so delete OUT/logs to ask the teacher again.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from prox.generators.base import GenerationFailure
from prox.generators.lm.cache import RequestCache, chat_with_cache
from prox.generators.lm.chat import ChatBackend, ChatRequest, ChatResult
from prox.records.reading import BadRecord, Record, read_records, record_format
from prox.storage import cache_folder, exists, is_dir, is_remote, join, list_tree, require_file, storage_errors
from prox.synth.labels import EMPTY_DOCUMENT, raw_record, record_id
from prox.synth.output import DEFAULT_RECORDS_PER_SHARD, STATS_FILE, SynthOutput
from prox.synth.profile import DEFAULT_PROFILE, Profile, load_profile
from prox.synth.records import require_tokenizer
from prox.synth.teacher import Messages

# Documents sent to the teacher at once, per request allowed in flight: enough to keep the server busy while
# the slowest answers of a batch come in; a kill -9 loses the answers of one batch at most.
DOCUMENTS_PER_SLOT = 4
REQUEST_CACHE = ("logs", "requests.sqlite")


@dataclass(frozen=True, kw_only=True)
class TeacherRunSettings:
    """What a teacher command reads and writes, and how it asks the teacher; checks itself."""

    inputs: tuple[str, ...]  # JSONL/Parquet files (or folders of them) of documents with a `text` field
    output: str
    tokenizer: str | None  # the LM refiner's tokenizer: doc prompts are cut and chunks sized with it
    teacher_url: str  # the OpenAI-compatible server's base URL, e.g. http://localhost:8000/v1
    teacher_model: str
    api_key: str | None = None
    concurrency: int = 16  # requests in flight at once
    request_timeout: float = 300.0  # seconds per attempt; a long rewrite takes a while
    max_retries: int = 4  # attempts after the first, for 429s, 5xx, timeouts and dropped connections
    max_new_tokens: int | None = None  # per answer; None: the command's default
    profile: str | None = None  # a shipped prompt profile (default: web) ...
    prompts: str | None = None  # ... or a folder holding one
    limit: int | None = None  # read at most this many input records, over all inputs in order
    records_per_shard: int = DEFAULT_RECORDS_PER_SHARD
    overwrite: bool = False  # replace a finished synth output in OUT
    progress: bool = False  # a progress bar on stderr

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValueError("give at least one INPUT: a JSONL or Parquet file of documents with a `text` field")
        require_tokenizer(self.tokenizer)
        if not self.teacher_url.startswith(("http://", "https://")):
            raise ValueError(
                f"--teacher-url must be an http(s) URL like http://localhost:8000/v1; got {self.teacher_url!r}"
            )
        if not self.teacher_model:
            raise ValueError("--teacher-model NAME is required: the model the teacher server serves")
        if self.concurrency < 1 or self.max_retries < 0 or self.request_timeout <= 0:
            raise ValueError("--concurrency must be at least 1, --max-retries 0 or more and --request-timeout > 0")
        for name, value in (("--max-new-tokens", self.max_new_tokens), ("--limit", self.limit)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.records_per_shard < 1:
            raise ValueError(f"--records-per-shard must be at least 1, got {self.records_per_shard}")

    @property
    def teacher(self) -> str:
        """The records' `teacher` field."""
        return f"llm:{self.teacher_model}"

    @property
    def documents_per_batch(self) -> int:
        return DOCUMENTS_PER_SLOT * self.concurrency

    def describe(self) -> dict:
        """The settings stats.json records (no API key)."""
        return {
            "tokenizer": self.tokenizer,
            "teacher_url": self.teacher_url,
            "teacher_model": self.teacher_model,
            "profile": self.prompts or self.profile or DEFAULT_PROFILE,
            "concurrency": self.concurrency,
            "max_retries": self.max_retries,
            "limit": self.limit,
            "records_per_shard": self.records_per_shard,
        }

    def load_profile(self) -> Profile:
        return load_profile(self.profile, self.prompts)


class TeacherLLM:
    """Asks the teacher: each conversation answered from the request cache where it can be, from the backend
    otherwise; counts requests, cache hits, failures and the tokens the server reported."""

    def __init__(self, backend: ChatBackend, model: str, cache: RequestCache | None = None):
        self.backend = backend
        self.model = model
        self.cache = cache
        self.counts: Counter = Counter(
            requests=0, cache_hits=0, answered=0, failed=0, cut_off=0, prompt_tokens=0, completion_tokens=0
        )

    def ask(self, conversations: Sequence[Messages], max_new_tokens: int) -> list[ChatResult]:
        """The answer, or the backend's failure, per conversation, in order (greedy decoding)."""
        if not conversations:
            return []
        requests = [ChatRequest(self.model, tuple(messages), max_new_tokens) for messages in conversations]
        results = chat_with_cache(self.backend, requests, self.cache)
        self.counts["requests"] += len(requests)
        for result in results:
            if isinstance(result, GenerationFailure):
                self.counts["failed"] += 1
            elif result.cached:
                self.counts["cache_hits"] += 1
            else:
                self.counts["answered"] += 1
                self.counts["cut_off"] += result.finish_reason == "length"
                self.counts["prompt_tokens"] += result.prompt_tokens
                self.counts["completion_tokens"] += result.completion_tokens
        return results

    def account(self, records_written: int) -> dict:
        """stats.json's `teacher`: requests = cache hits + answered + failed; tokens as the server counted them
        for the answers of this run (cache hits cost nothing), and per record written."""
        counts = dict(self.counts)
        per_record = {
            name: round(counts[name] / records_written, 1) if records_written else 0.0
            for name in ("prompt_tokens", "completion_tokens")
        }
        return {**counts, "tokens_per_record_written": per_record}

    def close(self) -> None:
        self.backend.close()
        if self.cache is not None:
            self.cache.close()


class Teaching(Protocol):
    """What a teacher command does with each batch of input records, and what it adds to stats.json."""

    def add(self, output: SynthOutput, batch: list[InputDocument | BadInput]) -> None: ...

    def account(self) -> dict: ...


def teach(
    settings: TeacherRunSettings,
    command: str,
    make: Callable[[TeacherLLM], Teaching],
    teacher: TeacherLLM | None = None,
) -> dict:
    """Run a teacher command over every input record, a batch at a time, and return stats.json's content;
    `teacher` replaces the one the settings name."""
    from datatrove.utils.batching import batched
    from tqdm import tqdm

    files = input_files(settings.inputs)  # all found before writing starts
    teacher = teacher or open_teacher(settings)
    output = open_output(settings, [origin for origin, _ in files])
    teaching = make(teacher)
    try:
        with tqdm(
            total=settings.limit, unit=" documents", desc=command, disable=not settings.progress, file=sys.stderr
        ) as bar:
            for batch in batched(input_documents(files, settings.limit), settings.documents_per_batch):
                teaching.add(output, batch)
                bar.update(len(batch))
    finally:
        teacher.close()
    written = output.account()["examples"]["written"]
    header = {"command": command, "sources": list(settings.inputs), "settings": settings.describe()}
    return output.close(header | {"teacher": teacher.account(written)} | teaching.account())


def open_teacher(settings: TeacherRunSettings) -> TeacherLLM:
    """The teacher of the settings, behind the run's request cache."""
    from prox.generators.lm.openai_backend import OpenAIBackend

    backend = OpenAIBackend(
        settings.teacher_url,
        api_key=settings.api_key,
        concurrency=settings.concurrency,
        timeout=settings.request_timeout,
        max_retries=settings.max_retries,
    )
    return TeacherLLM(backend, settings.teacher_model, RequestCache(request_cache_path(settings.output)))


def request_cache_path(output: str) -> Path:
    """Where the teacher's answers for OUT are cached: in OUT when it is local, in prox's cache folder otherwise."""
    if not is_remote(output):
        return Path(output, *REQUEST_CACHE)
    digest = hashlib.sha256(output.rstrip("/").encode()).hexdigest()[:16]
    return cache_folder("requests") / digest / REQUEST_CACHE[-1]


def open_output(settings: TeacherRunSettings, sources: Sequence[str]) -> SynthOutput:
    """OUT, ready to write: an unfinished run's records (no stats.json yet) are replaced, a finished run's only
    with `--overwrite`."""
    with storage_errors(settings.output):
        unfinished = not exists(join(settings.output, STATS_FILE))
    return SynthOutput(settings.output, sources, settings.records_per_shard, settings.overwrite or unfinished)


def input_files(inputs: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(input, its record files) for each input: a file is itself, a folder its JSONL and Parquet files."""
    found = []
    for location in inputs:
        with storage_errors(location):
            if not is_dir(location):
                require_file(location)
                found.append((location, [location]))
                continue
            files = [path for path in list_tree(location) if record_format(path)]
        if not files:
            raise ValueError(f"{location} holds no JSONL or Parquet files")
        found.append((location, files))
    return found


@dataclass(frozen=True)
class InputDocument:
    """A document to teach on: where it was read (`file:line`), its id, its text and its whole record."""

    origin: str  # the INPUT it came from, as given
    where: str
    id: str
    text: str
    data: dict

    @property
    def base(self) -> dict:
        """What names it in a record or a rejection."""
        return {"source": self.where, "id": self.id}

    @property
    def raw(self) -> str:
        """The record as OUT/errors keeps it."""
        return raw_record(self.data)


@dataclass(frozen=True)
class BadInput:
    """An input record for OUT/errors: not a document, or one whose teacher requests failed."""

    origin: str
    where: str
    reason: str
    raw: str


@dataclass(frozen=True)
class Rejection:
    """An input document that makes no example, and why; settled without the teacher, or by its answers."""

    document: InputDocument
    reason: str
    detail: str
    judgments: dict = field(default_factory=dict)


Settled = BadInput | Rejection


def without_teacher(item: InputDocument | BadInput) -> InputDocument | Settled:
    """The document to ask the teacher about, or how the input record is settled without it."""
    if isinstance(item, InputDocument) and not item.text.strip():
        return Rejection(item, EMPTY_DOCUMENT, "the document holds no text")
    return item


def write_settled(output: SynthOutput, settled: Settled) -> None:
    """A bad input record to OUT/errors, a rejected document to OUT/rejected."""
    if isinstance(settled, BadInput):
        output.input_error(settled.origin, settled.where, settled.reason, settled.raw)
        return
    document = settled.document
    output.input_rejected(document.origin, {**document.base, **settled.judgments}, settled.reason, settled.detail)


def input_documents(files: Sequence[tuple[str, list[str]]], limit: int | None) -> Iterator[InputDocument | BadInput]:
    """Every record of the files in order, at most `limit`, as a document or as what is wrong with it."""
    count = 0
    for origin, paths in files:
        for path in paths:
            for record in read_records(path):
                if limit is not None and count == limit:
                    return
                count += 1
                yield _document(origin, record)


def _document(origin: str, record: Record | BadRecord) -> InputDocument | BadInput:
    if isinstance(record, BadRecord):
        return BadInput(origin, record.where, record.reason, record.raw)
    data = record.data
    if not isinstance(data, dict):
        return BadInput(
            origin, record.where, f"record is a JSON {type(data).__name__}, not an object", raw_record(data)
        )
    text = data.get("text")
    if not isinstance(text, str):
        problem = "no 'text' field" if text is None else f"'text' is a {type(text).__name__}, not a string"
        return BadInput(origin, record.where, problem, raw_record(data))
    return InputDocument(origin, record.where, record_id(data, record.where), text, data)


def failure_reason(results: Sequence[object]) -> str | None:
    """Why a document's teacher requests failed (the first `GenerationFailure` among its results, and how many
    failed), or None."""
    failures = [result for result in results if isinstance(result, GenerationFailure)]
    if not failures:
        return None
    more = f" ({len(failures)} of its {len(results)} requests failed)" if len(results) > 1 else ""
    return f"teacher request failed: {failures[0].reason}{more}"


def exit_status(stats: dict) -> int:
    """0; 1 when the account does not add up, or when every input record was an error (a teacher that never
    answered, inputs that are not documents)."""
    inputs = stats["inputs"]
    all_failed = inputs["records"] > 0 and inputs["errors"] == inputs["records"]
    return 1 if all_failed or not stats["accounted"] else 0
