/* The API page: the operations listed from the app's own OpenAPI schema. */
"use strict";

(() => {
  const { el, api, $, setError } = SP;
  document.addEventListener("DOMContentLoaded", async () => {
    try {
      const schema = await api("GET", "/openapi.json");
      const body = $("operations").querySelector("tbody");
      for (const [path, operations] of Object.entries(schema.paths)) {
        for (const [method, op] of Object.entries(operations)) {
          body.append(el("tr", {}, el("td", { text: method.toUpperCase() }),
            el("td", {}, el("code", { text: path })), el("td", { className: "wrap", text: op.summary || "" })));
        }
      }
    } catch (err) {
      setError(err.message);
    }
  });
})();
