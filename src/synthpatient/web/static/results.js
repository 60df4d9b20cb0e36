/* The results page: one result (/results/ID), or the list of this session's results. */
"use strict";

(() => {
  const { el, api, $, setError, showResult } = SP;
  document.addEventListener("DOMContentLoaded", async () => {
    const match = window.location.pathname.match(/^\/results\/([^/]+)$/);
    try {
      if (match) {
        await showResult($("result"), decodeURIComponent(match[1]));
        return;
      }
      const results = await api("GET", "/api/results");
      const list = $("results");
      if (!results.length) {
        $("result-list-intro").textContent = "Nothing yet in this session: ask for a cohort or use your table.";
      }
      for (const r of results) {
        list.append(el("li", {}, el("a", { href: `/results/${encodeURIComponent(r.id)}`, text: r.title })));
      }
      $("result-list").hidden = false;
    } catch (err) {
      setError(err.message);
    }
  });
})();
