"""`prox synth chunk` against a scripted OpenAI-compatible teacher on 127.0.0.1, both methods: the chunks are
the chunk stage's (prompts byte-identical to refine's), the teacher's programs (fewshot) and rewrites (rewrite)
become programs that do what the teacher meant under the release policy, bad answers are rejected with their
reason, failed requests send their document to OUT/errors, and stats add up."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_synth_doc import MODEL, CompletionServer, Reply, assert_accounted, chat_answer, quick_retries, stats_of
from test_synth_labels import char_tokenizer, folder_bytes, read_shards, write_jsonl

from prox.chunking import chunk_document, token_counter
from prox.cli import main
from prox.program import RELEASE, ChunkProgram, execute_chunk_programs, parse_program
from prox.prompts import chunk_prompts
from prox.synth.profile import load_profile
from prox.synth.records import render_prompt
from prox.synth.teacher import fewshot_messages, rewrite_messages
from prox.tokenizer import load_tokenizer

__all__ = ["char_tokenizer", "quick_retries"]  # fixtures, used by name

NAV = ("Home | News | Sport | Contact", "Sign in | Search")
FOOTER = ("Copyright 2024 Example Ltd", "Privacy policy | Terms of use")
SHARE = " Share this page"
BUDGET = "400"  # characters, with the character tokenizer: pages of a dozen lines make two or three chunks
NOISE_TYPES = {
    "menus and navigation at the top": "navigation",
    "buttons, leftover HTML and links": "links",
    "footers and references at the end": "footer",
}


def page(name: str, *extra: str, prose: int = 8) -> dict:
    body = [f"The {name} story goes on, line {index}, with a few more words in it." for index in range(prose)]
    body[min(2, prose - 1)] += SHARE
    return {"id": name, "text": "\n".join([*NAV, f"The {name} article", *body, *extra, *FOOTER])}


def shown_chunk(payload: dict) -> list[tuple[int, str]]:
    """The chunk's (line number, line) pairs, from the last [doc] block of the prompt."""
    block = payload["messages"][-1]["content"].rsplit("[doc]\n", 1)[1].split("\n[/doc]", 1)[0]
    return [(int(line[1:4]), line[5:]) for line in block.split("\n")]


def noise_type(payload: dict) -> str:
    user = payload["messages"][-1]["content"]
    return next((kind for words, kind in NOISE_TYPES.items() if words in user), "rewrite")


def clean(line: str) -> str | None:
    """What the scripted teacher keeps of a line: None for a noise line."""
    return None if line in NAV or line in FOOTER else line.replace(SHARE, "")


