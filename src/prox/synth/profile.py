"""Prompt profiles: the teacher's prompts as text files, one folder per domain (`--profile web|math`) or your own
folder (`--prompts DIR`), so another language or domain is a folder, not a fork.

A profile folder holds:
- `system.txt`: the teacher's system message;
- `doc_educational.txt`, `doc_format.txt`: the two doc-scoring prompts, each with a `{document}` placeholder and
  asking for a final line `Educational score: <points>` / `Extraction Quality Score: <points>`;
- `score_follow_up.txt`: the turn that asks again for a score that cannot be read, with `{problem}` (what is
  wrong with the answer), `{points}` (the highest score) and `{label}` (the score line's label) placeholders;
- `chunk_functions.txt`, `chunk_rules.txt`: the function stubs and rules shared by the few-shot prompts;
- `fewshot_<noise type>.txt`, one or more: a few-shot prompt per noise type, with `{functions}`, `{rules}` and
  `{chunk}` placeholders (the web and math profiles have `navigation`, `links` and `footer`);
- `rewrite.txt`: the rewrite instructions, with a `{chunk}` placeholder.

Placeholders are filled by `fill`, never by `str.format`: documents, LaTeX and code are full of braces.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from prox.synth.scoring import SCORE_LINES

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

DEFAULT_PROFILE = "web"
FEWSHOT_PREFIX = "fewshot_"
# Fixed files and the placeholders each must hold.
_FILES = {
    "system.txt": (),
    "doc_educational.txt": ("document",),
    "doc_format.txt": ("document",),
    "score_follow_up.txt": ("problem", "points", "label"),
    "chunk_functions.txt": (),
    "chunk_rules.txt": (),
    "rewrite.txt": ("chunk",),
}
_FEWSHOT_PLACEHOLDERS = ("functions", "rules", "chunk")
_SCORE_FILES = {"educational": "doc_educational.txt", "format": "doc_format.txt"}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the profile and what is wrong with it."""


@dataclass(frozen=True)
class Profile:
    """The teacher prompts of one domain. `fewshot` maps each noise type to its few-shot prompt template."""

    name: str
    system: str
    doc_educational: str
    doc_format: str
    score_follow_up: str
    chunk_functions: str
    chunk_rules: str
    fewshot: dict[str, str]
    rewrite: str

    @property
    def noise_types(self) -> tuple[str, ...]:
        return tuple(self.fewshot)


def profile_digest(profile: Profile) -> str:
    """A digest of the profile's prompts: two profiles ask the same exactly when their digests are equal."""
    texts = {name: value for name, value in asdict(profile).items() if name != "name"}
    return hashlib.sha256(json.dumps(texts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def fill(template: str, **values: str) -> str:
    """The template with each `{name}` given in `values` replaced by its value, in one pass: braces anywhere
    else (LaTeX, code, JSON) and braces inside the values are left exactly as they are."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def available_profiles() -> list[str]:
    """The names of the profiles shipped with prox."""
    root = resources.files("prox.synth") / "profiles"
    return sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith(("_", ".")))


def load_profile(name: str | None = None, prompts: str | Path | None = None) -> Profile:
    """The shipped profile `name` (default `web`) or the profile in folder `prompts`; never both."""
    if name is not None and prompts is not None:
        raise ProfileError("give a profile name (--profile) or a prompts folder (--prompts), not both")
    if prompts is not None:
        folder: Traversable = Path(prompts)
        if not folder.is_dir():
            raise ProfileError(f"--prompts {prompts}: no such folder")
        return _read_profile(str(prompts), folder)
    name = name or DEFAULT_PROFILE
    folder = resources.files("prox.synth") / "profiles" / name
    if not folder.is_dir():
        raise ProfileError(
            f"unknown profile {name!r}; choose one of: {', '.join(available_profiles())} (or --prompts DIR)"
        )
    return _read_profile(name, folder)


def _read_profile(label: str, folder: Traversable) -> Profile:
    texts = {file: _read(label, folder, file, placeholders) for file, placeholders in _FILES.items()}
    for kind, file in _SCORE_FILES.items():
        if f"{SCORE_LINES[kind]}:" not in texts[file]:
            raise ProfileError(f"profile {label}: {file} must ask for a final line '{SCORE_LINES[kind]}: <points>'")
    fewshot_files = sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.name.startswith(FEWSHOT_PREFIX) and entry.name.endswith(".txt") and entry.is_file()
    )
    if not fewshot_files:
        raise ProfileError(f"profile {label}: no few-shot prompt; add {FEWSHOT_PREFIX}<noise type>.txt files")
    fewshot = {
        file.removeprefix(FEWSHOT_PREFIX).removesuffix(".txt"): _read(label, folder, file, _FEWSHOT_PLACEHOLDERS)
        for file in fewshot_files
    }
    return Profile(
        name=label,
        system=texts["system.txt"],
        doc_educational=texts["doc_educational.txt"],
        doc_format=texts["doc_format.txt"],
        score_follow_up=texts["score_follow_up.txt"],
        chunk_functions=texts["chunk_functions.txt"],
        chunk_rules=texts["chunk_rules.txt"],
        fewshot=fewshot,
        rewrite=texts["rewrite.txt"],
    )


def _read(label: str, folder: Traversable, file: str, placeholders: tuple[str, ...]) -> str:
    path = folder / file
    if not path.is_file():
        raise ProfileError(f"profile {label}: missing {file}")
    text = path.read_text(encoding="utf-8").rstrip()
    if not text:
        raise ProfileError(f"profile {label}: {file} is empty")
    present = set(_PLACEHOLDER.findall(text))
    missing = [f"{{{name}}}" for name in placeholders if name not in present]
    if missing:
        raise ProfileError(f"profile {label}: {file} has no {' or '.join(missing)} placeholder")
    return text
