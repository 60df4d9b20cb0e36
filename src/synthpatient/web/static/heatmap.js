/* Correlation heatmaps, real beside synthetic, drawn as SVG by this file (no plotting library,
   nothing for the Content-Security-Policy to allow). A cell's value shows on hover, and with the
   keyboard: the heatmap takes focus and the arrow keys move between cells, the value read out in
   a live line; every pair is also in a table for screen readers. */
"use strict";

const SPHeatmap = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const CELL = 30, LABEL_W = 210, GAP = 36, TOP = 30, BOTTOM = 150;
  let counter = 0;

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // -1 blue, 0 white, +1 red: a diverging scale (never colour alone: values are in the text)
  function colour(v) {
    if (v === null || v === undefined) return "#e6e6e6";
    const t = Math.min(1, Math.abs(v)), end = v < 0 ? [33, 102, 172] : [178, 24, 43];
    const mix = end.map((c) => Math.round(255 + (c - 255) * t));
    return `rgb(${mix.join(",")})`;
  }

  const short = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
  const num = (v) => (v === null || v === undefined ? "not enough values" : v.toFixed(2));

  function panels(h) {
    const list = [];
    if (h.real) list.push({ key: "real", title: "Real rows", matrix: h.real });
    list.push({ key: "synthetic", title: "Synthetic rows", matrix: h.synthetic });
    return list;
  }

  function draw(h, onCell) {
    const k = h.columns.length, side = k * CELL, shown = panels(h);
    const W = LABEL_W + shown.length * side + (shown.length - 1) * GAP + 20;
    const root = svg("svg", { viewBox: `0 0 ${W} ${TOP + side + BOTTOM}`, width: "100%",
      class: "chart heatmap", "aria-hidden": "true", focusable: "false" });
    const marks = [];
    h.columns.forEach((c, i) => {
      root.append(svg("text", { x: LABEL_W - 8, y: TOP + i * CELL + CELL / 2 + 5, "text-anchor": "end",
        "font-size": 14, fill: "#222" }, short(c.label, 28)));
    });
    shown.forEach((p, n) => {
      const x0 = LABEL_W + n * (side + GAP);
      root.append(svg("text", { x: x0 + side / 2, y: TOP - 10, "text-anchor": "middle", "font-size": 15,
        "font-weight": "bold", fill: "#222" }, p.title));
      p.matrix.forEach((row, i) => row.forEach((v, j) => {
        const rect = svg("rect", { x: x0 + j * CELL, y: TOP + i * CELL, width: CELL - 1, height: CELL - 1,
          fill: colour(v) });
        rect.append(svg("title", {}, `${h.columns[i].label} and ${h.columns[j].label}: ${num(v)}`));
        rect.addEventListener("mouseenter", () => onCell(i, j));
        root.append(rect);
      }));
      h.columns.forEach((c, j) => {
        const x = x0 + j * CELL + CELL / 2 + 5, y = TOP + side + 8;
        root.append(svg("text", { x, y, "font-size": 14, fill: "#222", "text-anchor": "end",
          transform: `rotate(-60 ${x} ${y})` }, short(c.label, 18)));
      });
      const mark = svg("rect", { width: CELL - 1, height: CELL - 1, fill: "none", stroke: "#000",
        "stroke-width": 3, visibility: "hidden" });
      mark.dataset.x0 = String(x0);
      marks.push(mark);
      root.append(mark);
    });
    return { root, marks };
  }

  function pairsTable(h) {
    const columns = [{ key: "a", label: "Column" }, { key: "b", label: "With" }];
    if (h.real) columns.push({ key: "real", label: "Real" });
    columns.push({ key: "synthetic", label: "Synthetic" });
    const rows = [];
    for (let i = 0; i < h.columns.length; i += 1) {
      for (let j = i + 1; j < h.columns.length; j += 1) {
        rows.push({ a: h.columns[i].label, b: h.columns[j].label, synthetic: num(h.synthetic[i][j]),
          real: h.real ? num(h.real[i][j]) : null });
      }
    }
    return SP.table(`${h.method} of each pair of columns`, columns, rows);
  }

  function render(r) {
    const h = r.correlations;
    if (!h || !h.columns || h.columns.length < 2) return null;
    const { el } = SP;
    const id = `heatmap-${(counter += 1)}`, k = h.columns.length;
    const readout = el("p", { id: `${id}-value`, className: "heatmap-value", "aria-live": "polite",
      text: "Point at a cell, or focus the heatmap and use the arrow keys, to read its value." });
    let at = null;
    const show = (i, j) => {
      at = [i, j];
      const values = panels(h).map((p) => `${p.key} ${num(p.matrix[i][j])}`).join(", ");
      readout.textContent = `${h.columns[i].label} and ${h.columns[j].label}: ${values}`;
      for (const m of marks) {
        m.setAttribute("x", String(Number(m.dataset.x0) + j * CELL));
        m.setAttribute("y", String(TOP + i * CELL));
        m.setAttribute("visibility", "visible");
      }
    };
    const { root, marks } = draw(h, show);
    const box = el("div", { id: `${id}-box`, className: "heatmap-box", tabindex: "0", role: "group",
      "aria-label": `Heatmap of the ${h.method.toLowerCase()}s: arrow keys move between cells`,
      "aria-describedby": `${id}-value` });
    box.append(root);
    box.addEventListener("keydown", (event) => {
      const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
      const move = moves[event.key];
      if (!move) return;
      event.preventDefault();
      const [i, j] = at || [0, 1];
      show(at ? Math.min(k - 1, Math.max(0, i + move[0])) : i, at ? Math.min(k - 1, Math.max(0, j + move[1])) : j);
    });
    box.addEventListener("focus", () => { if (!at) show(0, 1); });
    const scale = el("p", { className: "legend heatmap-scale" },
      el("span", { className: "swatch negative", text: "−1: one rises as the other falls" }),
      el("span", { className: "swatch none", text: "0: no relation" }),
      el("span", { className: "swatch positive", text: "+1: they rise together" }));
    const details = el("details", {}, el("summary", { text: "Every pair as a table" }), pairsTable(h));
    return el("section", { className: "charts", "aria-labelledby": `${id}-title` },
      el("h3", { id: `${id}-title`, text: "Correlations between columns" }),
      el("p", { text: `${h.method} between the numeric columns${h.real
        ? ": the real rows' on the left, the synthetic rows' on the right; similar colours mean the relations were kept."
        : "."}` }),
      scale, el("figure", { className: "chart-figure" }, box, readout), details);
  }

  return { render };
})();
