"""The lite generator writes real ProX programs from its models' verdicts: whole-line removals as maximal runs
with document-wide numbers, `normalize` for glued-on suffixes, keep_doc()/drop_doc() for documents."""

from __future__ import annotations

import itertools
import pickle
import random
from pathlib import Path

import pytest

from prox.chunking import Chunk, chunk_document
from prox.generators import make_generator
from prox.generators.lite import LiteGenerator, glued_suffix
from prox.lite.model import LiteModel
from prox.program import (
    STRICT,
    DropDoc,
    KeepChunk,
    KeepDoc,
    Normalize,
    RemoveLines,
    execute_chunk_programs,
    parse_program,
    release_readable,
)

MENU = ["Home", "News", "World", "Business", "Technology", "Science", "Health", "Sport", "Travel", "Contact us"]
ARTICLE = [
    "The harbour authority published its annual survey of the old quay walls on Tuesday, after two winters of "
    "storm damage had left several sections of the eastern pier closed to the public.",
    "Engineers found that the limestone blocks laid in the nineteenth century had shifted by as much as ten "
    "centimetres in places, and that the mortar between them had largely washed away.",
    "Repairs are expected to take eighteen months and will be paid for by a regional grant, although the council "
    "has warned that the final cost could rise if more damage is discovered underwater.",
    "Local fishermen, who rely on the pier to land their catch, said they welcomed the work but asked for a "
    "temporary landing stage so that they could keep working through the summer season.",
    "The authority said it would publish a detailed timetable next month and hold a public meeting in the town "
    "hall for residents who want to ask questions about the closures.",
]
COOKIE_FOOTER = [
    "We use cookies to improve your experience on our website. By continuing to browse, you agree to our use of "
    "cookies.",
    "Accept all cookies",
    "Cookie settings",
    "Privacy Policy | Terms of Use",
]
GLUED = "This is a long sentence about the harbour authority survey. Read more »"


@pytest.fixture(scope="module")
def generator(trained) -> LiteGenerator:
    """A lite generator over the session's small trained model."""
    return LiteGenerator(trained[0])


@pytest.fixture(scope="module")
def shipped() -> LiteGenerator:
    """The lite generator with the model shipped with prox."""
    generator = make_generator("lite")
    assert isinstance(generator, LiteGenerator)
    return generator


def sample_texts(synthetic, count: int = 6) -> list[str]:
    rng = random.Random(11)
    texts = ["\n".join(synthetic.page(rng)[0]) for _ in range(count)]
    return [*texts, synthetic.prose_doc(rng), synthetic.link_list(rng), "", "Just one short line"]


def removed_lines(program_text: str) -> list[RemoveLines]:
    program = parse_program(program_text)
    assert program.errors == ()
    return [call for call in program.calls if isinstance(call, RemoveLines)]


def test_every_program_parses_without_errors(generator: LiteGenerator, synthetic):
    texts = sample_texts(synthetic)
    for text, doc_program in zip(texts, generator.doc_programs(texts), strict=True):
        parsed = parse_program(doc_program)
        assert parsed.errors == () and parsed.calls in ((KeepDoc(),), (DropDoc(),))
        chunks = chunk_document(text, generator.chunk_sizer(), generator.chunk_budget)
        assert len(chunks) == 1  # the line model sees the whole page
        [chunk_program] = generator.chunk_programs(chunks)
        parsed = parse_program(chunk_program)
        assert parsed.errors == () and parsed.calls
        assert all(isinstance(call, (RemoveLines, Normalize, KeepChunk)) for call in parsed.calls)
        assert all(release_readable(call) for call in parsed.calls)


def test_documents_are_kept_or_dropped_by_the_document_model(generator: LiteGenerator, synthetic):
    rng = random.Random(3)
    prose, links = synthetic.prose_doc(rng), synthetic.link_list(rng)
    keep_program, drop_program = generator.doc_programs([prose, links])
    assert parse_program(keep_program).calls == (KeepDoc(),)
    assert parse_program(drop_program).calls == (DropDoc(),)
    assert "p_keep=" in keep_program  # the probability rides along as a comment


