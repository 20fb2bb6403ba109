/* Draws the report's charts from the JSON block; every figure is also in the tables. */
(function () {
  "use strict";
  var block = document.getElementById("report-data");
  if (!block || typeof Chart === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var palette = ["#2563eb", "#16a34a", "#f59e0b", "#db2777", "#7c3aed", "#0891b2", "#dc2626"];
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  function series(canvas) {
    var s = data.series;
    if (!s) { return; }
    var line = function (label, values, color) {
      return { label: label, data: values, borderColor: color, backgroundColor: color, yAxisID: "y", pointRadius: 2 };
    };
    var datasets = [
      line("sends", s.sends, palette[0]),
      line("opens", s.opens, palette[1]),
      line("clicks", s.clicks, palette[2]),
      line("conversions", s.conversions, palette[3])
    ];
    var scales = { y: { beginAtZero: true, title: { display: true, text: "messages, conversions" } } };
    if (s.revenue) {
      datasets.push({ label: "revenue", data: s.revenue, type: "bar", yAxisID: "revenue", backgroundColor: "rgba(124, 58, 237, 0.25)", borderColor: palette[4] });
      scales.revenue = { position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "revenue" } };
    }
    new Chart(canvas, {
      type: "line",
      data: { labels: s.labels, datasets: datasets },
      options: { interaction: { mode: "index", intersect: false }, scales: scales }
    });
  }

  function funnel(canvas) {
    var f = data.funnels[Number(canvas.dataset.index)];
    new Chart(canvas, {
      type: "bar",
      data: { labels: f.labels, datasets: [{ label: "members", data: f.counts, backgroundColor: palette[0] }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } }
    });
  }

  function tiers(canvas) {
    var t = data.tiers;
    new Chart(canvas, {
      type: "bar",
      data: { labels: t.labels, datasets: [{ label: "members", data: t.members, backgroundColor: palette }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } }
    });
  }

  function experiment(canvas) {
    var e = data.experiment;
    var m = e[canvas.dataset.metric];
    var percent = function (v) { return v === null ? null : v * 100; };
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: e.labels,
        datasets: [
          { label: "95% interval", data: m.intervals.map(function (i) { return i === null ? null : [percent(i[0]), percent(i[1])]; }), backgroundColor: "rgba(37, 99, 235, 0.3)", borderColor: palette[0], borderWidth: 1, barPercentage: 0.4 },
          { label: "rate", type: "line", data: m.rates.map(percent), showLine: false, pointRadius: 6, pointStyle: "rectRot", borderColor: palette[3], backgroundColor: palette[3] }
        ]
      },
      options: { scales: { y: { beginAtZero: true, suggestedMax: 100, title: { display: true, text: "%" } } } }
    });
  }

  function lift(canvas) {
    var e = data.experiment;
    var m = e[canvas.dataset.metric];
    var points = function (v) { return v === null ? null : v * 100; };
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: e.labels,
        datasets: [
          { label: "lift, 95% interval (points)", data: m.lift_intervals.map(function (i) { return i === null ? null : [points(i[0]), points(i[1])]; }), backgroundColor: "rgba(22, 163, 74, 0.3)", borderColor: palette[1], borderWidth: 1, barPercentage: 0.4 },
          { label: "lift", type: "line", data: m.lifts.map(points), showLine: false, pointRadius: 6, pointStyle: "rectRot", borderColor: palette[3], backgroundColor: palette[3] }
        ]
      },
      options: { scales: { y: { title: { display: true, text: "points against the control" } } } }
    });
  }

  var draw = { series: series, funnel: funnel, tiers: tiers, experiment: experiment, lift: lift };
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var kind = canvas.dataset.chart;
    if (draw[kind]) { draw[kind](canvas); }
  });
})();
