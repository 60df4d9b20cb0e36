/* The data page: upload (or the bundled table) -> columns flagged -> generate -> results. */
"use strict";

(() => {
  const { el, api, $, setError, waitFor, fmt, showResult } = SP;
  let upload = null;
  let synthesizers = [];

  function showUpload(u) {
    upload = u;
    const notices = (u.notices || []).join(" ");
    $("upload-summary").textContent = `${u.filename}: ${fmt(u.n_rows)} rows, ${u.n_columns} columns.`
      + (notices ? ` ${notices}` : "");
    $("flagged").textContent = u.flagged.length
      ? `Not learned (identifiers are made up fresh, free text is left empty in the synthetic rows): ${u.flagged.join(", ")}. `
        + "Untick one to learn it anyway."
      : "No identifier column was found. Tick any other column that identifies a patient.";
    showTimeline(u.timeline);
    const body = $("columns-table").querySelector("tbody");
    body.replaceChildren();
    u.columns.forEach((c, i) => {
      // a flagged column can be unticked: it is then learned (with a warning), not made up
      const box = el("input", { type: "checkbox", id: `ident-${i}`, "data-column": c.name,
        "data-flagged": c.flagged ? "yes" : null, checked: c.flagged });
      box.addEventListener("change", updateLearnWarning);
      const label = el("label", { for: `ident-${i}`, className: "sr-only", text: `Treat ${c.name} as an identifier` });
      body.append(el("tr", { className: c.flagged ? "flagged" : null },
        el("th", { scope: "row", text: c.name }), el("td", { text: c.kind }),
        el("td", {}, box, label), el("td", { className: "wrap", text: c.note }),
        el("td", { className: "wrap role-cell", hidden: !u.timeline }, c.role || "",
          c.timeline ? el("span", { className: "hint block", text: c.timeline }) : null)));
    });
    for (const head of document.querySelectorAll("#columns-table th.role-cell")) head.hidden = !u.timeline;
    const target = $("target");
    target.replaceChildren(el("option", { value: "", text: "None" }));
    for (const c of u.columns) if (!c.flagged) target.append(el("option", { value: c.name, text: c.name }));
    fillSynthesizers(synthesizers);  // generators too small for this table are disabled
    chooseSynthesizer(u.timeline ? u.timeline.synthesizer : "copula");
    updateLearnWarning();
    $("columns-section").hidden = false;
    $("generate-section").hidden = false;
    $("result").hidden = true;
    $("upload-summary").setAttribute("tabindex", "-1");
    $("upload-summary").focus();
  }

  // Flagged columns the user unticked: learned anyway, so their real values can reappear.
  function learned() {
    return [...document.querySelectorAll("#columns-table input[data-flagged]")]
      .filter((b) => !b.checked).map((b) => b.dataset.column);
  }

  function updateLearnWarning() {
    const names = learned(), warning = $("learn-warning");
    warning.hidden = !names.length;
    warning.textContent = names.length ? `Will be learned although flagged: ${names.join(", ")}. `
      + "Their real values (names, ids, notes) can then appear in the synthetic rows." : "";
  }

  // A table with several rows per patient: the counts, the time and the columns in plain words.
  function showTimeline(t) {
    $("timeline").hidden = !t;
    if (!t) return;
    $("timeline-summary").textContent = t.summary;
    $("timeline-time").textContent = t.time_text;
    const parts = [];
    if (t.per_patient.length) parts.push(`The same on every visit of a patient: ${t.per_patient.join(", ")}.`);
    if (t.per_visit.length) parts.push(`Change from visit to visit: ${t.per_visit.join(", ")}.`);
    $("timeline-columns").textContent = parts.join(" ");
  }

  function chooseSynthesizer(key) {
    const option = [...$("synthesizer").options].find((o) => o.value === key && !o.disabled);
    if (option) $("synthesizer").value = key;
    updateEpsilon();
  }

  function fillSynthesizers(list) {
    synthesizers = list;
    if (!list.length) return;  // the list has not arrived yet: the page's own option stays
    const select = $("synthesizer");
    const chosen = select.value || "copula";
    select.replaceChildren();
    const small = (upload && upload.too_small) || {};
    for (const s of list) {
      const why = !s.available ? s.reason : small[s.key];
      const text = why ? `${s.label}: cannot run here (${why})` : s.label;
      select.append(el("option", { value: s.key, text, disabled: Boolean(why), selected: s.key === chosen }));
    }
    updateEpsilon();
  }

  // What the chosen generator makes of this table: patients or rows, and a warning when a
  // row-level generator is given patients' histories.
  function updateEpsilon() {
    const chosen = synthesizers.find((s) => s.key === $("synthesizer").value);
    if (chosen && chosen.description) $("synthesizer-hint").textContent = chosen.description;
    $("epsilon-box").hidden = !(chosen && chosen.differentially_private);
    const timeline = upload && upload.timeline;
    const patients = Boolean(chosen && chosen.longitudinal);
    $("rows-label").textContent = patients ? "How many patients?" : "Number of rows";
    $("rows-hint").textContent = patients && timeline
      ? `${$("rows-hint").dataset.default} Each patient comes with their visits (the real ones have `
        + `${timeline.mean_visits.toLocaleString("en-US")} on average, at most ${fmt(timeline.max_visits)}).`
      : $("rows-hint").dataset.default;
    const warning = $("synthesizer-warning");
    warning.hidden = !(timeline && chosen && !patients);
    warning.textContent = warning.hidden ? "" : `${chosen.label} treats each visit as a separate patient: `
      + "the synthetic visits will not form histories. Choose Patient histories (sequential) to keep each patient's visits together.";
    $("holdout-text").textContent = timeline
      ? "Keep a quarter of the patients, with all their visits, aside to measure privacy against patients the generator never saw"
      : "Keep a quarter of the rows aside to measure privacy against patients the generator never saw";
  }

  async function uploadWith(start) {
    setError("");
    const buttons = [$("upload"), $("bundled"), $("bundled-visits")];
    buttons.forEach((b) => { b.disabled = true; });
    SP.setBusy({ stage: "Reading the table...", progress: null });
    try {
      showUpload(await start());
    } catch (err) {
      setError(err.message);
    } finally {
      SP.setBusy(null);
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function request() {
    const rows = Number($("rows").value);
    if (!Number.isInteger(rows)) throw new Error(`${$("rows-label").textContent.replace("?", "")}: give a whole number.`);
    const body = {
      upload_id: upload.id, synthesizer: $("synthesizer").value, n_rows: rows,
      conditions: $("conditions").value.split("\n").map((s) => s.trim()).filter(Boolean),
      identifiers: [...document.querySelectorAll("#columns-table input[type=checkbox]:not([data-flagged])")]
        .filter((b) => b.checked).map((b) => b.dataset.column),
      learn: learned(),
      holdout: $("holdout").checked,
    };
    if ($("target").value) body.target = $("target").value;
    if ($("seed").value !== "") body.seed = Number($("seed").value);
    if (!$("epsilon-box").hidden && $("epsilon").value !== "") body.epsilon = Number($("epsilon").value);
    return body;
  }

  document.addEventListener("DOMContentLoaded", async () => {
    $("upload-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const file = $("file").files[0];
      if (!file) { setError("Choose a file first."); $("file").focus(); return; }
      const form = new FormData();
      form.append("file", file, file.name);
      uploadWith(() => api("POST", "/api/uploads", form));
    });
    $("bundled").addEventListener("click", () => uploadWith(() => api("POST", "/api/uploads/bundled", { dataset: "diabetes" })));
    $("bundled-visits").addEventListener("click", () => uploadWith(() => api("POST", "/api/uploads/bundled", { dataset: "pbcseq" })));
    $("synthesizer").addEventListener("change", updateEpsilon);
    $("generate-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      setError("");
      if (!upload) { setError("Upload a table first."); return; }
      $("generate").disabled = true;
      try {
        const job = await waitFor(await api("POST", "/api/generate", request()));
        await showResult($("result"), job.result_id);
      } catch (err) {
        setError(err.message);
      } finally {
        $("generate").disabled = false;
      }
    });
    try {
      fillSynthesizers(await api("GET", "/api/synthesizers"));
      // a table uploaded before the list arrived gets its own default generator now
      if (upload) chooseSynthesizer(upload.timeline ? upload.timeline.synthesizer : "copula");
    } catch (err) {
      setError(err.message);
    }
  });
})();
