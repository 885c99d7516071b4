"""Shared fixtures: the Llama-2 tokenizer and the real web pages in ../shared (skipped when absent), and a tiny
random Llama saved with that tokenizer for the LM tests."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def tiny_model_dir(llama2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random LlamaForCausalLM (32k vocab, BOS 1, EOS 2) and the Llama-2 tokenizer files, shared by
    every LM test (skipped without torch and transformers)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=32000,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=4096,
        bos_token_id=1,
        eos_token_id=2,
    )
    directory = tmp_path_factory.mktemp("tiny-llama")
    transformers.LlamaForCausalLM(config).save_pretrained(directory)
    for name in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"):
        if (llama2_dir / name).is_file():
            shutil.copy(llama2_dir / name, directory / name)
    return directory


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on 127.0.0.1, for storage tests; its endpoint URL.

    The AWS variables point every client in this process, and in the `prox` processes tests start, at it.
    Skipped when moto or s3fs is not installed (`pip install 'prox[s3]' 'moto[server]'`).
    """
    pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {name: os.environ.get(name) for name in _S3_ENVIRONMENT}
    os.environ.update(_S3_ENVIRONMENT | {"AWS_ENDPOINT_URL": endpoint})
    try:
        yield endpoint
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ENDPOINT_URL": "",
}


@pytest.fixture
def s3_bucket(s3_server: str, request: pytest.FixtureRequest) -> str:
    """A new, empty bucket on the test S3 server: `s3://NAME`."""
    import fsspec

    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    name = "prox-" + "".join(char if char.isalnum() else "-" for char in request.node.name.lower())[:40].strip("-")
    name = f"{name}-{digest}"
    fs = fsspec.filesystem("s3")
    fs.mkdir(name)
    fs.invalidate_cache()
    return f"s3://{name}"
