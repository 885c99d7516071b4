"""Shared fixtures: the Llama-2 tokenizer and the real web pages in ../shared, skipped when absent."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT / ".." / "shared"
LLAMA2_TOKENIZER_DIR = SHARED / "tokenizers" / "llama2"
WCXB_DEV = SHARED / "data" / "line_labels" / "wcxb_dev.jsonl.gz"


@pytest.fixture(scope="session")
def llama2_dir() -> Path:
    """The directory holding the Llama-2 (released refiners') tokenizer.json."""
    if not (LLAMA2_TOKENIZER_DIR / "tokenizer.json").is_file():
        pytest.skip(f"shared Llama-2 tokenizer not found at {LLAMA2_TOKENIZER_DIR}")
    return LLAMA2_TOKENIZER_DIR.resolve()


@pytest.fixture(scope="session")
def llama2_tokenizer(llama2_dir: Path) -> Tokenizer:
    """The tokenizer.json as it is, which is what transformers 4.x's fast tokenizer ran in the release."""
    return Tokenizer.from_file(str(llama2_dir / "tokenizer.json"))


@pytest.fixture(scope="session")
def wcxb_pages() -> list[list[str]]:
    """Every page of the WCXB dev file, as its list of lines (a document is the lines joined by newlines)."""
    if not WCXB_DEV.is_file():
        pytest.skip(f"shared WCXB pages not found at {WCXB_DEV}")
    with gzip.open(WCXB_DEV, "rt", encoding="utf-8") as lines:
        return [json.loads(line)["lines"] for line in lines]
