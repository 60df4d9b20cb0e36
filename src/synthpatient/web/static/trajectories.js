/* Patient histories over time, one column at a time, drawn as SVG by this file: the real and
   synthetic middle half of values per period (quartile bands, medians as lines) and a few
   synthetic patients' own trajectories. Points show their values on hover; the column is chosen
   from a list; the same numbers are offered as a table. Real patients appear only as quartiles. */
"use strict";

const SPTimelines = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 760, H = 360, LEFT = 70, RIGHT = 16, TOP = 16, BOTTOM = 56;
  const COLORS = { real: "#1f5fa8", synthetic: "#c4610a", patient: "#6b4a2b" };
  let counter = 0;

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const title = (d) => (d.unit ? `${d.label} (${d.unit})` : d.label);
  const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
  // an axis tick: as few digits as the axis's range needs
  const tick = (v, range) => v.toFixed(range >= 20 ? 0 : range >= 2 ? 1 : 2);

  function extent(d) {
    const ts = [], vs = [];
    for (const band of Object.values(d.bands)) for (const b of band) { ts.push(b.t); vs.push(b.q1, b.q3); }
    for (const line of d.patients) for (const [t, v] of line) { ts.push(t); vs.push(v); }
    const lo = Math.min(...vs), hi = Math.max(...vs), pad = (hi - lo) * 0.05 || 1;
    return { t0: 0, t1: Math.max(...ts, 1e-9), v0: lo - pad, v1: hi + pad };
  }

  function draw(d, timeLabel, unitText) {
    const e = extent(d), plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    const x = (t) => LEFT + ((t - e.t0) / (e.t1 - e.t0)) * plotW;
    const y = (v) => TOP + plotH - ((v - e.v0) / (e.v1 - e.v0)) * plotH;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", class: "chart",
      "aria-label": `${title(d)} over time: quartiles per period and a few synthetic patients` });
    for (let i = 0; i <= 4; i += 1) {  // both axes with a light grid
      const v = e.v0 + ((e.v1 - e.v0) * i) / 4, t = e.t0 + ((e.t1 - e.t0) * i) / 4;
      root.append(svg("line", { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), stroke: "#d5dae0" }),
        svg("text", { x: LEFT - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 13, fill: "#333" }, tick(v, e.v1 - e.v0)),
        svg("text", { x: x(t), y: TOP + plotH + 18, "text-anchor": i === 4 ? "end" : "middle", "font-size": 13,
          fill: "#333" }, tick(t, e.t1 - e.t0)));
    }
    root.append(svg("text", { x: LEFT + plotW / 2, y: H - 10, "text-anchor": "middle", "font-size": 13,
      fill: "#333" }, timeLabel));
    root.append(svg("text", { x: 16, y: TOP + plotH / 2, "font-size": 13, fill: "#333", "text-anchor": "middle",
      transform: `rotate(-90 16 ${TOP + plotH / 2})` }, short(title(d), 40)));
    for (const [kind, band] of Object.entries(d.bands)) {
      if (band.length < 1) continue;
      const upper = band.map((b) => `${x(b.t)},${y(b.q3)}`), lower = band.map((b) => `${x(b.t)},${y(b.q1)}`).reverse();
      root.append(svg("polygon", { points: [...upper, ...lower].join(" "), fill: COLORS[kind], opacity: 0.16 }),
        svg("polyline", { points: band.map((b) => `${x(b.t)},${y(b.median)}`).join(" "), fill: "none",
          stroke: COLORS[kind], "stroke-width": 3, "stroke-dasharray": kind === "real" ? "7 4" : "none" }));
      for (const b of band) {
        const dot = svg("circle", { cx: x(b.t), cy: y(b.median), r: 5, fill: COLORS[kind] });
        dot.append(svg("title", {}, `${kind === "real" ? "Real" : "Synthetic"}, ${fmt(b.t)} (${timeLabel.toLowerCase()}): `
          + `median ${fmt(b.median)}${unitText}, middle half ${fmt(b.q1)}-${fmt(b.q3)} (${b.n} values)`));
        root.append(dot);
      }
    }
    d.patients.forEach((line, n) => {
      root.append(svg("polyline", { points: line.map(([t, v]) => `${x(t)},${y(v)}`).join(" "), fill: "none",
        stroke: COLORS.patient, "stroke-width": 1.2, opacity: 0.7 }));
      for (const [t, v] of line) {
        const dot = svg("circle", { cx: x(t), cy: y(v), r: 3, fill: COLORS.patient });
        dot.append(svg("title", {}, `Synthetic patient ${n + 1}, ${fmt(t)} (${timeLabel.toLowerCase()}): ${fmt(v)}${unitText}`));
        root.append(dot);
      }
    });
    root.append(svg("line", { x1: LEFT, x2: W - RIGHT, y1: TOP + plotH, y2: TOP + plotH, stroke: "#333" }));
    return root;
  }

  function short(text, n) { return text.length > n ? `${text.slice(0, n - 1)}…` : text; }

  function bandsTable(d, timeLabel) {
    const kinds = Object.keys(d.bands).filter((k) => d.bands[k].length);
    const periods = [...new Set(kinds.flatMap((k) => d.bands[k].map((b) => b.t)))].sort((a, b) => a - b);
    const columns = [{ key: "t", label: timeLabel }];
    for (const k of kinds) columns.push({ key: k, label: `${k === "real" ? "Real" : "Synthetic"}: median (middle half)` });
    const rows = periods.map((t) => {
      const row = { t: fmt(t) };
      for (const k of kinds) {
        const b = d.bands[k].find((x) => x.t === t);
        row[k] = b ? `${fmt(b.median)} (${fmt(b.q1)}-${fmt(b.q3)})` : "too few values";
      }
      return row;
    });
    return SP.table(`${title(d)} per period`, columns, rows);
  }

  function render(r) {
    const tl = r.timelines;
    if (!tl || !tl.columns || !tl.columns.length) return null;
    const { el } = SP;
    const id = `timeline-${(counter += 1)}`;
    const select = el("select", { id: `${id}-column` });
    tl.columns.forEach((d, i) => select.append(el("option", { value: String(i), text: title(d) })));
    const legend = el("p", { className: "legend" },
      ...(tl.has_real ? [el("span", { className: "swatch real", text: "Real: median (dashed) and middle half" })] : []),
      el("span", { className: "swatch synthetic", text: "Synthetic: median and middle half" }),
      el("span", { className: "swatch patient", text: "A few synthetic patients" }));
    const figure = el("figure", { className: "chart-figure" });
    const details = el("details", {}, el("summary", { text: "The same numbers as a table" }));
    const show = () => {
      const d = tl.columns[Number(select.value)];
      figure.replaceChildren(draw(d, tl.time_label, d.unit ? ` ${d.unit}` : ""),
        el("figcaption", { text: `${title(d)} over time, ${tl.has_real ? "real and synthetic" : "synthetic"} patients` }));
      details.replaceChildren(details.firstChild, bandsTable(d, tl.time_label));
    };
    select.addEventListener("change", show);
    const box = el("section", { className: "charts", "aria-labelledby": `${id}-title` },
      el("h3", { id: `${id}-title`, text: "Patient histories over time" }),
      el("p", { text: "Values by time since each patient's first visit." + (tl.has_real
        ? " Real patients are shown only as quartiles per period, never one by one." : "") }),
      el("label", { for: `${id}-column`, text: "Measurement" }), select, legend, figure, details);
    show();
    return box;
  }

  return { render };
})();
