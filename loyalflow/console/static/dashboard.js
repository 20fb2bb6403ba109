/* The dashboard's charts (Chart.js), drawn from each canvas's data-values (JSON written by the
   server; the CSP allows no inline script). The KPI part arrives later through htmx: its charts
   are drawn when htmx loads it. Every figure is also in the page's tables and cards. */
(function () {
  "use strict";
  var palette = ["#0b5cad", "#1d6b36", "#b35900", "#a4161a", "#6b3fa0", "#0e7490", "#4a5260"];

  function seriesChart(canvas, s) {
    var line = function (name, values, color) {
      return { label: s.names[name], data: values, borderColor: color, backgroundColor: color, yAxisID: "y", pointRadius: 2 };
    };
    var datasets = [
      line("sends", s.sends, palette[0]),
      line("opens", s.opens, palette[1]),
      line("clicks", s.clicks, palette[2]),
      line("conversions", s.conversions, palette[3])
    ];
    var scales = { y: { beginAtZero: true } };
    if (s.revenue) {
      datasets.push({ label: s.names.revenue, data: s.revenue, type: "bar", yAxisID: "revenue", backgroundColor: "rgba(107, 63, 160, 0.25)", borderColor: palette[4] });
      scales.revenue = { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } };
    }
    return new Chart(canvas, {
      type: "line",
      data: { labels: s.labels, datasets: datasets },
      options: { interaction: { mode: "index", intersect: false }, scales: scales }
    });
  }

  function tiersChart(canvas, t) {
    return new Chart(canvas, {
      type: "bar",
      data: { labels: t.labels, datasets: [{ label: canvas.dataset.name, data: t.members, backgroundColor: palette }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } }
    });
  }

  var kinds = { series: seriesChart, tiers: tiersChart };

  function draw(root) {
    if (typeof Chart === "undefined") { return; }
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var kind = kinds[canvas.dataset.chart];
      if (!kind || canvas.dataset.drawn) { return; }
      canvas.dataset.drawn = "yes";
      kind(canvas, JSON.parse(canvas.dataset.values));
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:load", function (event) { draw(event.target); });
})();
