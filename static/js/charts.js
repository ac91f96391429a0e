/* Charts: every <figure class="chart" data-chart-url="…" data-chart-kind="…"> on the page
 * fetches its JSON, draws it with the vendored Chart.js, and shows the same numbers
 * as a table (a <details> "Show as table"), with PNG and CSV downloads.
 * Kinds: burndown, velocity, cfd, accuracy, forecast. No inline script (CSP). */
(function () {
  "use strict";

  var COLORS = {
    todo: ["#94a3b8", "#64748b", "#cbd5e1"],
    in_progress: ["#1f7a8c", "#2563eb", "#7c3aed", "#b45309", "#db2777", "#0891b2"],
    done: ["#047857", "#15803d", "#65a30d"],
    none: ["#9ca3af"]
  };
  var GROUP_COLORS = { research: "#7c3aed", delivery: "#1f7a8c" };

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function fmt(value) {
    if (value === null || value === undefined) return "—";
    return String(value);
  }

  function cardList(cards) {
    return cards.map(function (c) { return c.key + " " + c.title; }).join("; ");
  }

  // --- one builder per kind: {config, table: {head, rows}, empty, caption} -------------

  function burndown(data) {
    if (!data.points.length) {
      return { empty: "The sprint has not started yet: its burndown begins on " + data.start + "." };
    }
    var labels = data.ideal.map(function (d) { return d.date; });
    var remaining = labels.map(function (day) {
      var point = data.points.find(function (p) { return p.date === day; });
      return point ? point.remaining : null;
    });
    var markers = labels.map(function (day) {
      var point = data.points.find(function (p) { return p.date === day; });
      return point && (point.added.length || point.removed.length) ? point.remaining : null;
    });
    var weekends = data.ideal.map(function (d) { return d.weekend; });
    var unit = data.unit === "tickets" ? "cards" : "points";
    return {
      caption: "Remaining " + unit + " at the end of each day" + (data.frozen ? " (frozen when the sprint closed)" : "") + ".",
      config: {
        type: "line",
        data: {
          labels: labels,
          datasets: [
            { label: "Remaining " + unit, data: remaining, borderColor: "#1f7a8c", backgroundColor: "#1f7a8c",
              stepped: "before", pointRadius: 2, spanGaps: false },
            { label: "Ideal", data: data.ideal.map(function (d) { return d.ideal; }), borderColor: "#9ca3af",
              borderDash: [6, 4], pointRadius: 0 },
            { label: "Scope changed", data: markers, showLine: false, pointStyle: "triangle", pointRadius: 7,
              borderColor: "#b45309", backgroundColor: "#b45309" }
          ]
        },
        options: {
          plugins: {
            weekendShade: { weekends: weekends },
            tooltip: {
              callbacks: {
                afterBody: function (items) {
                  var day = labels[items[0].dataIndex];
                  var point = data.points.find(function (p) { return p.date === day; });
                  if (!point) return "";
                  var lines = [];
                  if (point.added.length) lines.push("Added: " + cardList(point.added));
                  if (point.removed.length) lines.push("Removed: " + cardList(point.removed));
                  return lines;
                }
              }
            }
          },
          scales: { y: { beginAtZero: true, title: { display: true, text: unit } } }
        }
      },
      table: {
        head: ["Day", "Remaining " + unit, "Ideal", "Weekend", "Added", "Removed"],
        rows: data.points.map(function (p) {
          return [p.date, p.remaining, p.ideal, p.weekend ? "yes" : "", cardList(p.added), cardList(p.removed)];
        })
      }
    };
  }

  function velocity(data) {
    if (!data.sprints.length) {
      return { empty: "No sprint has closed yet: velocity appears after the first one." };
    }
    var labels = data.sprints.map(function (s) { return s.name + (s.active ? " (active)" : ""); });
    return {
      caption: "Points committed at the start against points completed" +
        (data.average_completed !== null ? "; average completed " + data.average_completed + "." : "."),
      config: {
        type: "bar",
        data: {
          labels: labels,
          datasets: [
            { label: "Committed", data: data.sprints.map(function (s) { return s.committed; }), backgroundColor: "#94a3b8" },
            { label: "Completed", data: data.sprints.map(function (s) { return s.completed; }), backgroundColor: "#047857" }
          ]
        },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: "points" } } } }
      },
      table: {
        head: ["Sprint", "Start", "End", "Committed", "Completed"],
        rows: data.sprints.map(function (s, i) { return [labels[i], s.start, s.end, s.committed, s.completed]; })
      }
    };
  }

  function cfd(data) {
    if (!data.totals.some(function (n) { return n > 0; })) {
      return { empty: "No cards on the board between " + data.start + " and " + data.end + "." };
    }
    var used = {};
    // Done at the bottom, the first column on top: the usual reading of a flow diagram.
    var columns = data.columns.slice().reverse();
    var datasets = columns.map(function (c) {
      var palette = COLORS[c.category || "none"] || COLORS.none;
      var n = used[c.category] = (used[c.category] || 0) + 1;
      var color = palette[(n - 1) % palette.length];
      return { label: c.name, data: c.counts, fill: true, backgroundColor: color + "cc", borderColor: color,
               pointRadius: 0, tension: 0 };
    });
    return {
      caption: "Cards in each column at the end of each day, " + data.start + " to " + data.end + " (" + data.time_zone + ").",
      config: {
        type: "line",
        data: { labels: data.days, datasets: datasets },
        options: { scales: { y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "cards" } } },
                   interaction: { mode: "index", intersect: false } }
      },
      table: {
        head: ["Day"].concat(data.columns.map(function (c) { return c.name; }), ["Total"]),
        rows: data.days.map(function (day, i) {
          return [day].concat(data.columns.map(function (c) { return c.counts[i]; }), [data.totals[i]]);
        })
      }
    };
  }

  function accuracy(data) {
    if (!data.tickets.length) {
      return { empty: "No finished tickets with points yet: accuracy needs cards that went from in progress to done." };
    }
    var datasets = data.groups.map(function (g) {
      var kinds = g.group === "research" ? ["research", "experiment"] : ["story", "bug", "chore"];
      return {
        label: g.name + (g.median !== null ? " (median " + g.median + " days/point)" : ""),
        data: data.tickets.filter(function (t) { return kinds.indexOf(t.kind) >= 0; })
          .map(function (t) { return { x: t.points, y: t.days, key: t.key, title: t.title }; }),
        backgroundColor: GROUP_COLORS[g.group], pointRadius: 5
      };
    });
    return {
      caption: "Each finished ticket: its estimate against the days it took. " + data.rule,
      config: {
        type: "scatter",
        data: { datasets: datasets },
        options: {
          scales: { x: { title: { display: true, text: "points (estimate)" }, beginAtZero: true },
                    y: { title: { display: true, text: "days (actual)" }, beginAtZero: true } },
          plugins: { tooltip: { callbacks: { label: function (ctx) {
            var r = ctx.raw; return r.key + " " + r.title + ": " + r.x + " pts, " + r.y + " days";
          } } } }
        }
      },
      summary: {
        head: ["Group", "Tickets", "Median days per point", "Spread (IQR)", "Q1", "Q3"],
        rows: data.groups.map(function (g) { return [g.name, g.count, fmt(g.median), fmt(g.iqr), fmt(g.q1), fmt(g.q3)]; })
          .concat(data.kinds.map(function (k) { return ["  " + k.name, k.count, fmt(k.median), fmt(k.iqr), fmt(k.q1), fmt(k.q3)]; }))
      },
      table: {
        head: ["Ticket", "Title", "Kind", "Points", "Days", "Days per point"],
        rows: data.tickets.map(function (t) { return [t.key, t.title, t.kind, t.points, t.days, t.ratio]; })
      }
    };
  }

  function forecast(data) {
    if (!data.enough_history) {
      return { empty: "No forecast: " + data.reason };
    }
    var pcts = ["50", "85", "95"];
    return {
      caption: Math.round(data.probability_by_end * 100) + " % chance to finish the remaining " + data.remaining +
        " points by " + data.end + ". " + data.explanation,
      config: {
        type: "bar",
        data: {
          labels: pcts.map(function (p) { return p + " % of trials done by " + (data.dates[p] || "later than a year"); }),
          datasets: [{ label: "Share of trials finished", data: pcts.map(Number), backgroundColor: "#1f7a8c" }]
        },
        options: { indexAxis: "y", scales: { x: { min: 0, max: 100, title: { display: true, text: "% of trials" } } } }
      },
      table: {
        head: ["Share of trials", "Finished by"],
        rows: pcts.map(function (p) { return [p + " %", fmt(data.dates[p])]; })
          .concat([["Chance by " + data.end, Math.round(data.probability_by_end * 100) + " %"]])
      }
    };
  }

  var BUILDERS = { burndown: burndown, velocity: velocity, cfd: cfd, accuracy: accuracy, forecast: forecast };

  // Weekend shading behind the burndown, and a white background so PNGs are not transparent.
  var backdrop = {
    id: "weekendShade",
    beforeDraw: function (chart, args, options) {
      var ctx = chart.ctx, area = chart.chartArea;
      ctx.save();
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, chart.width, chart.height);
      var weekends = (options && options.weekends) || [];
      var x = chart.scales.x;
      if (weekends.length && x) {
        ctx.fillStyle = "rgba(148, 163, 184, 0.18)";
        weekends.forEach(function (isWeekend, i) {
          if (!isWeekend) return;
          var step = weekends.length > 1 ? x.getPixelForValue(1) - x.getPixelForValue(0) : area.right - area.left;
          var centre = x.getPixelForValue(i);
          ctx.fillRect(centre - step / 2, area.top, step, area.bottom - area.top);
        });
      }
      ctx.restore();
    }
  };

  function tableOf(spec, cls) {
    var table = el("table", null, cls || "chart-data");
    var thead = el("thead"), tr = el("tr");
    spec.head.forEach(function (h) { var th = el("th", h); th.scope = "col"; tr.appendChild(th); });
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = el("tbody");
    spec.rows.forEach(function (row) {
      var r = el("tr");
      row.forEach(function (cell) { r.appendChild(el("td", fmt(cell))); });
      tbody.appendChild(r);
    });
    table.appendChild(tbody);
    return table;
  }

  function csvOf(spec) {
    function quote(v) {
      var s = fmt(v);
      if (/^[=+\-@]/.test(s)) s = "'" + s; // no formulas in spreadsheets
      return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    }
    return [spec.head].concat(spec.rows).map(function (row) { return row.map(quote).join(","); }).join("\r\n") + "\r\n";
  }

  function download(name, href) {
    var a = el("a");
    a.href = href;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  function slug(figure) {
    return (figure.dataset.chartName || figure.dataset.chartKind || "chart").replace(/[^a-z0-9-]+/gi, "-").toLowerCase();
  }

  function parts(figure) {
    var find = function (sel, make) {
      var node = figure.querySelector(sel);
      if (!node) { node = make(); figure.appendChild(node); }
      return node;
    };
    return {
      canvas: find("canvas", function () { return el("canvas"); }),
      status: find(".chart-status", function () { return el("p", null, "chart-status"); }),
      summary: find(".chart-summary", function () { return el("div", null, "chart-summary"); }),
      actions: find(".chart-actions", function () { return el("div", null, "chart-actions"); }),
      details: find("details.chart-table", function () {
        var d = el("details", null, "chart-table");
        d.appendChild(el("summary", "Show as table"));
        return d;
      })
    };
  }

  function render(figure, built) {
    var p = parts(figure);
    if (figure._chart) { figure._chart.destroy(); figure._chart = null; }
    p.summary.replaceChildren();
    Array.prototype.slice.call(p.details.children).forEach(function (c) { if (c.tagName !== "SUMMARY") c.remove(); });
    p.actions.replaceChildren();
    if (built.empty) {
      p.status.textContent = built.empty;
      p.status.hidden = false;
      p.canvas.hidden = true;
      p.details.hidden = true;
      figure.classList.add("is-empty");
      return;
    }
    figure.classList.remove("is-empty");
    p.canvas.hidden = false;
    p.details.hidden = false;
    p.status.textContent = built.caption || "";
    p.status.hidden = !built.caption;
    p.canvas.setAttribute("role", "img");
    p.canvas.setAttribute("aria-label", (figure.dataset.chartTitle || "Chart") + ". " + (built.caption || "") +
      " The same numbers are in the table below.");
    var config = built.config;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options);
    config.plugins = [backdrop];
    figure._chart = new window.Chart(p.canvas, config);
    if (built.summary) p.summary.appendChild(tableOf(built.summary, "chart-data chart-summary-table"));
    p.details.appendChild(tableOf(built.table));
    var png = el("button", "Download PNG", "btn small");
    png.type = "button";
    png.addEventListener("click", function () { download(slug(figure) + ".png", p.canvas.toDataURL("image/png")); });
    var csv = el("button", "Download CSV", "btn small");
    csv.type = "button";
    csv.addEventListener("click", function () {
      var url = URL.createObjectURL(new Blob([csvOf(built.table)], { type: "text/csv" }));
      download(slug(figure) + ".csv", url);
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    });
    p.actions.append(png, csv);
    if (figure.dataset.chartKind === "burndown") {
      var url = new URL(figure.dataset.chartUrl, window.location.href);
      var tickets = url.searchParams.get("unit") === "tickets";
      var toggle = el("button", tickets ? "Count points" : "Count tickets", "btn small ghost");
      toggle.type = "button";
      toggle.addEventListener("click", function () {
        url.searchParams.set("unit", tickets ? "points" : "tickets");
        figure.dataset.chartUrl = url.pathname + url.search;
        load(figure);
      });
      p.actions.append(toggle);
    }
  }

  function load(figure) {
    var builder = BUILDERS[figure.dataset.chartKind];
    var p = parts(figure);
    if (!builder || !window.Chart) {
      p.status.textContent = "This chart cannot be drawn here.";
      return;
    }
    figure.setAttribute("aria-busy", "true");
    fetch(figure.dataset.chartUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.detail || ("The chart could not be loaded (" + response.status + ")."));
          return body;
        }, function () { throw new Error("The chart could not be loaded (" + response.status + ")."); });
      })
      .then(function (data) { render(figure, builder(data)); })
      .catch(function (error) { render(figure, { empty: error.message }); })
      .finally(function () { figure.removeAttribute("aria-busy"); figure.dataset.chartReady = "1"; });
  }

  function init(root) {
    (root || document).querySelectorAll("figure.chart[data-chart-url]").forEach(load);
  }

  window.mlkanbanCharts = { init: init, load: load };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { init(); });
  else init();
})();
