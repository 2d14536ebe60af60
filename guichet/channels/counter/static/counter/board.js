// The display board: polls its JSON state every few seconds and redraws the called numbers.
// Without JavaScript the page refreshes itself (a <noscript> meta refresh) and shows the same.
(function () {
  "use strict";
  var root = document.getElementById("board");
  if (!root) return;
  var url = root.getAttribute("data-state-url");
  var body = document.getElementById("board-called");
  var waiting = document.getElementById("board-waiting");
  var last = "";

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function draw(state) {
    var key = JSON.stringify(state);
    if (key === last) return;
    last = key;
    while (body.firstChild) body.removeChild(body.firstChild);
    if (!state.called.length) {
      var empty = document.createElement("tr");
      var td = document.createElement("td");
      td.colSpan = 2;
      td.textContent = root.getAttribute("data-empty");
      empty.appendChild(td);
      body.appendChild(empty);
    }
    state.called.forEach(function (t) {
      var row = document.createElement("tr");
      cell(row, t.code);
      cell(row, t.desk);
      body.appendChild(row);
    });
    waiting.textContent = waiting.getAttribute("data-template")
      .replace("WAITING", String(state.waiting))
      .replace("MINUTES", String(state.estimate_minutes));
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) { if (state) draw(state); })
      .catch(function () {})
      .then(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 2000);
})();
