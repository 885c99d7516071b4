"""The report as a person sees it, in headless Chromium: the run's numbers, drawn plots, the viewer's filters and
search, struck-through removed lines and highlighted normalize edits, no console errors, no network requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from prox.cli import main
from prox.program import Normalize, RemoveLines, parse_program

PLOTS = ("lines_removed", "chars_kept", "p_keep", "length", "drop_reasons", "error_reasons", "sources")


@pytest.fixture(scope="module")
def lite_report(runs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = tmp_path_factory.mktemp("pages") / "lite.html"
    assert main(["report", str(runs.lite), "-o", str(page), "--no-progress"]) == 0
    return page


@pytest.fixture(scope="module")
def compare_report(runs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = tmp_path_factory.mktemp("pages") / "compare.html"
    assert main(["report", str(runs.lite), "--compare", str(runs.rules), "-o", str(page), "--no-progress"]) == 0
    return page


def visible_documents(page) -> list:
    return page.locator("details.doc").all()


def open_document(page, document_id: str):
    """Find a document by its id in the viewer and open it, as a person would."""
    page.fill("#search", document_id)
    document = page.locator(f'details.doc[data-id="{document_id}"]')
    if document.get_attribute("open") is None:  # the viewer opens a lone match itself
        document.locator("summary").click()
    assert document.get_attribute("open") is not None
    document.locator(".doc-body").first.wait_for()  # drawn when it opens
    return document


def test_the_page_shows_the_numbers_of_stats_json(open_page, lite_report, runs, tools):
    opened = open_page(lite_report)
    stats = tools.stats(runs.lite)
    for name, value in stats.items():
        for key, item in value.items() if isinstance(value, dict) else [(None, value)]:
            expected = ("yes" if item else "no") if isinstance(item, bool) else f"{item:,}"
            cell = opened.page.locator(f'[data-stat="{name}.{key}"]' if key else f'[data-stat="{name}"]')
            assert cell.inner_text() == expected, (name, key)
            assert cell.is_visible()
    assert opened.console_errors == []
    assert opened.requests == [lite_report.as_uri()]


def test_every_plot_is_drawn(open_page, lite_report):
    page = open_page(lite_report).page
    for name in PLOTS:
        svg = page.locator(f'figure[data-plot="{name}"] svg')
        box = svg.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100, name
        assert svg.locator("path").count() > 5, name  # axes, ticks and the data drawn


def test_filtering_to_dropped_shows_only_the_dropped_documents(open_page, lite_report, runs, tools):
    opened = open_page(lite_report)
    page = opened.page
    assert len(visible_documents(page)) == tools.stats(runs.lite)["documents_in"]
    page.select_option("#filter", "dropped")
    shown = visible_documents(page)
    dropped_ids = {record["id"] for record in tools.records(runs.lite, "dropped")}
    assert {item.get_attribute("data-id") for item in shown} == dropped_ids
    assert all(item.get_attribute("data-place") == "dropped" for item in shown)
    page.select_option("#filter", "error")
    assert {item.get_attribute("data-place") for item in visible_documents(page)} == {"error"}
    page.select_option("#filter", "kept:edited")
    assert len(visible_documents(page)) == tools.stats(runs.lite)["kept_by_decision"]["edited"]
    assert opened.console_errors == []


def test_search_finds_documents_by_id_and_by_text(open_page, lite_report, runs, tools):
    page = open_page(lite_report).page
    kept = tools.records(runs.lite)
    page.fill("#search", kept[2]["id"])
    assert [item.get_attribute("data-id") for item in visible_documents(page)] == [kept[2]["id"]]
    phrase = max(kept[3]["text"].split("\n"), key=len)[:40]
    page.fill("#search", phrase.upper())
    assert kept[3]["id"] in [item.get_attribute("data-id") for item in visible_documents(page)]
    page.fill("#search", "no document says this 7f3a")
    assert visible_documents(page) == []


def test_removed_lines_are_struck_through_with_the_refiners_line_numbers(open_page, lite_report, runs, tools):
    opened = open_page(lite_report)
    page = opened.page
    record = tools.records(runs.lite)[0]
    expected = set()
    for call in parse_program(record["metadata"]["prox"]["chunk_program"]).of_type(RemoveLines):
        expected |= set(range(call.start, call.end + 1))
    document = open_document(page, record["id"])
    removed = document.locator(".row.removed")
    assert {int(row.get_attribute("data-line")) for row in removed.all()} == expected
    first = removed.first
    style = first.locator(".tx").evaluate("node => getComputedStyle(node).textDecorationLine")
    assert "line-through" in style
    raw = record["metadata"]["prox"]["raw_content"].split("\n")
    line = min(expected)
    assert first.locator(".ln").inner_text() == f"{line:03d}"
    assert first.locator(".tx").inner_text() == raw[line]
    assert document.locator("pre.result").inner_text() == record["text"]
    assert opened.console_errors == []


def test_a_normalize_edit_is_highlighted_inside_its_line(open_page, lite_report, runs, tools):
    page = open_page(lite_report).page
    record = next(
        record
        for record in tools.records(runs.lite)
        if parse_program(record["metadata"]["prox"]["chunk_program"]).of_type(Normalize)
    )
    source = parse_program(record["metadata"]["prox"]["chunk_program"]).of_type(Normalize)[0].source
    document = open_document(page, record["id"])
    taken_out = document.locator(".row:not(.removed) del")
    assert source in [item.inner_text() for item in taken_out.all()]
    style = taken_out.first.evaluate("node => getComputedStyle(node).textDecorationLine")
    assert "line-through" in style
    result = document.locator("pre.result").inner_text()
    assert result == record["text"] and source not in result


def test_the_comparison_shows_agreement_and_both_sides_of_a_disagreement(open_page, compare_report):
    opened = open_page(compare_report)
    page = opened.page
    assert int(page.locator("[data-agreement='both']").inner_text().replace(",", "")) > 0
    assert page.locator("figure[data-plot='line_disagreement'] svg path").count() > 5
    first = page.locator("details.doc").first
    first.locator("summary").click()
    first.locator("[data-side='B'] .row").first.wait_for()  # both sides are drawn when it opens
    assert first.locator("[data-side='A'] .row").count() > 0
    assert first.locator("[data-side='B'] .row").count() > 0
    page.select_option("#filter", "kind:lines")
    assert {item.get_attribute("data-kind") for item in visible_documents(page)} == {"lines"}
    assert opened.console_errors == []
    assert opened.requests == [compare_report.as_uri()]
