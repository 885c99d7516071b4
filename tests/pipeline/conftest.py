"""Small synthetic web-page corpora for the refining pipeline's end-to-end tests, built in tmp_path."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from prox.cli import main

_SYLLABLES = ("ba", "ker", "lin", "mo", "ra", "ten", "vis", "do", "ham", "sel", "tor", "wen", "pri", "gal", "nu")
_STOP_WORDS = ("the", "of", "and", "to", "with", "that", "in", "for", "was", "on")
_NAV = (
    "Home | News | Sport | Weather | Contact",
    "Menu",
    "Search",
    "Subscribe to our newsletter",
    "Share on Facebook Share on X Email",
    "Related stories",
    "Accept cookies",
    "Login | Register",
)
_FOOTER = (
    "Privacy Policy | Cookie Settings | Terms of Use",
    "We use cookies to improve your experience. Read our cookie policy.",
    "Enable JavaScript to view the comments.",
    "Back to top",
)


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3)))


def article_sentence(rng: random.Random) -> str:
    """A sentence of made-up words and English stop words: prose to the rules, and seldom repeated."""
    words = [rng.choice(_STOP_WORDS) if rng.random() < 0.35 else _word(rng) for _ in range(rng.randint(8, 16))]
    return " ".join(words).capitalize() + "."


def web_page(rng: random.Random, paragraphs: int = 6) -> str:
    """A news-like page: navigation lines, a headline, paragraphs of prose, and footer boilerplate."""
    lines = rng.sample(_NAV, 3)
    lines.append(" ".join(_word(rng) for _ in range(5)).title())
    for _ in range(paragraphs):
        lines.append(" ".join(article_sentence(rng) for _ in range(rng.randint(2, 4))))
    lines.extend(rng.sample(_FOOTER, 2))
    return "\n".join(lines)


def spam_page(rng: random.Random) -> str:
    """A page the rules generator's doc stage drops: one advert repeated."""
    advert = f"Cheap watches {rng.randint(1, 99)} best price buy now"
    return "\n".join([advert] * 40)


def pages(count: int, seed: int = 0, id_prefix: str | None = "page", spam_every: int = 5) -> list[dict]:
    """`count` page records; every `spam_every`-th is spam; ids are left out when id_prefix is None."""
    rng = random.Random(seed)
    records = []
    for index in range(count):
        text = spam_page(rng) if spam_every and index % spam_every == spam_every - 1 else web_page(rng)
        record = {"text": text, "url": f"https://site{seed}.example/articles/{index}"}
        if id_prefix is not None:
            record = {"id": f"{id_prefix}-{seed}-{index:04d}"} | record
        records.append(record)
    return records


def write_jsonl(path: Path, records: Iterable[dict]) -> Path:
    """Records as JSON lines; gzip or zstd compressed when the name ends in .gz or .zst."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(record) + "\n" for record in records).encode()
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def write_parquet(path: Path, records: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(records), path)
    return path


def read_records(folder: Path) -> list[dict]:
    """Every record of the .jsonl.gz and .parquet files directly in `folder`, parquet metadata decoded."""
    records: list[dict] = []
    for path in sorted(folder.glob("*")):
        records.extend(_records_of(path))
    return records


def _records_of(path: Path) -> Iterator[dict]:
    if path.name.endswith(".jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            yield from (json.loads(line) for line in handle)
    elif path.name.endswith(".parquet"):
        import pyarrow.parquet as pq

        for row in pq.read_table(path).to_pylist():
            if isinstance(row.get("metadata"), str):
                row["metadata"] = json.loads(row["metadata"])
            yield row


def read_stats(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def run_prox(*args: object) -> int:
    """`prox ARGS...` in this process; the exit status."""
    return main([str(arg) for arg in args])


@pytest.fixture(scope="session")
def tools() -> SimpleNamespace:
    """The corpus builders and output readers above, for tests: `tools.pages(20)`, `tools.read_records(out)`."""
    return SimpleNamespace(
        pages=pages,
        web_page=web_page,
        write_jsonl=write_jsonl,
        write_parquet=write_parquet,
        read_records=read_records,
        read_stats=read_stats,
        prox=run_prox,
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder with one JSONL file of 20 pages with ids; every fifth page is spam the doc stage drops."""
    folder = tmp_path / "corpus"
    write_jsonl(folder / "pages.jsonl", pages(20))
    return folder
