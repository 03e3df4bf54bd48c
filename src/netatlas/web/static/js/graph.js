"use strict";
(function () {
  const box = document.getElementById("graph");
  if (!box || !window.echarts) return;
  const side = document.getElementById("details");
  const stats = document.getElementById("graph-stats");
  const chart = echarts.init(box);
  const nodes = new Map();
  const links = new Map();
  let categories = [];
  const COLORS = ["#2563eb", "#16a34a", "#f97316", "#a855f7", "#db2777", "#0891b2"];

  function merge(data) {
    categories = data.categories;
    for (const n of data.nodes) {
      if (nodes.has(n.id)) continue;
      // artefact labels are quieter than host labels
      if (n.kind !== "host") n.label = { color: "#64748b", fontSize: 10 };
      nodes.set(n.id, n);
    }
    for (const l of data.links) links.set(l.source + "\u0000" + l.target, l);
  }

  function render() {
    const hosts = Array.from(nodes.values()).filter((n) => n.kind === "host").length;
    stats.textContent = hosts + " hosts, " + (nodes.size - hosts) + " shared artefacts";
    chart.setOption({
      color: COLORS,
      tooltip: {
        trigger: "item",
        formatter: (p) => {
          if (p.dataType === "edge") return NA.tip("shares", [["", p.data.source.replace(/^host:/, "") + " — " + p.data.target.split(":")[0]]]);
          const d = p.data;
          if (d.kind === "host") return NA.tip(d.value, (d.services || []).slice(0, 6).map((s) => [s.port + "/" + s.transport, [s.service, s.product].filter(Boolean).join(" ")]));
          return NA.tip(d.kind_label, [["value", d.value], ["hosts", d.hosts]]);
        },
      },
      legend: [{ data: categories.map((c) => c.name), top: 8, left: 8, textStyle: { color: "#334155" } }],
      series: [{
        type: "graph",
        layout: "force",
        roam: true,
        draggable: true,
        categories: categories,
        data: Array.from(nodes.values()),
        links: Array.from(links.values()),
        label: { show: true, position: "right", fontSize: 11, color: "#1e293b", formatter: (p) => p.data.name },
        force: { repulsion: 260, edgeLength: [50, 130], gravity: 0.08, friction: 0.2 },
        emphasis: { focus: "adjacency", lineStyle: { width: 3 } },
        lineStyle: { color: "source", opacity: 0.55, width: 1.5 },
        selectedMode: "single",
        select: { itemStyle: { borderColor: "#0f172a", borderWidth: 3 } },
      }],
    }, { replaceMerge: ["series"] });
  }

  function load(url) {
    chart.showLoading({ text: "", color: "#2563eb" });
    return NA.fetchJSON(url).then((data) => {
      chart.hideLoading();
      merge(data);
      if (!nodes.size) {
        stats.textContent = data.stats.hosts + " hosts, none sharing a certificate, favicon, SSH key, HTML body or JARM";
        box.classList.add("chart-empty");
        return;
      }
      render();
    }).catch((err) => {
      chart.hideLoading();
      NA.showError(document.getElementById("graph-error"), err);
    });
  }

  function neighbours(id) {
    const out = [];
    for (const l of links.values()) {
      if (l.source === id) out.push(l.target);
      else if (l.target === id) out.push(l.source);
    }
    return out.map((x) => nodes.get(x)).filter(Boolean);
  }

  function showDetails(d) {
    side.replaceChildren();
    side.append(NA.el("div", { class: "node-kind", text: d.kind_label }));
    side.append(NA.el("h2", { class: "node-value", text: d.value }));
    const actions = NA.el("div", { class: "node-actions" });
    if (d.kind === "host") {
      actions.append(NA.el("a", { class: "btn", href: "/host/" + encodeURIComponent(d.value), text: "Host page" }));
    }
    if (d.query) actions.append(NA.el("a", { class: "btn", href: NA.searchUrl(d.query), text: "Search" }));
    const expand = NA.el("button", { class: "btn primary", type: "button", id: "expand", text: "Expand" });
    expand.addEventListener("click", () => {
      expand.disabled = true;
      const url = d.kind === "host"
        ? "/graph/data?" + new URLSearchParams({ host: d.value })
        : "/graph/data?" + new URLSearchParams({ q: d.query, min: "1" });
      load(url);
    });
    if (d.kind === "host" || d.query) actions.append(expand);
    side.append(actions);
    if (d.kind === "host") {
      side.append(NA.el("h3", { text: "Services" }));
      const ul = NA.el("ul", { class: "node-list" });
      for (const s of d.services || []) {
        ul.append(NA.el("li", {}, NA.el("b", { text: s.port + "/" + s.transport }), " ", [s.service, s.product].filter(Boolean).join(" · ")));
      }
      side.append(ul);
    } else {
      side.append(NA.el("p", { class: "muted", text: "Seen on " + d.hosts + " hosts" }));
    }
    const near = neighbours(d.id);
    if (near.length) {
      side.append(NA.el("h3", { text: d.kind === "host" ? "Shares" : "Hosts" }));
      const ul = NA.el("ul", { class: "node-list" });
      for (const n of near) {
        const a = NA.el("a", { href: "#", text: n.kind === "host" ? n.value : n.kind_label + " " + n.name });
        a.addEventListener("click", (ev) => { ev.preventDefault(); select(n.id); });
        ul.append(NA.el("li", {}, a));
      }
      side.append(ul);
    }
  }

  function select(id) {
    const d = nodes.get(id);
    if (!d) return;
    const index = Array.from(nodes.keys()).indexOf(id);
    chart.dispatchAction({ type: "select", seriesIndex: 0, dataIndex: index });
    showDetails(d);
  }

  chart.on("click", (p) => {
    if (p.dataType === "node") showDetails(p.data);
  });
  window.addEventListener("resize", () => chart.resize());
  // exposed for tests and keyboard users: pick a node by id
  window.netatlasGraph = { select, nodes: () => Array.from(nodes.keys()) };

  const host = box.dataset.host;
  load(host ? "/graph/data?" + new URLSearchParams({ host }) : "/graph/data?" + new URLSearchParams({ q: box.dataset.q || "" }));
})();
