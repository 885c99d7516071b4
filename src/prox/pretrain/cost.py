"""What refining costs, against what training costs: the ProX paper's accounting (§4.3, Table 6).

A refiner reads every raw token at the doc stage and every token the doc stage keeps at the chunk stage; a
forward pass costs about 2·N FLOPs per token (N the refiner's parameters, generated program tokens ignored), so

    refining FLOPs ≈ 2 · N_refiner · (D_raw + D_after_doc_stage)

Training costs about 6·N·D (forward and backward). The break-even is the number of extra training tokens that
the refining compute would have bought for the trained model: refining FLOPs / (6 · N_train). The paper's
0.3B refiners (313M parameters) on 62.5B raw tokens, 19B after the doc stage, cost ≈ 5.1·10^19 FLOPs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

# Characters per Llama-2 token on web pages: 3.60 on the WCXB pages, 3.69 on the DCLM documents of ../shared/data.
CHARS_PER_TOKEN = 3.6


@dataclass(frozen=True)
class CostInput:
    """The quantities the cost model needs; the optional ones add lines to the account."""

    refiner_params: float
    raw_tokens: float
    doc_kept_tokens: float | None = None  # tokens the doc stage keeps; None: all of them (an upper bound)
    train_params: float | None = None
    train_tokens: float | None = None
    throughput: float | None = None  # refiner tokens read per second per GPU (or machine)

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is not None and value < 0:
                raise ValueError(f"--{name.replace('_', '-')} must not be negative")
        if self.refiner_params <= 0 or self.raw_tokens <= 0:
            raise ValueError("--refiner-params and --raw-tokens must be positive")
        if self.doc_kept_tokens is not None and self.doc_kept_tokens > self.raw_tokens:
            raise ValueError("--doc-kept-tokens cannot exceed --raw-tokens: the doc stage only drops documents")
        if self.train_tokens is not None and self.train_params is None:
            raise ValueError("--train-tokens needs --train-params (training FLOPs are 6 x params x tokens)")


def refining_tokens(cost: CostInput) -> float:
    """Tokens the refiner reads: every raw token at the doc stage, the doc stage's kept ones at the chunk stage."""
    kept = cost.raw_tokens if cost.doc_kept_tokens is None else cost.doc_kept_tokens
    return cost.raw_tokens + kept


def account(cost: CostInput) -> dict[str, float | None]:
    """The account: refining FLOPs, and where the inputs allow, GPU hours, training FLOPs and the break-even."""
    tokens = refining_tokens(cost)
    refining = 2 * cost.refiner_params * tokens
    result: dict[str, float | None] = {
        **asdict(cost),
        "refining_tokens": tokens,
        "refining_flops": refining,
        "refining_hours": tokens / cost.throughput / 3600 if cost.throughput else None,
        "training_flops": None,
        "break_even_tokens": None,
        "refining_share_of_training": None,
    }
    if cost.train_params:
        result["break_even_tokens"] = refining / (6 * cost.train_params)
        if cost.train_tokens:
            training = 6 * cost.train_params * cost.train_tokens
            result["training_flops"] = training
            result["refining_share_of_training"] = refining / training
    return result


def tokens_from_stats(stats_path: str | Path, chars_per_token: float = CHARS_PER_TOKEN) -> tuple[float, float]:
    """(raw tokens, tokens after the doc stage) estimated from a `prox refine` run's stats.json (or its folder):
    characters in divided by `chars_per_token`, and that share of it in the documents the doc stage did not drop
    (dropped documents taken to be of average length, since stats.json counts documents, not their size)."""
    path = Path(stats_path)
    path = path / "stats.json" if path.is_dir() else path
    try:
        stats = json.loads(path.read_text())
        chars, documents = stats["chars_in"], stats["documents_in"]
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file; give a prox refine output folder or its stats.json") from None
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{path}: not a prox refine stats.json (needs chars_in and documents_in)") from None
    if not documents:
        raise ValueError(f"{path}: the run read no documents")
    dropped_by_doc_stage = stats.get("dropped_by_reason", {}).get("drop_doc", 0) + stats.get("errors", 0)
    raw = chars / chars_per_token
    return raw, raw * (documents - dropped_by_doc_stage) / documents


def format_account(result: dict[str, float | None]) -> str:
    """The account as aligned lines for people."""
    rows = [
        ("refiner parameters", _number(result["refiner_params"])),
        ("raw tokens", _number(result["raw_tokens"])),
        (
            "tokens after doc stage",
            _number(result["doc_kept_tokens"]) if result["doc_kept_tokens"] is not None else "all (not given)",
        ),
        ("refining tokens read", _number(result["refining_tokens"])),
        ("refining FLOPs", f"{result['refining_flops']:.3g}  (2 x refiner params x tokens read)"),
    ]
    if result["refining_hours"] is not None:
        rows.append(("refining time", f"{result['refining_hours']:,.1f} GPU hours at {result['throughput']:,g} tok/s"))
    if result["break_even_tokens"] is not None:
        rows.append(
            (
                "break-even",
                f"{_number(result['break_even_tokens'])} extra training tokens for a "
                f"{_number(result['train_params'])}-parameter model (refining FLOPs / 6N)",
            )
        )
    if result["training_flops"] is not None:
        rows.append(("training FLOPs", f"{result['training_flops']:.3g}  (6 x params x tokens)"))
        rows.append(("refining / training", f"{result['refining_share_of_training']:.1%}"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows) + "\n"


def _number(value: float | None) -> str:
    """1.25e9 as 1.25B: the units of the paper's tables."""
    if value is None:
        return "-"
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.3g}"
