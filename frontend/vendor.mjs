// Copies the pinned front-end builds into the Python package (committed there, so the
// UI works offline and CI needs no npm). The world map is converted from TopoJSON to
// GeoJSON here, once, so the browser needs no topojson code.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { feature } from "topojson-client";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "netatlas", "web", "static", "vendor");
mkdirSync(out, { recursive: true });

const nm = (p) => join(here, "node_modules", p);
copyFileSync(nm("echarts/dist/echarts.min.js"), join(out, "echarts.min.js"));
copyFileSync(nm("echarts/LICENSE"), join(out, "echarts.LICENSE.txt"));
copyFileSync(nm("world-atlas/LICENSE"), join(out, "world-atlas.LICENSE.txt"));

const topo = JSON.parse(readFileSync(nm("world-atlas/countries-110m.json"), "utf8"));
const geo = feature(topo, topo.objects.countries);
// Antarctica holds no hosts and takes a fifth of the map.
geo.features = geo.features.filter((f) => f.properties.name !== "Antarctica");
// A few rings (Russia's far east, Fiji) cross the antimeridian and would be drawn as
// bands across the whole map: split each into an east half and a west half.
const crosses = (ring) => ring.some((p, i) => i > 0 && Math.abs(p[0] - ring[i - 1][0]) > 180);
for (const f of geo.features) {
  const g = f.geometry;
  const polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
  const out = [];
  for (const poly of polys) {
    if (!crosses(poly[0])) { out.push(poly); continue; }
    out.push([poly[0].map(([x, y]) => [x < 0 ? 180 : x, y])]);
    out.push([poly[0].map(([x, y]) => [x > 0 ? -180 : x, y])]);
  }
  f.geometry = { type: "MultiPolygon", coordinates: out };
}
// Round coordinates: 110m data gains nothing from 15 decimals, and the file shrinks.
const round = (v) => (Array.isArray(v) ? v.map(round) : Math.round(v * 1000) / 1000);
for (const f of geo.features) f.geometry.coordinates = round(f.geometry.coordinates);
writeFileSync(join(out, "world.geo.json"), JSON.stringify(geo));
console.log("vendor files written to", out);