def runs(numbers: list[int]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for number in numbers:
        if found and number == found[-1][1] + 1:
            found[-1] = (found[-1][0], number)
        else:
            found.append((number, number))
    return found


def teacher_answer(payload: dict, hit: int) -> Reply:
    """A good teacher with a few scripted faults, by marker lines of the chunk."""
    chunk = shown_chunk(payload)
    kind = noise_type(payload)
    texts = " ".join(line for _, line in chunk)
    if "DOWN" in texts:
        return Reply(500, {"error": {"message": "out of memory"}})
    if kind == "rewrite":
        if "NO BLOCK" in texts:
            return chat_answer("Sorry, I cannot help with that.")
        kept = [f"[{number:03d}]{clean(line)}" for number, line in chunk if clean(line) is not None]
        if "ADD TEXT" in texts:
            kept.append(f"[{chunk[-1][0]:03d}]An invented summary of the page.")
        return chat_answer("[doc]\n" + "\n".join(kept) + "\n[/doc]")
    if kind == "navigation" and "OUT OF RANGE" in texts:
        return chat_answer(f"```python\nremove_lines(line_start={chunk[0][0]}, line_end=999)\n```")
    if kind == "links" and "GARBLED" in texts:
        return chat_answer("I would delete the share button, it is noise.")
    noise = NAV if kind == "navigation" else FOOTER
    calls = [f"remove_lines(line_start={a}, line_end={b})" for a, b in runs([n for n, line in chunk if line in noise])]
    if kind == "links" and SHARE in texts:
        calls.append(f'normalize(source_str="{SHARE}", target_str="")')
    return chat_answer("```python\n" + ("\n".join(calls) or "keep_chunk()") + "\n```")


@pytest.fixture
def teacher() -> Iterator[CompletionServer]:
    with CompletionServer(teacher_answer) as server:
        yield server


def synth_chunk(inputs: list[Path], out: Path, tokenizer: Path, server: CompletionServer, *options: str) -> int:
    command = ["synth", "chunk", *map(str, inputs), "-o", str(out), "--tokenizer", str(tokenizer)]
    command += ["--teacher-url", server.base_url, "--teacher-model", MODEL, "--chunk-budget", BUDGET]
    # At most 4 connections at once: the test server listens with a backlog of 5 (more wait a SYN retry, 1 s).
    return main([*command, "--max-retries", "1", "--concurrency", "4", *options])


def edited(text: str, record: dict) -> list[str]:
    """The document after the record's program, run on its chunk under the release policy."""
    program = ChunkProgram(parse_program(record["messages"][2]["content"]), record["first_line"], record["last_line"])
    return execute_chunk_programs(text, [program], RELEASE).edited_text.split("\n")


def meant(text: str, first: int, last: int) -> list[str]:
    """The document with the scripted teacher's edit of lines first..last."""
    lines = text.split("\n")
    kept = [clean(line) for line in lines[first : last + 1]]
    return [*lines[:first], *(line for line in kept if line is not None), *lines[last + 1 :]]


@pytest.mark.parametrize("method", ["fewshot", "rewrite"])
def test_chunk_records_do_what_the_teacher_meant_and_render_refines_chunk_prompts(
    tmp_path: Path, char_tokenizer, teacher, method: str, capsys
):
    docs = [page("alpha"), page("beta", prose=3)]
    source = write_jsonl(tmp_path / "docs.jsonl", docs)
    out = tmp_path / "out"

    assert synth_chunk([source], out, char_tokenizer, teacher, "--method", method) == 0

    records = read_shards(out, "chunk-*.jsonl.gz")
    sizer = token_counter(load_tokenizer(char_tokenizer))
    profile = load_profile("web")
    expected = [(doc, prompt) for doc in docs for prompt in chunk_prompts(doc["text"], sizer, int(BUDGET))]
    assert len(records) == len(expected) > len(docs)
    asked = {(noise_type(payload), payload["messages"][-1]["content"]) for payload in teacher.payloads}
    for record, (doc, prompt) in zip(records, expected, strict=True):
        chunk = prompt.chunk
        assert render_prompt(record) == prompt.text  # byte for byte what refine sends for this chunk
        assert record["id"] == f"{doc['id']}/lines-{chunk.first_line}-{chunk.last_line}"
        assert record["teacher"] == f"llm:{MODEL}" and record["method"] == method
        assert edited(doc["text"], record) == meant(doc["text"], chunk.first_line, chunk.last_line)
        shown = [number for number in range(chunk.first_line, chunk.last_line + 1)]
        noise = [n for n in shown if clean(doc["text"].split("\n")[n]) is None]
        assert record["removed_lines"] == noise
        assert record["removed_share"] == pytest.approx(len(noise) / len(shown), abs=1e-6)
        conversations = (
            fewshot_messages(profile, chunk) if method == "fewshot" else {"rewrite": rewrite_messages(profile, chunk)}
        )
        for name, (_, user) in conversations.items():
            assert (name, user.content) in asked
    first = records[0]
    if method == "fewshot":
        share = f'normalize(source_str="{SHARE}", target_str="")'
        assert first["messages"][2]["content"] == f"remove_lines(line_start=0, line_end=1)\n{share}"
        assert first["per_type_programs"] == {
            "footer": "keep_chunk()",
            "links": share,
            "navigation": "remove_lines(line_start=0, line_end=1)",
        }
    else:
        assert first["rewrite"].startswith("[002]The alpha article\n[003]") and first["exact"] is True
        assert all(record["exact"] and not record["notes"] for record in records)

    stats = stats_of(out)
    assert_accounted(stats)
    requests = len(records) * (3 if method == "fewshot" else 1)
    assert stats["inputs"] == {"records": 2, "accepted": 2, "rejected": 0, "errors": 0}
    assert stats["teacher"]["requests"] == stats["teacher"]["answered"] == len(teacher.payloads) == requests
    assert stats["teacher"]["prompt_tokens"] == 11 * requests and stats["teacher"]["completion_tokens"] == 7 * requests
    targets = stats["chunk_targets"]
    mean = sum(record["removed_share"] for record in records) / len(records)
    assert targets["mean_removed_share"] == pytest.approx(mean, abs=1e-5)
    assert targets["keep_chunk"] + targets["with_edits"] == len(records)
    if method == "rewrite":
        assert stats["rewrites"] == {"exact": len(records), "partial": 0}
    assert "from 2 input records" in capsys.readouterr().err


def test_fewshot_answers_that_fail_their_checks_reject_the_chunk_with_the_reason(
    tmp_path: Path, char_tokenizer, teacher
):
    docs = [
        {"id": "range", "text": "OUT OF RANGE marker line\nThe range story, with a few more words in it."},
        {"id": "garbled", "text": "GARBLED marker line\nThe garbled story, with a few more words in it."},
        {"id": "menus", "text": "\n".join([*NAV, *FOOTER])},  # every line is noise
        page("fine", prose=2),
    ]
    source = write_jsonl(tmp_path / "docs.jsonl", docs)
    out = tmp_path / "out"

    assert synth_chunk([source], out, char_tokenizer, teacher, "--method", "fewshot") == 0

    rejected = {item["id"].split("/")[0]: item for item in read_shards(out / "rejected")}
    assert {name: item["reason"] for name, item in rejected.items()} == {
        "range": "line_out_of_range",
        "garbled": "unreadable_program",
        "menus": "over_removal",
    }
    assert rejected["range"]["detail"].startswith("navigation: remove_lines(line_start=0, line_end=999): lines outside")
    assert rejected["garbled"]["detail"].startswith("links: unreadable program")
    assert rejected["menus"]["detail"] == "removes 100% of the chunk's words (limit 80%)"
    assert rejected["garbled"]["kind"] == "example" and rejected["garbled"]["messages"][2]["content"] == ""
    assert "I would delete" in rejected["garbled"]["teacher_answers"]["links"]
    assert {record["id"].split("/")[0] for record in read_shards(out, "chunk-*.jsonl.gz")} == {"fine"}
    stats = stats_of(out)
    assert_accounted(stats)
    assert stats["inputs"]["accepted"] == 4  # each document made its chunks; the chunks were rejected
    assert stats["rejected_examples_by_reason"] == {"line_out_of_range": 1, "over_removal": 1, "unreadable_program": 1}

    assert (
        synth_chunk(
            [source], tmp_path / "lenient", char_tokenizer, teacher, "--method", "fewshot", "--max-removed-share", "1"
        )
        == 0
    )
    assert "menus" in {record["id"].split("/")[0] for record in read_shards(tmp_path / "lenient", "chunk-*.jsonl.gz")}


def test_fewshot_head_and_tail_trust_leaves_out_removals_in_the_middle(tmp_path: Path, char_tokenizer, teacher):
    doc = page("alpha", NAV[0])  # a menu line again just before the footer, outside the first and last 2 lines
    source = write_jsonl(tmp_path / "docs.jsonl", [doc])
    out = tmp_path / "out"
    options = ("--method", "fewshot", "--head-tail-lines", "2", "--chunk-budget", "5000")
    assert synth_chunk([source], out, char_tokenizer, teacher, *options) == 0
    [record] = read_shards(out, "chunk-*.jsonl.gz")
    lines = doc["text"].split("\n")
    assert record["removed_lines"] == [0, 1, len(lines) - 2, len(lines) - 1]
    assert record["distrusted"] == [  # in the order of the noise types: footer, links, navigation
        f'normalize(source_str="{SHARE}", target_str=""): normalize is not trusted (head/tail trust, 2 lines)',
        f"remove_lines(line_start={len(lines) - 3}, line_end={len(lines) - 3}): not in the head or tail (head/tail "
        "trust, 2 lines)",
    ]


def test_rewrites_that_add_text_are_rejected_or_keep_only_their_deletions(tmp_path: Path, char_tokenizer, teacher):
    docs = [
        {"id": "adds", "text": "\n".join([*NAV, "ADD TEXT marker line with some words", "The adds story goes on."])},
        {"id": "refuses", "text": "NO BLOCK marker line\nThe refusing story, with a few more words in it."},
        {"id": "menus", "text": "\n".join([*NAV, *FOOTER])},
    ]
    source = write_jsonl(tmp_path / "docs.jsonl", docs)
    out = tmp_path / "out"

    assert synth_chunk([source], out, char_tokenizer, teacher, "--method", "rewrite") == 0

    rejected = {item["id"].split("/")[0]: item for item in read_shards(out / "rejected")}
    assert {name: item["reason"] for name, item in rejected.items()} == {
        "adds": "rewrite_adds_text",
        "refuses": "no_rewrite_block",
        "menus": "over_removal",
    }
    assert rejected["adds"]["detail"] == "after line 3: text added: '[003]An invented summary of the page.'"
    assert rejected["adds"]["rewrite"].endswith("[003]An invented summary of the page.")
    assert rejected["refuses"]["teacher_answer"] == "Sorry, I cannot help with that."
    assert rejected["menus"]["rewrite"] == "" and rejected["menus"]["removed_lines"] == [0, 1, 2, 3]
    assert not read_shards(out, "chunk-*.jsonl.gz")
    stats = stats_of(out)
    assert_accounted(stats)
    assert stats["examples"] == {"made": 3, "written": 0, "rejected": 3}

    lenient = tmp_path / "lenient"
    assert synth_chunk([source], lenient, char_tokenizer, teacher, "--method", "rewrite", "--deletions-only") == 0
    [adds] = [record for record in read_shards(lenient, "chunk-*.jsonl.gz") if record["id"].startswith("adds/")]
    assert adds["exact"] is False and any("text added" in note for note in adds["notes"])
    assert edited(docs[0]["text"], adds) == meant(docs[0]["text"], 0, 3)  # the menu is gone, nothing added
    assert stats_of(lenient)["rewrites"] == {"exact": 0, "partial": 1}


def test_a_document_whose_requests_fail_goes_to_errors_whole_and_a_rerun_asks_only_for_it(
    tmp_path: Path, char_tokenizer, teacher
):
    docs = [page("alpha"), page("beta", "DOWN marker line"), {"id": "empty", "text": ""}]
    source = write_jsonl(tmp_path / "docs.jsonl", docs)
    out = tmp_path / "out"

    assert synth_chunk([source], out, char_tokenizer, teacher, "--method", "fewshot") == 0

    [error] = read_shards(out / "errors")
    assert error["source"] == f"{source}:2" and error["id"] == f"{source}:2"
    assert re.match(
        r"teacher request failed: openai: HTTP 500 \(out of memory\) after 2 attempts \(\d+ of", error["reason"]
    )
    [empty] = read_shards(out / "rejected")
    assert (empty["reason"], empty["id"]) == ("empty_document", "empty")
    assert {record["id"].split("/")[0] for record in read_shards(out, "chunk-*.jsonl.gz")} == {"alpha"}
    stats = stats_of(out)
    assert_accounted(stats)
    assert stats["inputs"] == {"records": 3, "accepted": 1, "rejected": 1, "errors": 1}
    first_run = len(teacher.payloads)

    assert synth_chunk([source], out, char_tokenizer, teacher, "--method", "fewshot", "--overwrite") == 0
    again = teacher.payloads[first_run:]
    # Only beta's chunk holding the failing line is asked again (twice: the first try and the retry).
    assert again and all("DOWN" in payload["messages"][-1]["content"] for payload in again)
    assert stats_of(out)["teacher"]["cache_hits"] == stats["teacher"]["answered"]


def test_a_rerun_writes_the_same_bytes_without_asking_the_teacher(tmp_path: Path, char_tokenizer, teacher):
    source = write_jsonl(tmp_path / "docs.jsonl", [page("alpha"), page("beta")])
    out = tmp_path / "out"
    assert synth_chunk([source], out, char_tokenizer, teacher, "--method", "rewrite") == 0
    first, asked = folder_bytes(out), len(teacher.payloads)
    assert synth_chunk([source], out, char_tokenizer, teacher, "--method", "rewrite", "--overwrite") == 0
    assert len(teacher.payloads) == asked
    again = folder_bytes(out)
    assert all(again[name] == data for name, data in first.items() if name.endswith(".jsonl.gz"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--method", "rewrite", "--head-tail-lines", "3"), "--head-tail-lines applies to --method fewshot only"),
        (("--method", "fewshot", "--deletions-only"), "--deletions-only applies to --method rewrite only"),
        (("--method", "fewshot", "--max-removed-share", "1.5"), "--max-removed-share must be between 0 and 1"),
        (("--method", "fewshot", "--teacher-url", "localhost:8000"), "--teacher-url must be an http(s) URL"),
    ],
)
def test_options_that_do_not_fit_are_refused_before_anything_is_asked(
    tmp_path: Path, char_tokenizer, teacher, options: tuple[str, ...], message: str, capsys
):
    source = write_jsonl(tmp_path / "docs.jsonl", [page("alpha")])
    assert synth_chunk([source], tmp_path / "out", char_tokenizer, teacher, *options) == 2
    assert message in capsys.readouterr().err
    assert not teacher.payloads and not (tmp_path / "out").exists()


def test_chunks_are_the_chunk_stages_with_the_same_tokenizer_and_budget(tmp_path: Path, char_tokenizer, teacher):
    doc = page("alpha", prose=20)
    source = write_jsonl(tmp_path / "docs.jsonl", [doc])
    assert synth_chunk([source], tmp_path / "out", char_tokenizer, teacher, "--method", "rewrite") == 0
    sizer = token_counter(load_tokenizer(char_tokenizer))
    spans = [(chunk.first_line, chunk.last_line) for chunk in chunk_document(doc["text"], sizer, int(BUDGET))]
    records = read_shards(tmp_path / "out", "chunk-*.jsonl.gz")
    assert [(record["first_line"], record["last_line"]) for record in records] == spans and len(spans) > 3


def test_with_the_llama2_tokenizer_records_render_refines_chunk_prompts(
    tmp_path: Path, llama2_dir: Path, llama2_tokenizer, teacher
):
    doc = page("alpha", prose=60)
    source = write_jsonl(tmp_path / "docs.jsonl", [doc])
    out = tmp_path / "out"
    assert synth_chunk([source], out, llama2_dir, teacher, "--method", "rewrite", "--chunk-budget", "300") == 0
    records = read_shards(out, "chunk-*.jsonl.gz")
    prompts = chunk_prompts(doc["text"], token_counter(llama2_tokenizer), 300)
    assert [render_prompt(record) for record in records] == [prompt.text for prompt in prompts]
    assert len(prompts) > 2
