// stacklens console: charts, filter forms, auto-refresh, live tail. No inline scripts
// (the page's CSP forbids them): chart data comes from <script type="application/json">.
"use strict";

(function () {
  // -- charts (Plotly, served by the hub from the plotly Python package) -------------
  function renderCharts() {
    if (typeof window.Plotly === "undefined") return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-chart"));
      if (!source) return;
      var spec = JSON.parse(source.textContent || "{}");
      window.Plotly.newPlot(el, spec.data || [], spec.layout || {}, {
        responsive: true, displaylogo: false, displayModeBar: false,
      });
      el.setAttribute("data-rendered", "true");
    });
  }

  // -- filters: drop empty fields so URLs stay short and shareable -------------------
  function cleanSubmit(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      var text = String(value).trim();
      if (text !== "" && !(name === "refresh" && text === "0") && !(name === "range" && text === "24h")) {
        params.set(name, text);
      }
    });
    if (params.has("since")) params.delete("range");
    var query = params.toString();
    window.location.assign(window.location.pathname + (query ? "?" + query : ""));
  }

  function wireFilters() {
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        cleanSubmit(form);
      });
      form.querySelectorAll("select").forEach(function (select) {
        select.addEventListener("change", function () { cleanSubmit(form); });
      });
    });
  }

  // -- auto-refresh: reload on the chosen period, paused while the tab is hidden -------
  function wireRefresh() {
    var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
    if (!seconds) return;
    window.setInterval(function () {
      if (!document.hidden) window.location.reload();
    }, seconds * 1000);
  }

  // -- live tail of logs: poll /api/v1/events with the session cookie -------------------
  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text == null ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function link(parent, href, text, testid) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    a.setAttribute("data-testid", testid);
    parent.appendChild(a);
    parent.appendChild(document.createTextNode(" "));
  }

  function matches(event, table) {
    var level = table.getAttribute("data-level");
    var service = table.getAttribute("data-service");
    var q = (table.getAttribute("data-q") || "").toLowerCase();
    var levels = { warn: ["warn", "warning"], error: ["error", "err"], fatal: ["fatal", "critical", "crit"],
                   debug: ["debug", "trace"], info: ["info"] };
    var have = String(event.level || "").toLowerCase();
    if (level && (levels[level] || [level]).indexOf(have) < 0) return false;
    if (service && event.service !== service) return false;
    if (q && String(event.message || "").toLowerCase().indexOf(q) < 0) return false;
    return true;
  }

  function lineFor(event) {
    var row = document.createElement("tr");
    row.setAttribute("data-testid", "log-line");
    row.setAttribute("data-event-id", event.event_id);
    row.className = "fresh lvl-" + String(event.level || "").toLowerCase();
    cell(row, String(event.timestamp || "").replace("T", " ").replace("Z", "").slice(0, 23), "nowrap");
    cell(row, event.stack_name);
    cell(row, event.level || event.event_type);
    cell(row, event.service || "");
    cell(row, event.message || "", "msg");
    var links = cell(row, "", "nowrap");
    if (event.session_id) {
      link(links, "/sessions/" + encodeURIComponent(event.session_id) + "?stack=" +
           encodeURIComponent(event.stack_name), "session", "log-session-link");
    }
    if (event.trace_id) {
      link(links, "/traces/" + encodeURIComponent(event.trace_id), "trace", "log-trace-link");
    }
    return row;
  }

  function wireTail() {
    var table = document.getElementById("log-table");
    if (!table || table.getAttribute("data-live") !== "true") return;
    var type = table.getAttribute("data-type");
    // The events API takes one type: "all" polls both and merges them.
    var types = type === "all" ? ["log", "error"] : [type || "log"];
    var body = document.getElementById("log-body");
    var toggle = document.getElementById("tail-toggle");
    var status = document.getElementById("tail-status");
    var stack = table.getAttribute("data-stack");
    var since = table.getAttribute("data-newest-ns");
    var seen = new Set();
    body.querySelectorAll("tr[data-event-id]").forEach(function (tr) {
      seen.add(tr.getAttribute("data-event-id"));
    });
    var busy = false;
    function poll() {
      if (busy || (toggle && !toggle.checked) || document.hidden) return;
      busy = true;
      Promise.all(types.map(function (eventType) {
        var params = new URLSearchParams({ event_type: eventType, since: since, limit: "200" });
        if (stack) params.set("stack", stack);
        return fetch("/api/v1/events?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (response) {
            if (!response.ok) throw new Error("HTTP " + response.status);
            return response.json();
          });
      }))
        .then(function (answers) {
          var events = [];
          answers.forEach(function (data) { events = events.concat(data.events || []); });
          // Oldest first, each prepended (RFC 3339 text of one format sorts by time).
          events.sort(function (a, b) {
            return a.timestamp < b.timestamp ? -1 : (a.timestamp > b.timestamp ? 1 : 0);
          });
          events.forEach(function (event) {
            if (seen.has(event.event_id)) return;
            seen.add(event.event_id);
            // RFC 3339 text of one format: its order is time order (microseconds).
            if (event.timestamp && (since.indexOf("T") < 0 || event.timestamp > since)) since = event.timestamp;
            if (!matches(event, table)) return;
            var empty = body.querySelector("tr.empty");
            if (empty) empty.remove();
            body.insertBefore(lineFor(event), body.firstChild);
          });
          while (body.rows.length > 1000) body.deleteRow(body.rows.length - 1);
          if (status) status.textContent = "updated " + new Date().toLocaleTimeString();
        })
        .catch(function (error) {
          if (status) status.textContent = "tail paused: " + error.message;
        })
        .finally(function () { busy = false; });
    }
    window.setInterval(poll, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    wireFilters();
    wireRefresh();
    wireTail();
  });
  window.addEventListener("load", renderCharts);
})();
