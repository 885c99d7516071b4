"""`prox synth labels`: SFT records from line-labelled pages, labelled documents and `prox refine` outputs, with
every input record accounted for, rejections with reasons, bad records named by `file:line`, the same bytes
for the same input. Most tests use a character-level tokenizer made here; the real-data ones the shared files."""

from __future__ import annotations

import gzip
import json
import random
import string
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models

from prox.chunking import chunk_document, token_counter
from prox.cli import main
from prox.program import ChunkProgram, execute_chunk_programs, parse_program
from prox.prompts import chunk_prompts, doc_prompt, llama2_chat_prompt
from prox.synth.records import render_prompt
from prox.tokenizer import load_tokenizer

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
NAV = ["Home", "News", "Sport", "Contact us", "Login"]
FOOTER = ["Privacy Policy", "Terms of Use", "Back to top"]
WORDS = ("harbour", "council", "survey", "river", "winter", "village", "museum", "bridge", "market", "library")
GLUE = ("the", "of", "and", "to", "in", "with", "after", "before", "that", "was", "were", "for")


def prose(tag: str, count: int) -> list[str]:
    return [f"The {tag} story goes on, line {index}, with a few more words in it." for index in range(count)]


def sentences(seed: int, count: int) -> list[str]:
    """Varied prose lines, which the rules refiner's document filters keep."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        words = [rng.choice(GLUE) if rng.random() < 0.4 else rng.choice(WORDS) for _ in range(rng.randint(14, 22))]
        lines.append(" ".join(words).capitalize() + ".")
    return lines


@pytest.fixture(scope="module")
def char_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tokenizer.json with one token per printable ASCII character and `<s>`: chunk sizes and the doc prompt's
    2000-token cut in characters, no shared files needed."""
    characters = sorted(set(string.printable) - set("\x0b\x0c\r"))
    tokenizer = Tokenizer(
        models.BPE(vocab={"[UNK]": 0, **{c: i + 1 for i, c in enumerate(characters)}}, merges=[], unk_token="[UNK]")
    )
    tokenizer.add_special_tokens(["<s>"])
    folder = tmp_path_factory.mktemp("char-tokenizer")
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder


def page_record(page_id: str, lines: list[str], labels: list[int], **fields: object) -> dict:
    """A `line_labels` page whose every line aligns clearly (score 1.0 or 0.0)."""
    scores = [float(label) for label in labels]
    return {"id": page_id, "lines": lines, "labels": labels, "scores": scores, "gold_recall": 1.0} | fields


