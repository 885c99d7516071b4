"""The pre-training proxy end to end: every corpus trained on the same token budget with several seeds, scored on
held-out clean text and, optionally, on downstream tasks; results written as JSON, Markdown and a plot.

Outputs in OUT: `results.json` (settings, every run with its loss curve and task scores, summaries over seeds,
comparisons), `results.md` (the table) and `loss.png` (held-out loss against tokens seen).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from prox.pretrain.corpus import Corpus, encode, pack, read_texts, token_stream
from prox.pretrain.downstream import check_eval_data, evaluate_downstream
from prox.pretrain.report import SPREAD_RULE, comparisons, corpus_summary, markdown, plot_loss
from prox.pretrain.training import RunResult, TrainSettings, hf_tokenizer, train_run


def run_proxy(
    corpora: Sequence[Corpus],
    heldout: str,
    output: str | Path,
    settings: TrainSettings,
    seeds: Sequence[int],
    heldout_tokens: int = 65536,
    tasks: Sequence[str] = (),
    eval_data: str | Path | None = None,
    eval_limit: int | None = None,
    text_key: str = "text",
) -> dict[str, Any]:
    """Train and score every corpus with every seed; write and return the results."""
    names = [corpus.name for corpus in corpora]
    if len(set(names)) != len(names):
        raise ValueError(f"corpus names must differ; got {', '.join(names)}")
    if tasks:
        check_eval_data(eval_data, tasks)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    tokenizer = hf_tokenizer(settings.tokenizer_dir)
    eos = tokenizer.eos_token_id

    documents = {corpus.name: encode(list(read_texts(corpus.location, text_key)), tokenizer) for corpus in corpora}
    available = {name: sum(len(doc) + 1 for doc in docs) for name, docs in documents.items()}
    settings = _budget(settings, available)
    heldout_blocks = pack(
        token_stream(encode(list(read_texts(heldout, text_key)), tokenizer), eos), settings.block, heldout_tokens
    )
    if not heldout_blocks:
        raise ValueError(f"{heldout}: the held-out text holds less than one block of {settings.block} tokens")

    runs: dict[str, list[RunResult]] = {name: [] for name in names}
    record = {
        "model": settings.shape.describe(),
        "parameters": 0,
        "tokenizer": str(settings.tokenizer_dir),
        "tokens": settings.steps * settings.tokens_per_step,
        "block": settings.block,
        "batch_size": settings.batch_size,
        "steps": settings.steps,
        "learning_rate": settings.learning_rate,
        "seeds": list(seeds),
        "heldout": heldout,
        "heldout_tokens": len(heldout_blocks) * settings.block,
        "tasks": list(tasks),
        "eval_limit": eval_limit,
        "spread_rule": SPREAD_RULE,
    }
    total = len(corpora) * len(seeds)
    results: dict[str, Any] = {}
    # Seed by seed, every corpus in turn: a comparison cut short still has every corpus at the seeds it finished.
    for seed in seeds:
        for corpus in corpora:
            print(f"prox eval pretrain: run {sum(map(len, runs.values())) + 1}/{total}: {corpus.name}, seed {seed}")
            blocks = pack(token_stream(documents[corpus.name], eos, seed), settings.block)
            result, model = train_run(corpus.name, blocks, heldout_blocks, settings, seed)
            record["parameters"] = sum(parameter.numel() for parameter in model.parameters())
            if tasks:
                result.downstream = evaluate_downstream(model, tokenizer, tasks, eval_data, eval_limit)
            runs[corpus.name].append(result)
            print(
                f"prox eval pretrain: {corpus.name}, seed {seed}: held-out loss {result.heldout_loss:.4f} "
                f"({result.seconds:.0f} s)"
            )
            # Written after every run, so that a long comparison cut short still leaves what it measured.
            results = _results(record, corpora, documents, available, runs, finished=False)
            _write(results, output)
    results["finished"] = True
    _write(results, output)
    return results


def _results(
    settings: dict[str, Any],
    corpora: Sequence[Corpus],
    documents: dict[str, list],
    available: dict[str, int],
    runs: dict[str, list[RunResult]],
    finished: bool,
) -> dict[str, Any]:
    """The results of the runs so far: settings, each corpus's summary and runs, the comparisons."""
    measured = [corpus for corpus in corpora if runs[corpus.name]]
    results: dict[str, Any] = {
        "settings": settings,
        "finished": finished,
        "corpora": {
            corpus.name: {
                "location": corpus.location,
                "documents": len(documents[corpus.name]),
                "tokens_available": available[corpus.name],
                **corpus_summary(runs[corpus.name]),
                "runs": [_run_record(run) for run in runs[corpus.name]],
            }
            for corpus in measured
        },
    }
    results["comparisons"] = comparisons(results["corpora"])
    return results


def _write(results: dict[str, Any], output: Path) -> None:
    (output / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (output / "results.md").write_text(markdown(results))
    plot_loss(results, output / "loss.png")


def _budget(settings: TrainSettings, available: dict[str, int]) -> TrainSettings:
    """The settings with the token budget fixed: as asked, or what the smallest corpus holds; never more than that,
    so that no corpus is repeated."""
    smallest = min(available, key=available.get)
    tokens = settings.tokens or available[smallest]
    if tokens > available[smallest]:
        raise ValueError(
            f"--tokens {tokens:,} is more than corpus {smallest!r} holds ({available[smallest]:,} tokens); "
            "lower --tokens so that no corpus is repeated"
        )
    settings = replace(settings, tokens=tokens)
    if tokens < settings.tokens_per_step:
        raise ValueError(
            f"a budget of {tokens:,} tokens is less than one step ({settings.block} x {settings.batch_size} tokens); "
            "give more text, or a smaller --block or --batch-size"
        )
    return settings


def _run_record(run: RunResult) -> dict[str, Any]:
    return {
        "seed": run.seed,
        "tokens": run.tokens,
        "heldout_loss": run.heldout_loss,
        "perplexity": run.perplexity,
        "seconds": round(run.seconds, 1),
        "curve": [list(point) for point in run.curve],
        "downstream": run.downstream,
    }
