"""`prox execute OUT -o OUT2 --policy P`: the recorded programs re-executed under another policy, no model run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _outcome(tools, out: Path) -> tuple[dict, dict]:
    """({id: (text, chunk_decision)} of kept documents, {id: drop_reason} of dropped ones)."""
    kept = {
        record["id"]: (record["text"], record["metadata"]["prox"].get("chunk_decision"))
        for record in tools.read_records(out)
    }
    dropped = {
        record["id"]: record["metadata"]["prox"]["drop_reason"] for record in tools.read_records(out / "dropped")
    }
    return kept, dropped


@pytest.fixture
def execute(tools, monkeypatch):
    """`prox execute ARGS...` with the rules and lite generators made to fail: a replay must not ask for programs."""
    from prox.generators.lite import LiteGenerator
    from prox.generators.rules import RulesGenerator

    def refuse(*_args: object) -> list[str]:
        raise AssertionError("a replay ran the generator")

    def run(*args: object) -> int:
        for generator in (RulesGenerator, LiteGenerator):
            monkeypatch.setattr(generator, "doc_programs", refuse)
            monkeypatch.setattr(generator, "chunk_programs", refuse)
        return tools.prox("execute", *args)

    return run


def _without(stats: dict, keys: tuple[str, ...]) -> dict:
    return {key: value for key, value in stats.items() if key not in keys}


@pytest.fixture
def refined(tools, corpus: Path, tmp_path: Path) -> Path:
    """The corpus refined by the rules under the release policy."""
    out = tmp_path / "refined"
    assert tools.prox("refine", corpus, "-o", out, "--refiner", "rules") == 0
    return out


@pytest.mark.parametrize("policy", ["strict", "release"])
def test_replaying_a_clean_rules_run_changes_nothing(tools, refined: Path, tmp_path: Path, execute, policy):
    replayed = tmp_path / "replayed"
    assert execute(refined, "-o", replayed, "--policy", policy) == 0
    assert _outcome(tools, replayed) == _outcome(tools, refined)
    tasks = ("tasks", "tasks_finished")  # a replay has a task per data file of the source
    assert _without(tools.read_stats(replayed), tasks) == _without(tools.read_stats(refined), tasks)
    before = {record["id"]: record["metadata"] for record in tools.read_records(refined)}
    for record in tools.read_records(replayed):
        assert record["metadata"]["prox"].pop("policy") == policy
        before[record["id"]]["prox"].pop("policy")
        assert record["metadata"] == before[record["id"]]  # programs, decisions, raw_content, source, refiner


def test_replaying_a_parquet_output(tools, corpus: Path, tmp_path: Path, execute):
    refined, replayed = tmp_path / "refined", tmp_path / "replayed"
    tools.prox("refine", corpus, "-o", refined, "--refiner", "rules", "--output-format", "parquet")
    assert execute(refined, "-o", replayed, "--policy", "strict", "--output-format", "parquet") == 0
    assert _outcome(tools, replayed) == _outcome(tools, refined)


def test_replaying_a_doc_stage_only_output_keeps_texts(tools, corpus: Path, tmp_path: Path, execute):
    refined, replayed = tmp_path / "refined", tmp_path / "replayed"
    tools.prox("refine", corpus, "-o", refined, "--refiner", "rules", "--stages", "doc")
    assert execute(refined, "-o", replayed, "--policy", "strict") == 0
    kept, dropped = _outcome(tools, replayed)
    assert {record_id: text for record_id, (text, _) in kept.items()} == {
        record_id: text for record_id, (text, _) in _outcome(tools, refined)[0].items()
    }
    assert {decision for _, decision in kept.values()} == {"no_chunk_program"} and len(dropped) == 4


def _hand_made_output(tools, folder: Path) -> str:
    """An OUT holding one document whose recorded chunk program removes 85% of its words; returns the text."""
    lines = [" ".join(f"w{line}x{word}" for word in range(10)) + "." for line in range(20)]
    text = "\n".join(lines)
    program = "remove_lines(line_start=0, line_end=16)"
    record = {
        "id": "over-eager",
        "text": text,
        "metadata": {
            "url": "https://example.org/over-eager",
            "prox": {
                "source": "pages.jsonl:1",
                "doc_program": "keep_doc()",
                "chunk_programs": [{"first_line": 0, "last_line": 19, "program": program}],
                "chunk_program": program,
            },
        },
    }
    (folder / "logs").mkdir(parents=True)
    tools.write_jsonl(folder / "00000.jsonl.gz", [record])
    return text


def test_a_program_removing_most_words_is_over_removal_under_strict_only(tools, tmp_path: Path, execute):
    text = _hand_made_output(tools, tmp_path / "hand-made")
    strict, release = tmp_path / "strict", tmp_path / "release"
    assert execute(tmp_path / "hand-made", "-o", strict, "--policy", "strict") == 0
    assert execute(tmp_path / "hand-made", "-o", release, "--policy", "release") == 0

    assert tools.read_records(strict) == []
    [dropped] = tools.read_records(strict / "dropped")
    assert dropped["id"] == "over-eager" and dropped["text"] == text
    assert dropped["metadata"]["prox"]["drop_reason"] == "over_removal"
    assert dropped["metadata"]["prox"]["source"] == "pages.jsonl:1"
    assert tools.read_stats(strict)["dropped_by_reason"] == {"over_removal": 1}

    [kept] = tools.read_records(release)
    assert kept["text"] == "\n".join(text.split("\n")[17:])
    assert kept["metadata"]["prox"]["chunk_decision"] == "edited" and kept["metadata"]["prox"]["raw_content"] == text
    assert tools.read_stats(release)["lines_removed"] == 17


def test_a_release_layout_output_replays_and_forgets_old_drop_reasons(tools, tmp_path: Path, execute):
    source = tmp_path / "released"
    text = "\n".join(f"Line {index} of the story was told with care and the usual attention." for index in range(8))
    record = {
        "id": "maybe",
        "text": text,
        "raw_content": text,
        "doc_content": text,
        # The release drops on the substring "drop"; strict reads the calls and keeps.
        "metadata": {"doc_program": "keep_doc()  # do not drop", "chunk_program": None, "drop_reason": "drop_doc"},
    }
    (source / "logs").mkdir(parents=True)
    tools.write_jsonl(source / "dropped" / "doc_00000.jsonl.gz", [record])
    strict, release = tmp_path / "strict", tmp_path / "release"
    assert execute(source, "-o", strict, "--policy", "strict", "--layout", "prox-release") == 0
    assert execute(source, "-o", release, "--policy", "release", "--layout", "prox-release") == 0
    [kept] = tools.read_records(strict)
    assert kept["text"] == text and "drop_reason" not in kept["metadata"]
    assert kept["metadata"]["doc_program"] == "keep_doc()  # do not drop"
    [dropped] = tools.read_records(release / "dropped")
    assert dropped["metadata"]["drop_reason"] == "drop_doc"


def test_replaying_a_folder_that_is_not_an_output_is_fatal(execute, corpus: Path, tmp_path: Path, capsys):
    assert execute(corpus, "-o", tmp_path / "replayed") == 2
    assert "is not a prox refine output folder (no logs/ inside)" in capsys.readouterr().err


def test_replaying_an_output_without_documents_is_fatal(execute, tmp_path: Path, capsys):
    (tmp_path / "empty" / "logs").mkdir(parents=True)
    assert execute(tmp_path / "empty", "-o", tmp_path / "replayed") == 2
    assert "holds no refined or dropped documents to replay" in capsys.readouterr().err


def test_replayed_errors_are_not_replayed_but_counted_apart(tools, tmp_path: Path, execute):
    tools.write_jsonl(tmp_path / "in" / "a.jsonl", [*tools.pages(4, seed=9), {"id": "x", "text": ""}])
    refined, replayed = tmp_path / "refined", tmp_path / "replayed"
    tools.prox("refine", tmp_path / "in", "-o", refined, "--refiner", "rules")
    assert tools.read_stats(refined)["errors"] == 1
    assert execute(refined, "-o", replayed, "--policy", "strict") == 0
    stats = tools.read_stats(replayed)
    assert stats["documents_in"] == 4 and stats["errors"] == 0 and stats["accounted"]
    assert json.loads((replayed / "stats.json").read_text())["kept"] == tools.read_stats(refined)["kept"]
