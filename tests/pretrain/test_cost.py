"""The cost account against hand computations, including the ProX paper's figure for its 0.3B refiners."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prox.cli import main
from prox.pretrain.cost import CostInput, account, tokens_from_stats


def test_paper_refiners_on_62_5b_raw_tokens_cost_5_1e19_flops():
    # 313M-parameter refiners read 62.5B raw tokens (doc stage) and the 19B the doc stage kept (chunk stage).
    result = account(CostInput(refiner_params=313e6, raw_tokens=62.5e9, doc_kept_tokens=19e9))
    assert result["refining_flops"] == pytest.approx(5.1e19, rel=0.005)
    assert result["refining_flops"] == pytest.approx(2 * 313e6 * (62.5e9 + 19e9))


def test_without_doc_kept_tokens_the_chunk_stage_reads_every_raw_token():
    result = account(CostInput(refiner_params=1e8, raw_tokens=1e9))
    assert result["refining_tokens"] == 2e9
    assert result["refining_flops"] == 2 * 1e8 * 2e9


def test_training_flops_break_even_and_hours_match_hand_computation():
    result = account(
        CostInput(
            refiner_params=3e8,
            raw_tokens=1e10,
            doc_kept_tokens=4e9,
            train_params=1e9,
            train_tokens=5e10,
            throughput=5000,
        )
    )
    refining = 2 * 3e8 * 1.4e10  # 8.4e18
    assert result["training_flops"] == pytest.approx(6 * 1e9 * 5e10)
    assert result["break_even_tokens"] == pytest.approx(refining / 6e9)  # 1.4e9 tokens
    assert result["refining_share_of_training"] == pytest.approx(refining / 3e20)
    assert result["refining_hours"] == pytest.approx(1.4e10 / 5000 / 3600)


def test_tokens_come_from_a_refine_runs_stats(tmp_path: Path):
    stats = {"documents_in": 10, "chars_in": 36_000, "dropped_by_reason": {"drop_doc": 4}, "errors": 1}
    (tmp_path / "stats.json").write_text(json.dumps(stats))
    raw, kept = tokens_from_stats(tmp_path, chars_per_token=3.6)
    assert raw == pytest.approx(10_000)
    assert kept == pytest.approx(10_000 * 5 / 10)


def test_cli_prints_the_paper_figure_as_json(capsys):
    argv = ["cost", "--refiner-params", "313M", "--raw-tokens", "62.5B", "--doc-kept-tokens", "19e9", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["refining_flops"] == pytest.approx(2 * 313e6 * 81.5e9)
    assert result["training_flops"] is None


def test_cli_uses_stats_and_throughput(tmp_path: Path, capsys):
    (tmp_path / "stats.json").write_text(json.dumps({"documents_in": 4, "chars_in": 7_200_000}))
    argv = ["cost", "--refiner-params", "1e8", "--stats", str(tmp_path), "--throughput", "1k", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["raw_tokens"] == pytest.approx(2e6)
    assert result["refining_hours"] == pytest.approx(4e6 / 1000 / 3600)


@pytest.mark.parametrize(
    "argv",
    [
        ["cost", "--refiner-params", "1e8"],
        ["cost", "--refiner-params", "1e8", "--raw-tokens", "1e9", "--doc-kept-tokens", "2e9"],
        ["cost", "--refiner-params", "1e8", "--raw-tokens", "1e9", "--train-tokens", "1e9"],
    ],
)
def test_cli_refuses_incomplete_or_impossible_inputs(argv, capsys):
    assert main(argv) == 2
    assert "prox cost: error:" in capsys.readouterr().err
