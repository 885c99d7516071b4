"""`prox refine --refiner lm` end to end with a tiny random model: garbage programs, every document accounted."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from prox.cli import main

PAGES = [
    "Home | News | Sport\nCouncil approves new cycle lanes\nThe council voted on Tuesday to build lanes.\nBack to top",
    "Recipe: lentil soup\nRinse the lentils and chop the onions.\nSimmer for forty minutes.\nShare Tweet Email",
    "Login | Register\nBuy cheap watches now\nBuy cheap watches now\nBuy cheap watches now",
    "A short note about rivers.\nThey flow to the sea.",
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    records = [{"id": f"page-{index}", "text": text} for index, text in enumerate(PAGES)]
    (folder / "pages.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    return folder


def records(folder: Path) -> list[dict]:
    found = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as lines:
            found.extend(json.loads(line) for line in lines)
    return found


def refine_lm(corpus: Path, out: Path, model: Path, *extra: str) -> int:
    return main(
        [
            "refine",
            str(corpus),
            "-o",
            str(out),
            "--refiner",
            "lm",
            "--backend",
            "transformers",
            "--doc-model",
            str(model),
            "--chunk-model",
            str(model),
            "--max-new-tokens-doc",
            "8",
            "--max-new-tokens-chunk",
            "16",
            *extra,
        ]
    )


def test_refine_with_a_random_model_survives_garbage_programs(corpus, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out"
    assert refine_lm(corpus, out, tiny_model_dir) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["documents_in"] == len(PAGES) and stats["accounted"] is True
    assert stats["kept"] + stats["dropped"] + stats["errors"] == len(PAGES) and stats["errors"] == 0
    assert stats["program_errors"] > 0  # a random model writes no valid program
    kept, dropped = records(out), records(out / "dropped")
    assert {record["id"] for record in kept + dropped} == {f"page-{index}" for index in range(len(PAGES))}
    for record in kept:
        prox = record["metadata"]["prox"]
        assert isinstance(prox["doc_program"], str) and isinstance(prox["chunk_program"], str)
    assert (out / "logs" / "requests.sqlite").is_file()


def test_a_second_run_is_answered_from_the_cache(corpus, tmp_path, tiny_model_dir, monkeypatch):
    cache = tmp_path / "requests.sqlite"
    assert refine_lm(corpus, tmp_path / "first", tiny_model_dir, "--cache", str(cache)) == 0
    from prox.generators.lm import transformers_backend

    def no_model(*args):
        raise AssertionError("a cached run must not load a model")

    monkeypatch.setattr(transformers_backend, "load_model", no_model)
    assert refine_lm(corpus, tmp_path / "second", tiny_model_dir, "--cache", str(cache)) == 0
    first, second = records(tmp_path / "first"), records(tmp_path / "second")
    assert [record["text"] for record in first] == [record["text"] for record in second]
    assert [r["metadata"]["prox"]["chunk_program"] for r in first] == [
        r["metadata"]["prox"]["chunk_program"] for r in second
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--refiner lm --chunk-model m", "--refiner lm needs --doc-model MODEL for the doc stage"),
        ("--refiner lm --doc-model m", "--refiner lm needs --chunk-model MODEL for the chunk stage"),
        ("--refiner rules --doc-model m", "--doc-model applies to --refiner lm only"),
        ("--refiner lm --doc-model m --chunk-model m --base-url http://x", "--base-url applies to --backend openai"),
        ("--refiner lm --backend openai --doc-model m --chunk-model m", "--backend openai needs --base-url URL"),
        (
            "--refiner lm --backend openai --doc-model m --chunk-model m --base-url http://x --dtype bf16",
            "--dtype applies to --backend transformers only",
        ),
        ("--refiner lm --doc-model m --chunk-model m --max-new-tokens-chunk 0", "--max-new-tokens-chunk must be"),
    ],
)
def test_lm_flags_are_checked_with_one_line_errors(corpus, tmp_path, capsys, args, message):
    assert main(["refine", str(corpus), "-o", str(tmp_path / "out"), *args.split()]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_the_doc_stage_alone_needs_only_a_doc_model(corpus, tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    args = ["refine", str(corpus), "-o", str(out), "--refiner", "lm", "--stages", "doc"]
    assert main([*args, "--doc-model", str(tiny_model_dir), "--max-new-tokens-doc", "4"]) == 0
    assert json.loads((out / "stats.json").read_text())["accounted"] is True


def test_openai_flags_reach_the_openai_backend(tmp_path, llama2_dir):
    from prox.cli import build_parser
    from prox.cli.refine import _settings

    flags = (
        "--refiner lm --backend openai --doc-model doc --chunk-model chunk --base-url http://localhost:8000/v1 "
        "--api-key k --concurrency 3 --request-timeout 7.5 --max-retries 0 --double-bos --no-doc-truncation"
    )
    args = build_parser().parse_args(
        ["refine", "in", "-o", str(tmp_path / "out"), "--tokenizer", str(llama2_dir), *flags.split()]
    )
    settings = _settings(args)
    lm = settings.refiner.for_output(settings.logging_dir).build()
    backend = lm.backend
    assert backend.name == "openai" and backend.url == "http://localhost:8000/v1/completions"
    assert (backend.api_key, backend.concurrency, backend.timeout, backend.max_retries) == ("k", 3, 7.5, 0)
    assert lm.settings.double_bos and not lm.settings.truncate_doc_prompt
    assert (lm.settings.doc_model, lm.settings.chunk_model) == ("doc", "chunk")
    assert lm.settings.cache_path == str(tmp_path / "out" / "logs" / "requests.sqlite")
