"""Runs over the demo corpus to report on, and a headless Chromium to look at the reports with.

The corpus is the demo pages split over two input files, plus two bad records (so that a run has errors and
several input files); runs are made once per session with the `prox` command itself.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from prox.cli import main
from prox.records.files import output_files
from prox.records.layouts import record_metadata
from prox.records.reading import Record, read_records

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo" / "pages.jsonl"
CHROMIUM = os.environ.get("PROX_CHROMIUM", "/usr/bin/chromium")
# Chromium offline and quiet: no sandbox (containers), no GPU, nothing fetched in the background.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def run_prox(*args: str) -> None:
    assert main([*map(str, args)]) == 0, f"prox {' '.join(map(str, args))} failed"


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo pages in two files, each with one bad record (malformed JSON; an empty text)."""
    folder = tmp_path_factory.mktemp("corpus")
    lines = DEMO.read_text(encoding="utf-8").splitlines()
    (folder / "a.jsonl").write_text("\n".join([*lines[:6], '{"id": "broken", "text": ']) + "\n", encoding="utf-8")
    second = [*lines[6:], json.dumps({"id": "blank", "text": "   "})]
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(("\n".join(second) + "\n").encode()))
    return folder


@pytest.fixture(scope="session")
def runs(demo_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Output folders over the corpus: lite (JSONL, prox layout), rules, lite replayed under strict, and lite
    as Parquet in the prox-release layout."""
    root = tmp_path_factory.mktemp("runs")
    found = SimpleNamespace(
        lite=root / "lite", rules=root / "rules", strict=root / "strict", release=root / "release-parquet"
    )
    run_prox("refine", demo_corpus, "-o", found.lite, "--tasks", "1")
    run_prox("refine", demo_corpus, "-o", found.rules, "--tasks", "1", "--refiner", "rules")
    run_prox("execute", found.lite, "-o", found.strict, "--policy", "strict", "--tasks", "1")
    parquet = ("--output-format", "parquet", "--layout", "prox-release")
    run_prox("refine", demo_corpus, "-o", found.release, "--tasks", "1", *parquet)
    return found


def records(output: Path, folder: str = "") -> list[dict]:
    """The records of one folder of an output (OUT, dropped or errors), metadata decoded."""
    found = []
    for path in output_files(output / folder if folder else output):
        for record in read_records(path):
            assert isinstance(record, Record)
            data = dict(record.data)
            if "metadata" in data:
                data["metadata"] = record_metadata(data)
            found.append(data)
    return found


def stats_of(output: Path) -> dict:
    return json.loads((output / "stats.json").read_text())


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium (Debian's `chromium`, or PROX_CHROMIUM) driven by Playwright. Skipped when there is no
    browser, except in CI (CI=true), where the browser tests must run."""
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright is not installed (pip install -e '.[dev]')"
    if problem is None and not Path(CHROMIUM).is_file():
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set PROX_CHROMIUM to a Chromium binary)"
    if problem is not None:
        if in_ci:
            pytest.fail(f"the browser tests must run in CI: {problem}")
        pytest.skip(f"browser tests skipped: {problem}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class OpenedPage:
    """A report opened in the browser, with every request and console error it caused."""

    def __init__(self, browser: object, path: Path):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        self.page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        # Nothing may leave the machine: any request other than the file itself fails (and is recorded above).
        self.context.route(
            "**/*",
            lambda route: route.continue_() if route.request.url == path.as_uri() else route.abort(),
        )
        self.page.goto(path.as_uri())

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser: object) -> Iterator:
    opened: list[OpenedPage] = []

    def open_report(path: Path) -> OpenedPage:
        opened.append(OpenedPage(browser, path))
        return opened[-1]

    yield open_report
    for page in opened:
        page.close()


def page_data(html: str) -> dict:
    """The viewer's data that a report page carries."""
    start = html.index('<script type="application/json" id="prox-data">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


@pytest.fixture(scope="session")
def tools() -> SimpleNamespace:
    """The readers above, for tests: `tools.records(out)`, `tools.stats(out)`, `tools.page_data(html)`."""
    return SimpleNamespace(records=records, stats=stats_of, page_data=page_data)
