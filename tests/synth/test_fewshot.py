"""The few-shot chunk method: teacher answers per noise type, checked against the chunk and merged."""

from __future__ import annotations

import pytest

from prox.chunking import Chunk, number_lines
from prox.program import RELEASE, execute_chunk_programs, parse_program
from prox.synth.fewshot import (
    FewshotOptions,
    FewshotRejection,
    MergedProgram,
    chunk_lines,
    merge_fewshot,
    program_text,
    removed_word_share,
)

PAGE = [
    "Skip to content",  # 0
    "Home | Courses | Blog | Contact",  # 1
    "How plants make food",  # 2
    "Plants turn light, water and carbon dioxide into sugar in their leaves. Share this",  # 3
    "This process is called photosynthesis and it releases oxygen as a by-product.",  # 4
    "Read more: https://biology.example/photosynthesis",  # 5
    "The green pigment chlorophyll absorbs mostly red and blue light.",  # 6
    "Related posts",  # 7
    "© 2024 Green Pages",  # 8
]
DOCUMENT = "\n".join(PAGE)


def _chunk(lines: list[str] = PAGE, first: int = 0) -> Chunk:
    """A chunk of `lines` numbered from `first`, as the chunker makes it."""
    return Chunk(first, first + len(lines) - 1, "\n".join(number_lines(lines, first)), 0, tuple(lines))


def _fenced(*calls: str) -> str:
    return "```python\n" + "\n".join(calls) + "\n```"


def _merge(answers: dict[str, str], chunk: Chunk | None = None, **options) -> MergedProgram | FewshotRejection:
    return merge_fewshot(chunk or _chunk(), answers, len(PAGE), FewshotOptions(**options))


# --- merging ---


def test_per_type_programs_merge_into_one_canonical_program():
    merged = _merge(
        {
            "navigation": _fenced("remove_lines(line_start=0, line_end=1)"),
            "links": _fenced(
                "remove_lines(line_start=5, line_end=5)",
                'normalize(source_str=" Share this", target_str="")',
            ),
            "footer": _fenced("remove_lines(line_start=7, line_end=8)", "remove_lines(line_start=1, line_end=1)"),
        }
    )

    assert isinstance(merged, MergedProgram)
    assert merged.text == (
        "remove_lines(line_start=0, line_end=1)\n"
        "remove_lines(line_start=5, line_end=5)\n"
        "remove_lines(line_start=7, line_end=8)\n"
        'normalize(source_str=" Share this", target_str="")'
    )
    assert merged.removed_lines == (0, 1, 5, 7, 8)
    assert merged.per_type == {
        "navigation": "remove_lines(line_start=0, line_end=1)",
        "links": 'remove_lines(line_start=5, line_end=5)\nnormalize(source_str=" Share this", target_str="")',
        "footer": "remove_lines(line_start=7, line_end=8)\nremove_lines(line_start=1, line_end=1)",
    }
    assert parse_program(merged.text).calls == merged.calls


def test_the_merged_program_run_by_the_release_gives_the_clean_page():
    merged = _merge(
        {
            "navigation": _fenced("remove_lines(line_start=0, line_end=1)"),
            "links": _fenced('normalize(source_str=" Share this")', "remove_lines(line_start=5, line_end=5)"),
            "footer": _fenced("remove_lines(line_start=7, line_end=8)"),
        }
    )

    report = execute_chunk_programs(DOCUMENT, parse_program(merged.text), RELEASE)
    assert report.reason == "edited"
    assert report.text == "\n".join([PAGE[2], PAGE[3].removesuffix(" Share this"), PAGE[4], PAGE[6]])


def test_touching_and_overlapping_ranges_are_merged_and_sorted():
    merged = _merge(
        {
            "footer": _fenced("remove_lines(line_start=7, line_end=8)"),
            "navigation": _fenced("remove_lines(line_start=0, line_end=0)", "remove_lines(1, 1)"),
            "links": _fenced("remove_lines(line_start=5, line_end=6)", "remove_lines(line_start=6, line_end=7)"),
        },
        max_removed_share=1.0,
    )

    assert merged.text == "remove_lines(line_start=0, line_end=1)\nremove_lines(line_start=5, line_end=8)"


