/* Run pages: metric curves on a run's page (one chart per metric key with two
 * points or more), overlaid curves and a parameter-against-metric scatter on the
 * compare page. Drawn with the vendored Chart.js, each with its numbers as a table
 * ("Show as table") like static/js/charts.js. No inline script (CSP): the compare
 * page's data comes in a data-compare attribute (JSON). */
(function () {
  "use strict";

  var PALETTE = ["#1f7a8c", "#c9372c", "#6e3fc4", "#b65c02", "#1f845a", "#2563eb", "#db2777", "#0891b2",
                 "#65a30d", "#7c2d12"];

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function fmt(value) {
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "number" && !Number.isInteger(value)) return String(Number(value.toPrecision(4)));
    return String(value);
  }

  function tableOf(head, rows) {
    var table = el("table", null, "chart-data");
    var thead = el("thead"), tr = el("tr");
    head.forEach(function (h) { var th = el("th", h); th.scope = "col"; tr.appendChild(th); });
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = el("tbody");
    rows.forEach(function (row) {
      var r = el("tr");
      row.forEach(function (cell) { r.appendChild(el("td", fmt(cell))); });
      tbody.appendChild(r);
    });
    table.appendChild(tbody);
    return table;
  }

  // A white background, so a saved PNG is not transparent.
  var backdrop = {
    id: "runsBackdrop",
    beforeDraw: function (chart) {
      var ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, chart.width, chart.height);
      ctx.restore();
    }
  };

  /* A figure with a title, a canvas, a caption and a table; returns its parts. */
  function figure(container, title, caption) {
    var fig = el("figure", null, "chart run-chart");
    fig.appendChild(el("h3", title, "chart-title"));
    var box = el("div", null, "chart-canvas");
    var canvas = el("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", title + ". " + caption + " The same numbers are in the table below.");
    box.appendChild(canvas);
    fig.appendChild(box);
    fig.appendChild(el("figcaption", caption, "chart-status"));
    var details = el("details", null, "chart-table");
    details.appendChild(el("summary", "Show as table"));
    fig.appendChild(details);
    container.appendChild(fig);
    return { figure: fig, canvas: canvas, details: details };
  }

  function setTable(details, head, rows) {
    Array.prototype.slice.call(details.children).forEach(function (c) { if (c.tagName !== "SUMMARY") c.remove(); });
    details.appendChild(tableOf(head, rows));
  }

  function points(series) {
    var out = [];
    for (var i = 0; i < series.steps.length; i++) {
      if (series.values[i] !== null) out.push({ x: series.steps[i], y: series.values[i] });
    }
    return out;
  }

  function lineConfig(datasets, key) {
    return {
      type: "line",
      data: { datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, parsing: false, normalized: true,
        interaction: { mode: "nearest", intersect: false },
        scales: { x: { type: "linear", title: { display: true, text: "step" } },
                  y: { title: { display: true, text: key } } },
        plugins: { legend: { display: datasets.length > 1 } }
      },
      plugins: [backdrop]
    };
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("The metrics could not be loaded (" + r.status + ").");
      return r.json();
    });
  }

  function showEmpty(container, text) {
    var note = container.querySelector(".run-curves-empty");
    if (!note) { note = el("p", null, "muted run-curves-empty"); container.prepend(note); }
    note.textContent = text;
    note.hidden = false;
  }

  // --- the run page ---------------------------------------------------------------------

  function drawRunCurves(container) {
    if (!window.Chart) { showEmpty(container, "Charts cannot be drawn here."); return; }
    container.setAttribute("aria-busy", "true");
    fetchJson(container.dataset.metricsUrl).then(function (data) {
      var charts = container._charts || (container._charts = {});
      var keys = Object.keys(data).sort().filter(function (k) { return points(data[k]).length >= 2; });
      if (!keys.length) { showEmpty(container, container.dataset.empty); return; }
      var note = container.querySelector(".run-curves-empty");
      if (note) note.hidden = true;
      keys.forEach(function (key) {
        var pts = points(data[key]);
        var caption = pts.length + " points" + (pts.length >= 2000 ? " (thinned evenly for drawing)" : "") +
          "; last " + fmt(pts[pts.length - 1].y) + " at step " + pts[pts.length - 1].x + ".";
        var existing = charts[key];
        if (existing) {  // a running job: new points into the same chart, no flicker
          existing.chart.data.datasets[0].data = pts;
          existing.chart.update("none");
          existing.parts.figure.querySelector(".chart-status").textContent = caption;
        } else {
          var parts = figure(container, key, caption);
          var chart = new window.Chart(parts.canvas, lineConfig([
            { label: key, data: pts, borderColor: PALETTE[0], backgroundColor: PALETTE[0], pointRadius: pts.length > 60 ? 0 : 2,
              borderWidth: 2, tension: 0 }
          ], key));
          existing = charts[key] = { chart: chart, parts: parts };
        }
        setTable(existing.parts.details, ["Step", key], pts.map(function (p) { return [p.x, p.y]; }));
      });
    }).catch(function (error) { showEmpty(container, error.message); })
      .finally(function () { container.removeAttribute("aria-busy"); container.dataset.ready = "1"; });
  }

  // --- the compare page -------------------------------------------------------------------

  function compareData() {
    var node = document.getElementById("compare-data");
    return node ? JSON.parse(node.dataset.compare) : null;
  }

  function drawCompareCurves(container, data) {
    if (!window.Chart) { showEmpty(container, "Charts cannot be drawn here."); return; }
    Promise.all(data.runs.map(function (run) { return fetchJson(run.metrics_url); })).then(function (all) {
      var keys = {};
      all.forEach(function (series) { Object.keys(series).forEach(function (k) { keys[k] = true; }); });
      var drawn = 0;
      Object.keys(keys).sort().forEach(function (key) {
        var datasets = [], rows = [];
        data.runs.forEach(function (run, i) {
          var series = all[i][key];
          if (!series) return;
          var pts = points(series);
          if (pts.length < 2) return;
          var color = PALETTE[i % PALETTE.length];
          datasets.push({ label: run.label, data: pts, borderColor: color, backgroundColor: color,
                          pointRadius: pts.length > 60 ? 0 : 2, borderWidth: 2, tension: 0 });
          pts.forEach(function (p) { rows.push([run.label, p.x, p.y]); });
        });
        if (!datasets.length) return;
        drawn++;
        var parts = figure(container, key, "One line per run: " + datasets.map(function (d) { return d.label; }).join(", ") + ".");
        new window.Chart(parts.canvas, lineConfig(datasets, key));
        setTable(parts.details, ["Run", "Step", key], rows);
      });
      if (drawn) { var note = container.querySelector(".run-curves-empty"); if (note) note.hidden = true; }
      else showEmpty(container, "None of these runs logged a metric with two points or more: no curves to overlay.");
    }).catch(function (error) { showEmpty(container, error.message); })
      .finally(function () { container.dataset.ready = "1"; });
  }

  // Parameters such as C or a learning rate are tried over decades: draw them on a log axis.
  function logScale(pts) {
    var xs = pts.map(function (p) { return p.x; });
    if (!xs.length || xs.some(function (x) { return !(x > 0); })) return false;
    return Math.max.apply(null, xs) / Math.min.apply(null, xs) >= 100;
  }

  function drawScatter(fig, form, data) {
    var param = form.elements.param.value, metric = form.elements.metric.value;
    var rows = [], pts = [], labels = [];
    data.runs.forEach(function (run) {
      var x = run.params[param], y = run.metrics[metric];
      rows.push([run.label, x, y]);
      if (typeof y !== "number") return;
      pts.push({ x: x, y: y, label: run.label });
    });
    var numeric = pts.every(function (p) { return typeof p.x === "number"; });
    if (!numeric) {  // a choice or a flag: one category per value
      pts.forEach(function (p) { var s = String(p.x); if (labels.indexOf(s) < 0) labels.push(s); p.x = s; });
    }
    if (fig._chart) fig._chart.destroy();
    var status = fig.querySelector(".chart-status");
    var canvas = fig.querySelector("canvas");
    status.textContent = pts.length ? "Each point is a run: " + param + " against its final " + metric + "."
      : "None of these runs logged " + metric + ".";
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", param + " against " + metric + ". " + status.textContent + " The numbers are in the table below.");
    fig._chart = new window.Chart(canvas, {
      type: "scatter",
      data: { datasets: [{ label: metric, data: pts, backgroundColor: PALETTE[0], pointRadius: 6 }] },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { x: numeric ? { type: logScale(pts) ? "logarithmic" : "linear", title: { display: true, text: param } }
                             : { type: "category", labels: labels, title: { display: true, text: param } },
                  y: { title: { display: true, text: metric } } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (ctx) {
          return ctx.raw.label + ": " + param + " " + fmt(ctx.raw.x) + ", " + metric + " " + fmt(ctx.raw.y);
        } } } }
      },
      plugins: [backdrop]
    });
    setTable(fig.querySelector("details.chart-table"), ["Run", param, metric], rows);
    fig.dataset.ready = "1";
  }

  function init() {
    document.querySelectorAll(".run-curves[data-metrics-url]").forEach(drawRunCurves);
    var data = compareData();
    if (data) {
      document.querySelectorAll(".compare-curves").forEach(function (c) { drawCompareCurves(c, data); });
      var fig = document.querySelector("[data-scatter]"), form = document.querySelector("[data-scatter-form]");
      if (fig && form && window.Chart) {
        drawScatter(fig, form, data);
        form.addEventListener("change", function () { drawScatter(fig, form, data); });
        form.addEventListener("submit", function (e) { e.preventDefault(); });
      }
    }
    // A running job's state part is swapped every 2 s: fetch its new points with it.
    document.body.addEventListener("htmx:afterSettle", function () {
      if (!document.getElementById("run-state")) return;
      document.querySelectorAll(".run-curves[data-metrics-url]").forEach(drawRunCurves);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