def test_removed_lines_are_maximal_runs_of_the_lines_the_model_rejects(generator: LiteGenerator, synthetic):
    for text in sample_texts(synthetic):
        lines = text.split("\n")
        [verdict] = generator.model.verdicts([text])
        rejected = {index for index, keep in enumerate(verdict.line_keep) if keep < generator.model.line_threshold}
        chunk = Chunk(first_line=0, last_line=len(lines) - 1, text=text, size=len(text), lines=tuple(lines))
        [program] = generator.chunk_programs([chunk])
        ranges = removed_lines(program)
        covered = [line for call in ranges for line in range(call.start, call.end + 1)]
        assert covered == sorted(rejected)  # each rejected line once, in order
        assert all(later.start > earlier.end + 1 for earlier, later in itertools.pairwise(ranges))


def test_line_numbers_are_document_wide(generator: LiteGenerator, synthetic):
    lines, labels = synthetic.page(random.Random(5))
    text = "\n".join(lines)
    at_start = Chunk(0, len(lines) - 1, text, len(text), tuple(lines))
    further_down = Chunk(100, 100 + len(lines) - 1, text, len(text), tuple(lines))
    first, later = generator.chunk_programs([at_start, further_down])
    ranges = removed_lines(first)
    assert ranges, "the menu and footer lines should be removed"
    assert removed_lines(later) == [RemoveLines(call.start + 100, call.end + 100) for call in ranges]
    report = execute_chunk_programs(text, parse_program(first))
    assert report.text.split("\n") == [line for line, label in zip(lines, labels, strict=True) if label]


def test_a_glued_on_suffix_is_normalized_away_on_a_kept_line(generator: LiteGenerator, synthetic):
    rng = random.Random(8)
    lines, labels = synthetic.page(rng)
    first_prose = labels.index(1)
    lines[first_prose] += " Read more »"
    [program] = generator.chunk_programs([Chunk(0, len(lines) - 1, "\n".join(lines), 0, tuple(lines))])
    assert Normalize(" Read more »", "") in parse_program(program).calls
    report = execute_chunk_programs("\n".join(lines), parse_program(program))
    assert "Read more" not in report.text and lines[first_prose].removesuffix(" Read more »") in report.text


@pytest.mark.parametrize("suffix", [" (Read more)", " Read more\xa0»"])
def test_a_suffix_the_release_would_read_differently_is_not_normalized(generator: LiteGenerator, synthetic, suffix):
    # normalize(source_str=" (Read more)", ...) is cut at its ")" by the release, and serialize writes "\xa0" as
    # an escape the release does not decode: either would delete something else than the suffix.
    rng = random.Random(8)
    lines, labels = synthetic.page(rng)
    first_prose = labels.index(1)
    lines[first_prose] += suffix
    assert glued_suffix(lines[first_prose]) == suffix
    assert not release_readable(Normalize(suffix, ""))
    [program] = generator.chunk_programs([Chunk(0, len(lines) - 1, "\n".join(lines), 0, tuple(lines))])
    assert not [call for call in parse_program(program).calls if isinstance(call, Normalize)]
    release = execute_chunk_programs("\n".join(lines), parse_program(program))
    strict = execute_chunk_programs("\n".join(lines), parse_program(program), STRICT)
    assert release.edited_text == strict.edited_text
    assert lines[first_prose] in release.edited_text.split("\n")


def test_glued_suffix_needs_a_sentence_before_it():
    suffix = glued_suffix(GLUED)
    assert suffix is not None and suffix.strip() == "Read more »"
    assert GLUED.removesuffix(suffix) == "This is a long sentence about the harbour authority survey."
    assert glued_suffix("Read more »") is None
    assert glued_suffix("Short text. Read more »") is None  # too little would stay
    assert glued_suffix("A sentence about the harbour authority that reads on without any suffix.") is None


