"""`prox report`: the page it writes (self-contained, the run's own numbers, a bounded sample), --compare, both
layouts, remote outputs, and the errors a user can fix."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

from prox.cli import main


def report(*args: object) -> None:
    assert main(["report", *map(str, args), "--no-progress"]) == 0


def test_the_report_is_written_into_out_and_fetches_nothing(runs):
    report(runs.lite)
    html = (runs.lite / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)  # no script, style or image from a URL
    assert "<script src" not in html and 'rel="stylesheet"' not in html
    assert "default-src 'none'" in html  # the page itself forbids any request
    assert html.count("<svg") >= 5


def test_the_account_on_the_page_is_stats_json(tools, runs, tmp_path):
    report(runs.lite, "-o", tmp_path / "page.html")
    html = (tmp_path / "page.html").read_text(encoding="utf-8")
    shown = dict(re.findall(r'data-stat="([^"]+)">([^<]*)<', html))
    stats = tools.stats(runs.lite)
    expected = {}
    for name, value in stats.items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for key, item in items:
            text = ("yes" if item else "no") if isinstance(item, bool) else f"{item:,}"
            expected[f"{name}.{key}" if key else name] = text
    assert shown == expected


def test_the_viewer_holds_every_document_of_a_small_run_with_its_decision(tools, runs, tmp_path):
    report(runs.lite, "-o", tmp_path / "page.html")
    views = tools.page_data((tmp_path / "page.html").read_text(encoding="utf-8"))["documents"]
    stats = tools.stats(runs.lite)
    assert len(views) == stats["documents_in"]
    places = Counter(view["place"] for view in views)
    assert places == {"kept": stats["kept"], "dropped": stats["dropped"], "error": stats["errors"]}
    recorded = {record["id"]: record for record in tools.records(runs.lite)}
    for view in views:
        if view["place"] == "kept":
            assert view["result_kind"] == "edited"
            assert view["removed"] == recorded[view["id"]]["metadata"]["prox"]["removed_lines"]


def test_the_sample_is_bounded_shared_between_decisions_and_reproducible(tools, runs, tmp_path):
    pages = []
    for seed in (1, 1, 2):
        report(runs.lite, "-o", tmp_path / "page.html", "--sample", 3, "--seed", seed)
        pages.append(tools.page_data((tmp_path / "page.html").read_text(encoding="utf-8"))["documents"])
    assert [view["place"] for view in pages[0]] == ["kept", "dropped", "error"]  # one per decision
    assert pages[0] == pages[1]
    assert {view["id"] for view in pages[0]} != {view["id"] for view in pages[2]}


def test_parquet_in_the_release_layout_gives_the_same_report(tools, runs, tmp_path):
    report(runs.lite, "-o", tmp_path / "jsonl.html")
    report(runs.release, "-o", tmp_path / "parquet.html")
    jsonl, parquet = (
        tools.page_data((tmp_path / name).read_text(encoding="utf-8")) for name in ("jsonl.html", "parquet.html")
    )
    by_key = {view["key"]: view for view in jsonl["documents"]}
    for view in parquet["documents"]:
        other = by_key[view["key"]]
        assert (view["place"], view["reason"], view["rows"], view["result_kind"]) == (
            other["place"],
            other["reason"],
            other["rows"],
            other["result_kind"],
        )


def test_a_record_whose_programs_do_not_give_its_text_is_flagged_and_shown_as_recorded(tools, runs, tmp_path):
    copy = tmp_path / "tampered"
    shutil.copytree(runs.lite, copy)
    data = copy / "00000.jsonl.gz"
    lines = gzip.decompress(data.read_bytes()).decode().splitlines()
    first = json.loads(lines[0])
    first["text"] += "\nA line no program wrote."
    data.write_bytes(gzip.compress(("\n".join([json.dumps(first), *lines[1:]]) + "\n").encode()))
    report(copy)
    html = (copy / "report.html").read_text(encoding="utf-8")
    assert "1 documents&#x27; recorded programs, run again under the run&#x27;s policy, do not give" in html
    view = next(view for view in tools.page_data(html)["documents"] if view["id"] == first["id"])
    assert view["result_kind"] == "recorded" and view["result"] == first["text"]


def test_comparing_two_runs_counts_agreement_from_their_records(tools, runs, tmp_path):
    report(runs.lite, "--compare", runs.rules, "-o", tmp_path / "compare.html")
    html = (tmp_path / "compare.html").read_text(encoding="utf-8")
    shown = {name: int(value.replace(",", "")) for name, value in re.findall(r"data-agreement='(\w+)'>([\d,]+)<", html)}

    def places(output: Path) -> dict[str, str]:
        found = {record["metadata"]["prox"]["source"]: "kept" for record in tools.records(output)}
        found |= {record["metadata"]["prox"]["source"]: "dropped" for record in tools.records(output, "dropped")}
        return found | {record["source"]: "error" for record in tools.records(output, "errors")}

    lite, rules = places(runs.lite), places(runs.rules)
    assert shown["both"] == len(lite) == len(rules)
    assert shown["same_place"] == sum(lite[key] == rules[key] for key in lite)
    assert shown["kept_by_both"] == sum(lite[key] == rules[key] == "kept" for key in lite)
    pairs = tools.page_data(html)["pairs"]
    assert pairs and len(pairs) == len({pair["key"] for pair in pairs})
    assert [pair["score"] for pair in pairs] == sorted((pair["score"] for pair in pairs), reverse=True)
    differing = sum(lite[key] != rules[key] for key in lite)
    assert [pair["kind"] for pair in pairs[:differing]] == ["decision"] * differing


def test_two_runs_of_the_same_refiner_agree_fully_and_show_no_disagreement(tools, runs, tmp_path):
    report(runs.lite, "--compare", runs.release, "-o", tmp_path / "same.html")
    html = (tmp_path / "same.html").read_text(encoding="utf-8")
    shown = dict(re.findall(r"data-agreement='(\w+)'>([\d,]+)<", html))
    assert shown["same_category"] == shown["both"] == str(tools.stats(runs.lite)["documents_in"])
    assert shown["removed_only_a"] == shown["removed_only_b"] == "0"
    assert tools.page_data(html)["pairs"] == []


def test_a_folder_that_is_no_prox_output_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("prox report: error: ") and "not a prox output folder" in error and "\n" not in error
    assert not (tmp_path / "report.html").exists()


def test_the_report_reads_and_writes_a_remote_output(tools, runs, s3_bucket, tmp_path):
    import fsspec

    fs = fsspec.filesystem("s3")
    fs.put(str(runs.lite), f"{s3_bucket}/lite", recursive=True)
    remote = f"{s3_bucket}/lite"
    report(remote)
    report(runs.lite, "-o", tmp_path / "local.html")
    with fs.open(f"{remote}/report.html", "rb") as handle:
        html = handle.read().decode()
    local = (tmp_path / "local.html").read_text(encoding="utf-8")
    assert re.findall(r'data-stat="[^"]+">[^<]*<', html) == re.findall(r'data-stat="[^"]+">[^<]*<', local)
    assert tools.page_data(html) == tools.page_data(local)


def test_without_matplotlib_the_error_names_the_extra_before_reading_anything(runs, tmp_path, monkeypatch, capsys):
    for module in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, module, None)  # an import of it fails, as when it is not installed
    assert main(["report", str(runs.lite), "-o", str(tmp_path / "page.html"), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "pip install 'prox[report]'" in error and "reading" not in error
    assert not (tmp_path / "page.html").exists()
