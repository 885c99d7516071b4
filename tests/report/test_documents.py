"""An output folder read back for the report: both layouts and formats, the replay, and the refusals."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prox.records.reading import BadRecord
from prox.report.documents import open_output, read_documents, reason_kind


def documents(output: Path) -> dict:
    found = {}
    for item in read_documents(open_output(str(output))):
        assert not isinstance(item, BadRecord)
        found[item.key] = item
    return found


def test_both_layouts_and_formats_read_back_the_same_documents(runs):
    jsonl, parquet = documents(runs.lite), documents(runs.release)
    assert jsonl.keys() == parquet.keys()
    for key, document in jsonl.items():
        other = parquet[key]
        assert (other.place, other.reason, other.original, other.result) == (
            document.place,
            document.reason,
            document.original,
            document.result,
        ), key
        assert other.removed_line_count == document.removed_line_count


def test_the_replayed_programs_give_what_each_run_recorded(runs):
    for output in (runs.lite, runs.rules, runs.strict, runs.release):
        found = documents(output)
        assert found and all(document.replay_agrees for document in found.values()), output
    edited = [document for document in documents(runs.lite).values() if document.reason == "edited"]
    assert edited and all(document.removed_line_count > 0 for document in edited)


def test_p_keep_is_read_where_the_refiner_wrote_one(runs):
    lite = [document.p_keep for document in documents(runs.lite).values() if document.place != "error"]
    assert lite and all(value is not None and 0 <= value <= 1 for value in lite)
    assert all(document.p_keep is None for document in documents(runs.rules).values())


def test_error_records_carry_their_full_reason_and_its_kind(runs):
    errors = {document.id: document for document in documents(runs.lite).values() if document.place == "error"}
    assert len(errors) == 2
    assert sorted(document.reason for document in errors.values()) == ["empty text", "malformed JSON"]
    assert all(document.error and document.error.startswith(document.reason) for document in errors.values())


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("malformed JSON (unexpected end of data: line 1 column 20 (char 19))", "malformed JSON"),
        ("invalid UTF-8 at byte 17", "invalid UTF-8 at byte N"),
        ("lines 3-99: start past the last line (50)", "start past the last line"),
        ("line 2: call is never closed (output cut off?): 'remove_lines(line_start=1'", "call is never closed"),
        (
            "remove_lines(line_start=3, line_end=5): not inside the chunk's lines 0-2",
            "not inside the chunk's lines N-N",
        ),
        ("line 4: 'normalize(\"a\"': unknown arguments", "unknown arguments"),
        (
            "text of 12,345,678 characters exceeds --max-doc-chars 10,000,000",
            "text of N characters exceeds --max-doc-chars N",
        ),
    ],
)
def test_reason_kinds_leave_out_the_particulars(message, kind):
    assert reason_kind(message) == kind


def test_a_folder_that_is_no_prox_output_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(ValueError, match=r"not a prox output folder.*-o folder of a prox refine"):
        open_output(str(tmp_path))
    with pytest.raises(ValueError, match="no such folder"):
        open_output(str(tmp_path / "missing"))


def test_an_unfinished_run_is_refused_with_what_to_do(runs, tmp_path):
    copy = tmp_path / "unfinished"
    shutil.copytree(runs.lite, copy)
    (copy / "stats.json").unlink()
    with pytest.raises(ValueError, match=r"has no stats\.json: its run has not finished; run the same prox refine"):
        open_output(str(copy))
