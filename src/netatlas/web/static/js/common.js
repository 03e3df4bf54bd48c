"use strict";
// Shared helpers. Every string from the server may come from a scanned host: text goes
// into the DOM through textContent, and HTML for ECharts tooltips through esc().
(function () {
  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function esc(value) {
    return String(value === null || value === undefined ? "" : value).replace(/[&<>"']/g, (c) => ESC[c]);
  }

  // el("a", {href: "/x", class: "btn"}, "text", childNode) — never sets innerHTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  async function fetchJSON(url) {
    const res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    let body = {};
    try { body = await res.json(); } catch (e) { body = {}; }
    if (!res.ok) {
      const err = new Error((body.error && body.error.message) || res.statusText || "request failed");
      err.body = body;
      throw err;
    }
    return body;
  }

  // Tooltip HTML for ECharts (which renders tooltips as HTML): every piece escaped.
  function tip(title, rows) {
    let html = '<div class="tt"><div class="tt-title">' + esc(title) + "</div>";
    for (const [k, v] of rows || []) {
      html += '<div class="tt-row"><span class="tt-k">' + esc(k) + '</span><span class="tt-v">' + esc(v) + "</span></div>";
    }
    return html + "</div>";
  }

  function searchUrl(q) {
    return "/search?" + new URLSearchParams({ q: q }).toString();
  }

  function showError(box, err) {
    if (!box) return;
    box.replaceChildren();
    const body = (err && err.body && err.body.error) || {};
    box.append(el("h2", { text: "Search syntax error" }), el("p", { class: "qerror-msg", text: (err && err.message) || "error" }));
    if (body.column && body.query !== undefined) {
      const pre = el("pre", { class: "qerror-caret" });
      pre.append(el("code", {}, body.query + "\n" + " ".repeat(body.column - 1), el("mark", { text: "^" })));
      box.append(pre);
    }
    box.hidden = false;
  }

  const palette = ["#2563eb", "#0ea5e9", "#14b8a6", "#22c55e", "#eab308", "#f97316", "#ef4444", "#a855f7", "#ec4899", "#64748b"];

  // "/" focuses the search box, as on most search sites.
  document.addEventListener("keydown", (ev) => {
    const q = document.getElementById("q");
    if (ev.key === "/" && q && document.activeElement !== q && !/input|textarea|select/i.test(document.activeElement.tagName)) {
      ev.preventDefault();
      q.focus();
      q.select();
    }
  });

  window.NA = { esc, el, fetchJSON, tip, searchUrl, showError, palette };
})();
