"""The record layouts: the exact bytes a record is written as, and each layout read back by `replay_record`.

Records are written by the run's own writers (`prox.pipeline.outputs`), so these pin what `prox refine` puts
on disk; a change to a layout shows here as a changed expected line, not as a changed hash.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datatrove.data import Document

from prox.pipeline.outputs import document_writer, errors_writer
from prox.program import RELEASE, execute_chunk_programs
from prox.records.errors import error_document
from prox.records.files import PART_SUFFIX
from prox.records.layouts import replay_record
from prox.records.programs import parse_chunk_programs
from prox.records.reading import Record, read_records

ORIGINAL = "Menu é\nFirst line of the story.\nSecond line of the story.\nThird line.\nFourth line.\nBack to top"
EDITED = "\n".join(ORIGINAL.split("\n")[1:5])
CHUNK_PROGRAM = "remove_lines(line_start=0, line_end=0)\nremove_lines(line_start=5, line_end=5)"


def edited_document() -> Document:
    """A document as the chunk stage leaves it after an edit."""
    return Document(
        text=EDITED,
        id="doc-1",
        metadata={
            "url": "https://example.org/a",
            "prox": {
                "source": "in.jsonl:1",
                "refiner": "rules",
                "policy": "release",
                "doc_program": "keep_doc()",
                "doc_decision": "keep",
                "chunk_programs": [{"first_line": 0, "last_line": 5, "program": CHUNK_PROGRAM}],
                "chunk_program": CHUNK_PROGRAM,
                "chunk_decision": "edited",
                "removed_lines": 2,
                "normalizations": 0,
                "program_errors": [],
                "raw_content": ORIGINAL,
            },
        },
    )


def dropped_document() -> Document:
    """A document as the doc stage drops it."""
    prox = {"source": "in.jsonl:2", "refiner": "rules", "policy": "release", "doc_program": "drop_doc()"}
    prox |= {"doc_decision": "drop_doc", "drop_reason": "drop_doc"}
    return Document(text="Cheap watches", id="doc-2", metadata={"prox": prox})


def write(folder: Path, output_format: str, layout: str, documents: list[Document]) -> Path:
    """The documents written by the run's writer of that format and layout; returns the finished file."""
    writer = document_writer(str(folder), "", output_format, layout)  # type: ignore[arg-type]
    for document in documents:
        writer.write(document, rank=0)
    writer.close()
    [part] = folder.glob(f"*{PART_SUFFIX}")
    return part.rename(part.with_name(part.name.removesuffix(PART_SUFFIX)))


def jsonl_lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode().splitlines()


def test_the_prox_layout_writes_this_line(tmp_path: Path):
    expected = (
        '{"id":"doc-1","text":"First line of the story.\\nSecond line of the story.\\nThird line.\\nFourth line.",'
        '"metadata":{"url":"https://example.org/a","prox":{"source":"in.jsonl:1","refiner":"rules",'
        '"policy":"release","doc_program":"keep_doc()","doc_decision":"keep","chunk_programs":[{"first_line":0,'
        '"last_line":5,"program":"remove_lines(line_start=0, line_end=0)\\nremove_lines(line_start=5, line_end=5)"}],'
        '"chunk_program":"remove_lines(line_start=0, line_end=0)\\nremove_lines(line_start=5, line_end=5)",'
        '"chunk_decision":"edited","removed_lines":2,"normalizations":0,"program_errors":[],'
        '"raw_content":"Menu é\\nFirst line of the story.\\nSecond line of the story.\\nThird line.\\nFourth line.'
        '\\nBack to top"}}}'
    )
    assert jsonl_lines(write(tmp_path, "jsonl", "prox", [edited_document()])) == [expected]


def test_the_release_layout_writes_this_line(tmp_path: Path):
    raw = "Menu é\\nFirst line of the story.\\nSecond line of the story.\\nThird line.\\nFourth line.\\nBack to top"
    expected = (
        '{"id":"doc-1","text":"First line of the story.\\nSecond line of the story.\\nThird line.\\nFourth line.",'
        f'"raw_content":"{raw}","doc_content":"{raw}",'
        '"metadata":{"url":"https://example.org/a","doc_program":"keep_doc()",'
        '"chunk_program":"remove_lines(line_start=0, line_end=0)\\nremove_lines(line_start=5, line_end=5)",'
        '"prox":{"source":"in.jsonl:1","refiner":"rules","policy":"release"}}}'
    )
    dropped = (
        '{"id":"doc-2","text":"Cheap watches","raw_content":"Cheap watches","doc_content":"Cheap watches",'
        '"metadata":{"doc_program":"drop_doc()","chunk_program":null,'
        '"prox":{"source":"in.jsonl:2","refiner":"rules","policy":"release"},"drop_reason":"drop_doc"}}'
    )
    path = write(tmp_path, "jsonl", "prox-release", [edited_document(), dropped_document()])
    assert jsonl_lines(path) == [expected, dropped]


