"""`teacher_examples`: a real `prox refine` output, written with scripted programs, read back as labels."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from prox.chunking import Chunk
from prox.generators.base import GenerationFailure, ProgramGenerator, ProgramText
from prox.lite.data import LabelledDoc, LabelledPage
from prox.lite.distill import teacher_examples
from prox.pipeline.run import RunSettings, refine_pipeline, run
from prox.program import STRICT
from prox.records.layouts import replay_record
from prox.records.reading import read_records_strict


class ScriptedGenerator(ProgramGenerator):
    """Writes the programs a test chose: doc programs by the document's first line, chunk programs by chunk."""

    name = "scripted"

    def __init__(self, doc_program: Callable[[str], ProgramText], chunk_program: Callable[[Chunk], ProgramText]):
        self.doc_program = doc_program
        self.chunk_program = chunk_program

    def doc_programs(self, texts: Sequence[str]) -> list[ProgramText]:
        return [self.doc_program(text.split("\n")[0]) for text in texts]

    def chunk_programs(self, chunks: Sequence[Chunk]) -> list[ProgramText]:
        return [self.chunk_program(chunk) for chunk in chunks]


def prose(tag: str, count: int) -> list[str]:
    """`count` distinct ten-word lines."""
    return [" ".join(f"{tag}{line}w{word}" for word in range(9)) + " end." for line in range(count)]


STORY = ["Home | News | Login", *prose("story", 4), "Back to top"]
SPAM = ["Cheap watches best price buy now"] * 12
WIPED = prose("wiped", 4)
DISTRUSTED = prose("distrusted", 5)
CLEAN = prose("clean", 3)
# First line -> (doc program, chunk program).
SCRIPT = {
    STORY[0]: ("keep_doc()", "remove_lines(line_start=0, line_end=0)\nremove_lines(line_start=5, line_end=5)"),
    SPAM[0]: ("drop_doc()", "keep_chunk()"),
    WIPED[0]: ("keep_doc()", "remove_lines(line_start=0, line_end=3)"),  # dropped as nearly_all_removed
    # Two ranges past the last line are two errors: the edit is reverted, line 0 included.
    DISTRUSTED[0]: (
        "keep_doc()",
        "remove_lines(line_start=0, line_end=0)\nremove_lines(line_start=40, line_end=40)\n"
        "remove_lines(line_start=60, line_end=60)",
    ),
    CLEAN[0]: ("keep_doc()", "keep_chunk()"),
}
EXPECTED_DOCS = {"\n".join(lines): 0 if lines is SPAM else 1 for lines in (STORY, SPAM, WIPED, DISTRUSTED, CLEAN)}
EXPECTED_PAGES = {
    "\n".join(STORY): [0, 1, 1, 1, 1, 0],
    "\n".join(WIPED): [0, 0, 0, 0],
    "\n".join(DISTRUSTED): [1] * 5,
    "\n".join(CLEAN): [1] * 3,
}


def scripted() -> ScriptedGenerator:
    def chunk_program(chunk: Chunk) -> ProgramText:
        return SCRIPT[chunk.lines[0]][1] if chunk.lines[0] in SCRIPT else GenerationFailure("no script")

    return ScriptedGenerator(lambda first: SCRIPT.get(first, ("keep_doc()", ""))[0], chunk_program)


def refine(tmp_path: Path, texts: list[str], generator: ProgramGenerator, **options: object) -> Path:
    """`prox refine` of the texts (one JSONL input) with the generator; returns OUT."""
    source = tmp_path / "in" / "docs.jsonl"
    source.parent.mkdir(parents=True)
    source.write_text(
        "".join(json.dumps({"id": f"doc-{index}", "text": text}) + "\n" for index, text in enumerate(texts))
    )
    settings = RunSettings(inputs=[str(source)], output=str(tmp_path / "out"), **options)  # type: ignore[arg-type]
    run(refine_pipeline(settings, generator), settings)
    return tmp_path / "out"