def test_normalize_calls_are_deduplicated_longest_source_first_and_dropped_when_their_lines_go():
    merged = _merge(
        {
            "links": _fenced(
                'normalize(source_str=" Share this", target_str="")',
                'normalize(source_str=" this", target_str="")',
                'normalize(source_str="Courses | ", target_str="")',
            ),
            "footer": _fenced(
                'normalize(source_str=" Share this", target_str="")', "remove_lines(line_start=1, line_end=1)"
            ),
        }
    )

    assert merged.text == (
        "remove_lines(line_start=1, line_end=1)\n"
        'normalize(source_str=" Share this", target_str="")\n'
        'normalize(source_str=" this", target_str="")'
    )


def test_nothing_to_remove_is_keep_chunk():
    merged = _merge({"navigation": "keep_chunk()", "links": _fenced("keep_chunk()"), "footer": "untouch_doc()"})

    assert merged == MergedProgram(
        text="keep_chunk()",
        calls=merged.calls,
        removed_lines=(),
        removed_share=0.0,
        per_type={"navigation": "keep_chunk()", "links": "keep_chunk()", "footer": "keep_chunk()"},
    )


def test_prose_around_a_python_block_is_ignored():
    answer = (
        "Lines 0 and 1 are the site menu.\n"
        "```python\n# the menu\nremove_lines(line_start=0, line_end=1)\n```\n"
        "These lines are navigation."
    )

    assert _merge({"navigation": answer}).text == "remove_lines(line_start=0, line_end=1)"


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("remove_lines(0, 1)", "remove_lines(0, 1)"),
        ("```\nkeep_chunk()\n```", "keep_chunk()"),
        ("```python\nkeep_chunk()", "keep_chunk()"),
        ("```python\nremove_lines(0, 1)\n```\nor\n```python\nkeep_chunk()\n```", "keep_chunk()"),
        ("A cut-off block:\n```python\nkeep_chunk()\n```\nThen:\n```python\nremove_lines(0, 1)", "remove_lines(0, 1)"),
    ],
)
def test_the_code_of_an_answer_is_its_last_python_block(answer, code):
    assert program_text(answer) == code


# --- rejections ---


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("remove_lines(line_start=9, line_end=9)", "lines outside the chunk's lines 0-8"),
        ("remove_lines(line_start=7, line_end=12)", "lines outside the chunk's lines 0-8"),
        ("remove_lines(line_start=5, line_end=3)", "the range ends before it starts"),
        ('normalize(source_str="Subscribe now", target_str="")', "source_str is in no line of the chunk"),
        ('normalize(source_str="[003]Plants", target_str="")', "source_str is in no line of the chunk"),
        ('normalize(source_str="dioxide\\nThis", target_str="")', "a newline in a string"),
        ('normalize(source_str="leaves.", target_str="leaves.\\n")', "a newline in a string"),
        ('normalize(source_str=" ", target_str="")', "a blank source_str"),
        ('normalize(source_str="light, water", target_str="")', "the release's parser would read it differently"),
        ("drop_doc()", "not a chunk-stage call"),
    ],
)
def test_calls_that_do_not_fit_the_chunk_reject_it(answer, reason):
    rejection = _merge({"navigation": "keep_chunk()", "links": _fenced(answer)})

    assert isinstance(rejection, FewshotRejection)
    assert rejection.noise_type == "links"
    assert reason in rejection.reason and rejection.reason.startswith(parse_program(answer).calls[0].to_source())
    assert str(rejection).startswith("links: ")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("remove_lines(line_start=1, line_end=", "unreadable program"),
        ("Lines 0 to 1 are navigation, so I remove them.", "unreadable program"),
        ("remove_lines(line_start=0, line_end=1) and keep the rest", "unreadable program"),
        ("remove_lines(line_start='0', line_end=1)", "unreadable program"),
        ("delete_lines(0, 1)", "unreadable program"),
        ("", "no call in the answer"),
        ("```python\n```", "no call in the answer"),
    ],
)
def test_an_unreadable_answer_rejects_the_chunk(answer, reason):
    rejection = _merge({"navigation": answer})

    assert isinstance(rejection, FewshotRejection) and rejection.noise_type == "navigation"
    assert rejection.reason.startswith(reason)


def test_line_numbers_are_document_wide():
    chunk = _chunk(PAGE[3:7], first=40)
    accepted = merge_fewshot(chunk, {"links": "remove_lines(line_start=42, line_end=42)"})
    rejected = merge_fewshot(chunk, {"links": "remove_lines(line_start=2, line_end=2)"})

    assert isinstance(accepted, MergedProgram) and accepted.removed_lines == (42,)
    assert rejected == FewshotRejection(
        "remove_lines(line_start=2, line_end=2): lines outside the chunk's lines 40-43", "links"
    )


