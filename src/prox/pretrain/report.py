"""Results of the pre-training proxy across seeds: means and spreads per corpus, differences between corpora with
whether they exceed the seed spread, a Markdown table and the held-out loss plot.

A difference exceeds the seed spread when |mean_a - mean_b| > 2 · sqrt((s_a² + s_b²) / 2), with s the standard
deviation over seeds (sample, n - 1): twice the pooled seed std. With one seed there is no spread and the
verdict is null. An accuracy measured on n examples also varies with the examples drawn, which seeds that tie do
not show: for accuracies the threshold is the larger of that and twice the standard error of the difference of two
proportions, 2 · sqrt((p_a(1 - p_a) + p_b(1 - p_b)) / n) (for the average over tasks, the per-task variances
averaged: sum over tasks of p(1 - p) / n_task, divided by tasks²).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from prox.pretrain.training import RunResult

SPREAD_RULE = (
    "|mean difference| > 2 x pooled seed std, sqrt((s_a^2 + s_b^2) / 2), s over seeds (n - 1); for accuracies, also "
    "> 2 x the standard error of a difference of two accuracies on the task's examples, "
    "sqrt((p_a(1 - p_a) + p_b(1 - p_b)) / examples)"
)
# The one metric per task that the tables and comparisons use; lm-eval reports more in results.json.
MAIN_METRIC = "acc"
# Beside each task's metrics: how many examples were scored (lm-eval's effective n-samples).
EXAMPLES = "examples"


def summary(values: Sequence[float]) -> dict[str, float | None]:
    """Mean, sample std (None for one value), min and max."""
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else None,
        "min": min(values),
        "max": max(values),
    }


def corpus_summary(runs: Sequence[RunResult]) -> dict[str, Any]:
    """One corpus's runs summarised over seeds: held-out loss, perplexity, and each task's and the average accuracy."""
    result: dict[str, Any] = {
        "heldout_loss": summary([run.heldout_loss for run in runs]),
        "perplexity": summary([run.perplexity for run in runs]),
    }
    tasks = sorted({task for run in runs for task in run.downstream})
    if tasks:
        result["downstream"] = {task: summary([run.downstream[task][MAIN_METRIC] for run in runs]) for task in tasks}
        result["downstream_average"] = summary(
            [statistics.fmean(run.downstream[task][MAIN_METRIC] for task in tasks) for run in runs]
        )
        examples = {task: min(int(run.downstream[task].get(EXAMPLES, 0)) for run in runs) for task in tasks}
        if all(examples.values()):
            for task in tasks:
                result["downstream"][task]["sampling_variance"] = _binomial_variance(
                    result["downstream"][task]["mean"], examples[task]
                )
                result["downstream"][task][EXAMPLES] = examples[task]
            result["downstream_average"]["sampling_variance"] = (
                sum(result["downstream"][task]["sampling_variance"] for task in tasks) / len(tasks) ** 2
            )
    return result


def _binomial_variance(accuracy: float, examples: int) -> float:
    """The variance of an accuracy measured on `examples` examples (binomial)."""
    return accuracy * (1 - accuracy) / examples


def compare(name_a: str, a: dict, name_b: str, b: dict, metric: str) -> dict[str, Any]:
    """The difference a - b of one summarised metric and whether it exceeds the seed spread (SPREAD_RULE)."""
    difference = a["mean"] - b["mean"]
    exceeds = None
    if a["std"] is not None and b["std"] is not None:
        threshold = 2 * math.sqrt((a["std"] ** 2 + b["std"] ** 2) / 2)
        if "sampling_variance" in a and "sampling_variance" in b:
            threshold = max(threshold, 2 * math.sqrt(a["sampling_variance"] + b["sampling_variance"]))
        exceeds = abs(difference) > threshold
    return {"a": name_a, "b": name_b, "metric": metric, "difference": difference, "exceeds_spread": exceeds}


def comparisons(corpora: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every pair of corpora (in the order given) on held-out loss and, where measured, average accuracy."""
    found = []
    for (name_a, a), (name_b, b) in combinations(corpora.items(), 2):
        found.append(compare(name_a, a["heldout_loss"], name_b, b["heldout_loss"], "heldout_loss"))
        if "downstream_average" in a and "downstream_average" in b:
            found.append(
                compare(name_a, a["downstream_average"], name_b, b["downstream_average"], "downstream_average")
            )
            for task in a["downstream"]:
                if task in b["downstream"]:
                    found.append(compare(name_a, a["downstream"][task], name_b, b["downstream"][task], task))
    return found


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown: one row per corpus (mean ± std over seeds), then the differences."""
    corpora = results["corpora"]
    tasks = sorted({task for corpus in corpora.values() for task in corpus.get("downstream", {})})
    settings = results["settings"]
    runs = sum(len(corpus["runs"]) for corpus in corpora.values())
    lines = [
        *([] if results.get("finished", True) else [f"**Unfinished: {runs} runs so far.**", ""]),
        f"Model {settings['model']} ({settings['parameters']:,} parameters), {settings['tokens']:,} training tokens "
        f"per run, seeds {', '.join(map(str, settings['seeds']))}; held-out: {settings['heldout']} "
        f"({settings['heldout_tokens']:,} tokens)."
        + (f" Tasks zero-shot, {_limit(settings)} each, metric {MAIN_METRIC}." if tasks else ""),
        "",
        "| " + " | ".join(["corpus", "held-out loss", "perplexity", *tasks, *(["average"] if tasks else [])]) + " |",
        "|---|---|---|" + "---|" * (len(tasks) + 1 if tasks else 0),
    ]
    for name, corpus in corpora.items():
        cells = [name, _cell(corpus["heldout_loss"], 3), _cell(corpus["perplexity"], 1)]
        if tasks:
            cells += [_cell(corpus["downstream"][task], 3) if task in corpus["downstream"] else "" for task in tasks]
            cells.append(_cell(corpus["downstream_average"], 3))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Differences (a - b); beyond the seed spread when {SPREAD_RULE}:", ""]
    lines += ["| a | b | metric | difference | beyond seed spread |", "|---|---|---|---|---|"]
    for item in results["comparisons"]:
        verdict = {True: "yes", False: "no", None: "n/a (one seed)"}[item["exceeds_spread"]]
        lines.append(f"| {item['a']} | {item['b']} | {item['metric']} | {item['difference']:+.4f} | {verdict} |")
    return "\n".join(lines) + "\n"


def plot_loss(results: dict[str, Any], path: Path) -> None:
    """Held-out loss against training tokens seen: one line per corpus (mean over seeds), min-max over seeds shaded."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    for name, corpus in results["corpora"].items():
        curves = [run["curve"] for run in corpus["runs"]]
        length = min(len(curve) for curve in curves)
        tokens = [curves[0][index][0] for index in range(length)]
        losses = [[curve[index][1] for curve in curves] for index in range(length)]
        (line,) = axes.plot(tokens, [statistics.fmean(values) for values in losses], label=name)
        axes.fill_between(
            tokens,
            [min(values) for values in losses],
            [max(values) for values in losses],
            alpha=0.25,
            color=line.get_color(),
        )
    axes.set_xlabel("training tokens seen")
    axes.set_ylabel("held-out loss (nats/token)")
    axes.set_title("Held-out loss (mean over seeds; shaded: min-max)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)


def _cell(values: dict[str, float | None], digits: int) -> str:
    if values["std"] is None:
        return f"{values['mean']:.{digits}f}"
    return f"{values['mean']:.{digits}f} ± {values['std']:.{digits}f}"


def _limit(settings: dict) -> str:
    return f"first {settings['eval_limit']} examples" if settings.get("eval_limit") else "all examples"
