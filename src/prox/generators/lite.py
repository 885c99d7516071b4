"""The `lite` generator: small learned models that write ProX programs at CPU speed (the default refiner).

Doc stage: `keep_doc()` or `drop_doc()` from the document model (its keep probability in a comment). Chunk
stage: the line model's removed lines as `remove_lines(...)` ranges, `normalize(...)` for a few reliably
detectable glued-on suffixes ("Read more »", share-button text) on kept lines, otherwise `keep_chunk()`.
Every call is one the release reads back as written (`release_readable`), so both policies run the same edit.
A document is one chunk: the line model needs the whole page around each line.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prox.chunking import Chunk
from prox.generators.base import ProgramGenerator
from prox.generators.settings import RefinerSettings, option
from prox.lite.model import LiteModel, PageVerdict, model_fingerprint, shared_model
from prox.program import DropDoc, KeepChunk, KeepDoc, Normalize, RemoveLines, release_readable, serialize

# Large enough that every document is a single chunk.
WHOLE_DOCUMENT = 1 << 60
_CACHE_SIZE = 4096
# A glued-on suffix is removed only when what stays is a real sentence of at least this many words.
_MIN_WORDS_LEFT = 4
_SUFFIX_WINDOW = 60
_GLUED_SUFFIX = re.compile(
    r"(?:\s*[\[(]?\s*(?:read more|continue reading|read the full (?:story|article|post)|click here to read more|"
    r"share this(?: article| post| story)?|share on (?:facebook|twitter|linkedin)|tweet this|weiterlesen|"
    r"mehr lesen|lire la suite|leer más)\s*[\])]?\s*(?:[»›>→…:]|\.\.\.)*\s*)$",
    re.IGNORECASE,
)


class LiteGenerator(ProgramGenerator):
    """Programs from a `LiteModel` (the one shipped with prox unless `model` names a folder, local or a URL)."""

    name = "lite"
    chunk_budget = WHOLE_DOCUMENT

    def __init__(self, model: str | Path | LiteModel | None = None) -> None:
        self._source = None if isinstance(model, LiteModel) else model
        self._shared = not isinstance(model, LiteModel)
        # Loaded here too, so a bad model folder fails before any task starts.
        self._model: LiteModel | None = model if isinstance(model, LiteModel) else shared_model(model)
        # The chunk stage sees the same texts the doc stage just judged; remember their verdicts.
        self._verdicts: OrderedDict[str, PageVerdict] = OrderedDict()

    @property
    def model(self) -> LiteModel:
        if self._model is None:
            self._model = shared_model(self._source)
        return self._model

    @property
    def label(self) -> str:
        return f"lite@{self._fingerprint[:12]}"

    def describe(self) -> dict:
        model = "shipped" if self._source is None else str(self._source)
        return {"name": self.name, "model": model, "model_sha256": self._fingerprint}

    @functools.cached_property
    def _fingerprint(self) -> str:
        if self._source is None and not self._shared:
            return "in-memory"  # a LiteModel handed over in code has no folder to hash
        return model_fingerprint(self._source)

    def __getstate__(self) -> dict:
        # A pickled copy (one per datatrove task or Ray worker) takes the process's shared model instead of
        # carrying its own LightGBM booster: freeing a private booster when the task ends is where a pool
        # worker swallowed the SIGTERM that should end it, and the Ray executor hung.
        state = self.__dict__ | {"_verdicts": OrderedDict()}
        if self._shared:
            state["_model"] = None
        return state

    def doc_programs(self, texts: Sequence[str]) -> list[str]:
        threshold = self.model.doc_threshold
        programs = []
        for verdict in self._judge(texts):
            call = KeepDoc() if verdict.doc_keep >= threshold else DropDoc()
            programs.append(f"{serialize([call])}  # p_keep={verdict.doc_keep:.3f}")
        return programs

    def chunk_programs(self, chunks: Sequence[Chunk]) -> list[str]:
        # chunk.text carries the prompt's line numbers; the models read the raw lines
        verdicts = self._judge(["\n".join(chunk.lines) for chunk in chunks])
        return [self._chunk_program(chunk, verdict) for chunk, verdict in zip(chunks, verdicts, strict=True)]

    def _chunk_program(self, chunk: Chunk, verdict: PageVerdict) -> str:
        lines = chunk.lines
        removed = verdict.line_keep < self.model.line_threshold
        calls: list = []
        start = None
        for index, remove in enumerate([*removed, False]):
            if remove and start is None:
                start = index
            elif not remove and start is not None:
                calls.append(RemoveLines(chunk.first_line + start, chunk.first_line + index - 1))
                start = None
        text = "\n".join(lines)
        for line, remove in zip(lines, removed, strict=True):
            suffix = None if remove else glued_suffix(line)
            # e.g. "(read more)": the release would cut the call at its ")" and delete something else
            if suffix is not None and text.count(suffix) == 1 and release_readable(Normalize(suffix, "")):
                calls.append(Normalize(suffix, ""))
        return serialize(calls or [KeepChunk()])

    def _judge(self, texts: Sequence[str]) -> list[PageVerdict]:
        missing = [text for text in dict.fromkeys(texts) if text not in self._verdicts]
        if missing:
            for text, verdict in zip(missing, self.model.verdicts(missing), strict=True):
                self._verdicts[text] = verdict
            while len(self._verdicts) > _CACHE_SIZE:
                self._verdicts.popitem(last=False)
        return [self._verdicts[text] for text in texts]

    def close(self) -> None:
        self._verdicts.clear()


def glued_suffix(line: str) -> str | None:
    """The share-button or "Read more" text glued to the end of a content line, when what stays is a sentence."""
    # the suffix pattern is anchored at the end; searching only the tail keeps this cheap on long lines
    tail_start = max(len(line) - _SUFFIX_WINDOW, 0)
    match = _GLUED_SUFFIX.search(line, tail_start)
    if match is None or not match.group(0).strip():
        return None
    kept = line[: match.start()]
    if len(kept.split()) < _MIN_WORDS_LEFT:
        return None
    return match.group(0)


@dataclass(frozen=True)
class LiteSettings(RefinerSettings):
    """The lite refiner: its model folder (None: the model shipped with prox)."""

    name = "lite"
    title = "lite refiner (the default)"
    model: str | None = option(
        None,
        "a model folder written by `prox lite train`, a path or a URL (default: the model shipped with prox)",
        flag="--lite-model",
        metavar="DIR",
    )

    def build(self) -> LiteGenerator:
        return LiteGenerator(self.model)
