"""Doc-level labels from a teacher's two additive 0–5 judgments (PROX_SPEC §5): read each score from its final
line, then keep or drop the document by the educational and format scores."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from prox.program import DropDoc, KeepDoc, serialize

ScoreKind = Literal["educational", "format"]
# The final line each doc-scoring prompt asks for: `<label>: <points>`.
SCORE_LINES: dict[str, str] = {"educational": "Educational score", "format": "Extraction Quality Score"}
MAX_POINTS = 5
EDU_THRESHOLD = 3
FORMAT_THRESHOLD = 4

_EMPHASIS = r"[\s*_`]*"  # markdown bold, italics and code marks, and spaces
_NUMBER = r"[+-]?\d+(?:\.\d+)?"


@dataclass(frozen=True)
class ScoreFailure:
    """Why no score could be read from a teacher's answer."""

    reason: str


def _pattern(label: str) -> re.Pattern[str]:
    words = r"\s+".join(re.escape(word) for word in label.split())
    return re.compile(
        rf"(?<![A-Za-z]){words}{_EMPHASIS}(?:[:=\-–—]|\bis\b)?{_EMPHASIS}"
        rf"(?P<value>{_NUMBER})(?!\d)"
        rf"(?:\s*(?:/|out\s+of)\s*(?P<scale>{_NUMBER}))?"
        rf"(?P<sum>\s*[+*×]\s*\d)?",
        re.IGNORECASE,
    )


_PATTERNS = {kind: _pattern(label) for kind, label in SCORE_LINES.items()}


def parse_score(text: str, kind: ScoreKind) -> int | ScoreFailure:
    """The whole number of points (0–5) that `text` gives on its `<label>: <points>` line(s).

    Tolerates markdown emphasis, `3/5` or `3 out of 5`, and text after the number. A missing score, a score
    that is not a whole number from 0 to 5, or several lines giving different scores is a `ScoreFailure`.
    """
    label = SCORE_LINES[kind]
    matches = list(_PATTERNS[kind].finditer(text))
    if not matches:
        return ScoreFailure(f"no '{label}: <points>' line")
    values: list[int] = []
    for match in matches:
        value = _points(match)
        if isinstance(value, ScoreFailure):
            return ScoreFailure(f"{label}: {value.reason}")
        values.append(value)
    distinct = list(dict.fromkeys(values))
    if len(distinct) > 1:
        return ScoreFailure(
            f"{label} given {len(values)} times with different values ({', '.join(map(str, distinct))})"
        )
    return values[0]


def _points(match: re.Match[str]) -> int | ScoreFailure:
    raw = match.group("value")
    if match.group("sum"):
        return ScoreFailure(f"{raw} is followed by a sum, not given as one number")
    scale = match.group("scale")
    if scale is not None and float(scale) != MAX_POINTS:
        return ScoreFailure(f"{raw}/{scale} is not on the 0-{MAX_POINTS} scale")
    value = float(raw)
    if not value.is_integer():
        return ScoreFailure(f"{raw} is not a whole number")
    if not 0 <= value <= MAX_POINTS:
        return ScoreFailure(f"{raw} is out of range (0-{MAX_POINTS})")
    return int(value)


def keep_document(
    educational: int,
    format_score: int,
    edu_threshold: int = EDU_THRESHOLD,
    format_threshold: int = FORMAT_THRESHOLD,
) -> bool:
    """Keep when the educational score reaches its threshold, or falls one short and the format score reaches its
    own (the paper: edu >= 3, or edu == 2 and format >= 4)."""
    if educational >= edu_threshold:
        return True
    return educational == edu_threshold - 1 and format_score >= format_threshold


def doc_target(keep: bool) -> str:
    """The doc-stage program a refining model should write: `keep_doc()` or `drop_doc()`."""
    return serialize([KeepDoc() if keep else DropDoc()])