def write_jsonl(path: Path, lines: list[str | dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.write_bytes(gzip.compress(text.encode(), mtime=0) if path.suffix == ".gz" else text.encode())
    return path


# A page whose line 2 ("Sport") is ambiguous (score 0.5) and labelled 0, inside the menu.
STORY_LINES = [*NAV, *prose("harbour", 6), *FOOTER]
STORY_LABELS = [0] * len(NAV) + [1] * 6 + [0] * len(FOOTER)
STORY = page_record("story", STORY_LINES, STORY_LABELS)
STORY["scores"][2] = 0.5
CLEAN = page_record("clean", prose("garden", 4), [1] * 4)
SKIPPED = page_record("empty-gold", NAV, [0] * len(NAV), gold_empty=True)
POOR = page_record("poor", NAV, [0] * len(NAV), gold_recall=0.5)
SNIPPETS = {"id": "snippets", "lines": NAV, "snippet_labels": [None, 1, None, None, 0]}
GOOD_DOC = {"text": "\n".join(prose("museum", 5)), "label": 1, "annotators_agree": True}
SPAM_DOC = {"text": "Cheap watches, buy now!\n" * 4, "label": 0, "annotators_agree": False}
LONG_DOC = {"id": "long", "text": "\n".join(prose("archive", 60)), "label": 1}


@pytest.fixture
def sources(tmp_path: Path) -> list[Path]:
    pages = write_jsonl(
        tmp_path / "in" / "pages.jsonl.gz", [STORY, CLEAN, SKIPPED, "{not json", POOR, SNIPPETS, ["a", "list"]]
    )
    docs = write_jsonl(
        tmp_path / "in" / "docs.jsonl", [GOOD_DOC, SPAM_DOC, {"text": "no label"}, LONG_DOC, {"text": "", "label": 0}]
    )
    return [pages, docs]


def synth(sources: list[Path], out: Path, tokenizer: Path, *options: str) -> int:
    return main(["synth", "labels", *map(str, sources), "-o", str(out), "--tokenizer", str(tokenizer), *options])


def read_shards(folder: Path, pattern: str = "*.jsonl.gz") -> list[dict]:
    records = []
    for path in sorted(folder.glob(pattern)):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            records.extend(json.loads(line) for line in handle)
    return records


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def output_bytes(folder: Path) -> dict[str, bytes]:
    """What a synth run outputs (its records, rejections, errors and stats.json), by name: not its logs."""
    return {name: data for name, data in folder_bytes(folder).items() if not name.startswith("logs")}


def test_pages_and_documents_make_chunk_and_doc_records(tmp_path: Path, sources, char_tokenizer, capsys):
    out = tmp_path / "out"
    assert synth(sources, out, char_tokenizer, "--chunk-budget", "200") == 0
    tokenizer = load_tokenizer(char_tokenizer)
    chunks = read_shards(out, "chunk-*.jsonl.gz")
    docs = read_shards(out, "doc-*.jsonl.gz")

    story = [record for record in chunks if record["id"].startswith("story/")]
    expected = chunk_document("\n".join(STORY_LINES), token_counter(tokenizer), 200)
    assert len(story) == len(expected) > 1
    removed: list[int] = []
    for record, chunk in zip(story, expected, strict=True):
        assert record["id"] == f"story/lines-{chunk.first_line}-{chunk.last_line}"
        assert record["source"] == f"{sources[0]}:1"
        assert record["teacher"] == "gold:line-labels"
        assert render_prompt(record) == llama2_chat_prompt(f"[doc]\n{chunk.text}\n[/doc]")
        program = parse_program(record["messages"][2]["content"])
        report = execute_chunk_programs(
            "\n".join(STORY_LINES), [ChunkProgram(program, chunk.first_line, chunk.last_line)]
        )
        assert list(report.removed_lines) == record["removed_lines"]
        removed += record["removed_lines"]
    assert removed == [index for index, label in enumerate(STORY_LABELS) if label == 0]  # the ambiguous 2 included
    assert story[0]["messages"][2]["content"].startswith("remove_lines(line_start=0, line_end=4)")
    assert story[0]["ambiguous_lines"] == [2]
    clean = [record for record in chunks if record["id"].startswith("clean/")]
    assert clean and all(record["messages"][2]["content"] == "keep_chunk()" for record in clean)
    assert all(record["removed_share"] == 0 for record in clean)

    assert [(record["id"], record["messages"][2]["content"], record["label"]) for record in docs] == [
        (f"{sources[1]}:1", "keep_doc()", 1),
        (f"{sources[1]}:2", "drop_doc()", 0),
        ("long", "keep_doc()", 1),
    ]
    long = docs[2]
    assert long["prompt_truncated"] is True
    sent = doc_prompt(LONG_DOC["text"], tokenizer)
    assert sent.truncated and tokenizer.encode(render_prompt(long), add_special_tokens=False).ids == sent.token_ids
    assert render_prompt(docs[0]) == doc_prompt(GOOD_DOC["text"], tokenizer).text

    stats = json.loads((out / "stats.json").read_text())
    assert stats["inputs"] == {"records": 12, "accepted": 6, "rejected": 3, "errors": 3}
    assert stats["examples"] == {"made": len(chunks) + len(docs) + 1, "written": len(chunks) + len(docs), "rejected": 1}
    assert stats["accounted"] is True
    assert stats["rejected_inputs_by_reason"] == {"protocol_skip": 2, "snippet_labels_only": 1}
    assert stats["rejected_examples_by_reason"] == {"empty_document": 1}
    assert stats["records_per_stage"] == {"doc": 3, "chunk": len(chunks)}
    assert stats["records_per_source"][str(sources[0])]["errors"] == 2
    assert stats["doc_labels"] == {"keep": 2, "drop": 1}
    assert stats["doc_prompts_truncated"] == 1
    targets = stats["chunk_targets"]
    assert targets["keep_chunk"] + targets["with_edits"] == len(chunks)
    mean = sum(record["removed_share"] for record in chunks) / len(chunks)
    assert targets["mean_removed_share"] == pytest.approx(mean, abs=1e-5)
    assert (
        f"wrote {len(chunks) + 3} records (3 doc, {len(chunks)} chunk) from 12 input records" in capsys.readouterr().err
    )


def test_rejections_have_reasons_and_bad_records_are_errors_with_file_and_line(tmp_path: Path, sources, char_tokenizer):
    out = tmp_path / "out"
    assert synth(sources, out, char_tokenizer) == 0
    rejected = read_shards(out / "rejected")
    reasons = {(item["kind"], item["reason"], item["id"]) for item in rejected}
    assert reasons == {
        ("input", "protocol_skip", "empty-gold"),
        ("input", "protocol_skip", "poor"),
        ("input", "snippet_labels_only", "snippets"),
        ("example", "empty_document", f"{sources[1]}:5"),
    }
    assert all(item["detail"] for item in rejected)
    [poor] = [item for item in rejected if item["id"] == "poor"]
    assert "gold_recall 0.5 < 0.9" in poor["detail"] and poor["source"] == f"{sources[0]}:5"
    errors = {item["source"]: item["reason"] for item in read_shards(out / "errors")}
    assert set(errors) == {f"{sources[0]}:4", f"{sources[0]}:7", f"{sources[1]}:3"}
    assert "malformed JSON" in errors[f"{sources[0]}:4"]
    assert "not an object" in errors[f"{sources[0]}:7"]
    assert "0/1 'label'" in errors[f"{sources[1]}:3"]


def test_a_page_with_labels_of_the_wrong_kind_is_an_error(tmp_path: Path, char_tokenizer):
    pages = write_jsonl(
        tmp_path / "pages.jsonl", [{"lines": ["a", "b"], "labels": [[1], 0]}, {"lines": ["a"], "labels": [1, 0]}, CLEAN]
    )
    assert synth([pages], tmp_path / "out", char_tokenizer) == 0
    errors = {item["source"]: item["reason"] for item in read_shards(tmp_path / "out" / "errors")}
    assert list(errors) == [f"{pages}:1", f"{pages}:2"]
    assert "of equal length" in errors[f"{pages}:2"]
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["inputs"] == {"records": 3, "accepted": 1, "rejected": 0, "errors": 2}


def test_the_same_input_gives_the_same_bytes_and_overwrite_is_asked_for(
    tmp_path: Path, sources, char_tokenizer, capsys
):
    first, second = tmp_path / "first", tmp_path / "second"
    options = ("--records-per-shard", "2", "--chunk-budget", "200")
    assert synth(sources, first, char_tokenizer, *options) == 0
    assert synth(sources, second, char_tokenizer, *options) == 0
    written = output_bytes(first)
    assert written == output_bytes(second)
    # A task per source: the pages' chunk records in task 0's shards, the documents' doc records in task 1's.
    shards = {"chunk-00000-00000.jsonl.gz", "chunk-00000-00001.jsonl.gz", "doc-00001-00001.jsonl.gz", "stats.json"}
    assert shards <= set(written)
    capsys.readouterr()
    assert synth(sources, first, char_tokenizer, *options) == 2
    assert "already holds synth output" in capsys.readouterr().err
    assert synth(sources, first, char_tokenizer, "--records-per-shard", "3", "--overwrite") == 0
    assert synth(sources, second, char_tokenizer, "--records-per-shard", "3", "--overwrite") == 0
    assert output_bytes(first) == output_bytes(second)
    assert "doc-00001-00001.jsonl.gz" not in output_bytes(first)  # the earlier output is gone, not mixed in


def test_ambiguous_lines_can_be_kept_or_reject_their_chunk(tmp_path: Path, sources, char_tokenizer):
    assert synth(sources, tmp_path / "keep", char_tokenizer, "--ambiguous", "keep", "--stages", "chunk") == 0
    [story] = [record for record in read_shards(tmp_path / "keep") if record["id"].startswith("story/")]
    assert story["messages"][2]["content"].startswith(
        "remove_lines(line_start=0, line_end=1)\nremove_lines(line_start=3, line_end=4)"
    )
    assert synth(sources, tmp_path / "reject", char_tokenizer, "--ambiguous", "reject", "--stages", "chunk") == 0
    assert not [record for record in read_shards(tmp_path / "reject") if record["id"].startswith("story/")]
    [rejected] = [item for item in read_shards(tmp_path / "reject" / "rejected") if item["reason"] == "ambiguous_lines"]
    assert rejected["id"].startswith("story/") and "1 lines have no decided label (2)" in rejected["detail"]


def test_stages_and_limit_choose_what_is_made(tmp_path: Path, sources, char_tokenizer):
    assert synth(sources, tmp_path / "chunk", char_tokenizer, "--stages", "chunk") == 0
    stats = json.loads((tmp_path / "chunk" / "stats.json").read_text())
    assert stats["records_per_stage"]["doc"] == 0
    assert stats["rejected_inputs_by_reason"]["not_for_stages"] == 4  # the labelled documents (the 5th is bad)
    assert synth(sources, tmp_path / "limited", char_tokenizer, "--limit", "3", "--tasks", "1") == 0
    stats = json.loads((tmp_path / "limited" / "stats.json").read_text())
    assert stats["inputs"] == {"records": 3, "accepted": 2, "rejected": 1, "errors": 0}
    assert stats["records_per_source"][str(sources[1])]["records"] == 0  # never reached
    assert synth(sources, tmp_path / "per-task", char_tokenizer, "--limit", "3") == 0  # a task per source
    stats = json.loads((tmp_path / "per-task" / "stats.json").read_text())
    assert [stats["records_per_source"][str(source)]["records"] for source in sources] == [3, 3]


def test_the_tokenizer_is_required(tmp_path: Path, sources, capsys):
    assert main(["synth", "labels", *map(str, sources), "-o", str(tmp_path / "out")]) == 2
    assert "--tokenizer DIR is required" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_refine_output_folder_teaches_its_refiners_programs(tmp_path: Path, char_tokenizer):
    pages = [[*NAV, *sentences(1, 8), "Share on Facebook", *FOOTER], ["Cheap pills buy now"] * 3, sentences(2, 6)]
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl", [{"id": f"doc-{i}", "text": "\n".join(lines)} for i, lines in enumerate(pages)]
    )
    refined = tmp_path / "refined"
    assert main(["refine", str(corpus), "-o", str(refined), "--refiner", "rules"]) == 0
    out = tmp_path / "out"
    assert synth([refined], out, char_tokenizer, "--chunk-budget", "400") == 0
    kept, dropped = read_shards(refined), read_shards(refined / "dropped")
    refined_texts = {record["id"]: record["text"] for record in kept}
    decisions = {record["id"]: record["metadata"]["prox"]["doc_decision"] for record in kept + dropped}
    assert decisions == {"doc-0": "keep_doc", "doc-1": "drop_doc", "doc-2": "keep_doc"}
    docs = read_shards(out, "doc-*.jsonl.gz")
    chunks = read_shards(out, "chunk-*.jsonl.gz")
    assert {record["teacher"] for record in docs + chunks} == {"refiner:rules"}
    assert {record["id"]: record["messages"][2]["content"] for record in docs} == {
        "doc-0": "keep_doc()",
        "doc-1": "drop_doc()",
        "doc-2": "keep_doc()",
    }
    sizer = token_counter(load_tokenizer(char_tokenizer))
    for doc_id, lines in (("doc-0", pages[0]), ("doc-2", pages[2])):
        mine = [record for record in chunks if record["id"].startswith(f"{doc_id}/")]
        removed = {line for record in mine for line in record["removed_lines"]}
        # The teacher's edit, line for line: what its programs removed is what the chunk targets remove.
        assert "\n".join(line for index, line in enumerate(lines) if index not in removed) == refined_texts[doc_id]
        assert [render_prompt(record) for record in mine] == [
            prompt.text for prompt in chunk_prompts("\n".join(lines), sizer, 400)
        ]
    assert len([record for record in chunks if record["id"].startswith("doc-0/")]) > 1
    assert not [record for record in chunks if record["id"].startswith("doc-1/")]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["inputs"] == {"records": 3, "accepted": 3, "rejected": 0, "errors": 0} and stats["accounted"]
    assert stats["doc_labels"] == {"keep": 2, "drop": 1}


@pytest.mark.parametrize(
    ("name", "schema"), [("line_labels/wcxb_dev.jsonl.gz", "pages"), ("dclm_quality/dev.jsonl.gz", "docs")]
)
def test_the_first_shared_records_make_records_that_render_refines_prompts(
    tmp_path: Path, llama2_dir: Path, llama2_tokenizer, name: str, schema: str
):
    shared = SHARED_DATA / name
    if not shared.is_file():
        pytest.skip(f"shared data not found at {shared}")
    with gzip.open(shared, "rt", encoding="utf-8") as handle:
        head = [next(handle).rstrip("\n") for _ in range(30)]
    source = write_jsonl(tmp_path / f"{schema}.jsonl", head)
    out = tmp_path / "out"
    assert synth([source], out, llama2_dir) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["accounted"] and stats["inputs"]["records"] == 30 and stats["inputs"]["errors"] == 0
    inputs = [json.loads(line) for line in head]
    sizer = token_counter(llama2_tokenizer)
    records = read_shards(out, "chunk-*.jsonl.gz" if schema == "pages" else "doc-*.jsonl.gz")
    assert len(records) == stats["examples"]["written"] > 0
    prompts: dict[str, dict] = {}
    for record in records:
        data = inputs[int(record["source"].rsplit(":", 1)[1]) - 1]
        if schema == "docs":
            sent = doc_prompt(data["text"], llama2_tokenizer)
            assert llama2_tokenizer.encode(render_prompt(record), add_special_tokens=False).ids == sent.token_ids
            assert record["messages"][2]["content"] == ("keep_doc()" if data["label"] else "drop_doc()")
            continue
        if record["source"] not in prompts:
            chunked = chunk_prompts("\n".join(data["lines"]), sizer)
            prompts = {record["source"]: {(p.chunk.first_line, p.chunk.last_line): p.text for p in chunked}}
        assert render_prompt(record) == prompts[record["source"]][(record["first_line"], record["last_line"])]


def test_remote_sources_and_output_give_the_same_records(tmp_path: Path, sources, char_tokenizer, s3_bucket: str):
    import fsspec

    fs = fsspec.filesystem("s3")
    for path in sources:
        fs.put_file(str(path), f"{s3_bucket}/in/{path.name}")
    remote = [f"{s3_bucket}/in/{path.name}" for path in sources]
    assert main(["synth", "labels", *remote, "-o", f"{s3_bucket}/out", "--tokenizer", str(char_tokenizer)]) == 0
    assert synth(sources, tmp_path / "local", char_tokenizer) == 0
    fs.invalidate_cache()
    fs.get(f"{s3_bucket}/out/", str(tmp_path / "fetched"), recursive=True)
    local, fetched = output_bytes(tmp_path / "local"), output_bytes(tmp_path / "fetched")
    assert set(fetched) == set(local)
    for name, data in local.items():
        text = data.decode() if name.endswith(".json") else gzip.decompress(data).decode()
        remote_text = fetched[name].decode() if name.endswith(".json") else gzip.decompress(fetched[name]).decode()
        # The same records, naming their sources as given: a URL there, a path here.
        assert remote_text == text.replace(str(sources[0].parent), f"{s3_bucket}/in"), name