def test_an_error_record_is_written_as_id_source_reason_and_text(tmp_path: Path):
    writer = errors_writer(str(tmp_path), "read_")
    writer.write(error_document("in.jsonl:3", "empty text", "  "), rank=0)
    writer.close()
    [part] = tmp_path.glob(f"*{PART_SUFFIX}")
    assert jsonl_lines(part) == ['{"id":"in.jsonl:3","source":"in.jsonl:3","reason":"empty text","text":"  "}']


def test_gzip_members_carry_no_time_and_no_file_name(tmp_path: Path):
    header = write(tmp_path, "jsonl", "prox", [edited_document()]).read_bytes()[:10]
    assert header == bytes.fromhex("1f8b 0800 00000000 00ff")  # no FNAME flag, MTIME 0


@pytest.mark.parametrize(
    ("layout", "columns"),
    [("prox", ["id", "text", "metadata"]), ("prox-release", ["id", "text", "raw_content", "doc_content", "metadata"])],
)
def test_parquet_holds_the_layout_with_metadata_as_a_json_string(tmp_path: Path, layout: str, columns: list[str]):
    table = pq.read_table(write(tmp_path, "parquet", layout, [edited_document()]))
    assert table.column_names == columns
    [jsonl] = jsonl_lines(write(tmp_path / "jsonl", "jsonl", layout, [edited_document()]))
    [row] = table.to_pylist()
    assert row["metadata"] == json.dumps(json.loads(jsonl)["metadata"], ensure_ascii=False)
    assert {key: value for key, value in row.items() if key != "metadata"} == {
        key: value for key, value in json.loads(jsonl).items() if key != "metadata"
    }


FORMATS_AND_LAYOUTS = [("jsonl", "prox"), ("jsonl", "prox-release"), ("parquet", "prox"), ("parquet", "prox-release")]


@pytest.mark.parametrize(("output_format", "layout"), FORMATS_AND_LAYOUTS)
def test_each_layout_reads_back_with_its_original_text_and_programs(tmp_path: Path, output_format: str, layout: str):
    path = write(tmp_path, output_format, layout, [edited_document(), dropped_document()])
    records = list(read_records(path))
    assert all(isinstance(record, Record) for record in records)
    edited, dropped = (replay_record(record.data) for record in records)  # type: ignore[union-attr]

    assert (edited["id"], edited["text"]) == ("doc-1", ORIGINAL)
    assert edited["metadata"]["url"] == "https://example.org/a"
    prox = edited["metadata"]["prox"]
    assert {key: prox[key] for key in ("source", "refiner", "policy", "doc_program")} == {
        "source": "in.jsonl:1",
        "refiner": "rules",
        "policy": "release",
        "doc_program": "keep_doc()",
    }
    assert "raw_content" not in prox and "drop_reason" not in prox
    # Replaying the recorded programs on the original text gives the text that was written.
    report = execute_chunk_programs(ORIGINAL, parse_chunk_programs(prox["chunk_programs"]), RELEASE)
    assert (report.reason, report.text) == ("edited", EDITED)

    assert (dropped["id"], dropped["text"]) == ("doc-2", "Cheap watches")
    assert "drop_reason" not in dropped["metadata"]["prox"]
    assert "drop_reason" not in dropped["metadata"]
    assert dropped["metadata"]["prox"]["doc_program"] == "drop_doc()"


@pytest.mark.parametrize(("output_format", "layout"), FORMATS_AND_LAYOUTS)
def test_writing_the_same_documents_twice_gives_the_same_bytes(tmp_path: Path, output_format: str, layout: str):
    documents = [edited_document(), dropped_document()]
    first = write(tmp_path / "first", output_format, layout, documents).read_bytes()
    second = write(tmp_path / "second", output_format, layout, [edited_document(), dropped_document()]).read_bytes()
    assert first == second
