/*
 * locust-mlstress: live trend charts under the ML quality tab's table (docs/webui.md).
 *
 * Locust's React UI renders the tab; this script adds one element of its own after the tab's
 * panel while the tab is selected, and takes it out when another tab is (React then never meets
 * it among its own nodes). Every 2 s, as Locust's UI polls its statistics, it reads
 * ./ml/trends.json (the server computes everything: each chart's x, series and colours) and hands
 * the values to uPlot (vendored beside this file). The figures are whole each time, so a Reset,
 * a stopped test or a new one simply shows what the server has now. The element, and the charts
 * in it, live as long as the page: leaving the tab and coming back redraws nothing from scratch.
 *
 * window.mlstressTrends exposes the state (charts, last payload, update count) for the tests.
 */
(function () {
  "use strict";

  var POLL_MS = 2000;
  var TAB_TITLE = "ML quality";
  var HEIGHT = 240;
  var here = document.currentScript ? document.currentScript.src : "";
  var TRENDS_URL = here ? new URL("../trends.json", here).href : "./ml/trends.json";

  var state = {
    host: null, // our element: a note and the chart grid
    charts: {}, // chart id -> {plot: uPlot, signature: string, cell: element}
    last: null, // the last payload read
    updates: 0, // payloads drawn
    failures: 0, // polls that got no payload (network, login expired)
    busy: false,
  };
  window.mlstressTrends = state;

  function selectedTab() {
    var tabs = document.querySelectorAll('[role="tab"][aria-selected="true"]');
    for (var i = 0; i < tabs.length; i++) {
      if (tabs[i].textContent.trim() === TAB_TITLE) return tabs[i];
    }
    return null;
  }

  function container(tab) {
    // Locust's layout: a MUI Container holding the tab bar's box, then the selected tab's panel
    return tab.closest(".MuiContainer-root") || (tab.closest(".MuiTabs-root") || tab).parentElement.parentElement;
  }

  function makeHost() {
    var host = document.createElement("section");
    host.id = "ml-trends";
    host.setAttribute("aria-label", "ML trend charts");
    host.style.cssText = "margin: 24px 0 32px; color: inherit; font-family: inherit;";
    var note = document.createElement("p");
    note.className = "ml-trends-note";
    note.style.cssText = "margin: 0 0 8px; opacity: 0.8;";
    note.textContent = "Trend charts appear with the first window of figures.";
    var grid = document.createElement("div");
    grid.className = "ml-trends-grid";
    grid.style.cssText = "display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 16px;";
    host.appendChild(note);
    host.appendChild(grid);
    return host;
  }

  /* Keep our element after the tab's panel while the tab shows; out of the page otherwise. */
  function place() {
    var tab = selectedTab();
    if (!tab) {
      if (state.host && state.host.parentNode) state.host.parentNode.removeChild(state.host);
      return false;
    }
    var parent = container(tab);
    if (!parent) return false;
    if (!state.host) state.host = makeHost();
    var fresh = state.host.parentNode !== parent;
    if (fresh || parent.lastElementChild !== state.host) parent.appendChild(state.host);
    if (fresh) resize();
    return true;
  }

  function textColour() {
    return (state.host && getComputedStyle(state.host).color) || "#444";
  }

  function chartWidth(cell) {
    return Math.max(300, Math.floor(cell.clientWidth || 460));
  }

  function lines(values) {
    // uPlot hook: dashed horizontal reference lines (PSI's 0.1 and 0.25)
    return function (u) {
      var ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = "#888";
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 1;
      for (var i = 0; i < values.length; i++) {
        var y = u.valToPos(values[i], "y", true);
        ctx.beginPath();
        ctx.moveTo(u.bbox.left, y);
        ctx.lineTo(u.bbox.left + u.bbox.width, y);
        ctx.stroke();
      }
      ctx.restore();
    };
  }

  function options(chart, width) {
    var fg = textColour();
    var axis = { stroke: fg, grid: { stroke: "rgba(128,128,128,0.2)" }, ticks: { stroke: "rgba(128,128,128,0.4)" } };
    var series = [{ label: chart.id === "ml-trend-reliability" ? "mean p" : "window start, s" }]; // the legend's x
    chart.series.forEach(function (s) {
      series.push({
        label: s.label,
        stroke: s.colour,
        width: 2,
        dash: s.dash ? [6, 4] : undefined,
        spanGaps: chart.span_gaps,
        points: { show: true, size: 5 },
      });
    });
    var low = chart.ymin, high = chart.ymax;
    return {
      title: chart.title,
      width: width,
      height: HEIGHT,
      scales: {
        x: { time: false },
        y: chart.log ? { distr: 3, log: 10 } : {
          range: function (u, min, max) {
            // the chart's fixed range (0 to 100 %, PSI up to 0.3), widened by the values, padded
            // so a line on an end (an A/A disagreement of 0) is not hidden under the axis
            var lo = low === null ? (min === null ? 0 : min) : Math.min(low, min === null ? low : min);
            var hi = high === null ? (max === null ? 1 : max) : Math.max(high, max === null ? high : max);
            if (hi <= lo) hi = lo + 1;
            var pad = (hi - lo) * 0.04;
            return [lo - pad, hi + pad];
          },
        },
      },
      axes: [
        Object.assign({ label: chart.xlabel }, axis),
        Object.assign({ label: chart.ylabel, size: 60 }, axis),
      ],
      legend: { show: true },
      series: series,
      hooks: chart.lines.length ? { draw: [lines(chart.lines)] } : {},
    };
  }

  function data(chart) {
    var table = [chart.x];
    chart.series.forEach(function (s) {
      table.push(s.values);
    });
    return table;
  }

  function signature(chart) {
    return JSON.stringify([chart.title, chart.lines, chart.span_gaps, chart.log, chart.series.map(function (s) {
      return [s.label, s.colour, s.dash];
    })]);
  }

  function drop(id) {
    var entry = state.charts[id];
    entry.plot.destroy();
    entry.cell.parentNode.removeChild(entry.cell);
    delete state.charts[id];
  }

  function draw(payload) {
    var grid = state.host.querySelector(".ml-trends-grid");
    var note = state.host.querySelector(".ml-trends-note");
    var charts = payload.charts || [];
    note.textContent = payload.error || (charts.length ? "" : "Trend charts appear with the first window of figures.");
    note.style.display = note.textContent ? "" : "none";
    var wanted = {};
    charts.forEach(function (chart, index) {
      wanted[chart.id] = true;
      var entry = state.charts[chart.id];
      var sig = signature(chart);
      if (entry && entry.signature !== sig) {
        drop(chart.id); // another set of series (a kind or a challenger appeared): draw anew
        entry = null;
      }
      if (!entry) {
        var cell = document.createElement("div");
        cell.className = "ml-trend";
        cell.setAttribute("data-chart", chart.id);
        grid.insertBefore(cell, grid.children[index] || null);
        var plot = new uPlot(options(chart, chartWidth(cell)), data(chart), cell);
        entry = state.charts[chart.id] = { plot: plot, signature: sig, cell: cell };
      } else {
        entry.plot.setData(data(chart));
      }
      entry.points = chart.x.length;
    });
    Object.keys(state.charts).forEach(function (id) {
      if (!wanted[id]) drop(id);
    });
    state.last = payload;
    state.updates += 1;
  }

  function resize() {
    Object.keys(state.charts).forEach(function (id) {
      var entry = state.charts[id];
      entry.plot.setSize({ width: chartWidth(entry.cell), height: HEIGHT });
    });
  }

  function poll() {
    if (state.busy || document.hidden || !place()) return;
    state.busy = true;
    fetch(TRENDS_URL, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        var type = response.headers.get("content-type") || "";
        if (!response.ok || type.indexOf("application/json") < 0) throw new Error("no trends: " + response.status);
        return response.json();
      })
      .then(function (payload) {
        if (state.host) draw(payload);
      })
      .catch(function () {
        state.failures += 1; // the next poll tries again; the table's own polling goes on
      })
      .then(function () {
        state.busy = false;
      });
  }

  function start() {
    if (typeof uPlot === "undefined") return; // uPlot failed to load: the table still works
    var pending = false;
    new MutationObserver(function () {
      // the tab was switched or the panel re-rendered: put the charts back at once
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () {
        pending = false;
        var shown = state.host && state.host.isConnected;
        if (place() && !shown) poll();
      });
    }).observe(document.getElementById("root") || document.body, { childList: true, subtree: true });
    window.addEventListener("resize", resize);
    setInterval(poll, POLL_MS);
    poll();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
