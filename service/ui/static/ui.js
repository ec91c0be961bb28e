// casematch review page: progressive enhancement only; every page works without it.
// 1. An automated-promotion run page polls its progress and updates in place.
// 2. A comparison page moves keyboard focus to the comparison's heading.
"use strict";
(function () {
  function text(tag, value) {
    var el = document.createElement(tag);
    el.textContent = value;
    return el;
  }
  function renderRun(root, run) {
    var bar = document.getElementById("run-progress");
    bar.max = run.total || 1;
    bar.value = run.total ? run.done : (run.finished ? 1 : 0);
    bar.textContent = run.done + " of " + run.total;
    document.getElementById("run-status").textContent =
      run.done + " of " + run.total + " items; " + (run.finished ? "finished" : "running");
    var states = document.getElementById("run-by-state");
    states.replaceChildren();
    Object.keys(run.by_state).forEach(function (s) { states.appendChild(text("li", s + ": " + run.by_state[s])); });
    if (run.refused) { states.appendChild(text("li", "refused: " + run.refused)); }
    var body = document.getElementById("run-outcomes");
    body.replaceChildren();
    run.outcomes.forEach(function (o) {
      var tr = document.createElement("tr");
      var td = document.createElement("td");
      var a = text("a", o.item_id);
      a.href = "/ui/items/" + encodeURIComponent(o.item_id) +
        "?organization=" + encodeURIComponent(o.organization);
      td.appendChild(a);
      tr.appendChild(td);
      tr.appendChild(text("td", o.state));
      tr.appendChild(text("td", o.detail));
      body.appendChild(tr);
    });
    root.dataset.finished = run.finished ? "true" : "false";
  }
  function poll(root) {
    if (root.dataset.finished === "true") { return; }
    fetch(root.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (run) { renderRun(root, run); if (!run.finished) { setTimeout(function () { poll(root); }, 700); } })
      .catch(function () { document.getElementById("run-status").textContent += " (progress unavailable: reload the page)"; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var run = document.getElementById("run");
    if (run) { poll(run); }
    if (window.location.hash === "#comparison-h") {
      var h = document.getElementById("comparison-h");
      if (h) { h.focus(); }
    }
  });
})();
