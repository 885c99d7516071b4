"""Differential test: the `release` policy against a transcription of the GAIR-NLP/ProX release's executor.

`release_oracle` below is written straight from the release's behaviour (utils/chunk_utils.py:
`execute_meta_operations` over `execute_operations`, chunk outputs stripped of spaces and joined with
newlines as data_gen/tasks/apply_chunk_refining.py does), one statement per step, independently of
`prox.program.release`. Seeded generators write programs of every family the release can meet; the final
text (or drop), the edited text and the error count must agree on every one.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prox.program import (
    RELEASE,
    ChunkProgram,
    KeepChunk,
    Normalize,
    Program,
    RemoveLines,
    execute_chunk_programs,
    parse_program,
    serialize,
)

PROGRAMS_PER_FAMILY = 5_000
PARSED_EVERY = 10  # every 10th case goes through parse_program, as the pipeline does; the rest keep the raw source


# --- the oracle ---------------------------------------------------------------------------------------------------


def release_oracle(document: str, chunk_outputs: list[str]) -> tuple[str | None, str, int]:
    """(final text, None when dropped; the edited text; the error count), as the release computes them."""
    program = "\n".join(output.strip(" ") for output in chunk_outputs)
    operations = program.strip(" ").split("\n")
    original_lines = document.split("\n")
    text = document
    doomed: set[int] = set()
    intervals: list[tuple[int, int]] = []
    error_count = 0
    for operation in operations:
        if operation.startswith("remove_lines") and "all=True" not in operation:
            if "(" not in operation:
                error_count += 1
                continue
            begin = operation.index("(") + 1
            if ")" in operation:
                stop = operation.index(")")
            else:
                error_count += 1
                stop = -1
            params = operation[begin:stop].split(",")
            try:
                first = int(params[0].split("=")[1])
                last = int(params[1].split("=")[1])
            except (IndexError, ValueError):
                error_count += 1
                continue
            intervals.append((first, last))
            # The release adds every index of range(first, last + 1); only those naming a line can matter.
            doomed.update(i for i in range(len(original_lines)) if first <= i <= last)
        elif operation.startswith("normalize"):
            if "(" not in operation:
                error_count += 1
                continue
            begin = operation.index("(") + 1
            if ")" in operation:
                stop = operation.index(")")
            else:
                error_count += 1
                stop = -1
            params = operation[begin:stop].split(",")
            if len(params) == 1:
                try:
                    source = params[0].split("=")[1].strip('"')
                except IndexError:
                    error_count += 1
                    continue
                text = text.replace(source, "")
            elif len(params) == 2:
                try:
                    source = params[0].split("=")[1].strip('"')
                    target = params[1].split("=")[1].strip('"')
                except IndexError:
                    error_count += 1
                    continue
                if source != " " and source != "":
                    text = text.replace(source, target)
        elif operation.startswith("remove_lines"):
            doomed = set(range(len(original_lines)))
    lines = text.split("\n")
    edited = "\n".join(line for index, line in enumerate(lines) if index not in doomed)
    # merge_intervals: sort by start (stable), then fold
    merged: list[list[int]] = []
    for first, last in sorted(intervals, key=lambda pair: pair[0]):
        if not merged or first > merged[-1][1] + 1:
            merged.append([first, last])
        else:
            merged[-1][1] = max(merged[-1][1], last)
    for first, last in merged:
        if first >= len(lines) or last >= len(lines):
            error_count += 1
    kept_words, all_words = len(edited.split()), len(document.split())
    if all_words == 0:  # the release divides by zero here; prox drops such a document as empty
        return None, edited, error_count
    if kept_words / all_words <= 1 - 0.95 and error_count < 2:
        return None, edited, error_count
    if kept_words <= 10:
        return None, edited, error_count
    if kept_words / all_words >= 0.0 and error_count < 2:
        return edited, edited, error_count
    return document, edited, error_count


# --- generators ---------------------------------------------------------------------------------------------------

WORDS = ["the", "cat", "sat", "a", "x=1", "(a)", "b,c", "l0", "3", "it's", 'say "hi"', "\\n", "é", "٣", "--", "ok"]
SNIPPETS = ["the", "cat", " ", "", "a", "at", "x=1", "(a)", "b,c", "'", '"', "é", "٣", "\\n", "\\t", "t s", "sat "]


def document(rng: random.Random) -> str:
    """A short document: 1-12 lines of 0-9 words (sometimes none at all)."""
    if rng.random() < 0.01:
        return rng.choice(["", " ", "\n", " \n\t"])
    return "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 9))) for _ in range(rng.randint(1, 12)))


def number(rng: random.Random, line_count: int) -> str:
    return str(rng.randint(-3, line_count + 3))


def keyword_range(rng: random.Random, n: int, start: str | None = None, end: str | None = None) -> str:
    start = number(rng, n) if start is None else start
    end = number(rng, n) if end is None else end
    return f"remove_lines(line_start={start}, line_end={end})"


def in_range(rng: random.Random, n: int) -> str:
    first = rng.randint(0, n - 1)
    return keyword_range(rng, n, str(first), str(rng.randint(first, n - 1)))


def keyword_normalize(rng: random.Random, source: str | None = None, target: str | None = None) -> str:
    source = rng.choice(SNIPPETS) if source is None else source
    target = rng.choice(["", "X", "the", " ", "é"]) if target is None else target
    return f'normalize(source_str="{source}", target_str="{target}")'


def fam_keyword(rng, n):
    return [rng.choice([lambda: in_range(rng, n), lambda: keyword_normalize(rng)])() for _ in range(rng.randint(1, 4))]


def fam_positional(rng, n):
    shapes = [
        lambda: f"remove_lines({number(rng, n)}, {number(rng, n)})",
        lambda: f'normalize("{rng.choice(SNIPPETS)}", "X")',
        lambda: f"normalize('{rng.choice(SNIPPETS)}')",
        lambda: f"remove_lines({number(rng, n)}, line_end={number(rng, n)})",
        lambda: f"remove_lines(line_start={number(rng, n)}, {number(rng, n)})",
        lambda: in_range(rng, n),
    ]
    return [rng.choice(shapes)() for _ in range(rng.randint(1, 4))]


def fam_one_argument_normalize(rng, n):
    shapes = [
        lambda: f'normalize(source_str="{rng.choice(SNIPPETS)}")',
        lambda: 'normalize(source_str=" ")',
        lambda: 'normalize(source_str="")',
        lambda: 'normalize(source_str="  ")',
        lambda: f"normalize(source_str={rng.choice(['the', 'a', ' cat'])})",
        lambda: in_range(rng, n),
    ]
    return [rng.choice(shapes)() for _ in range(rng.randint(1, 3))]


def fam_prose(rng, n):
    shapes = [
        lambda: f"remove_lines {number(rng, n)} to {number(rng, n)}",
        lambda: f"I will remove_lines(line_start={number(rng, n)}, line_end={number(rng, n)})",
        lambda: "normalize the text",
        lambda: "normalize: replace the = sign",
        lambda: "normalize (source_str=the, target_str=a)",
        lambda: "remove_lines is not needed here",
        lambda: "removing lines: remove_lines(line_start=0, line_end=1)",
        lambda: "Let me normalize(source_str=the) it",
        lambda: "normalized=the)",
        lambda: "remove_lines_after(line_start=1, line_end=2)",
        lambda: keyword_normalize(rng),
        lambda: in_range(rng, n),
    ]
    return [rng.choice(shapes)() for _ in range(rng.randint(1, 4))]


PYTHON_ESCAPES = ["\\u00e9", "\\x41", "\\\\n", "\\N{BULLET}"]


def fam_escapes(rng, n):
    shapes = [
        lambda: keyword_normalize(rng, rng.choice(["\\n", "\\t", '\\"', "\\\\", "the\\ncat"]), "X"),
        lambda: keyword_normalize(rng, "the", rng.choice(["\\n", "\\t", "a\\nb", '\\"'])),
        lambda: f'normalize(source_str="{rng.choice(PYTHON_ESCAPES)}")',
        lambda: in_range(rng, n),
    ]
    return [rng.choice(shapes)() for _ in range(rng.randint(1, 3))]


def fam_prefixed(rng, n):
    prefix = rng.choice(["- ", "1. ", "  ", "    ", "\t", "* ", "> ", " ", "```python\n"])
    calls = [rng.choice([lambda: in_range(rng, n), lambda: keyword_normalize(rng)])() for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.5:
        return [prefix + call for call in calls]
    return [call if rng.random() < 0.5 else prefix + call for call in calls]


def fam_two_calls_per_line(rng, n):
    separator = rng.choice(["; ", " ", "", ";", " and "])
    first = rng.choice([lambda: in_range(rng, n), lambda: keyword_normalize(rng)])()
    second = rng.choice([lambda: in_range(rng, n), lambda: keyword_normalize(rng), lambda: "keep_chunk()"])()
    return [first + separator + second, *([in_range(rng, n)] if rng.random() < 0.3 else [])]


def fam_numbers(rng, n):
    odd = [
        "03",
        "٣",
        "+3",
        "1_0",
        " 3 ",
        "３",
        "1__0",
        "3.0",
        "0x3",
        "-0",
        "",
        "three",
        "00",
        "+0",
        "_1",
        "1_",
        "٠٢",
        "3=4",
        "=3",
        "2==",
        "1=x",
    ]

    def pick() -> str:
        return rng.choice(odd) if rng.random() < 0.7 else number(rng, n)

    shapes = [
        lambda: keyword_range(rng, n, pick(), pick()),
        lambda: f"remove_lines(line_start ={pick()}, line_end= {pick()})",
        lambda: f"remove_lines(line_start = {pick()} , line_end = {pick()} )",
    ]
    return [rng.choice(shapes)() for _ in range(rng.randint(1, 3))]


def fam_string_punctuation(rng, n):
    tricky = ["a=b", "x=1", "(a)", "a)", "b,c", "it's", "'", "a, b", "=", ")", ",", "(", "'the'", '"', 'a"b']
    shapes = [
        lambda: keyword_normalize(rng, rng.choice(tricky), rng.choice(["", "X", "y=z", ")", ","])),
        lambda: f"normalize(source_str='{rng.choice(tricky)}', target_str='X')",
        lambda: f'normalize(source_str = "{rng.choice(tricky)}")',
        lambda: f"normalize(source_str='{rng.choice(SNIPPETS)}')",
        lambda: in_range(rng, n),
    ]
    return [rng.choice(shapes)() for _ in range(rng.randint(1, 3))]


def fam_negative(rng, n):
    shapes = [
        lambda: keyword_range(rng, n, str(rng.randint(-20, -1)), number(rng, n)),
        lambda: keyword_range(rng, n, number(rng, n), str(rng.randint(-20, -1))),
        lambda: keyword_range(rng, n, str(rng.randint(-20, -1)), str(rng.randint(-20, -1))),
    ]
    return [rng.choice(shapes)() for _ in range(rng.randint(1, 3))]


def fam_reversed(rng, n):
    def reversed_range() -> str:
        end = rng.randint(-2, n + 2)
        return keyword_range(rng, n, str(end + rng.randint(1, 5)), str(end))

    return [reversed_range() if rng.random() < 0.7 else in_range(rng, n) for _ in range(rng.randint(1, 4))]


def fam_out_of_range(rng, n):
    shapes = [
        lambda: keyword_range(rng, n, str(rng.randint(n, n + 6)), str(rng.randint(n, n + 9))),
        lambda: keyword_range(rng, n, str(rng.randint(0, n)), str(rng.randint(n, n + 9))),
        lambda: keyword_range(rng, n, "0", "10000"),
        lambda: keyword_range(rng, n, str(10**30), str(10**30 + 1)),
        lambda: in_range(rng, n),
    ]
    return [rng.choice(shapes)() for _ in range(rng.randint(1, 4))]


def fam_unterminated(rng, n):
    shapes = [
        lambda: f"remove_lines(line_start={number(rng, n)}, line_end={number(rng, n)}",
        lambda: f"remove_lines(line_start={number(rng, n)}, line_end=",
        lambda: f"remove_lines(line_start={number(rng, n)}, line_end={number(rng, n)} ",
        lambda: f"remove_lines(line_start={number(rng, n)}, line_",
        lambda: "remove_lines(",
        lambda: "remove_lines",
        lambda: f'normalize(source_str="{rng.choice(SNIPPETS)}',
        lambda: f'normalize(source_str="{rng.choice(SNIPPETS)}", target_str="X"',
        lambda: f'normalize(source_str="{rng.choice(SNIPPETS)}", target_str=',
        lambda: "normalize",
        lambda: "normalize(",
        lambda: ")remove_lines(line_start=1, line_end=2",
        lambda: "remove_lines) (line_start=1, line_end=2",
        lambda: in_range(rng, n),
    ]
    return [rng.choice(shapes)() for _ in range(rng.randint(1, 3))]


def fam_extra_keywords(rng, n):
    shapes = [
        lambda: f"remove_lines(line_start={number(rng, n)}, line_end={number(rng, n)}, reason='ads')",
        lambda: f"remove_lines(foo={number(rng, n)}, bar={number(rng, n)})",
        lambda: f"remove_lines(line_end={number(rng, n)}, line_start={number(rng, n)})",
        lambda: f"remove_lines(start={number(rng, n)}, end={number(rng, n)})",
        lambda: f'normalize(target_str="X", source_str="{rng.choice(SNIPPETS)}")',
        lambda: f'normalize(source_str="{rng.choice(SNIPPETS)}", target_str="X", count=1)',
        lambda: f'normalize(old="{rng.choice(SNIPPETS)}", new="Y")',
    ]
    return [rng.choice(shapes)() for _ in range(rng.randint(1, 3))]


def fam_remove_all(rng, n):
    shapes = [
        lambda: "remove_lines(all=True)",
        lambda: "remove_lines(all=True",
        lambda: "remove_lines  all=True",
        lambda: f"remove_lines(line_start={number(rng, n)}, line_end={number(rng, n)})  # not all=True",
        lambda: "remove_lines(all = True)",
        lambda: "remove_lines(all=False)",
        lambda: "normalize(all=True)",
        lambda: in_range(rng, n),
        lambda: keyword_normalize(rng),
    ]
    return [rng.choice(shapes)() for _ in range(rng.randint(1, 4))]


def fam_fences_comments(rng, n):
    call = rng.choice([lambda: in_range(rng, n), lambda: keyword_normalize(rng)])()
    shapes = [
        lambda: ["```python", call, "```"],
        lambda: [f"```python\n{call}\n```"],
        lambda: [f"# {call}"],
        lambda: [f"{call}  # comment"],
        lambda: [f"{call}  # (see line 3) x=1"],
        lambda: ["```", call, "```", "Done."],
        lambda: [f"```{call}```"],
    ]
    return rng.choice(shapes)()


def fam_keep_untouch(rng, n):
    pool = ["keep_chunk()", "untouch_doc()", "drop_doc()", "keep_doc()", "keep_chunk(", "keep_chunk(1)"]
    lines = [rng.choice(pool) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.4:
        lines.append(in_range(rng, n))
    return lines


def fam_empty_whitespace(rng, n):
    return [rng.choice(["", " ", "   ", "\n", "\n\n", " \n ", "\t", " \t ", "\r\n"])]


def fam_random_fragments(rng, n):
    fragments = [
        "remove_lines",
        "normalize",
        "(",
        ")",
        ",",
        "=",
        "line_start",
        "line_end",
        "source_str",
        "target_str",
        '"',
        "'",
        " ",
        "\n",
        "all=True",
        "the",
        "3",
        "-1",
        "٣",
        "\\n",
        "keep_chunk()",
        number(rng, n),
    ]
    head = rng.choice(["remove_lines(line_start=", "normalize(source_str=", "remove_lines(", "normalize(", ""])
    return [head + "".join(rng.choice(fragments) for _ in range(rng.randint(0, 12)))]


def fam_serialized(rng, n):
    """Canonical text of hand-built programs, as serialize writes it (the path for Programs without source)."""
    calls = []
    for _ in range(rng.randint(0, 4)):
        kind = rng.random()
        if kind < 0.5:
            calls.append(RemoveLines(rng.randint(-3, n + 3), rng.randint(-3, n + 3)))
        elif kind < 0.9:
            calls.append(Normalize(rng.choice([*SNIPPETS, "a\nb", "\\", "\x00"]), rng.choice(["", "X", "\t", '"'])))
        else:
            calls.append(KeepChunk())
    return calls


def fam_multi_chunk(rng, n):
    """One chunk's output of a multi-chunk document (each chunk is drawn from another family), often indented:
    the release strips the spaces of every chunk output, so an indented first line still counts."""
    family = rng.choice([name for name in FAMILIES if name not in ("multi_chunk", "serialized")])
    lines = FAMILIES[family](rng, n)
    if lines and rng.random() < 0.5:
        lines[0] = rng.choice([" ", "  ", "\t"]) + lines[0]
    return lines


FAMILIES: dict[str, Callable] = {
    name.removeprefix("fam_"): function for name, function in globals().items() if name.startswith("fam_")
}


def outputs_for(rng: random.Random, family: str, line_count: int, chunks: int) -> list[str | Program]:
    """One program text per chunk; `serialized` gives hand-built Programs instead."""
    generate = FAMILIES[family]
    outputs: list[str | Program] = []
    for _ in range(chunks):
        produced = generate(rng, line_count)
        if family == "serialized":
            outputs.append(Program(tuple(produced)))
            continue
        if rng.random() < 0.15:
            produced = [*produced, rng.choice(["keep_chunk()", "", "Done.", "  "])]
        rng.shuffle(produced)
        text = "\n".join(produced)
        if rng.random() < 0.1:
            text = rng.choice([" ", "  ", "\n", " \n"]) + text + rng.choice([" ", "\n", "  "])
        outputs.append(text)
    return outputs


def run_family(family: str, seed: int, count: int, mismatches: list, outcomes: Counter) -> None:
    rng = random.Random(seed)
    for index in range(count):
        text = document(rng)
        line_count = text.count("\n") + 1
        chunks = rng.randint(2, 4) if family == "multi_chunk" or rng.random() < 0.2 else 1
        outputs = outputs_for(rng, family, line_count, chunks)
        spans = sorted(rng.randint(0, line_count - 1) for _ in range(2 * chunks))
        programs = []
        raw = []
        for position, output in enumerate(outputs):
            if isinstance(output, Program):
                program, source = output, serialize(output)
            else:
                program = parse_program(output) if index % PARSED_EVERY == 0 else Program(source=output)
                source = output
            programs.append(ChunkProgram(program, spans[2 * position], spans[2 * position + 1]))
            raw.append(source)
        expected_text, expected_edit, expected_errors = release_oracle(text, raw)
        report = execute_chunk_programs(text, programs, RELEASE)
        outcomes[report.reason] += 1
        outcomes["with errors"] += bool(report.errors)
        got = (report.text, report.edited_text, len(report.errors))
        if got != (expected_text, expected_edit, expected_errors):
            mismatches.append((family, text, raw, got, (expected_text, expected_edit, expected_errors)))


def test_release_policy_matches_the_release_on_generated_programs():
    counts: Counter[str] = Counter()
    outcomes: dict[str, Counter] = {}
    mismatches: list = []
    started = time.perf_counter()
    for seed, family in enumerate(FAMILIES):
        outcomes[family] = Counter()
        run_family(family, seed, PROGRAMS_PER_FAMILY, mismatches, outcomes[family])
        counts[family] += PROGRAMS_PER_FAMILY
    elapsed = time.perf_counter() - started
    print(f"\nrelease parity: {sum(counts.values())} programs in {elapsed:.1f}s, {len(mismatches)} mismatches")
    for family, count in counts.items():
        print(f"  {family:24} {count}  {dict(sorted(outcomes[family].items()))}")
    assert not mismatches, mismatches[:5]
    assert sum(counts.values()) >= 100_000
    assert len(FAMILIES) >= 21
    # Every family reaches the edited outcome except those that cannot edit, so the comparison is not vacuous.
    assert all(outcomes[family]["edited"] for family in FAMILIES if family not in ("keep_untouch", "empty_whitespace"))


# Free-form lines from fragments of call syntax, for hypothesis to shrink any disagreement to a small case.
FRAGMENTS = ["remove_lines", "normalize", "(", ")", ",", "=", "line_start", "source_str", '"', "'", " ", "all=True"]
fragment_lines = st.lists(st.sampled_from([*FRAGMENTS, "1", "-2", "40", "l1", "l3w2 ", "\\n", "٣"]), max_size=14).map(
    "".join
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(fragment_lines, max_size=5).map("\n".join), min_size=1, max_size=3),
    st.lists(st.integers(0, 12), min_size=1, max_size=40),
)
def test_release_policy_matches_the_release_on_fragment_programs(outputs, word_counts):
    text = "\n".join(" ".join(f"l{i}w{j}" for j in range(count)) for i, count in enumerate(word_counts))
    programs = [ChunkProgram(parse_program(output), 0, len(word_counts) - 1) for output in outputs]
    report = execute_chunk_programs(text, programs, RELEASE)
    assert (report.text, report.edited_text, len(report.errors)) == release_oracle(text, outputs)
