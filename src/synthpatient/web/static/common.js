/* Shared helpers: API calls, job polling, and the results view. User text is only ever put
   into the page with textContent, never as HTML. */
"use strict";

const SP = (() => {
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // A 401 with this header means the session is gone (idle too long, a server restart, or
  // recycled while it held nothing): start a new one and try once more.
  async function renewSession() {
    try {
      const response = await fetch("/api/session", { method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json" } });
      return response.ok;
    } catch (err) {
      return false;
    }
  }

  async function api(method, url, body, renewed = false) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body instanceof FormData) options.body = body;
    else if (body !== undefined) {
      options.body = JSON.stringify(body);
      options.headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (err) {
      throw new Error("The server cannot be reached. Is `synthpatient serve` still running?");
    }
    if (response.status === 401 && !renewed
        && response.headers.get("X-Synthpatient-Session") === "none" && await renewSession()) {
      return api(method, url, body, true);
    }
    if (response.status === 204) return null;
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    if (!response.ok) {
      const message = data && typeof data.error === "string" ? data.error
        : `The server answered ${response.status}.`;
      throw new Error(message);
    }
    return data;
  }

  const $ = (id) => document.getElementById(id);

  function setError(message) {
    const box = $("error");
    if (box) box.textContent = message || "";
  }

  // "75 s", "2 min 5 s": elapsed time and estimates in words
  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  }

  // The job being waited for, so that the Cancel button next to the progress bar can stop it.
  let current = null;

  function cancelButton() {
    let button = $("cancel-job");
    if (!button) {
      button = el("button", { type: "button", id: "cancel-job", className: "secondary", hidden: true,
        text: "Cancel this job", "aria-describedby": "status" });
      button.addEventListener("click", async () => {
        if (!current) return;
        button.disabled = true;
        try {
          setBusy(await api("POST", `/api/jobs/${encodeURIComponent(current)}/cancel`));
        } catch (err) { setError(err.message); }
      });
      $("progress").after(button);
    }
    return button;
  }

  function setBusy(job) {
    const status = $("status"), bar = $("progress"), cancel = cancelButton();
    if (!job) {
      status.textContent = ""; bar.hidden = true; cancel.hidden = true; current = null;
      return;
    }
    const parts = [job.stage || "Working..."];
    if (typeof job.progress === "number" && !job.cancelling) parts.push(`${Math.round(job.progress * 100)}% done`);
    if (typeof job.elapsed_s === "number" && job.elapsed_s >= 1) parts.push(`${duration(job.elapsed_s)} so far`);
    if (typeof job.remaining_s === "number") parts.push(`about ${duration(job.remaining_s)} left`);
    status.textContent = parts.join(" · ");
    bar.hidden = false;
    if (typeof job.progress === "number") bar.value = job.progress;
    else bar.removeAttribute("value");
    // a job id means a server job that can be stopped (an upload has none)
    const running = Boolean(job.id) && (job.status === "queued" || job.status === "running");
    const fresh = running && current !== job.id;
    if (fresh) { current = job.id; cancel.disabled = false; }
    cancel.hidden = !running;
    // the button that started the job is disabled while it runs, which drops a keyboard
    // user's focus on the page body: Cancel takes it, the one action there is meanwhile
    const active = document.activeElement;
    if (fresh && (!active || active === document.body || active.disabled)) cancel.focus();
    if (job.cancelling) cancel.disabled = true;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function waitFor(job) {
    setBusy(job);
    while (job.status === "queued" || job.status === "running") {
      await sleep(600);
      job = await api("GET", `/api/jobs/${encodeURIComponent(job.id)}`);
      setBusy(job);
    }
    setBusy(null);
    if (job.status === "failed") throw new Error(job.error || "The job failed.");
    if (job.status === "cancelled") throw new Error(job.stage || "Cancelled: nothing was kept.");
    return job;
  }

  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];

  // An ISO date or midnight timestamp ("1951-04-19T00:00:00") as a date: "19 April 1951".
  function dateText(text) {
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(text);
    if (!m) return null;
    const month = MONTHS[Number(m[2]) - 1];
    if (!month) return null;
    const day = `${Number(m[3])} ${month} ${m[1]}`;
    const time = m[4] && `${m[4]}:${m[5]}` !== "00:00" ? `, ${m[4]}:${m[5]}` : "";
    return day + time;
  }

  function fmt(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "string") return dateText(value) || value;
    if (typeof value === "number") {
      if (Number.isInteger(value)) return value.toLocaleString("en-US");
      return Math.abs(value) >= 1000 ? value.toFixed(0) : value.toPrecision(4).replace(/\.?0+$/, "");
    }
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (Array.isArray(value)) return value.join(", ");
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function table(caption, columns, rows, options = {}) {
    const head = el("tr", {}, ...columns.map((c) => el("th", { scope: "col", text: c.label || c })));
    const body = el("tbody");
    for (const row of rows) {
      const tr = el("tr", { className: options.rowClass ? options.rowClass(row) : null });
      for (const c of columns) {
        const key = c.key || c;
        const td = el("td", { className: c.wrap ? "wrap" : null });
        if (c.render) td.append(c.render(row[key], row)); else td.textContent = fmt(row[key]);
        tr.append(td);
      }
      body.append(tr);
    }
    const t = el("table", {}, el("caption", { text: caption }), el("thead", {}, head), body);
    return el("div", { className: "table-wrap", role: "region", "aria-label": caption, tabindex: "0" }, t);
  }

  const okCell = (ok) => el("span", { className: ok ? "ok" : "no", text: ok ? "met" : "NOT met" });

  // The verdict the results open with: what was made, then a light per question. The light's
  // meaning is also written ("good", "check", "poor"), never told by colour alone.
  function renderVerdict(r) {
    const v = r.verdict;
    if (!v) return null;
    const box = el("section", { className: `verdict light-${v.light}`, "aria-labelledby": `verdict-${r.id}` });
    box.append(el("h3", { id: `verdict-${r.id}`, text: "Verdict" }),
      el("p", { className: "made", text: v.made }), el("p", { className: "headline", text: v.headline }));
    const list = el("ul", { className: "checks" });
    for (const c of v.checks) {
      list.append(el("li", { className: `check light-${c.light}`, "data-check": c.key },
        el("span", { className: "dot", "aria-hidden": "true" }),
        el("span", {}, el("strong", { text: `${c.label}: ` }), el("span", { className: "status-word", text: c.status }),
          el("span", { className: "block", text: c.text }),
          c.advice ? el("span", { className: "block advice", text: `What to do: ${c.advice}` }) : null)));
    }
    box.append(list);
    return box;
  }

  // The data card's essentials: the privacy guarantee, who is represented, uses and limits.
  function renderCard(r) {
    const card = r.datacard;
    if (!card) return [];
    const pct = (v) => (typeof v === "number" ? `${(v * 100).toFixed(1)}%` : "");
    const out = [el("h3", { text: "Data card" })];
    const privacy = card.privacy || {};
    let text = `Privacy guarantee: ${privacy.guarantee || "none"}.`;
    if (privacy.measured) {
      text += " Measured against real rows the generator never saw: " + Object.entries(privacy.measured)
        .map(([k, v]) => `${k.replace(/_/g, " ")} ${fmt(v.score)} (${v.verdict})`).join("; ") + ".";
    }
    out.push(el("p", { text }));
    if (card.representation && card.representation.length) {
      out.push(table("Representation: share of each group", [
        { key: "attribute", label: "Attribute" },
        { key: "group", label: "Group", render: (v) => document.createTextNode(String(v).replace(/_/g, " ")) },
        { key: "real", label: "Real", render: (v) => document.createTextNode(v === null ? "(none used)" : pct(v)) },
        { key: "synthetic", label: "Synthetic", render: (v) => document.createTextNode(pct(v)) },
        { key: "target", label: "Knowledge-base target", render: (v) => document.createTextNode(v === null ? "" : pct(v)) }],
      card.representation));
    }
    const list = (title, items) => (items && items.length
      ? [el("h4", { text: title }), el("ul", {}, ...items.map((t) => el("li", { text: t })))] : []);
    out.push(...list("Intended use", card.intended_use), ...list("Out of scope", card.out_of_scope_use),
      ...list("Known limitations", card.limits));
    return out;
  }

  // The request behind a result in words, not JSON.
  function requestWords(p) {
    if (p.request_text) return p.request_text;
    const q = p.request;
    if (!q || typeof q !== "object") return null;
    const parts = [];
    if (q.n_rows) parts.push(`${fmt(q.n_rows)} ${r_unit(p)}`);
    if (q.synthesizer) parts.push(`by ${p.generator_name || q.synthesizer}`);
    if (q.conditions && q.conditions.length) parts.push(`where ${q.conditions.join(" and ")}`);
    if (q.target) parts.push(`outcome column ${q.target}`);
    if (q.epsilon) parts.push(`privacy budget epsilon ${q.epsilon}`);
    if (q.rules) parts.push(`checked against the ${q.rules} rules`);
    return parts.join(", ") || null;
  }
  const r_unit = (p) => (p.patients ? "patients" : "rows");

  function renderResult(container, r) {
    container.replaceChildren();
    container.hidden = false;
    const mainCol = el("div");
    const aside = el("aside", { "aria-labelledby": `prov-${r.id}` });
    mainCol.append(el("h2", { id: `result-title-${r.id}`, text: r.title, tabindex: "-1" }));
    const verdict = renderVerdict(r);
    if (verdict) mainCol.append(verdict);
    if (r.summary) mainCol.append(el("p", { className: "summary", text: r.summary }));
    if (r.notices.length) mainCol.append(el("ul", {}, ...r.notices.map((n) => el("li", { text: n }))));

    mainCol.append(el("h3", { text: "Download" }));
    const links = el("div", { className: "downloads" });
    // a history table's files are offered beside it (Patient histories), not here
    const inTables = new Set((r.tables || []).flatMap((t) => t.downloads.map((d) => d.format)));
    for (const d of r.downloads.filter((x) => !inTables.has(x.format))) {
      links.append(el("a", { className: "button secondary", href: d.url, download: d.filename,
        "data-format": d.format, text: d.label }));
    }
    mainCol.append(links);

    mainCol.append(el("h3", { text: "Preview" }));
    const caption = r.n_patients
      ? `First ${r.preview.length} rows: ${r.summary}`
      : `First ${r.preview.length} of ${fmt(r.n_rows)} rows`;
    mainCol.append(table(caption, r.columns, r.preview));

    if (r.tables && r.tables.length) {
      mainCol.append(el("h3", { text: "Patient histories" }));
      mainCol.append(el("p", { text: "Each patient's visits, measurements, prescriptions and diagnoses over time, "
        + "linked by patient_id (the FHIR download holds the same, one Encounter per visit)." }));
      mainCol.append(table("History tables", [
        { key: "name", label: "Table" }, { key: "what", label: "One row is", wrap: true },
        { key: "n_rows", label: "Rows" },
        { key: "downloads", label: "Download", render: (list) => el("span", { className: "downloads" },
          ...list.map((d) => el("a", { className: "button secondary", href: d.url, download: d.filename,
            "data-format": d.format, text: d.label }))) }], r.tables));
    }

    // top-level consts of the chart scripts (not properties of window); a page without one skips it
    const kinds = [typeof SPCharts !== "undefined" ? SPCharts : null,
      typeof SPHeatmap !== "undefined" ? SPHeatmap : null,
      typeof SPTimelines !== "undefined" ? SPTimelines : null];
    for (const charts of kinds) {
      const chart = charts ? charts.render(r) : null;
      if (chart) mainCol.append(chart);
    }

    if (r.plots.length) {
      mainCol.append(el("h3", { text: "Plots" }));
      for (const p of r.plots) {
        mainCol.append(el("figure", {}, el("img", { src: p.url, alt: p.alt, loading: "lazy" }),
          el("figcaption", { text: p.title })));
      }
    }

    mainCol.append(...renderCard(r));

    if (r.scores.length) {
      mainCol.append(el("h3", { text: "Evaluation summary" }));
      mainCol.append(table("Scores in [0, 1], higher is better", [
        { key: "family", label: "Family" }, { key: "metric", label: "Metric" },
        { key: "score", label: "Score" }, { key: "verdict", label: "Verdict", wrap: true }],
        r.scores, { rowClass: (row) => (row.level === "poor" ? "bad" : null) }));
    }
    if (r.targets.length) {
      const met = r.targets.filter((t) => t.ok).length;
      mainCol.append(el("h3", { text: `Sourced targets: ${met} of ${r.targets.length} met` }));
      mainCol.append(table("Measured against the cited knowledge base", [
        { key: "what", label: "Check" }, { key: "target", label: "Target" },
        { key: "measured", label: "Measured" },
        { key: "tolerance", label: "Tolerance", render: (v, row) => document.createTextNode(
          row.kind === "at least" ? "at least" : v === null ? "not judged (narrowed cohort)" : `± ${fmt(v)}`) },
        { key: "ok", label: "Result", render: (v) => okCell(v) },
        { key: "sources", label: "Sources" }], r.targets,
        { rowClass: (row) => (row.ok ? null : "bad") }));
    }
    if (r.rules.length) {
      const broken = r.rules.filter((x) => (x.violations ?? x.synthetic_violations) > 0).length;
      mainCol.append(el("h3", { text: `Clinical rules: ${broken} with violations` }));
      const columns = r.kind === "cohort"
        ? [{ key: "rule", label: "Rule" }, { key: "description", label: "Description", wrap: true },
          { key: "applicable", label: "Rows checked" }, { key: "violations", label: "Violations" }]
        : [{ key: "rule", label: "Rule" }, { key: "description", label: "Description", wrap: true },
          { key: "real_rate", label: "Real violation rate" },
          { key: "synthetic_violations", label: "Synthetic violations" },
          { key: "synthetic_rate", label: "Synthetic violation rate" }];
      mainCol.append(table("Rule violations", columns, r.rules,
        { rowClass: (row) => ((row.violations ?? row.synthetic_violations) > 0 ? "bad" : null) }));
    } else {
      mainCol.append(el("p", { text: "No clinical rule pack applies to these columns." }));
    }

    aside.append(el("h3", { id: `prov-${r.id}`, text: "Provenance" }));
    const p = r.provenance;
    const facts = el("dl", { className: "request" });
    const add = (k, v) => { if (v !== undefined && v !== null && v !== "") facts.append(el("dt", { text: k }), el("dd", { text: fmt(v) })); };
    add("Created", p.created);
    add("Generator", p.generator_name ? `${p.generator_name}: ${p.generator}` : p.generator);
    add("Request", requestWords(p));
    if (p.seed !== undefined && p.seed !== null) add("Seed", String(p.seed));
    if (p.source) add("Learned from", `${p.source.file} (${fmt(p.source.rows)} rows, sha256 ${String(p.source.sha256).slice(0, 12)}...)`);
    if (p.not_learned && p.not_learned.length) add("Not learned", p.not_learned.join(", "));
    if (p.knowledge_base) add("Knowledge base", `${p.knowledge_base.version} (${p.knowledge_base.condition})`);
    aside.append(facts);
    if (Array.isArray(p.sources) && p.sources.length) {
      aside.append(el("h4", { text: "Sources" }));
      // a citation may already open with its id: "[ndsr_2022] [ndsr_2022] ..." reads as a slip
      const cite = (s) => (String(s.citation).startsWith(`[${s.id}]`) ? s.citation : `[${s.id}] ${s.citation}`);
      aside.append(el("ol", {}, ...p.sources.map((s) => el("li", {
        text: `${cite(s)}${s.verified || /not verified/.test(s.citation) ? "" : " (not verified in the source)"}` }))));
    }
    aside.append(el("details", {}, el("summary", { text: "Full provenance (JSON), with the spec" }),
      el("pre", { text: JSON.stringify(p, null, 2) })));
    container.append(el("div", { className: "results" }, mainCol, aside));
    const link = el("p", {}, el("a", { href: `/results/${encodeURIComponent(r.id)}`, text: "Open these results on their own page" }));
    mainCol.insertBefore(link, verdict ? verdict.nextSibling : mainCol.children[1]);
  }

  async function showResult(container, resultId) {
    const result = await api("GET", `/api/results/${encodeURIComponent(resultId)}`);
    renderResult(container, result);
    const heading = container.querySelector("h2");
    if (heading) heading.focus();
    return result;
  }

  return { el, api, $, setError, setBusy, waitFor, fmt, table, renderResult, showResult, duration };
})();
