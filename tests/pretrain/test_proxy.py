"""`prox eval pretrain` end to end on two tiny corpora: the outputs' shape, and that a model trained on pure
boilerplate scores clearly worse on held-out clean text than one trained on clean text."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from prox.cli import main
from prox.pretrain.corpus import corpus_files, pack, read_texts, token_stream

pytest.importorskip("torch")
pytest.importorskip("transformers")

NOUNS = ["river", "teacher", "garden", "engine", "city", "doctor", "forest", "letter", "market", "student"]
VERBS = ["follows", "repairs", "describes", "visits", "protects", "measures", "paints", "explains"]
ADJECTIVES = ["old", "quiet", "bright", "narrow", "famous", "careful", "heavy", "distant"]
BOILERPLATE = [
    "Home | About | Contact",
    "Accept all cookies",
    "Share on Facebook",
    "Copyright 2024. All rights reserved.",
    "Log in / Register",
    "Privacy Policy | Terms of Use",
    "Subscribe to our newsletter",
    "Skip to content",
]
# A very small Llama: the 32k-row embeddings are most of it, so each step is a few milliseconds.
SMALL_MODEL = "llama:layers=1,hidden=32,heads=2,kv_heads=2,ffn=64,context=128"


def clean_documents(count: int, seed: int) -> list[str]:
    generator = random.Random(seed)

    def sentence() -> str:
        noun, other = generator.sample(NOUNS, 2)
        return f"The {generator.choice(ADJECTIVES)} {noun} {generator.choice(VERBS)} the {other}."

    return [" ".join(sentence() for _ in range(12)) for _ in range(count)]


def boilerplate_documents(count: int, seed: int) -> list[str]:
    generator = random.Random(seed)
    return ["\n".join(generator.choices(BOILERPLATE, k=14)) for _ in range(count)]


def write_docs(path: Path, texts: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as file:
        file.writelines(json.dumps({"id": str(index), "text": text}) + "\n" for index, text in enumerate(texts))
    return path


@pytest.fixture(scope="module")
def proxy_run(tmp_path_factory: pytest.TempPathFactory, llama2_dir: Path, tiny_eval_data: Path) -> tuple[Path, int]:
    pytest.importorskip("lm_eval")
    root = tmp_path_factory.mktemp("proxy")
    clean = write_docs(root / "clean" / "docs.jsonl.gz", clean_documents(60, seed=1))
    boilerplate = write_docs(root / "boilerplate" / "docs.jsonl.gz", boilerplate_documents(60, seed=2))
    heldout = write_docs(root / "heldout.jsonl.gz", clean_documents(20, seed=3))
    argv = [
        "eval", "pretrain",
        "--corpus", f"clean={clean.parent}", "--corpus", f"boilerplate={boilerplate}",
        "--heldout", str(heldout), "-o", str(root / "out"),
        "--model", SMALL_MODEL, "--tokenizer", str(llama2_dir),
        "--tokens", "3840", "--block", "32", "--batch-size", "2", "--learning-rate", "1e-2",
        "--seeds", "2", "--threads", "1", "--evals", "2", "--heldout-tokens", "1024",
        "--tasks", "copa,piqa", "--eval-data", str(tiny_eval_data), "--eval-limit", "2",
    ]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_DATASETS_OFFLINE", "1")
        patch.setenv("HF_HUB_OFFLINE", "1")
        status = main(argv)
    return root / "out", status


def test_outputs_have_every_corpus_seed_and_task(proxy_run):
    out, status = proxy_run
    assert status == 0
    assert {path.name for path in out.iterdir()} >= {"results.json", "results.md", "loss.png"}
    results = json.loads((out / "results.json").read_text())
    assert list(results["corpora"]) == ["clean", "boilerplate"]
    assert results["settings"]["steps"] == 60 and results["settings"]["tokens"] == 3840
    for corpus in results["corpora"].values():
        assert [run["seed"] for run in corpus["runs"]] == [0, 1]
        for run in corpus["runs"]:
            assert run["tokens"] == 3840
            assert [point[0] for point in run["curve"]] == [0, 1920, 3840]
            assert set(run["downstream"]) == {"copa", "piqa"}
            assert 0 <= run["downstream"]["copa"]["acc"] <= 1
            assert run["downstream"]["copa"]["examples"] == 2  # --eval-limit
        assert set(corpus["downstream"]) == {"copa", "piqa"}
        assert corpus["downstream"]["piqa"]["examples"] == 2 and "sampling_variance" in corpus["downstream_average"]
    metrics = {item["metric"] for item in results["comparisons"]}
    assert metrics == {"heldout_loss", "downstream_average", "copa", "piqa"}
    table = (out / "results.md").read_text()
    assert "| clean |" in table and "| boilerplate |" in table and "beyond seed spread" in table
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_boilerplate_gives_a_clearly_higher_heldout_loss_than_clean_text(proxy_run):
    out, _ = proxy_run
    results = json.loads((out / "results.json").read_text())
    clean, boilerplate = (results["corpora"][name]["heldout_loss"] for name in ("clean", "boilerplate"))
    assert boilerplate["min"] > clean["max"] + 1.0
    comparison = next(item for item in results["comparisons"] if item["metric"] == "heldout_loss")
    assert comparison["a"] == "clean" and comparison["difference"] < 0 and comparison["exceeds_spread"] is True


def test_a_budget_above_the_smallest_corpus_is_refused(tmp_path: Path, llama2_dir: Path, capsys):
    small = write_docs(tmp_path / "small.jsonl.gz", clean_documents(2, seed=1))
    large = write_docs(tmp_path / "large.jsonl.gz", clean_documents(50, seed=2))
    argv = [
        "eval", "pretrain", "--corpus", f"small={small}", "--corpus", f"large={large}", "--heldout", str(small),
        "-o", str(tmp_path / "out"), "--tokenizer", str(llama2_dir), "--tokens", "100000", "--tasks", "none",
    ]  # fmt: skip
    assert main(argv) == 2
    assert "more than corpus 'small' holds" in capsys.readouterr().err


def test_a_refine_output_contributes_only_its_refined_documents(tmp_path: Path):
    out = tmp_path / "refined"
    write_docs(out / "00000.jsonl.gz", ["kept one", "kept two"])
    write_docs(out / "dropped" / "00000.jsonl.gz", ["dropped"])
    (out / "logs").mkdir()
    (out / "logs" / "prox-run.json").write_text("{}")
    assert [Path(path).name for path in corpus_files(str(out))] == ["00000.jsonl.gz"]
    assert list(read_texts(str(out))) == ["kept one", "kept two"]


def test_packing_appends_eos_and_keeps_only_whole_blocks():
    stream = token_stream([[1, 2, 3], [4, 5]], eos_id=9)
    assert stream == [1, 2, 3, 9, 4, 5, 9]
    assert pack(stream, block=3) == [[1, 2, 3], [9, 4, 5]]
    assert pack(stream, block=2, max_tokens=5) == [[1, 2], [3, 9]]
    assert sorted(token_stream([[1], [2], [3]], eos_id=0, seed=4)) == [0, 0, 0, 1, 2, 3]


def test_accuracies_that_seeds_tie_on_need_more_than_the_examples_sampling_error():
    """Seeds that score alike leave no seed spread; a few examples' worth of accuracy is then still not a difference."""
    from prox.pretrain.report import compare, corpus_summary
    from prox.pretrain.training import RunResult

    def runs(name: str, accuracy: float, examples: int) -> list[RunResult]:
        scores = {"piqa": {"acc": accuracy, "examples": float(examples)}}
        return [RunResult(name, seed, 100, 5.0, [], 1.0, scores) for seed in range(3)]

    def verdict(accuracy_b: float, examples: int) -> bool:
        a = corpus_summary(runs("a", 0.600, examples))["downstream"]["piqa"]
        b = corpus_summary(runs("b", accuracy_b, examples))["downstream"]["piqa"]
        return compare("a", a, "b", b, "piqa")["exceeds_spread"]

    # 40 examples: standard error of the difference sqrt(2 * 0.6 * 0.4 / 40) = 0.11; 0.025 is one example.
    assert verdict(0.575, 40) is False
    assert verdict(0.300, 40) is True  # 0.3 apart: beyond 2 x 0.105
    assert verdict(0.575, 100_000) is True  # on many examples even 2.5 points is beyond sampling error
