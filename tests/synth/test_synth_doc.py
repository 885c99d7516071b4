"""`prox synth doc` against a scripted OpenAI-compatible teacher on 127.0.0.1: scores read from the teacher's
answers (and asked for again when they cannot be read), labels by the thresholds, prompts byte-identical to
refine's, failed requests in OUT/errors, a rerun answered from the request cache, and stats that add up. Tasks and
kill -9: test_synth_tasks.py."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_synth_labels import char_tokenizer, folder_bytes, read_shards, write_jsonl

from prox.cli import main
from prox.generators.lm.openai_backend import OpenAIBackend
from prox.prompts import doc_prompt
from prox.synth.profile import load_profile
from prox.synth.records import render_prompt
from prox.synth.teacher import doc_score_messages
from prox.tokenizer import load_tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generators" / "lm_servers"))
from completion_servers import CompletionServer, Reply, chat_answer

__all__ = ["char_tokenizer"]  # a fixture, used by name

MODEL = "teacher-70b"
EDU_LINE = "Educational score: <points>"


def document(name: str, lines: int = 4) -> dict:
    """A document whose text names it, `[name]`, so the scripted teacher can tell which one it is shown."""
    body = [f"[{name}] The {name} story goes on, line {index}, with a few more words in it." for index in range(lines)]
    return {"id": name, "text": "\n".join(body)}


def kind_of(payload: dict) -> str:
    return "educational" if EDU_LINE in payload["messages"][1]["content"] else "format"


def name_of(payload: dict) -> str:
    user = payload["messages"][1]["content"]
    return user[user.index("<document>\n[") + len("<document>\n[") :].split("]", 1)[0]


def follow_ups(payload: dict) -> int:
    """0 for the first question, 1 for the first follow-up turn, ..."""
    return (len(payload["messages"]) - 2) // 2


def scripted(scores: dict[str, tuple[object, object]]) -> Callable[[dict, int], Reply]:
    """A teacher answering each document's two questions with a critique and its score line; a score given as
    a string is the whole answer, a list gives one answer per turn, a callable makes the reply."""

    def answer(payload: dict, hit: int) -> Reply:
        kind = kind_of(payload)
        given = scores[name_of(payload)][0 if kind == "educational" else 1]
        if callable(given):
            return given(payload, hit)
        if isinstance(given, list):
            given = given[min(follow_ups(payload), len(given) - 1)]
        if isinstance(given, str):
            return chat_answer(given)
        label = "Educational score" if kind == "educational" else "Extraction Quality Score"
        return chat_answer(f"The text is clear and on topic.\n{label}: {given}")

    return answer


@pytest.fixture
def teacher() -> Iterator[CompletionServer]:
    with CompletionServer(scripted({})) as server:
        yield server


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OpenAIBackend, "retry_delay", lambda self, retry: 0.01)


def synth_doc(inputs: list[Path], out: Path | str, tokenizer: Path, server: CompletionServer, *options: str) -> int:
    command = ["synth", "doc", *map(str, inputs), "-o", str(out), "--tokenizer", str(tokenizer)]
    # At most 4 connections at once: the test server listens with a backlog of 5 (more wait a SYN retry, 1 s).
    return main([*command, "--teacher-url", server.base_url, "--teacher-model", MODEL, "--concurrency", "4", *options])


def stats_of(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def assert_accounted(stats: dict) -> None:
    inputs, examples, teacher = stats["inputs"], stats["examples"], stats["teacher"]
    assert stats["accounted"] is True
    assert inputs["records"] == inputs["accepted"] + inputs["rejected"] + inputs["errors"]
    assert examples["made"] == examples["written"] + examples["rejected"]
    assert teacher["requests"] == teacher["cache_hits"] + teacher["answered"] + teacher["failed"]


def test_scores_make_labels_and_records_render_refines_doc_prompt(tmp_path: Path, char_tokenizer, teacher, capsys):
    docs = [document("alpha"), document("beta"), document("gamma"), {"id": "long", **document("long", 60)}]
    # alpha edu 4 keeps; beta edu 2 with format 4 keeps; gamma edu 1 drops; long edu 2 with format 3 drops.
    teacher.answer = scripted({"alpha": (4, 2), "beta": (2, 4), "gamma": (1, 5), "long": (2, 3)})
    source = write_jsonl(tmp_path / "docs.jsonl", docs)
    out = tmp_path / "out"

    assert synth_doc([source], out, char_tokenizer, teacher) == 0

    records = read_shards(out, "doc-*.jsonl.gz")
    assert [(r["id"], r["messages"][2]["content"], r["label"]) for r in records] == [
        ("alpha", "keep_doc()", 1),
        ("beta", "keep_doc()", 1),
        ("gamma", "drop_doc()", 0),
        ("long", "drop_doc()", 0),
    ]
    tokenizer = load_tokenizer(char_tokenizer)
    for record, doc in zip(records, docs, strict=True):
        sent = doc_prompt(doc["text"], tokenizer)
        assert tokenizer.encode(render_prompt(record), add_special_tokens=False).ids == sent.token_ids
        assert record["prompt_truncated"] is sent.truncated
        assert record["teacher"] == f"llm:{MODEL}" and record["source"].startswith(f"{source}:")
        assert record["critiques"]["educational"].startswith("The text is clear")
    assert render_prompt(records[0]) == doc_prompt(docs[0]["text"], tokenizer).text
    assert records[0]["scores"] == {"educational": 4, "format": 2}
    assert records[0]["score_attempts"] == {"educational": 1, "format": 1}
    assert records[3]["prompt_truncated"] is True

    # The teacher sees each document in the profile's two prompts, as the refining model sees it: the long
    # one cut where its 2000-token doc prompt ends.
    profile = load_profile("web")
    posted = {(name_of(payload), kind_of(payload)): payload for payload in teacher.payloads}
    assert len(teacher.payloads) == 8 and set(teacher.paths) == {"/v1/chat/completions"}
    for record, doc in zip(records, docs, strict=True):
        shown = record["messages"][1]["content"]
        for kind, messages in doc_score_messages(profile, shown).items():
            payload = posted[doc["id"], kind]
            assert payload["model"] == MODEL and payload["temperature"] == 0
            assert payload["messages"] == [{"role": m.role, "content": m.content} for m in messages]
    assert len(records[3]["messages"][1]["content"]) < len(docs[3]["text"])

    stats = stats_of(out)
    assert_accounted(stats)
    assert stats["inputs"] == {"records": 4, "accepted": 4, "rejected": 0, "errors": 0}
    assert stats["doc_labels"] == {"keep": 2, "drop": 2}
    assert stats["teacher"] == {
        "requests": 8,
        "cache_hits": 0,
        "answered": 8,
        "failed": 0,
        "cut_off": 0,
        "prompt_tokens": 88,
        "completion_tokens": 56,
        "tokens_per_record_written": {"prompt_tokens": 22.0, "completion_tokens": 14.0},
    }
    assert stats["scores"]["educational"] == {"0": 0, "1": 1, "2": 2, "3": 0, "4": 1, "5": 0}
    assert stats["settings"]["teacher_model"] == MODEL and "api_key" not in stats["settings"]
    assert "wrote 4 records (4 doc, 0 chunk) from 4 input records" in capsys.readouterr().err


def test_thresholds_are_options(tmp_path: Path, char_tokenizer, teacher):
    teacher.answer = scripted({"alpha": (4, 2), "beta": (2, 4)})
    source = write_jsonl(tmp_path / "docs.jsonl", [document("alpha"), document("beta")])
    assert synth_doc([source], tmp_path / "out", char_tokenizer, teacher, "--edu-threshold", "5") == 0
    assert [r["label"] for r in read_shards(tmp_path / "out", "doc-*.jsonl.gz")] == [0, 0]
    assert synth_doc([source], tmp_path / "f", char_tokenizer, teacher, "--format-threshold", "5") == 0
    assert [r["label"] for r in read_shards(tmp_path / "f", "doc-*.jsonl.gz")] == [1, 0]


def test_a_missing_score_is_asked_for_again_with_a_follow_up(tmp_path: Path, char_tokenizer, teacher):
    fixed = ["A fine page, but I forgot the last line.", "Educational score: 3"]
    teacher.answer = scripted({"alpha": (fixed, 4)})
    source = write_jsonl(tmp_path / "docs.jsonl", [document("alpha")])

    assert synth_doc([source], tmp_path / "out", char_tokenizer, teacher) == 0

    [record] = read_shards(tmp_path / "out", "doc-*.jsonl.gz")
    assert record["scores"] == {"educational": 3, "format": 4} and record["label"] == 1
    assert record["score_attempts"] == {"educational": 2, "format": 1}
    assert record["critiques"]["educational"] == fixed[0]
    [follow_up] = [payload for payload in teacher.payloads if follow_ups(payload)]
    first, answer, question = follow_up["messages"][1:]
    assert first["content"].endswith(EDU_LINE)
    assert answer == {"role": "assistant", "content": fixed[0]}
    assert question["role"] == "user" and "no 'Educational score: <points>' line" in question["content"]
    assert question["content"].endswith("Educational score: <points>")
    stats = stats_of(tmp_path / "out")
    assert stats["score_follow_ups"] == 1 and stats["teacher"]["requests"] == 3


@pytest.mark.parametrize(
    ("answers", "detail"),
    [
        ("Educational score: 7", "7 is out of range (0-5)"),
        ("Educational score: 3\nOn reflection, Educational score: 4", "different values (3, 4)"),
        ("Educational score: **three**", "no 'Educational score: <points>' line"),
    ],
)
def test_a_score_that_stays_unreadable_rejects_the_document_with_its_reason(
    tmp_path: Path, char_tokenizer, teacher, answers: str, detail: str
):
    teacher.answer = scripted({"alpha": (answers, 3), "beta": (4, 4)})
    source = write_jsonl(tmp_path / "docs.jsonl", [document("alpha"), document("beta")])

    assert synth_doc([source], tmp_path / "out", char_tokenizer, teacher, "--score-retries", "2") == 0

    assert [r["id"] for r in read_shards(tmp_path / "out", "doc-*.jsonl.gz")] == ["beta"]
    [rejected] = read_shards(tmp_path / "out" / "rejected")
    assert (rejected["kind"], rejected["reason"], rejected["id"]) == ("input", "no_score", "alpha")
    assert rejected["detail"].startswith("educational: ") and detail in rejected["detail"]
    assert "after 3 attempts" in rejected["detail"]
    assert rejected["scores"] == {"format": 3} and rejected["score_attempts"]["educational"] == 3
    # Each retry was a new request (the conversation grew), not the same one answered again from the cache.
    asked = [
        payload for payload in teacher.payloads if name_of(payload) == "alpha" and kind_of(payload) == "educational"
    ]
    assert sorted(len(payload["messages"]) for payload in asked) == [2, 4, 6]
    stats = stats_of(tmp_path / "out")
    assert_accounted(stats)
    assert stats["inputs"] == {"records": 2, "accepted": 1, "rejected": 1, "errors": 0}
    assert stats["rejected_inputs_by_reason"] == {"no_score": 1}


def test_server_errors_are_retried_and_a_request_that_keeps_failing_sends_its_document_to_errors(
    tmp_path: Path, char_tokenizer, teacher
):
    def flaky(payload: dict, hit: int) -> Reply:  # two 500s, then an answer
        return Reply(500, {"error": {"message": "overloaded"}}) if hit < 2 else chat_answer("Educational score: 4")

    def down(payload: dict, hit: int) -> Reply:
        return Reply(503, {"error": {"message": "model not loaded"}})

    teacher.answer = scripted({"alpha": (flaky, 3), "beta": (2, down), "gamma": (1, 1)})
    docs = [document("alpha"), document("beta"), document("gamma")]
    source = write_jsonl(tmp_path / "docs.jsonl", [*docs, "{broken"])

    assert synth_doc([source], tmp_path / "out", char_tokenizer, teacher, "--max-retries", "2") == 0

    assert [r["id"] for r in read_shards(tmp_path / "out", "doc-*.jsonl.gz")] == ["alpha", "gamma"]
    errors = {error["source"]: error for error in read_shards(tmp_path / "out" / "errors")}
    assert list(errors) == [f"{source}:2", f"{source}:4"]
    beta = errors[f"{source}:2"]
    assert beta["reason"].startswith("teacher request failed: openai: HTTP 503 (model not loaded) after 3 attempts")
    assert json.loads(beta["text"]) == docs[1]  # the input record, to be fed again
    assert "malformed JSON" in errors[f"{source}:4"]["reason"]
    stats = stats_of(tmp_path / "out")
    assert_accounted(stats)
    assert stats["inputs"] == {"records": 4, "accepted": 2, "rejected": 0, "errors": 2}
    assert stats["teacher"]["failed"] == 1 and stats["teacher"]["answered"] == 5


def test_a_timeout_is_a_failed_request_and_all_documents_failing_is_a_failed_run(
    tmp_path: Path, char_tokenizer, teacher, capsys
):
    def slow(payload: dict, hit: int) -> Reply:
        return Reply(body={}, delay=3.0)

    teacher.answer = scripted({"alpha": (slow, 3), "beta": (4, 4)})
    source = write_jsonl(tmp_path / "docs.jsonl", [document("alpha"), document("beta")])
    options = ("--request-timeout", "0.3", "--max-retries", "0")

    assert synth_doc([source], tmp_path / "out", char_tokenizer, teacher, *options) == 0
    [error] = read_shards(tmp_path / "out" / "errors")
    assert error["source"] == f"{source}:1" and "timed out" in error["reason"]
    assert [r["id"] for r in read_shards(tmp_path / "out", "doc-*.jsonl.gz")] == ["beta"]

    teacher.answer = scripted({"alpha": (slow, 3), "beta": (slow, 4)})
    capsys.readouterr()
    assert synth_doc([source], tmp_path / "all", char_tokenizer, teacher, *options) == 1
    assert "every input record is in OUT/errors" in capsys.readouterr().err
    assert stats_of(tmp_path / "all")["inputs"]["errors"] == 2


def test_empty_and_malformed_documents_are_settled_without_the_teacher(tmp_path: Path, char_tokenizer, teacher):
    teacher.answer = scripted({"alpha": (3, 3)})
    source = write_jsonl(tmp_path / "docs.jsonl", [{"id": "blank", "text": "  \n"}, {"body": "x"}, document("alpha")])
    assert synth_doc([source], tmp_path / "out", char_tokenizer, teacher) == 0
    [rejected] = read_shards(tmp_path / "out" / "rejected")
    assert (rejected["reason"], rejected["id"]) == ("empty_document", "blank")
    [error] = read_shards(tmp_path / "out" / "errors")
    assert error["reason"] == "no 'text' field"
    assert {name_of(payload) for payload in teacher.payloads} == {"alpha"}
    assert_accounted(stats_of(tmp_path / "out"))


def test_a_second_run_asks_the_teacher_nothing_and_writes_the_same_records(tmp_path: Path, char_tokenizer, teacher):
    teacher.answer = scripted({name: (3, 4) for name in ("alpha", "beta", "gamma")})
    source = write_jsonl(tmp_path / "docs.jsonl", [document(name) for name in ("alpha", "beta", "gamma")])
    out = tmp_path / "out"
    assert synth_doc([source], out, char_tokenizer, teacher) == 0
    first = folder_bytes(out)
    assert (out / "logs" / "requests.sqlite").is_file()

    assert synth_doc([source], out, char_tokenizer, teacher) == 2  # a finished OUT is not replaced by accident
    assert synth_doc([source], out, char_tokenizer, teacher, "--overwrite") == 0

    assert len(teacher.payloads) == 6  # nothing asked twice
    again = folder_bytes(out)
    records = [name for name in first if name.endswith(".jsonl.gz")]
    assert records and all(again[name] == first[name] for name in records)
    teacher_stats = stats_of(out)["teacher"]
    assert teacher_stats["cache_hits"] == teacher_stats["requests"] == 6
    assert teacher_stats["prompt_tokens"] == teacher_stats["completion_tokens"] == 0


def test_a_folder_of_inputs_is_read_file_by_file(tmp_path: Path, char_tokenizer, teacher):
    teacher.answer = scripted({"alpha": (3, 4), "beta": (1, 1)})
    first = write_jsonl(tmp_path / "in" / "a.jsonl", [document("alpha")])
    second = write_jsonl(tmp_path / "in" / "part" / "b.jsonl.gz", [document("beta")])
    (tmp_path / "in" / "notes.txt").write_text("not records")
    assert synth_doc([tmp_path / "in"], tmp_path / "out", char_tokenizer, teacher) == 0
    records = read_shards(tmp_path / "out", "doc-*.jsonl.gz")
    assert [(r["id"], r["source"]) for r in records] == [("alpha", f"{first}:1"), ("beta", f"{second}:1")]


def test_a_remote_out_keeps_the_request_cache_in_proxs_cache_folder(
    tmp_path: Path, char_tokenizer, teacher, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
):
    import fsspec

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    teacher.answer = scripted({"alpha": (3, 4)})
    source = write_jsonl(tmp_path / "docs.jsonl", [document("alpha")])
    out = f"{s3_bucket}/synth"
    assert synth_doc([source], out, char_tokenizer, teacher) == 0
    assert len(list((tmp_path / "cache" / "prox" / "requests").glob("*/requests.sqlite"))) == 1
    assert synth_doc([source], out, char_tokenizer, teacher, "--overwrite") == 0
    assert len(teacher.payloads) == 2
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    assert fs.exists(f"{out}/doc-00000-00000.jsonl.gz") and fs.exists(f"{out}/stats.json")
    assert not fs.glob(f"{out}/logs/requests.sqlite*")
