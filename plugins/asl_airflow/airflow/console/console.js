// The execution view's behaviour: the selected state's data, the filterable event table, and the
// live refresh of a running execution (polls the JSON endpoints; no reload, no external script).
(function () {
  "use strict";
  var POLL_MS = 3000;
  var base = location.pathname.replace(/\/+$/, "");
  var model = JSON.parse(document.getElementById("model").textContent);
  var selected = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function pretty(value) {
    if (value === null || value === undefined) return "null";
    if (typeof value === "string") {
      try { return JSON.stringify(JSON.parse(value), null, 2); } catch (e) { return value; }
    }
    return JSON.stringify(value, null, 2);
  }

  function fmtDate(text) {
    if (!text) return "—";
    var d = new Date(text);
    return isNaN(d.getTime()) ? String(text) : d.toISOString().replace("T", " ").replace("Z", " UTC");
  }

  function renderSummary() {
    var d = model.describe;
    var badge = document.getElementById("execution-status");
    badge.textContent = d.status;
    badge.setAttribute("data-status", d.status);
    var start = d.startDate ? new Date(d.startDate) : null;
    var stop = d.stopDate ? new Date(d.stopDate) : null;
    var took = start && stop ? ((stop - start) / 1000).toFixed(1) + " s" : (d.status === "RUNNING" ? "running" : "—");
    var items = [["Execution ARN", d.executionArn], ["Started", fmtDate(d.startDate)], ["Ended", fmtDate(d.stopDate)],
      ["Duration", took], ["Redrives", String(d.redriveCount || 0)]];
    if (d.error) items.push(["Error", d.error]);
    var summary = document.getElementById("summary");
    summary.textContent = "";
    items.forEach(function (pair) {
      summary.appendChild(el("div", {}, [el("dt", {}, [pair[0]]), el("dd", {}, [pair[1] || "—"])]));
    });
    if (d.cause) summary.appendChild(el("div", {}, [el("dt", {}, ["Cause"]), el("dd", {}, [d.cause])]));
  }

  function section(title, value, cls) {
    return [el("h3", {}, [title]), el("pre", cls ? {"class": cls} : {}, [pretty(value)])];
  }

  function showState(name) {
    var s = model.states[name];
    var panel = document.getElementById("panel");
    if (!s) return;
    selected = name;
    document.querySelectorAll("#diagram [data-state]").forEach(function (g) {
      g.classList.toggle("asl-selected", g.getAttribute("data-state") === name);
    });
    panel.textContent = "";
    panel.appendChild(el("h2", {"id": "panel-title"}, [name, " ",
      el("span", {"class": "asl-badge", "data-status": s.status, "id": "panel-status"}, [s.status])]));
    var facts = s.type + (s.runs > 1 ? " · ran " + s.runs + " times" : "") +
      (s.retries ? " · " + s.retries + " retr" + (s.retries === 1 ? "y" : "ies") : " · no retries") +
      (s.iterations !== null && s.iterations !== undefined ? " · " + s.iterations + " iterations" : "") +
      (s.branches ? " · " + s.branches + " branches" : "");
    panel.appendChild(el("p", {"class": "asl-hint"}, [facts]));
    if (s.resource) panel.appendChild(el("p", {}, ["Resource: ", el("code", {}, [s.resource])]));
    var parts = [];
    if (s.error || s.cause) {
      parts = parts.concat(section("Error", s.error || "—", "asl-error"), section("Cause", s.cause || "—", "asl-error"));
    }
    parts = parts.concat(section("Input", s.input), section("Output", s.output), section("Definition (ASL)", s.asl));
    parts.forEach(function (p) { panel.appendChild(p); });
    panel.querySelectorAll("pre")[s.error || s.cause ? 2 : 0].id = "panel-input";
    panel.querySelectorAll("pre")[s.error || s.cause ? 3 : 1].id = "panel-output";
  }

  function isFailure(type) { return /(Failed|TimedOut|Aborted)$/.test(type || ""); }

  function renderEvents() {
    var query = document.getElementById("event-filter").value.trim().toLowerCase();
    var failuresOnly = document.getElementById("event-errors").checked;
    var body = document.querySelector("#events tbody");
    body.textContent = "";
    var shown = 0;
    model.rows.forEach(function (row) {
      var text = [row.id, row.type, row.step, row.resource].join(" ").toLowerCase();
      if (query && text.indexOf(query) < 0) return;
      if (failuresOnly && !isFailure(row.type)) return;
      shown += 1;
      var after = row.startedAfterMs === null || row.startedAfterMs === undefined ? "—" : row.startedAfterMs + " ms";
      var tr = el("tr", {"class": "asl-event" + (isFailure(row.type) ? " asl-failure" : ""), "data-event-id": String(row.id)},
        [el("td", {}, [String(row.id)]), el("td", {}, [row.type || ""]), el("td", {}, [row.step || ""]),
         el("td", {}, [row.resource || ""]), el("td", {}, [after]), el("td", {}, [fmtDate(row.timestamp)])]);
      tr.addEventListener("click", function () {
        var next = tr.nextSibling;
        if (next && next.classList && next.classList.contains("asl-details")) { next.remove(); return; }
        var details = el("tr", {"class": "asl-details"}, [el("td", {"colspan": "6"}, [el("pre", {}, [pretty(row.details)])])]);
        tr.parentNode.insertBefore(details, tr.nextSibling);
        if (row.step && model.states[row.step]) showState(row.step);
      });
      body.appendChild(tr);
    });
    document.getElementById("event-count").textContent = shown + " of " + model.rows.length + " events";
  }

  function bindDiagram() {
    document.querySelectorAll("#diagram [data-state]").forEach(function (g) {
      g.addEventListener("click", function () { showState(g.getAttribute("data-state")); });
      g.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); showState(g.getAttribute("data-state")); }
      });
    });
  }

  function refreshFromPage() {
    return fetch(location.href, {credentials: "same-origin", cache: "no-store"}).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (text) {
      var doc = new DOMParser().parseFromString(text, "text/html");
      model = JSON.parse(doc.getElementById("model").textContent);
      document.getElementById("diagram").innerHTML = doc.getElementById("diagram").innerHTML;
      bindDiagram();
      renderSummary();
      renderEvents();
      if (selected) showState(selected);
    });
  }

  var polls = 0;

  function poll() {
    if (model.describe.status !== "RUNNING") return;
    polls += 1;
    Promise.all([
      fetch(base + "/describe", {credentials: "same-origin", cache: "no-store"}).then(function (r) { return r.json(); }),
      fetch(base + "/history", {credentials: "same-origin", cache: "no-store"}).then(function (r) { return r.json(); })
    ]).then(function (answers) {
      // a state's events arrive when its task ends; every few polls the page is re-read anyway, for
      // the states that started meanwhile (RUNNING comes from Airflow's task instances)
      var changed = answers[0].status !== model.describe.status || answers[1].events.length !== model.rows.length ||
        polls % 4 === 0;
      return changed ? refreshFromPage() : null;
    }).catch(function () { /* a missed poll: the next one tries again */ })
      .then(function () { setTimeout(poll, POLL_MS); });
  }

  document.getElementById("event-filter").addEventListener("input", renderEvents);
  document.getElementById("event-errors").addEventListener("change", renderEvents);
  bindDiagram();
  renderSummary();
  renderEvents();
  setTimeout(poll, POLL_MS);
})();
