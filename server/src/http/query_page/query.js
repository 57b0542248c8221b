"use strict";
// The query page: posts the query to /graphql (same origin, so the session cookie goes along).
(function () {
  function show(text) {
    document.getElementById("result").textContent = text;
  }
  async function run() {
    let variables = {};
    const raw = document.getElementById("variables").value.trim();
    if (raw !== "") {
      try {
        variables = JSON.parse(raw);
      } catch (e) {
        show("The variables are not JSON: " + e.message);
        return;
      }
    }
    const query = document.getElementById("query").value;
    show("Running…");
    try {
      const response = await fetch("/graphql", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ query: query, variables: variables }),
      });
      const text = await response.text();
      try {
        show(JSON.stringify(JSON.parse(text), null, 2));
      } catch (_) {
        show(response.status + " " + text);
      }
    } catch (e) {
      show("The request failed: " + e.message);
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.getElementById("run").addEventListener("click", run);
    document.getElementById("query").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        run();
      }
    });
  });
})();