def labels(examples: list[LabelledPage | LabelledDoc]) -> tuple[dict[str, int], dict[str, list[int | None]]]:
    """({text: doc label}, {text: line labels}), with each text's examples checked to be unique."""
    docs = {example.text: example.label for example in examples if isinstance(example, LabelledDoc)}
    pages = {"\n".join(example.lines): example.labels for example in examples if isinstance(example, LabelledPage)}
    assert len(docs) + len(pages) == len(examples)
    return docs, pages


@pytest.fixture
def refined(tmp_path: Path) -> Path:
    """The five scripted documents, an empty one and one whose chunk program fails, refined in the prox layout."""
    failing = ["Unscripted first line", *prose("failing", 3)]
    return refine(tmp_path, [*EXPECTED_DOCS, "", "\n".join(failing)], scripted())


def test_documents_and_lines_are_labelled_by_the_teacher_programs(refined: Path):
    docs, pages = labels(list(teacher_examples(refined)))
    assert docs == EXPECTED_DOCS
    assert pages == EXPECTED_PAGES


def test_error_documents_are_not_examples(refined: Path):
    assert len(list((refined / "errors").glob("*.jsonl.gz"))) == 2  # the empty and the failing document
    texts = {
        example.text if isinstance(example, LabelledDoc) else "\n".join(example.lines)
        for example in teacher_examples(refined)
    }
    assert texts == set(EXPECTED_DOCS)


def test_sources_name_the_output_record_and_dropped_documents_come_from_dropped(refined: Path):
    for example in teacher_examples(refined):
        text = example.text if isinstance(example, LabelledDoc) else "\n".join(example.lines)
        path, number = example.source.rsplit(":", 1)
        assert Path(path).parent.name == ("dropped" if text in ("\n".join(SPAM), "\n".join(WIPED)) else "out")
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            record = json.loads(handle.readlines()[int(number) - 1])
        assert replay_record(record)["text"] == text


def test_the_edited_document_is_labelled_on_its_original_text(refined: Path):
    [page] = [
        example
        for example in teacher_examples(refined)
        if isinstance(example, LabelledPage) and example.lines[0] == STORY[0]
    ]
    assert page.lines == STORY
    assert [line for line, label in zip(page.lines, page.labels, strict=True) if label] == STORY[1:5]


@pytest.mark.parametrize(
    ("output_format", "layout"), [("jsonl", "prox-release"), ("parquet", "prox"), ("parquet", "prox-release")]
)
def test_every_format_and_layout_gives_the_same_labels(tmp_path: Path, output_format: str, layout: str):
    out = refine(tmp_path, list(EXPECTED_DOCS), scripted(), output_format=output_format, layout=layout)
    assert any(path.name.endswith(".parquet" if output_format == "parquet" else ".jsonl.gz") for path in out.iterdir())
    assert labels(list(teacher_examples(out))) == (EXPECTED_DOCS, EXPECTED_PAGES)


def test_every_chunk_program_labels_the_lines_it_was_shown(tmp_path: Path):
    text = "\n".join(prose("long", 12))
    first_line_remover = ScriptedGenerator(
        lambda _first: "keep_doc()",
        lambda chunk: f"remove_lines(line_start={chunk.first_line}, line_end={chunk.first_line})",
    )
    out = refine(tmp_path, [text], first_line_remover, chunk_budget=200)
    [record] = (record.data for record in read_records_strict(next(out.glob("*.jsonl.gz"))))
    firsts = {item["first_line"] for item in record["metadata"]["prox"]["chunk_programs"]}
    assert len(firsts) > 2
    [_doc, page] = teacher_examples(out)
    assert page.labels == [0 if index in firsts else 1 for index in range(12)]


