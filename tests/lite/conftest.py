"""A small synthetic labelled corpus for the lite refiner (menus and footers around prose; prose documents and
link lists) and a lite model trained on it once per session, small enough to train in a few seconds."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from prox.lite.data import LabelledDoc, LabelledPage
from prox.lite.model import LiteModel
from prox.lite.training import TrainingSettings, train_lite

NAV = (
    "Home",
    "News",
    "Menu",
    "Search",
    "Login",
    "Subscribe",
    "Contact us",
    "Home | World | Business | Sport",
    "Share on Facebook",
    "Follow us on Twitter",
)
FOOTER = (
    "Privacy Policy",
    "Terms of Use",
    "Cookie settings",
    "Back to top",
    "Share on Facebook",
    "© 2024 Example News. All rights reserved.",
    "Related posts",
    "Next article",
)
_WORDS = (
    *("the", "harbour", "council", "survey", "river", "winter", "village", "museum", "bridge", "market"),
    *("farmers", "teacher", "garden", "library", "station", "storm", "archive", "festival", "school"),
    *("valley", "railway", "mayor", "workers", "letters", "island", "orchard", "fishermen"),
)
_GLUE = ("the", "of", "and", "to", "in", "with", "after", "before", "that", "was", "were", "for")
_TITLES = ("Best", "Top", "Cheap", "New", "Free", "Latest", "Popular")
SETTINGS = TrainingSettings(seed=0, folds=3, rounds=30, threads=1)


def sentence(rng: random.Random) -> str:
    """A prose line: 14 to 24 words, capitalised, ending with a full stop."""
    words = [rng.choice(_GLUE) if rng.random() < 0.4 else rng.choice(_WORDS) for _ in range(rng.randint(14, 24))]
    return " ".join(words).capitalize() + "."


def page(rng: random.Random) -> tuple[list[str], list[int]]:
    """Menu lines, prose and footer lines, with their keep (1) / remove (0) labels."""
    head = rng.sample(NAV, rng.randint(3, 5))
    body = [sentence(rng) for _ in range(rng.randint(4, 7))]
    foot = rng.sample(FOOTER, rng.randint(2, 3))
    return [*head, *body, *foot], [0] * len(head) + [1] * len(body) + [0] * len(foot)


def link_list(rng: random.Random) -> str:
    """A page of short link titles: a document to drop."""
    titles = [f"{rng.choice(_TITLES)} {rng.choice(_WORDS)} {rng.choice(_WORDS)}" for _ in range(rng.randint(12, 20))]
    return "\n".join([*rng.sample(NAV, 3), *titles, *rng.sample(FOOTER, 2)])


def prose_doc(rng: random.Random) -> str:
    """A few paragraphs of prose: a document to keep."""
    return "\n".join(sentence(rng) for _ in range(rng.randint(5, 9)))


def pages(count: int, seed: int = 0) -> list[LabelledPage]:
    rng = random.Random(seed)
    return [LabelledPage(*page(rng), f"pages.jsonl:{index + 1}") for index in range(count)]


def docs(count: int, seed: int = 0) -> list[LabelledDoc]:
    """Alternately a prose document (label 1) and a link list (label 0)."""
    rng = random.Random(seed)
    return [
        LabelledDoc(prose_doc(rng), 1, f"docs.jsonl:{index + 1}")
        if index % 2 == 0
        else LabelledDoc(link_list(rng), 0, f"docs.jsonl:{index + 1}")
        for index in range(count)
    ]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def page_records(count: int, seed: int = 0) -> list[dict]:
    """`line_labels` records (`lines`, `labels`)."""
    return [{"id": f"page-{index}", "lines": p.lines, "labels": p.labels} for index, p in enumerate(pages(count, seed))]


def doc_records(count: int, seed: int = 0) -> list[dict]:
    """`dclm_quality` records (`text`, `label`)."""
    return [{"id": f"doc-{index}", "text": d.text, "label": d.label} for index, d in enumerate(docs(count, seed))]


@pytest.fixture(scope="session")
def synthetic() -> SimpleNamespace:
    """The corpus builders above, for tests: `synthetic.pages(40)`, `synthetic.write_jsonl(path, records)`."""
    return SimpleNamespace(
        NAV=NAV,
        FOOTER=FOOTER,
        SETTINGS=SETTINGS,
        sentence=sentence,
        page=page,
        link_list=link_list,
        prose_doc=prose_doc,
        pages=pages,
        docs=docs,
        write_jsonl=write_jsonl,
        page_records=page_records,
        doc_records=doc_records,
    )


@pytest.fixture(scope="session")
def trained() -> tuple[LiteModel, list[str]]:
    """A lite model trained on 40 pages and 40 documents (3-fold cross-validated), and its progress messages."""
    messages: list[str] = []
    model = train_lite(pages(40), docs(40), SETTINGS, messages.append)
    return model, messages


@pytest.fixture(scope="session")
def trained_dir(trained: tuple[LiteModel, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained model saved as a model folder."""
    folder = tmp_path_factory.mktemp("lite-model")
    trained[0].save(folder)
    return folder
