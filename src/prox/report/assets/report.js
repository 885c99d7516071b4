/* prox report: the document viewer. Reads the JSON in #prox-data and fills #viewer; fetches nothing.
 *
 * A document's view (prox/report/view.py) holds rows [line, flag, content]: flag 0 kept, 1 removed, 2 inserted;
 * content is the line's text or segments [op, text] with op "=" kept, "-" taken out, "+" put in. The result text
 * is rebuilt from the rows, so the page carries each text once. Every text goes into the page as text
 * (textContent), never as HTML.
 */
(function () {
  "use strict";
  var dataElement = document.getElementById("prox-data");
  var root = document.getElementById("viewer");
  if (!dataElement || !root) return;
  var data = JSON.parse(dataElement.textContent);
  var PAGE = 25;
  var REMOVED = 1;
  var INSERTED = 2;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function rowText(row, skip) {
    var content = row[2];
    if (typeof content === "string") return content;
    var parts = [];
    for (var i = 0; i < content.length; i++) if (content[i][0] !== skip) parts.push(content[i][1]);
    return parts.join("");
  }

  function originalText(rows) {
    return rows.filter(function (row) { return row[1] !== INSERTED; })
      .map(function (row) { return rowText(row, "+"); }).join("\n");
  }

  function editedText(rows) {
    return rows.filter(function (row) { return row[1] !== REMOVED; })
      .map(function (row) { return rowText(row, "-"); }).join("\n");
  }

  function resultText(view) {
    if (view.result_kind === "edited") return editedText(view.rows);
    if (view.result_kind === "original") return originalText(view.rows);
    if (view.result_kind === "recorded") return view.result;
    return null;
  }

  function lineNumber(line) {
    if (line === null) return "+";
    var text = String(line);
    while (text.length < 3) text = "0" + text;
    return text;
  }

  function label(view) {
    return view.place === "error" ? "error" : view.place + " · " + view.reason;
  }

  function category(view) {
    return view.place + ":" + view.reason;
  }

  function badge(view) {
    return el("span", "badge " + view.place, label(view));
  }

  function renderRows(view) {
    var box = el("div", "text");
    view.rows.forEach(function (row) {
      var kind = row[1] === REMOVED ? " removed" : row[1] === INSERTED ? " inserted" : "";
      var line = el("div", "row" + kind);
      if (row[0] !== null) line.setAttribute("data-line", row[0]);
      line.appendChild(el("span", "ln", lineNumber(row[0])));
      var text = el("span", "tx");
      if (typeof row[2] === "string") {
        text.textContent = row[2];
      } else {
        row[2].forEach(function (segment) {
          var tag = segment[0] === "-" ? "del" : segment[0] === "+" ? "ins" : "span";
          text.appendChild(el(tag, null, segment[1]));
        });
      }
      line.appendChild(text);
      box.appendChild(line);
    });
    if (view.truncated) box.appendChild(el("div", "row", "… " + view.truncated + " more lines not shown"));
    return box;
  }

  function renderProgram(title, text) {
    var part = document.createDocumentFragment();
    part.appendChild(el("h4", null, title));
    part.appendChild(el("pre", "program", text === "" ? "(empty)" : text));
    return part;
  }

  function renderView(view) {
    var body = el("div", "doc-body");
    if (view.place === "error") {
      body.appendChild(el("div", "banner dropped", "Set aside in OUT/errors: " + view.error));
    } else if (view.place === "dropped") {
      body.appendChild(el("div", "banner dropped", "Dropped (" + view.reason + "): no result text."));
    } else if (view.reason === "reverted_errors") {
      body.appendChild(el("div", "banner", "Kept unchanged: the chunk programs had too many errors, so the " +
        "edits shown below were not applied."));
    }
    if (view.note) body.appendChild(el("div", "banner", view.note));
    if (view.doc_program !== undefined) body.appendChild(renderProgram("Doc program", view.doc_program));
    (view.chunks || []).forEach(function (chunk) {
      body.appendChild(renderProgram("Chunk program, lines " + chunk[0] + "–" + chunk[1], chunk[2]));
    });
    if (view.errors && view.errors.length) {
      body.appendChild(el("h4", null, "Program errors"));
      var list = el("ul", "errors");
      view.errors.forEach(function (error) { list.appendChild(el("li", null, error)); });
      body.appendChild(list);
    }
    body.appendChild(el("h4", null, view.place === "error" ? "Record" : "Original text (line numbers as the refiner saw them)"));
    body.appendChild(renderRows(view));
    var result = resultText(view);
    if (result !== null) {
      body.appendChild(el("h4", null, "Result text"));
      body.appendChild(el("pre", "result", result));
    }
    return body;
  }

  function facts(view) {
    var parts = [view.key];
    if (view.place !== "error") parts.push(view.lines + " lines");
    if (view.removed) parts.push(view.removed + " removed");
    if (view.normalizations) parts.push(view.normalizations + " normalized");
    if (view.p_keep !== undefined) parts.push("p_keep " + view.p_keep.toFixed(3));
    if (view.errors && view.errors.length) parts.push(view.errors.length + " program errors");
    return parts.join(" · ");
  }

  function searchText(view) {
    if (view._search === undefined) view._search = (view.id + "\n" + view.key + "\n" + originalText(view.rows)).toLowerCase();
    return view._search;
  }

  // One entry of the list: a document (single run) or a pair of views of one document (two runs).
  var compare = data.mode === "compare";
  var entries = compare ? data.pairs : data.documents;

  function entryFilterValues(entry) {
    if (compare) return ["kind:" + entry.kind, "a:" + category(entry.a), "b:" + category(entry.b)];
    return [entry.place, category(entry)];
  }

  function matches(entry, filter, query) {
    if (filter && entryFilterValues(entry).indexOf(filter) < 0) return false;
    if (!query) return true;
    if (compare) return searchText(entry.a).indexOf(query) >= 0 || searchText(entry.b).indexOf(query) >= 0;
    return searchText(entry).indexOf(query) >= 0;
  }

  function renderEntry(entry) {
    var details = el("details", "doc");
    details.setAttribute("data-id", entry.id);
    var summary = el("summary");
    summary.appendChild(el("span", "id", entry.id));
    if (compare) {
      details.setAttribute("data-place", entry.a.place === entry.b.place ? entry.a.place : "error");
      details.setAttribute("data-kind", entry.kind);
      summary.appendChild(el("span", "facts", "A"));
      summary.appendChild(badge(entry.a));
      summary.appendChild(el("span", "facts", "B"));
      summary.appendChild(badge(entry.b));
      summary.appendChild(el("span", "facts", entry.key + " · disagreement " + (100 * entry.score).toFixed(1) + "%"));
    } else {
      details.setAttribute("data-place", entry.place);
      details.setAttribute("data-category", category(entry));
      summary.appendChild(badge(entry));
      summary.appendChild(el("span", "facts", facts(entry)));
    }
    details.appendChild(summary);
    details.addEventListener("toggle", function () {
      if (!details.open || details.getAttribute("data-rendered")) return;
      details.setAttribute("data-rendered", "yes");
      if (!compare) {
        details.appendChild(renderView(entry));
        return;
      }
      var pair = el("div", "pair");
      [["A", entry.a, data.labels.a], ["B", entry.b, data.labels.b]].forEach(function (side) {
        var column = el("div");
        column.setAttribute("data-side", side[0]);
        column.appendChild(el("h3", null, side[0] + ": " + side[2] + " (" + label(side[1]) + "; " + facts(side[1]) + ")"));
        column.appendChild(renderView(side[1]));
        pair.appendChild(column);
      });
      details.appendChild(pair);
    });
    return details;
  }

  function filterOptions() {
    var counts = {};
    var order = [];
    entries.forEach(function (entry) {
      entryFilterValues(entry).forEach(function (value) {
        if (!(value in counts)) { counts[value] = 0; order.push(value); }
        counts[value] += 1;
      });
    });
    var rank = { kept: 0, dropped: 1, error: 2, kind: 0, a: 1, b: 2 };
    order.sort(function (x, y) {
      var a = rank[x.split(":")[0]], b = rank[y.split(":")[0]];
      return a !== b ? a - b : x < y ? -1 : x > y ? 1 : 0;
    });
    var options = [["", "all (" + entries.length + ")"]];
    order.forEach(function (value) {
      var name = value;
      if (compare) {
        var parts = value.split(":");
        var head = parts.shift();
        var rest = parts.join(" · ");
        name = head === "kind" ? "differ in " + rest : head.toUpperCase() + ": " + rest;
      } else if (value.indexOf(":") >= 0) {
        var split = value.split(":");
        name = split[0] === "error" ? "error · " + split.slice(1).join(":") : "\u2003" + split[0] + " · " + split.slice(1).join(":");
      }
      options.push([value, name + " (" + counts[value] + ")"]);
    });
    return options;
  }

  var controls = el("div", "controls");
  var select = el("select");
  select.id = "filter";
  select.setAttribute("aria-label", "filter by decision");
  filterOptions().forEach(function (option) {
    var node = el("option", null, option[1]);
    node.value = option[0];
    select.appendChild(node);
  });
  var search = el("input");
  search.id = "search";
  search.type = "search";
  search.placeholder = "search id or text";
  search.setAttribute("aria-label", "search by id or text");
  var count = el("span", "count");
  controls.appendChild(select);
  controls.appendChild(search);
  controls.appendChild(count);
  var list = el("div", "list");
  list.id = "documents-list";
  var more = el("button", "more", "Show more");
  root.appendChild(controls);
  root.appendChild(list);
  root.appendChild(more);

  var matching = [];
  var shown = 0;

  function showMore() {
    var end = Math.min(matching.length, shown + PAGE);
    for (; shown < end; shown++) list.appendChild(renderEntry(matching[shown]));
    count.textContent = "showing " + shown + " of " + matching.length + " matching (" + entries.length + " in the sample)";
    more.style.display = shown < matching.length ? "" : "none";
  }

  function update() {
    var filter = select.value;
    var query = search.value.trim().toLowerCase();
    matching = entries.filter(function (entry) { return matches(entry, filter, query); });
    list.textContent = "";
    shown = 0;
    showMore();
    if (list.firstChild && matching.length <= 3) list.firstChild.open = true;
  }

  select.addEventListener("change", update);
  search.addEventListener("input", update);
  more.addEventListener("click", showMore);
  update();
})();
