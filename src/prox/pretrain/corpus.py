"""Corpora for the pre-training proxy: documents read from a folder or file, tokenized, and packed into blocks.

A corpus is a `prox refine` (or `prox execute`) output folder, whose refined documents are its top-level data files
(not `dropped/` or `errors/`), or any files, folders or globs of JSONL/Parquet records with a text field, as
`prox refine` reads them. Packing is the usual pre-training layout: each document's tokens followed by EOS,
concatenated, cut into fixed-length blocks; the last partial block is left out.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prox import storage
from prox.pipeline.manifest import read_manifest
from prox.pipeline.readers import find_inputs
from prox.records.files import output_files
from prox.records.reading import read_records_strict


@dataclass(frozen=True)
class Corpus:
    """A named corpus: where its documents are."""

    name: str
    location: str


def parse_corpus(spec: str) -> Corpus:
    """`NAME=PATH` as a Corpus; a ValueError saying the form for anything else."""
    name, sep, location = spec.partition("=")
    if not sep or not name.strip() or not location.strip():
        raise ValueError(f"--corpus {spec!r}: give NAME=PATH, e.g. --corpus raw=pages/ --corpus refined=out/")
    return Corpus(name.strip(), location.strip())


def corpus_files(location: str) -> list[str]:
    """The data files of a corpus: a refine output's refined-document shards, or the inputs a path names."""
    if storage.is_dir(location) and read_manifest(location) is not None:
        files = output_files(location)
        if not files:
            raise ValueError(f"{location}: a prox output folder without refined documents; has its run finished?")
        return files
    found = find_inputs([location])
    return [storage.join(found.root, name) for name in (*found.jsonl, *found.parquet)]


def read_texts(location: str, text_key: str = "text") -> Iterator[str]:
    """The non-empty texts of a corpus's documents, in file order."""
    for path in corpus_files(location):
        for record in read_records_strict(path):
            text = record.data.get(text_key) if isinstance(record.data, dict) else None
            if not isinstance(text, str):
                raise ValueError(f"{record.where}: no string field {text_key!r}; name the text field with --text-key")
            if text.strip():
                yield text


def encode(texts: Sequence[str], tokenizer: Any) -> list[list[int]]:
    """Each document's token ids, without special tokens."""
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"]


def token_stream(documents: Sequence[Sequence[int]], eos_id: int, seed: int | None = None) -> list[int]:
    """The documents' token ids, each followed by EOS, concatenated (in an order shuffled by `seed`, when given)."""
    order = list(range(len(documents)))
    if seed is not None:
        random.Random(seed).shuffle(order)
    stream: list[int] = []
    for index in order:
        stream.extend(documents[index])
        stream.append(eos_id)
    return stream


def pack(stream: Sequence[int], block: int, max_tokens: int | None = None) -> list[list[int]]:
    """Whole blocks of `block` tokens from the start of the stream, at most `max_tokens` tokens of them."""
    usable = len(stream) if max_tokens is None else min(len(stream), max_tokens)
    return [list(stream[start : start + block]) for start in range(0, usable - block + 1, block)]
