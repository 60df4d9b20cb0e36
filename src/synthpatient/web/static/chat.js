/* The chat page: request -> shown back -> confirmed -> generated (with progress) -> results. */
"use strict";

(() => {
  const { el, api, $, setError, waitFor, fmt, showResult } = SP;
  const LABELS = { count: "Patients", condition: "Condition", n_observations: "Observations (number)",
    observations: "Observations", population: "Population", age_min: "Youngest age", age_max: "Oldest age",
    sex: "Sex", filters: "Filters", follow_up_years: "Follow-up (years)", formats: "Files", seed: "Seed" };
  let busy = false;

  function addMessage(message) {
    const who = message.role === "user" ? "You" : "synthpatient";
    const item = el("li", { className: `${message.role} ${message.kind || ""}` },
      el("span", { className: "who", text: who }), message.text);
    $("log").append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  function showProposal(message) {
    const box = $("proposal"), fields = $("proposal-fields");
    if (!message || message.kind !== "confirm" || !message.request) { box.hidden = true; return; }
    fields.replaceChildren();
    const request = message.request;
    fields.append(el("dt", { text: "Summary" }), el("dd", { text: request.description }));
    for (const [key, label] of Object.entries(LABELS)) {
      const words = request.words || {};
      let value = words[key] !== undefined && words[key] !== null ? words[key] : request[key];
      if (value === null || value === undefined || (Array.isArray(value) && !value.length)) continue;
      if (key === "filters" && !words.filters) value = value.map((f) => JSON.stringify(f));
      if (key === "seed") value = String(value);
      fields.append(el("dt", { text: label }), el("dd", { text: fmt(value) }));
    }
    box.hidden = false;
    focusConfirm();
  }

  // "Generate it" takes the focus once it can be pressed (a disabled button cannot hold it),
  // so Enter confirms; it is scrolled to the middle of the screen, not left at its edge.
  function focusConfirm() {
    const button = $("confirm");
    if ($("proposal").hidden || button.disabled) return;
    button.focus({ preventScroll: true });
    $("proposal").scrollIntoView({ block: "center" });
  }

  function setDisabled(disabled) {
    busy = disabled;
    for (const id of ["send", "confirm", "cancel", "reset"]) $(id).disabled = disabled;
  }

  async function run(start) {
    if (busy) return;
    setError("");
    setDisabled(true);
    try {
      const job = await waitFor(await start());
      const message = job.message;
      if (message) {
        addMessage(message);
        showProposal(message);
        if (message.result_id) await showResult($("result"), message.result_id);
      }
    } catch (err) {
      setError(err.message);
    } finally {
      setDisabled(false);
      focusConfirm();
    }
  }

  function send(text) {
    text = text.trim();
    if (!text) { setError("Type a request or a question first."); $("message").focus(); return; }
    addMessage({ role: "user", text });
    $("message").value = "";
    $("proposal").hidden = true;
    run(() => api("POST", "/api/chat", { text }));
  }

  document.addEventListener("DOMContentLoaded", async () => {
    $("chat-form").addEventListener("submit", (event) => { event.preventDefault(); send($("message").value); });
    $("message").addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey) return;
      event.preventDefault();
      // Enter on an empty box sends nothing: it goes to "Generate it" when a request waits
      if (busy) return;
      if (!$("message").value.trim()) { focusConfirm(); return; }
      send($("message").value);
    });
    for (const button of document.querySelectorAll("button.example")) {
      button.addEventListener("click", () => { $("message").value = button.textContent; $("message").focus(); });
    }
    $("confirm").addEventListener("click", () => {
      $("proposal").hidden = true;
      run(() => api("POST", "/api/chat/confirm"));
    });
    $("cancel").addEventListener("click", () => send("cancel"));
    $("reset").addEventListener("click", async () => {
      try {
        await api("POST", "/api/chat/reset");
        $("log").replaceChildren();
        $("proposal").hidden = true;
        $("result").hidden = true;
        setError("");
      } catch (err) { setError(err.message); }
    });
    try {
      const messages = await api("GET", "/api/chat");
      messages.forEach(addMessage);
      const last = messages[messages.length - 1];
      if (last && last.role === "assistant") showProposal(last);
      const withResult = messages.filter((m) => m.result_id).pop();
      if (withResult) await showResult($("result"), withResult.result_id).catch(() => {});
    } catch (err) {
      setError(err.message);
    }
  });
})();