def test_strict_labels_a_chunk_program_reaching_outside_its_chunk_as_distrusted(tmp_path: Path):
    text = "\n".join(prose("long", 12))
    previous_line_remover = ScriptedGenerator(
        lambda _first: "keep_doc()",
        lambda chunk: (
            f"remove_lines(line_start={chunk.first_line - 1}, line_end={chunk.first_line - 1})"
            if chunk.first_line
            else "keep_chunk()"
        ),
    )
    out = refine(tmp_path, [text], previous_line_remover, chunk_budget=200)
    [record] = (record.data for record in read_records_strict(next(out.glob("*.jsonl.gz"))))
    removed = {item["first_line"] - 1 for item in record["metadata"]["prox"]["chunk_programs"][1:]}
    assert len(removed) > 2
    [_doc, release_page] = teacher_examples(out)
    assert release_page.labels == [0 if index in removed else 1 for index in range(12)]
    [_doc, strict_page] = teacher_examples(out, STRICT)
    assert strict_page.labels == [1] * 12


def test_programs_are_re_executed_under_the_given_policy(tmp_path: Path):
    hedged = prose("hedged", 4)  # the release drops on the substring "drop"; strict reads the calls
    positional = prose("positional", 4)  # the release cannot read remove_lines(0, 0); strict applies it
    script = {hedged[0]: "keep_doc()  # do not drop", positional[0]: "keep_doc()"}
    generator = ScriptedGenerator(lambda first: script[first], lambda _chunk: "remove_lines(0, 0)")
    out = refine(tmp_path, ["\n".join(hedged), "\n".join(positional)], generator)

    release_docs, release_pages = labels(list(teacher_examples(out)))
    assert release_docs == {"\n".join(hedged): 0, "\n".join(positional): 1}
    assert release_pages == {"\n".join(positional): [1, 1, 1, 1]}

    strict_docs, strict_pages = labels(list(teacher_examples(out, STRICT)))
    assert strict_docs == {"\n".join(hedged): 1, "\n".join(positional): 1}
    assert strict_pages == {"\n".join(positional): [0, 1, 1, 1]}  # the hedged one never reached the chunk stage


def test_a_document_the_policy_drops_at_the_doc_stage_gets_no_line_labels(tmp_path: Path):
    hedged = prose("hedged", 4)
    generator = ScriptedGenerator(lambda _first: "keep_doc()  # do not drop", lambda _chunk: "keep_chunk()")
    out = refine(tmp_path, ["\n".join(hedged)], generator, policy="strict")
    assert labels(list(teacher_examples(out, STRICT))) == ({"\n".join(hedged): 1}, {"\n".join(hedged): [1] * 4})
    assert labels(list(teacher_examples(out))) == ({"\n".join(hedged): 0}, {})


def test_a_doc_stage_only_output_gives_document_labels_only(tmp_path: Path):
    out = refine(tmp_path, list(EXPECTED_DOCS), scripted(), stages=("doc",))
    examples = list(teacher_examples(out))
    assert all(isinstance(example, LabelledDoc) for example in examples)
    assert labels(examples) == (EXPECTED_DOCS, {})


def _hand_made(folder: Path, lines: list[str]) -> Path:
    (folder / "logs").mkdir(parents=True)
    path = folder / "00000.jsonl.gz"
    path.write_bytes(gzip.compress("".join(line + "\n" for line in lines).encode()))
    return path


GOOD_RECORD = json.dumps({"id": "a", "text": "x y z", "metadata": {"prox": {"doc_program": "keep_doc()"}}})


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ("{not json", "cannot read the record"),
        (json.dumps({"id": "b", "text": "x y z", "metadata": {}}), "no recorded doc or chunk program"),
        (json.dumps(["a", "list"]), "not an object"),
        (
            json.dumps(
                {"id": "c", "text": "x", "metadata": {"prox": {"chunk_programs": [{"program": "keep_chunk()"}]}}}
            ),
            "unreadable chunk_programs",
        ),
    ],
)
def test_an_unreadable_record_is_named_by_file_and_line(tmp_path: Path, second_line: str, message: str):
    path = _hand_made(tmp_path / "out", [GOOD_RECORD, second_line])
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}:2: .*{message}"):
        list(teacher_examples(tmp_path / "out"))


def test_a_folder_without_documents_is_refused(tmp_path: Path):
    (tmp_path / "out" / "logs").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no refined or dropped documents"):
        list(teacher_examples(tmp_path / "out"))
