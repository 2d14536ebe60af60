/* The agent's chat console: live lines over the WebSocket, replies sent on it, a heartbeat that
   keeps the agent counted as available. Without it the page works by reloading. */
(function () {
  "use strict";
  var root = document.getElementById("console");
  if (!root || !("WebSocket" in window)) { return; }
  var selected = parseInt(root.dataset.selected || "0", 10);
  var list = document.getElementById("console-list");
  var transcript = document.getElementById("console-transcript");
  var form = document.getElementById("console-form");
  var errorBox = document.getElementById("console-error");
  var note = document.getElementById("console-connection");
  var seen = {};
  var socket = null;
  var heartbeat = null;
  var retry = 1000;
  var counter = 0;

  if (transcript) {
    Array.prototype.forEach.call(transcript.querySelectorAll("li[data-key]"), function (li) {
      seen[li.dataset.key] = true;
    });
  }

  function showError(message) {
    if (!errorBox) { return; }
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  function appendLine(line) {
    if (seen[line.key]) { return; }
    seen[line.key] = true;
    var previous = document.getElementById("console-latest");
    if (previous) { previous.removeAttribute("id"); }
    var li = document.createElement("li");
    li.className = "chat-line chat-" + line.kind;
    li.dataset.key = line.key;
    li.id = "console-latest";
    var meta = document.createElement("p");
    meta.className = "chat-meta";
    var author = document.createElement("span");
    author.className = "chat-author";
    author.textContent = line.author;
    var time = document.createElement("time");
    time.setAttribute("datetime", line.at);
    time.textContent = line.time;
    meta.append(author, " · ", time);
    var body = document.createElement("p");
    body.className = "chat-text";
    body.textContent = line.text;
    li.append(meta, body);
    transcript.append(li);
    li.scrollIntoView({ block: "nearest" });
  }

  function touchList(line) {
    var empty = document.getElementById("console-empty");
    if (empty) { empty.remove(); }
    var item = list.querySelector('li[data-number="' + line.number + '"]');
    if (!item) {
      item = document.createElement("li");
      item.dataset.number = String(line.number);
      var link = document.createElement("a");
      link.href = "?c=" + line.number;
      link.textContent = "#" + line.number + " " + (line.customer || "");
      var snippet = document.createElement("span");
      snippet.className = "console-snippet";
      item.append(link, snippet);
    }
    item.querySelector(".console-snippet").textContent = line.text.slice(0, 80);
    list.prepend(item);
    if (line.number !== selected && line.kind === "inbound" && !item.classList.contains("console-unread")) {
      item.classList.add("console-unread");
      var badge = document.createElement("span");
      badge.className = "visually-hidden";
      badge.textContent = " (" + root.dataset.newLabel + ")";
      item.querySelector("a").append(badge);
    }
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      if (!socket || socket.readyState !== WebSocket.OPEN) { return; }  // plain POST instead
      event.preventDefault();
      var textarea = form.querySelector("textarea[name=text]");
      var text = textarea.value.trim();
      if (!text) { return; }
      counter += 1;
      socket.send(JSON.stringify({ type: "reply", number: selected, text: text, id: counter }));
      textarea.value = "";
      showError("");
    });
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + root.dataset.wsPath);
    socket.addEventListener("message", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "ready") {
        retry = 1000;
        note.textContent = root.dataset.liveNote;
        root.dataset.live = "1";
      } else if (data.type === "line") {
        touchList(data);
        if (data.number === selected && transcript) { appendLine(data); }
      } else if (data.type === "error") {
        showError(data.message);
      }
    });
    socket.addEventListener("close", function () {
      root.dataset.live = "0";
      note.textContent = root.dataset.offlineNote;
      window.setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  heartbeat = window.setInterval(function () {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send('{"type":"ping"}'); }
  }, 30000);
  connect();
})();
