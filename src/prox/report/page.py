"""The report's HTML: one self-contained page (styles, script, plots and data inline; nothing fetched).

The page is the template `assets/report.html` with its styles (`report.css`), the viewer's script
(`report.js`), a body made here, and the viewer's documents as JSON in a `<script type="application/json">`
element. A Content-Security-Policy in the page forbids every network request, so it shows the same offline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from importlib import resources
from string import Template

from prox.report.plots import Plot

# The order in which stats.json's fields are shown; a field not named here is shown after them.
_STAT_GROUPS = (
    ("Documents", ("documents_in", "kept", "dropped", "errors", "generation_failures")),
    ("Edits", ("lines_removed", "normalizations", "program_errors", "programs_cut")),
    ("Text", ("chars_in", "chars_out", "words_in", "words_out")),
    ("Run", ("tasks", "tasks_finished", "accounted")),
)
_STAT_LABELS = {
    "documents_in": "documents in",
    "generation_failures": "generation failures",
    "lines_removed": "lines removed",
    "program_errors": "program errors",
    "programs_cut": "program texts cut",
    "chars_in": "characters in",
    "chars_out": "characters out",
    "words_in": "words in",
    "words_out": "words out",
    "tasks_finished": "tasks finished",
    "accounted": "in = kept + dropped + errors",
}
# Shares shown beside a count: the count's name and what it is a share of.
_SHARES = {"kept": "documents_in", "dropped": "documents_in", "errors": "documents_in"} | {
    "chars_out": "chars_in",
    "words_out": "words_in",
}


def asset(name: str) -> str:
    return (resources.files("prox.report") / "assets" / name).read_text(encoding="utf-8")


def html_page(title: str, body: str, data: dict) -> str:
    """The whole page: template, styles, script, body, and `data` for the script."""
    return Template(asset("report.html")).substitute(
        title=escape(title), css=asset("report.css"), js=asset("report.js"), body=body, data=script_json(data)
    )


def script_json(data: object) -> str:
    """JSON that can sit inside a <script> element: no "<" can close it or open a comment."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def show(value: object) -> str:
    """A stat as the page shows it: counts with thousands separators, booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else ""


def account_tables(stats: dict, extra_rows: dict[str, list[tuple[str, int]]] | None = None) -> str:
    """stats.json as tables, every field once, each value in an element with `data-stat` naming the field
    (`dropped_by_reason.drop_doc` for a field inside a group); `extra_rows` adds counted rows (not stats.json's)
    under a heading."""
    shown: set[str] = set()
    tables = []
    for heading, names in _STAT_GROUPS:
        rows = []
        for name in names:
            if name not in stats:
                continue
            shown.add(name)
            whole = stats.get(_SHARES.get(name, ""), 0)
            rows.append(_stat_row(_STAT_LABELS.get(name, name), name, stats[name], share(stats[name], whole)))
            nested = {"kept": "kept_by_decision", "dropped": "dropped_by_reason"}.get(name)
            if nested and isinstance(stats.get(nested), dict):
                shown.add(nested)
                for key, value in stats[nested].items():
                    rows.append(_stat_row(f"· {key}", f"{nested}.{key}", value, share(value, stats[name]), "sub"))
        tables.append(_table(heading, rows))
    other = [_stat_row(name, name, value, "") for name, value in stats.items() if name not in shown]
    if other:
        tables.append(_table("Other", other))
    for heading, counted in (extra_rows or {}).items():
        if counted:
            tables.append(
                _table(
                    heading,
                    [f"<tr><th>{escape(label)}</th><td>{count:,}</td><td></td></tr>" for label, count in counted],
                )
            )
    return '<div class="tables">' + "".join(tables) + "</div>"


def _stat_row(label: str, name: str, value: object, shared: str, kind: str = "") -> str:
    if isinstance(value, dict):  # a group this page does not know: its fields one by one
        return "".join(_stat_row(f"{label}.{key}", f"{name}.{key}", item, "") for key, item in value.items())
    attribute = f' class="{kind}"' if kind else ""
    return (
        f'<tr{attribute}><th>{escape(label)}</th><td data-stat="{escape(name)}">{escape(show(value))}</td>'
        f'<td class="share">{shared}</td></tr>'
    )


def _table(heading: str, rows: Iterable[str]) -> str:
    return f'<table class="account"><caption>{escape(heading)}</caption>{"".join(rows)}</table>'


def definition_list(items: Iterable[tuple[str, object]]) -> str:
    return (
        '<dl class="run">'
        + "".join(
            f"<dt>{escape(name)}</dt><dd>{escape(str(value))}</dd>" for name, value in items if value not in (None, "")
        )
        + "</dl>"
    )


def plot_grid(plots: list[Plot], missing: list[str]) -> str:
    figures = "".join(
        f'<figure class="plot" data-plot="{escape(plot.name)}"><figcaption><b>{escape(plot.title)}</b> '
        f"<span>{escape(plot.caption)}</span></figcaption>{plot.svg}</figure>"
        for plot in plots
    )
    note = ""
    if missing:
        note = '<p class="note">Not drawn: ' + "; ".join(escape(line) for line in missing) + ".</p>"
    return f'<div class="plots">{figures}</div>{note}'


def warnings(lines: list[str]) -> str:
    if not lines:
        return ""
    return '<div class="warnings"><ul>' + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul></div>"


def run_description(manifest: dict) -> list[tuple[str, object]]:
    """What the run manifest says a run was, as (name, value) pairs for the page's header."""
    refiner = manifest.get("refiner")
    if isinstance(refiner, dict):
        details = [str(value) for key, value in refiner.items() if key != "name" and value not in (None, "")]
        refiner = (
            f"{refiner.get('name')} ({', '.join(item[:40] for item in details)})" if details else refiner.get("name")
        )
    inputs = manifest.get("inputs") or {}
    files = inputs.get("files") or []
    return [
        ("command", manifest.get("command")),
        ("source run", manifest.get("source")),
        ("refiner", refiner),
        ("policy", manifest.get("policy")),
        ("stages", ", ".join(manifest.get("stages") or [])),
        ("layout", manifest.get("layout")),
        ("format", manifest.get("output_format")),
        ("tasks", manifest.get("tasks")),
        ("inputs", f"{len(files):,} file{'s' if len(files) > 1 else ''} under {inputs.get('root')}" if files else None),
        ("created", manifest.get("created")),
        ("prox", manifest.get("prox_version")),
    ]
