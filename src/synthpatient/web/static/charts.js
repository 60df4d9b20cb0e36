/* An interactive chart of one column at a time: real beside synthetic shares per bin, drawn as
   SVG by this file (no plotting library, nothing for the Content-Security-Policy to allow).
   Hover (or focus) a bar for its value; the column is chosen from a list; the same numbers are
   offered as a table for screen readers. */
"use strict";

const SPCharts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 760, H = 340, LEFT = 56, RIGHT = 12, TOP = 16, BOTTOM = 86;
  const COLORS = { real: "#1f5fa8", synthetic: "#c4610a" };
  let counter = 0;

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const pct = (v) => `${(v * 100).toFixed(v >= 0.1 || v === 0 ? 0 : 1)}%`;

  function niceMax(value) {
    const steps = [0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1];
    return steps.find((s) => s >= value) || 1;
  }

  function title(d) {
    return d.unit ? `${d.label} (${d.unit})` : d.label;
  }

  function draw(d, hasReal) {
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img",
      "aria-label": `Share of rows per ${d.numeric ? "range" : "value"} of ${title(d)}`,
      class: "chart" });
    const series = hasReal ? ["real", "synthetic"] : ["synthetic"];
    const top = niceMax(Math.max(...d.bins.flatMap((b) => series.map((s) => b[s] || 0)), 0.01));
    const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    const y = (v) => TOP + plotH - (v / top) * plotH;
    for (let i = 0; i <= 4; i += 1) {  // the share axis, with a light grid
      const v = (top * i) / 4;
      root.append(svg("line", { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), stroke: "#d5dae0" }),
        svg("text", { x: LEFT - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 12, fill: "#333" }, pct(v)));
    }
    root.append(svg("text", { x: 14, y: TOP + plotH / 2, "font-size": 12, fill: "#333",
      transform: `rotate(-90 14 ${TOP + plotH / 2})`, "text-anchor": "middle" }, "share of rows"));
    const slot = plotW / d.bins.length, barW = Math.max(2, (slot * 0.8) / series.length);
    const every = Math.ceil(d.bins.length / 10);  // at most ten x labels, never overlapping
    d.bins.forEach((b, i) => {
      series.forEach((s, j) => {
        const v = b[s] || 0;
        const rect = svg("rect", { x: LEFT + i * slot + slot * 0.1 + j * barW, y: y(v), width: barW,
          height: Math.max(0, TOP + plotH - y(v)), fill: COLORS[s] });
        rect.append(svg("title", {}, `${b.label}${d.unit ? ` ${d.unit}` : ""}: ${s} ${pct(v)}`));
        root.append(rect);
      });
      if (i % every === 0) {
        const x = LEFT + i * slot + slot / 2, yy = TOP + plotH + 14;
        root.append(svg("text", { x, y: yy, "font-size": 12, fill: "#333", "text-anchor": "end",
          transform: `rotate(-35 ${x} ${yy})` }, b.label));
      }
    });
    root.append(svg("line", { x1: LEFT, x2: W - RIGHT, y1: TOP + plotH, y2: TOP + plotH, stroke: "#333" }));
    return root;
  }

  function dataTable(d, hasReal) {
    const columns = [{ key: "label", label: d.numeric ? `Range${d.unit ? ` (${d.unit})` : ""}` : "Value" }];
    if (hasReal) columns.push({ key: "real", label: "Real" });
    columns.push({ key: "synthetic", label: "Synthetic" });
    const rows = d.bins.map((b) => ({ label: b.label, real: pct(b.real || 0), synthetic: pct(b.synthetic || 0) }));
    return SP.table(`Share of rows: ${title(d)}`, columns, rows);
  }

  function render(r) {
    const list = r.distributions || [];
    if (!list.length) return null;
    const id = `chart-${(counter += 1)}`;
    const hasReal = list.some((d) => d.bins.some((b) => b.real !== null && b.real !== undefined));
    const { el } = SP;
    const select = el("select", { id: `${id}-column` });
    list.forEach((d, i) => select.append(el("option", { value: String(i), text: title(d) })));
    const legend = el("p", { className: "legend" }, ...(hasReal ? ["real", "synthetic"] : ["synthetic"])
      .map((s) => el("span", { className: `swatch ${s}`, text: s === "real" ? "Real rows" : "Synthetic rows" })));
    const figure = el("figure", { className: "chart-figure" });
    const caption = el("figcaption", { id: `${id}-caption` });
    const details = el("details", {}, el("summary", { text: "The same numbers as a table" }));
    const show = () => {
      const d = list[Number(select.value)];
      caption.textContent = `${title(d)}: ${hasReal ? "real and synthetic" : "synthetic"} rows`;
      figure.replaceChildren(draw(d, hasReal), caption);
      details.replaceChildren(details.firstChild, dataTable(d, hasReal));
    };
    select.addEventListener("change", show);
    const box = el("section", { className: "charts", "aria-labelledby": `${id}-title` },
      el("h3", { id: `${id}-title`, text: "Distributions, one column at a time" }),
      el("label", { for: `${id}-column`, text: "Column" }), select, legend, figure, details);
    show();
    return box;
  }

  return { render, unitTitle: title };
})();
