"use strict";
(function () {
  const src = document.getElementById("dashboard-data");
  if (!src || !window.echarts) return;
  const data = JSON.parse(src.textContent);
  const SEV = { critical: "#7f1d1d", high: "#dc2626", medium: "#f97316", low: "#eab308", info: "#64748b" };
  const charts = [];
  const axisText = { color: "#475569", fontSize: 11 };

  function empty(box) {
    box.classList.add("chart-empty");
    box.textContent = "No data for this search";
  }

  function barChart(box, items, color, field) {
    const rows = items.slice().reverse();
    const chart = echarts.init(box);
    chart.setOption({
      grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
      tooltip: {
        trigger: "item",
        formatter: (p) => NA.tip(p.name, [["count", p.value]]),
      },
      xAxis: { type: "value", axisLabel: axisText, splitLine: { lineStyle: { color: "#eef2f7" } } },
      yAxis: {
        type: "category",
        data: rows.map((r) => String(r.value)),
        axisLabel: Object.assign({ width: 130, overflow: "truncate" }, axisText),
        axisTick: { show: false },
        axisLine: { lineStyle: { color: "#cbd5e1" } },
      },
      series: [{
        type: "bar",
        data: rows.map((r) => ({ value: r.count, query: r.query })),
        itemStyle: { color: color, borderRadius: [0, 3, 3, 0] },
        barMaxWidth: 18,
        label: { show: true, position: "right", color: "#334155", fontSize: 11 },
      }],
    });
    if (field) {
      box.classList.add("clickable");
      chart.on("click", (p) => {
        if (p.data && p.data.query) location.href = NA.searchUrl(p.data.query);
      });
    }
    return chart;
  }

  function pieChart(box, items) {
    const chart = echarts.init(box);
    chart.setOption({
      tooltip: { trigger: "item", formatter: (p) => NA.tip(p.name, [["findings", p.value], ["share", p.percent + "%"]]) },
      legend: { bottom: 0, textStyle: { color: "#475569" } },
      series: [{
        type: "pie",
        radius: ["45%", "72%"],
        center: ["50%", "45%"],
        data: items.map((r) => ({ name: String(r.value), value: r.count, query: r.query, itemStyle: { color: SEV[r.value] || "#64748b" } })),
        label: { formatter: "{c}", color: "#334155" },
      }],
    });
    box.classList.add("clickable");
    chart.on("click", (p) => {
      if (p.data && p.data.query) location.href = NA.searchUrl(p.data.query);
    });
    return chart;
  }

  function dayChart(box, items) {
    const chart = echarts.init(box);
    chart.setOption({
      grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
      tooltip: { trigger: "item", formatter: (p) => NA.tip(p.name, [["services", p.value]]) },
      xAxis: { type: "category", data: items.map((r) => r.value), axisLabel: axisText, axisLine: { lineStyle: { color: "#cbd5e1" } } },
      yAxis: { type: "value", axisLabel: axisText, splitLine: { lineStyle: { color: "#eef2f7" } } },
      series: [{ type: "bar", data: items.map((r) => r.count), itemStyle: { color: "#0ea5e9", borderRadius: [3, 3, 0, 0] }, barMaxWidth: 28 }],
    });
    return chart;
  }

  const colors = { port: NA.palette[0], service: NA.palette[2], product: NA.palette[7], country: NA.palette[1], risk: "#dc2626" };
  for (const box of document.querySelectorAll("[data-chart]")) {
    const key = box.dataset.chart;
    let items;
    if (key in data.facets) items = data.facets[key];
    else items = data[key] || [];
    if (!items.length) { empty(box); continue; }
    if (key === "severity") charts.push(pieChart(box, items));
    else if (key === "by_day") charts.push(dayChart(box, items));
    else charts.push(barChart(box, items, colors[key] || NA.palette[0], box.dataset.field));
  }
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
})();
