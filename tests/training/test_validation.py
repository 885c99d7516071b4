"""prox's metrics on generated programs, checked by hand."""

from __future__ import annotations

import pytest

from prox.generators.base import GenerationFailure
from prox.training.validation import score_programs


def _record(stage: str, program: str, **span) -> dict:
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    return {"stage": stage, "messages": [*messages, {"role": "assistant", "content": program}], **span}


def test_doc_accuracy_keep_f1_and_removed_line_f1_by_hand():
    records = [
        _record("doc", "keep_doc()"),
        _record("doc", "keep_doc()"),
        _record("doc", "drop_doc()"),
        # lines 10..13: the target removes 10 and 13
        _record(
            "chunk",
            "remove_lines(line_start=10, line_end=10)\nremove_lines(line_start=13, line_end=13)",
            first_line=10,
            last_line=13,
        ),
        _record("chunk", "keep_chunk()", first_line=14, last_line=15),
    ]
    generated = [
        "keep_doc()",
        "drop_doc()",  # a kept document dropped
        "drop_doc()",
        "remove_lines(line_start=10, line_end=11)",  # 10 right, 11 wrong, 13 missed
        "keep_chunk()",
    ]
    metrics = score_programs(records, generated)
    # doc: keep/keep right, keep->drop wrong, drop/drop right: accuracy 2/3; keep P=1, R=1/2, F1=2/3
    assert metrics["doc_accuracy"] == pytest.approx(2 / 3)
    assert metrics["doc_keep_f1"] == pytest.approx(2 / 3)
    assert metrics["doc_exact"] == pytest.approx(2 / 3)
    # lines: removed gold {10, 13}, predicted {10, 11}: P=1/2, R=1/2, F1=1/2, over 6 lines
    assert metrics["chunk_lines"] == 6
    assert metrics["chunk_removed_f1"] == pytest.approx(0.5)
    assert metrics["chunk_exact"] == pytest.approx(0.5)
    assert metrics["score"] == pytest.approx((2 / 3 + 0.5) / 2)


def test_a_failed_or_unreadable_generation_keeps_the_document_and_removes_nothing():
    records = [
        _record("doc", "drop_doc()"),
        _record("chunk", "remove_lines(line_start=0, line_end=0)", first_line=0, last_line=1),
    ]
    metrics = score_programs(records, [GenerationFailure("out of memory"), "not a program"])
    assert metrics["failed"] == 1
    assert metrics["doc_accuracy"] == 0.0
    assert metrics["chunk_removed_f1"] == 0.0
    assert metrics["score"] == 0.0


def test_a_stage_whose_targets_remove_nothing_counts_by_exact_programs():
    records = [_record("chunk", "keep_chunk()", first_line=0, last_line=2)] * 2
    metrics = score_programs(records, ["keep_chunk()", "remove_lines(line_start=1, line_end=1)"])
    assert "doc_accuracy" not in metrics
    assert metrics["score"] == metrics["chunk_exact"] == 0.5
