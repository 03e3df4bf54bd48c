"use strict";
(function () {
  const box = document.getElementById("map");
  if (!box || !window.echarts) return;
  const q = box.dataset.q || "";
  const stats = document.getElementById("map-stats");
  const chart = echarts.init(box);
  chart.showLoading({ text: "", color: "#38bdf8", maskColor: "rgba(11,18,32,0.4)" });

  function placeName(p) {
    return [p.city, p.country].filter(Boolean).join(", ") || (p.lat + ", " + p.lon);
  }

  function fillSide(data) {
    const countries = document.getElementById("map-countries");
    const places = document.getElementById("map-places");
    countries.replaceChildren(...data.countries.slice(0, 15).map((c) =>
      NA.el("li", {}, NA.el("span", { class: "rk-name", text: c.name }), NA.el("span", { class: "rk-n", text: c.hosts }))));
    places.replaceChildren(...data.points.slice(0, 15).map((p) => {
      const ips = NA.el("div", { class: "rk-ips" }, ...p.ips.map((ip) => NA.el("a", { href: "/host/" + encodeURIComponent(ip), text: ip })));
      return NA.el("li", {}, NA.el("span", { class: "rk-name", text: placeName(p) }), NA.el("span", { class: "rk-n", text: p.hosts }), ips);
    }));
    if (!data.countries.length) countries.append(NA.el("li", { class: "muted", text: "no located hosts" }));
  }

  Promise.all([NA.fetchJSON("/assets/vendor/world.geo.json"), NA.fetchJSON("/map/data?" + new URLSearchParams({ q }))])
    .then(([world, data]) => {
      echarts.registerMap("world", world);
      chart.hideLoading();
      const st = data.stats;
      stats.textContent = st.located + " of " + st.hosts + " hosts located" + (st.truncated ? " (first " + st.records + " services)" : "");
      const max = Math.max(1, ...data.points.map((p) => p.hosts));
      chart.setOption({
        backgroundColor: "#0b1220",
        tooltip: {
          trigger: "item",
          formatter: (p) => {
            const d = p.data && p.data.place;
            if (!d) return "";
            const rows = [["hosts", d.hosts]];
            if (d.orgs.length) rows.push(["org", d.orgs.join(", ")]);
            rows.push(["sample", d.ips.slice(0, 4).join(", ")]);
            return NA.tip(placeName(d), rows);
          },
        },
        geo: {
          map: "world",
          roam: true,
          zoom: 1.15,
          center: [10, 20],
          scaleLimit: { min: 1, max: 12 },
          itemStyle: { areaColor: "#1e293b", borderColor: "#334155", borderWidth: 0.6 },
          emphasis: { itemStyle: { areaColor: "#27364d" }, label: { show: false } },
          select: { disabled: true },
        },
        series: [{
          type: "effectScatter",
          coordinateSystem: "geo",
          rippleEffect: { scale: 3, brushType: "stroke" },
          showEffectOn: "render",
          data: data.points.map((p) => ({ name: placeName(p), value: [p.lon, p.lat, p.hosts], place: p })),
          symbolSize: (v) => 7 + 18 * Math.sqrt(v[2] / max),
          itemStyle: { color: "#f97316", shadowBlur: 8, shadowColor: "rgba(249,115,22,0.6)" },
          zlevel: 1,
        }],
      });
      chart.on("click", (p) => {
        const d = p.data && p.data.place;
        if (d && d.ips.length === 1) location.href = "/host/" + encodeURIComponent(d.ips[0]);
      });
      fillSide(data);
    })
    .catch((err) => {
      chart.hideLoading();
      stats.textContent = "";
      NA.showError(document.getElementById("map-error"), err);
    });
  window.addEventListener("resize", () => chart.resize());
})();
