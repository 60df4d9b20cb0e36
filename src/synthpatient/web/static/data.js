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
      ? `Not learned (identifiers or free text, made up fresh in the synthetic rows): ${u.flagged.join(", ")}.`
      : "No identifier column was found. Tick any other column that identifies a patient.";
    const body = $("columns-table").querySelector("tbody");
    body.replaceChildren();
    u.columns.forEach((c, i) => {
      const box = el("input", { type: "checkbox", id: `ident-${i}`, "data-column": c.name,
        checked: c.flagged, disabled: c.flagged });
      const label = el("label", { for: `ident-${i}`, className: "sr-only", text: `Treat ${c.name} as an identifier` });
      body.append(el("tr", { className: c.flagged ? "flagged" : null },
        el("th", { scope: "row", text: c.name }), el("td", { text: c.kind }),
        el("td", {}, box, label), el("td", { className: "wrap", text: c.note })));
    });
    const target = $("target");
    target.replaceChildren(el("option", { value: "", text: "None" }));
    for (const c of u.columns) if (!c.flagged) target.append(el("option", { value: c.name, text: c.name }));
    $("columns-section").hidden = false;
    $("generate-section").hidden = false;
    $("result").hidden = true;
    $("upload-summary").setAttribute("tabindex", "-1");
    $("upload-summary").focus();
  }

  function fillSynthesizers(list) {
    synthesizers = list;
    const select = $("synthesizer");
    select.replaceChildren();
    for (const s of list) {
      const text = s.available ? `${s.key} (${s.label})` : `${s.key}: not installed here`;
      select.append(el("option", { value: s.key, text, disabled: !s.available, selected: s.key === "copula" }));
    }
    updateEpsilon();
  }

  function updateEpsilon() {
    const chosen = synthesizers.find((s) => s.key === $("synthesizer").value);
    $("epsilon-box").hidden = !(chosen && chosen.differentially_private);
  }

  async function uploadWith(start) {
    setError("");
    const buttons = [$("upload"), $("bundled")];
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
    if (!Number.isInteger(rows)) throw new Error("The number of rows must be a whole number.");
    const body = {
      upload_id: upload.id, synthesizer: $("synthesizer").value, n_rows: rows,
      conditions: $("conditions").value.split("\n").map((s) => s.trim()).filter(Boolean),
      identifiers: [...document.querySelectorAll("#columns-table input[type=checkbox]")]
        .filter((b) => b.checked && !b.disabled).map((b) => b.dataset.column),
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
    } catch (err) {
      setError(err.message);
    }
  });
})();
