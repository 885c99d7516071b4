"""What `prox synth doc` and `prox synth chunk` share: their settings, the teacher LLM behind its request cache,
and the input documents.

The teacher is asked through the OpenAI backend's chat mode (its retries, its concurrency limit), a batch of
documents at a time in each task, and every answer is kept in a sqlite request cache as soon as it arrives:
`OUT/logs/requests.sqlite` for a local OUT, `~/.cache/prox/requests/<digest of OUT>/requests.sqlite` for a remote
one, shared by the run's tasks. A run killed with kill -9 is resumed by running the same command again: the
finished tasks are skipped, the others start over (their partial files are removed), and the teacher is asked
only what it had not answered (a kill loses only the requests in flight). The cache outlives `--overwrite`, so
delete OUT/logs to ask the teacher again.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prox.generators.base import GenerationFailure
from prox.generators.lm.cache import RequestCache, chat_with_cache
from prox.generators.lm.chat import ChatBackend, ChatRequest, ChatResult
from prox.records.reading import BadRecord, record_format
from prox.storage import cache_folder, is_dir, is_remote, list_tree, require_file, storage_errors
from prox.synth.labels import EMPTY_DOCUMENT, raw_record, record_id
from prox.synth.output import DEFAULT_RECORDS_PER_SHARD, CountKey, SynthOutput
from prox.synth.profile import DEFAULT_PROFILE, Profile, load_profile, profile_digest
from prox.synth.records import require_tokenizer
from prox.synth.task import InputFile, InputRecord, SynthCommand
from prox.synth.teacher import Messages

# Documents sent to the teacher at once, per request allowed in flight: enough to keep the server busy while
# the slowest answers of a batch come in.
DOCUMENTS_PER_SLOT = 4
REQUEST_CACHE = ("logs", "requests.sqlite")
# The request cache's files in OUT/logs (sqlite's WAL beside it): they outlive --overwrite.
REQUEST_CACHE_FILES = tuple(f"{REQUEST_CACHE[-1]}{suffix}" for suffix in ("", "-wal", "-shm"))
_TEACHER_COUNTS = ("requests", "cache_hits", "answered", "failed", "cut_off", "prompt_tokens", "completion_tokens")


@dataclass(frozen=True, kw_only=True)
class TeacherRunSettings(SynthCommand):
    """What a teacher command reads and writes, and how it asks the teacher; checks itself."""

    inputs: tuple[str, ...]  # JSONL/Parquet files (or folders of them) of documents with a `text` field
    output: str
    tokenizer: str | None  # the LM refiner's tokenizer: doc prompts are cut and chunks sized with it
    teacher_url: str  # the OpenAI-compatible server's base URL, e.g. http://localhost:8000/v1
    teacher_model: str
    api_key: str | None = field(default=None, repr=False)  # never written to OUT (see pipeline.synth.SynthTask)
    concurrency: int = 16  # requests in flight at once, per task
    request_timeout: float = 300.0  # seconds per attempt; a long rewrite takes a while
    max_retries: int = 4  # attempts after the first, for 429s, 5xx, timeouts and dropped connections
    max_new_tokens: int | None = None  # per answer; None: the command's default
    profile: str | None = None  # a shipped prompt profile (default: web) ...
    prompts: str | None = None  # ... or a folder holding one
    limit: int | None = None  # read at most this many input records per task
    records_per_shard: int = DEFAULT_RECORDS_PER_SHARD
    tasks: int | None = None  # None: a task per input file (capped)
    workers: int | None = None  # tasks at once; None: min(tasks, CPUs)
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
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"--max-new-tokens must be at least 1, got {self.max_new_tokens}")
        self.check_run_options()

    @property
    def teacher(self) -> str:
        """The records' `teacher` field."""
        return f"llm:{self.teacher_model}"

    @property
    def documents_per_batch(self) -> int:
        return DOCUMENTS_PER_SLOT * self.concurrency

    @property
    def origins(self) -> tuple[str, ...]:
        return self.inputs

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

    def decisive(self) -> dict:
        """All but how the teacher is reached (its URL, concurrency, retries: a resumed run may use another
        server); the profile also by its text, so an edited prompt is not mixed with the old one's answers."""
        reached = ("teacher_url", "concurrency", "max_retries")
        settings = {name: value for name, value in self.describe().items() if name not in reached}
        return settings | {"profile_digest": profile_digest(self.load_profile())}

    def load_profile(self) -> Profile:
        return load_profile(self.profile, self.prompts)

    def input_files(self) -> list[InputFile]:
        return [InputFile(origin, "documents", path) for origin, paths in input_files(self.inputs) for path in paths]

    def sections(self, counts: Mapping[CountKey, float], written: int) -> dict:
        return {"teacher": teacher_account(counts, written)}


class TeacherLLM:
    """Asks the teacher: each conversation answered from the request cache where it can be, from the backend
    otherwise; counts requests, cache hits, failures and the tokens the server reported."""

    def __init__(self, backend: ChatBackend, model: str, cache: RequestCache | None = None):
        self.backend = backend
        self.model = model
        self.cache = cache
        self.counts: Counter = Counter()

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

    def close(self, output: SynthOutput) -> None:
        """Add the counts to the task's (stats.json's `teacher`) and free the connections."""
        for name, value in self.counts.items():
            output.count("teacher", name, value=value)
        self.backend.close()
        if self.cache is not None:
            self.cache.close()


def teacher_account(counts: Mapping[CountKey, float], records_written: int) -> dict:
    """stats.json's `teacher`: requests = cache hits + answered + failed; tokens as the server counted them for
    the answers of this run (cache hits cost nothing), and per record written."""
    account: dict = {name: int(counts.get(("teacher", name), 0)) for name in _TEACHER_COUNTS}
    account["tokens_per_record_written"] = {
        name: round(account[name] / records_written, 1) if records_written else 0.0
        for name in ("prompt_tokens", "completion_tokens")
    }
    return account


class TeacherMaker:
    """A teacher command's record maker: the task's teacher, and input records read as documents. Subclasses
    say what to do with each batch of documents (`teach`)."""

    def __init__(self, settings: TeacherRunSettings):
        self.settings = settings
        self.teacher = open_teacher(settings)
        self.batch_size = settings.documents_per_batch

    def add(self, output: SynthOutput, batch: list[InputRecord]) -> None:
        self.teach(output, [input_document(item) for item in batch])

    def teach(self, output: SynthOutput, batch: list[InputDocument | BadInput]) -> None:
        raise NotImplementedError

    def close(self, output: SynthOutput) -> None:
        self.teacher.close(output)


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


def input_document(item: InputRecord) -> InputDocument | BadInput:
    """An input record as a document, or as what is wrong with it."""
    origin, record = item.file.origin, item.record
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
