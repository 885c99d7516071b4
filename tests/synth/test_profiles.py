"""Prompt profiles: the shipped web and math profiles, your own folder, clear errors, brace-safe placeholders."""

from __future__ import annotations

import re
import shutil
from importlib import resources
from pathlib import Path

import pytest

from prox.chunking import Chunk
from prox.synth.fewshot import MergedProgram, merge_fewshot
from prox.synth.profile import ProfileError, available_profiles, fill, load_profile

NOISE_TYPES = ("footer", "links", "navigation")
# A worked example in a few-shot prompt: the numbered chunk, then the answer's python block.
EXAMPLE = re.compile(r"\[doc\]\n(?P<lines>.*?)\n\[/doc\]\nAnswer:\n```python\n(?P<answer>.*?)\n```", re.DOTALL)
NUMBERED = re.compile(r"\[(\d{3,})\](.*)")


def _shipped(name: str) -> Path:
    return Path(str(resources.files("prox.synth") / "profiles" / name))


@pytest.fixture
def own_profile(tmp_path: Path) -> Path:
    folder = tmp_path / "german"
    shutil.copytree(_shipped("web"), folder)
    return folder


def test_the_shipped_profiles_load_with_three_noise_types():
    assert available_profiles() == ["math", "web"]
    for name in available_profiles():
        profile = load_profile(name)
        assert profile.name == name
        assert profile.noise_types == NOISE_TYPES
        assert "Educational score: <points>" in profile.doc_educational
        assert "Extraction Quality Score: <points>" in profile.doc_format
        for stub in ("def remove_lines(line_start: int, line_end: int)", "def normalize(", "def keep_chunk()"):
            assert stub in profile.chunk_functions


def test_web_is_the_default_and_math_is_about_mathematics():
    assert load_profile() == load_profile("web")
    math = load_profile("math")
    assert all("$" in template and "\\" in template for template in math.fewshot.values())
    assert "LaTeX" in math.rewrite and "LaTeX" in math.chunk_rules


@pytest.mark.parametrize("name", ["web", "math"])
def test_every_worked_example_passes_the_fewshot_checks(name):
    profile = load_profile(name)
    for noise_type, template in profile.fewshot.items():
        examples = list(EXAMPLE.finditer(template))
        assert 1 <= len(examples) <= 2, noise_type
        for example in examples:
            numbered = [NUMBERED.fullmatch(line) for line in example.group("lines").split("\n")]
            assert all(numbered), f"{noise_type}: every example line has a [NNN] prefix"
            first = int(numbered[0].group(1))
            assert [int(match.group(1)) for match in numbered] == list(range(first, first + len(numbered)))
            chunk = Chunk(
                first, first + len(numbered) - 1, example.group("lines"), 0, tuple(m.group(2) for m in numbered)
            )
            merged = merge_fewshot(chunk, {noise_type: example.group("answer")})
            assert isinstance(merged, MergedProgram), f"{name}/{noise_type}: {merged}"


def test_a_profile_is_read_from_a_folder(own_profile: Path):
    profile = load_profile(prompts=own_profile)

    assert profile.name == str(own_profile)
    assert profile.fewshot == load_profile("web").fewshot


def test_a_profile_folder_may_have_its_own_noise_types(own_profile: Path):
    (own_profile / "fewshot_cookies.txt").write_text("Cookie banners.\n{functions}\n{rules}\n{chunk}\n")
    (own_profile / "fewshot_links.txt").unlink()

    assert load_profile(prompts=own_profile).noise_types == ("cookies", "footer", "navigation")


@pytest.mark.parametrize(
    "file",
    [
        "system.txt",
        "doc_educational.txt",
        "doc_format.txt",
        "score_follow_up.txt",
        "chunk_functions.txt",
        "chunk_rules.txt",
        "rewrite.txt",
    ],
)
def test_a_missing_file_is_named(own_profile: Path, file: str):
    (own_profile / file).unlink()

    with pytest.raises(ProfileError, match=rf"^profile {re.escape(str(own_profile))}: missing {re.escape(file)}$"):
        load_profile(prompts=own_profile)


def test_a_profile_without_few_shot_prompts_is_refused(own_profile: Path):
    for path in own_profile.glob("fewshot_*.txt"):
        path.unlink()

    with pytest.raises(ProfileError, match=r"no few-shot prompt; add fewshot_<noise type>\.txt files"):
        load_profile(prompts=own_profile)


@pytest.mark.parametrize(
    ("file", "removed", "message"),
    [
        ("doc_educational.txt", "{document}", "doc_educational.txt has no {document} placeholder"),
        ("rewrite.txt", "{chunk}", "rewrite.txt has no {chunk} placeholder"),
        ("fewshot_links.txt", "{rules}", "fewshot_links.txt has no {rules} placeholder"),
        ("score_follow_up.txt", "{problem}", "score_follow_up.txt has no {problem} placeholder"),
        ("doc_format.txt", "Extraction Quality Score:", "doc_format.txt must ask for a final line"),
    ],
)
def test_a_template_without_its_placeholder_or_score_line_is_refused(own_profile, file, removed, message):
    path = own_profile / file
    path.write_text(path.read_text().replace(removed, ""))

    with pytest.raises(ProfileError, match=re.escape(message)):
        load_profile(prompts=own_profile)


def test_an_empty_file_is_refused(own_profile: Path):
    (own_profile / "system.txt").write_text("\n")

    with pytest.raises(ProfileError, match=r"system\.txt is empty"):
        load_profile(prompts=own_profile)


def test_unknown_names_missing_folders_and_both_choices_are_refused(tmp_path: Path):
    with pytest.raises(ProfileError, match=r"unknown profile 'german'; choose one of: math, web \(or --prompts DIR\)"):
        load_profile("german")
    with pytest.raises(ProfileError, match="no such folder"):
        load_profile(prompts=tmp_path / "absent")
    with pytest.raises(ProfileError, match="not both"):
        load_profile("web", prompts=tmp_path)


# --- placeholders ---


def test_fill_replaces_only_the_named_placeholders():
    template = "Solve $\\frac{a}{b}$ in {chunk} with {rules}; keep {unknown} and {{chunk}} as {x}."

    assert fill(template, chunk="C", rules="R") == "Solve $\\frac{a}{b}$ in C with R; keep {unknown} and {C} as {x}."


def test_braces_in_values_are_inserted_as_they_are():
    document = 'def f(x): return {"a": x}  # {document} {chunk} {} {0} {'

    assert fill("<document>\n{document}\n</document>", document=document) == f"<document>\n{document}\n</document>"
    assert fill("{chunk}|{rules}", chunk="{rules}", rules="R") == "{rules}|R"