def test_unreadable_normalize_calls_are_kept_when_release_readability_is_not_required():
    merged = _merge({"links": 'normalize(source_str="light, water and ", target_str="")'}, release_readable=False)

    assert merged.text == 'normalize(source_str="light, water and ", target_str="")'


# --- over-removal ---


def test_removing_too_much_of_the_chunk_rejects_it():
    answers = {
        "navigation": "remove_lines(line_start=0, line_end=4)",
        "footer": "remove_lines(line_start=5, line_end=8)",
    }

    assert _merge(answers) == FewshotRejection("removes 100% of the chunk's words (limit 80%)")
    assert _merge(answers, max_removed_share=1.0).removed_share == 1.0


def test_the_removed_share_counts_words_deleted_inside_lines():
    chunk = _chunk(["one two three four", "five six seven eight"])
    merged = merge_fewshot(chunk, {"links": 'normalize(source_str=" two three four", target_str="")'})

    assert merged.removed_share == pytest.approx(3 / 8)
    assert removed_word_share(chunk, parse_program("remove_lines(line_start=1, line_end=1)").calls) == 0.5
    assert merge_fewshot(chunk, {"links": "remove_lines(0, 1)"}, options=FewshotOptions(max_removed_share=0.99)) == (
        FewshotRejection("removes 100% of the chunk's words (limit 99%)")
    )


def test_a_chunk_without_words_removes_nothing():
    assert removed_word_share(_chunk(["", "  "]), parse_program("remove_lines(0, 1)").calls) == 0.0


# --- head and tail trust ---


def test_head_and_tail_trust_keeps_only_removals_touching_the_first_or_last_lines():
    page = [f"line {index} of a long page" for index in range(30)]
    chunk = _chunk(page)
    answers = {
        "navigation": _fenced("remove_lines(line_start=0, line_end=1)", "remove_lines(line_start=2, line_end=6)"),
        "links": _fenced("remove_lines(line_start=10, line_end=12)", 'normalize(source_str=" of a long page")'),
        "footer": _fenced("remove_lines(line_start=20, line_end=26)", "remove_lines(line_start=28, line_end=29)"),
    }

    merged = merge_fewshot(chunk, answers, document_lines=30, options=FewshotOptions(head_tail_lines=3))

    assert merged.text == "remove_lines(line_start=0, line_end=6)\nremove_lines(line_start=28, line_end=29)"
    assert merged.distrusted == (
        "remove_lines(line_start=10, line_end=12): not in the head or tail (head/tail trust, 3 lines)",
        'normalize(source_str=" of a long page", target_str=""): normalize is not trusted (head/tail trust, 3 lines)',
        "remove_lines(line_start=20, line_end=26): not in the head or tail (head/tail trust, 3 lines)",
    )
    # The per-type programs are the teacher's, checked, before the trust filter.
    assert "remove_lines(line_start=10, line_end=12)" in merged.per_type["links"]


def test_head_and_tail_trust_measures_over_removal_after_the_filter():
    page = [f"line {index} of a long page" for index in range(10)]
    answers = {"navigation": "remove_lines(line_start=0, line_end=9)"}

    assert isinstance(merge_fewshot(_chunk(page), answers, 10), FewshotRejection)
    kept = merge_fewshot(
        _chunk(page[4:8], first=4), {"navigation": "remove_lines(4, 5)"}, 10, FewshotOptions(head_tail_lines=2)
    )
    assert kept.text == "keep_chunk()" and kept.removed_share == 0.0


def test_head_and_tail_trust_needs_the_document_length():
    with pytest.raises(ValueError, match="document_lines"):
        merge_fewshot(_chunk(), {"navigation": "keep_chunk()"}, options=FewshotOptions(head_tail_lines=3))


@pytest.mark.parametrize("options", [{"max_removed_share": 1.5}, {"max_removed_share": -0.1}, {"head_tail_lines": 0}])
def test_bad_options_are_refused(options):
    with pytest.raises(ValueError):
        FewshotOptions(**options)


# --- the chunk's lines ---


def test_chunk_lines_come_from_the_numbered_text_when_the_chunk_has_none():
    chunk = _chunk(["alpha", "[7] beta", ""], first=998)
    bare = Chunk(chunk.first_line, chunk.last_line, chunk.text, 0)

    assert chunk.text == "[998]alpha\n[999][7] beta\n[1000]"
    assert chunk_lines(bare) == ("alpha", "[7] beta", "")
    with pytest.raises(ValueError, match="lines"):
        chunk_lines(Chunk(0, 5, "[000]a", 0))
