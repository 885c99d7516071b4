"""The sample for the viewer: fair shares per decision, uniform within one, reproducible, bounded; and bins."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from prox.report.documents import OutputDocument
from prox.report.tally import Bins, StratifiedSample, expected_strata, fair_shares


def document(index: int, place: str = "kept", reason: str = "edited") -> OutputDocument:
    return OutputDocument(f"in.jsonl:{index}", f"doc-{index}", place, reason, "text", "text", {})


@given(st.integers(0, 500), st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 400), max_size=8))
def test_fair_shares_fill_the_sample_without_exceeding_any_stratum(size, counts):
    shares = fair_shares(size, counts)
    assert all(0 <= shares[name] <= counts[name] for name in counts)
    assert sum(shares.values()) == min(size, sum(counts.values()))
    # No stratum is short of its equal share while another gets more than one above it.
    for name, share in shares.items():
        if share < counts[name]:
            assert all(other <= share + 1 for other in shares.values())


def test_a_rare_decision_is_in_the_sample_whole():
    shares = fair_shares(100, {"kept:edited": 100_000, "dropped:drop_doc": 5_000, "error": 3})
    assert shares == {"kept:edited": 48, "dropped:drop_doc": 49, "error": 3}


def test_strata_come_from_the_runs_account():
    stats = {
        "kept": 10,
        "kept_by_decision": {"edited": 6, "unchanged": 1},
        "dropped_by_reason": {"drop_doc": 4, "too_few_words": 0},
        "errors": 2,
    }
    assert expected_strata(stats) == {
        "kept:edited": 6,
        "kept:unchanged": 1,
        "kept:no_chunk_program": 3,
        "dropped:drop_doc": 4,
        "error": 2,
    }


def sample_ids(size: int, seed: int, count: int = 1000) -> list[str]:
    sample = StratifiedSample(size, {"kept:edited": count}, seed)
    for index in range(count):
        sample.offer("kept:edited", document(index))
    return [item.id for item in sample.documents()]


def test_the_sample_is_reproducible_and_depends_on_the_seed():
    assert sample_ids(20, seed=1) == sample_ids(20, seed=1)
    assert sample_ids(20, seed=1) != sample_ids(20, seed=2)
    assert len(sample_ids(20, seed=1)) == 20


def test_every_document_is_about_equally_likely_to_be_chosen():
    # 400 seeds x 10 of 100 documents: each document is expected 40 times; the first and the last are not favoured.
    chosen = Counter(item for seed in range(400) for item in sample_ids(10, seed, count=100))
    first, last = (
        sum(chosen[f"doc-{index}"] for index in range(50)),
        sum(chosen[f"doc-{index}"] for index in range(50, 100)),
    )
    assert abs(first - last) < 0.15 * (first + last)
    assert min(chosen.values()) > 10 and max(chosen.values()) < 80


def test_the_sample_keeps_read_order_and_a_decision_the_account_missed_still_appears():
    sample = StratifiedSample(4, {"kept:edited": 10}, seed=0)
    for index in range(10):
        sample.offer("kept:edited", document(index))
    sample.offer("dropped:over_removal", document(99, "dropped", "over_removal"))
    chosen = sample.documents()
    assert [item.id for item in chosen] == sorted((item.id for item in chosen), key=lambda name: int(name[4:]))
    assert chosen[-1].id == "doc-99"


def test_bins_put_values_past_the_ends_into_the_end_bins():
    bins = Bins(0.0, 1.0, 4)
    for value in (-0.5, 0.0, 0.3, 0.99, 1.0, 1.7):
        bins.add(value)
    assert bins.counts == [2, 1, 0, 3]
    assert bins.edges == [0.0, 0.25, 0.5, 0.75, 1.0]