@pytest.mark.parametrize(
    "line",
    [
        "The council met on Tuesday to discuss the new cycle lanes. Share on Facebook",
        "The council met on Tuesday to discuss the new cycle lanes. Continue reading...",
        "The council met on Tuesday to discuss the new cycle lanes. [Read more]",
    ],
)
def test_glued_suffix_knows_share_buttons_and_continue_reading(line: str):
    suffix = glued_suffix(line)
    assert suffix is not None
    assert line.removesuffix(suffix) == "The council met on Tuesday to discuss the new cycle lanes."


def test_the_chunk_stage_reuses_the_verdicts_of_the_doc_stage(trained, synthetic, monkeypatch):
    generator = LiteGenerator(trained[0])
    texts = sample_texts(synthetic, count=3)
    calls: list[int] = []
    verdicts = generator.model.verdicts

    def counted(batch):
        calls.append(len(batch))
        return verdicts(batch)

    monkeypatch.setattr(generator.model, "verdicts", counted)
    generator.doc_programs(texts)
    chunks = [
        chunk for text in texts for chunk in chunk_document(text, generator.chunk_sizer(), generator.chunk_budget)
    ]
    generator.chunk_programs(chunks)
    assert calls == [len(set(texts))]


def test_the_shipped_model_removes_a_menu_and_a_cookie_footer_around_prose(shipped: LiteGenerator):
    lines = [*MENU, *ARTICLE, *COOKIE_FOOTER]
    text = "\n".join(lines)
    [chunk] = chunk_document(text, shipped.chunk_sizer(), shipped.chunk_budget)
    [program] = shipped.chunk_programs([chunk])
    removed = {line for call in removed_lines(program) for line in range(call.start, call.end + 1)}
    article = range(len(MENU), len(MENU) + len(ARTICLE))
    assert removed.isdisjoint(article), "every prose paragraph is kept"
    assert len(removed & set(range(len(MENU)))) >= 8, "most of the menu is removed"
    assert len(removed & set(range(len(MENU) + len(ARTICLE), len(lines)))) >= 3, "most of the footer is removed"
    kept = execute_chunk_programs(text, parse_program(program)).text.split("\n")
    assert all(paragraph in kept for paragraph in ARTICLE)


def test_a_model_folder_is_loaded_by_name(trained_dir: Path, synthetic):
    generator = make_generator("lite", model=trained_dir)
    assert isinstance(generator, LiteGenerator)
    texts = sample_texts(synthetic, count=2)
    expected = LiteModel.load(trained_dir).verdicts(texts)
    for verdict, again in zip(generator.model.verdicts(texts), expected, strict=True):
        assert verdict.line_keep.tolist() == again.line_keep.tolist() and verdict.doc_keep == again.doc_keep
    assert generator.model.text_weights != LiteModel.load().text_weights  # not the shipped model


def test_a_folder_that_is_no_model_is_refused(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="prox lite train"):
        make_generator("lite", model=tmp_path)


@pytest.mark.parametrize("options", [{"threshold": 0.3}, {"model": None, "doc_model": "x"}])
def test_unknown_options_are_refused(options: dict):
    with pytest.raises(ValueError, match="the lite refiner takes only model"):
        make_generator("lite", **options)


def test_a_pickled_generator_leaves_its_model_behind_and_writes_the_same_programs(trained_dir: Path, synthetic):
    # datatrove pickles the pipeline into every task; each copy must take the process's shared model
    generator = make_generator("lite", model=trained_dir)
    texts = ["\n".join(synthetic.page(random.Random(seed))[0]) for seed in range(3)]
    copy = pickle.loads(pickle.dumps(generator))
    assert copy._model is None
    assert copy.doc_programs(texts) == generator.doc_programs(texts)
    assert copy.model is generator.model
    assert len(pickle.dumps(generator)) < 1000
