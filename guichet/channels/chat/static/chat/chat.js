/* The customer's chat window: WebSocket first, JSON polling when WebSockets fail.
   Without JavaScript the page still works: the form posts, a link reloads the transcript. */
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root) { return; }
  var STORE = "guichet-chat-token";
  var token = root.dataset.token || "";
  try { if (!token) { token = window.localStorage.getItem(STORE) || ""; } } catch (e) { /* storage off */ }
  var lang = root.dataset.language || "fr";
  var transcript = document.getElementById("chat-transcript");
  var form = document.getElementById("chat-form");
  var textarea = form.querySelector("textarea[name=text]");
  var errorBox = document.getElementById("chat-form-error");
  var note = document.getElementById("chat-connection");
  var seen = {};
  var last = "";
  var socket = null;
  var live = false;
  var polling = null;
  var retry = 1000;
  var counter = 0;

  Array.prototype.forEach.call(transcript.querySelectorAll("li[data-key]"), function (li) {
    seen[li.dataset.key] = true;
    var time = li.querySelector("time");
    if (time && time.getAttribute("datetime") > last) { last = time.getAttribute("datetime"); }
  });

  function saveToken(value) {
    if (!value) { return; }
    token = value;
    root.dataset.token = value;
    try { window.localStorage.setItem(STORE, value); } catch (e) { /* storage off */ }
  }

  function setAvailable(available) {
    document.getElementById("chat-available").hidden = !available;
    document.getElementById("chat-unavailable").hidden = available;
  }

  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  function addLine(line) {
    if (!line || !line.key || seen[line.key]) { return; }
    seen[line.key] = true;
    var empty = document.getElementById("chat-empty");
    if (empty) { empty.remove(); }
    var previous = document.getElementById("chat-latest");
    if (previous) { previous.removeAttribute("id"); }
    var li = document.createElement("li");
    li.className = "chat-line chat-" + line.kind;
    li.dataset.key = line.key;
    li.id = "chat-latest";
    var meta = document.createElement("p");
    meta.className = "chat-meta";
    var author = document.createElement("span");
    author.className = "chat-author";
    author.textContent = line.kind === "inbound" ? root.dataset.you : line.author;
    var time = document.createElement("time");
    time.setAttribute("datetime", line.at);
    time.textContent = line.time;
    meta.append(author, " · ", time);
    var body = document.createElement("p");
    body.className = "chat-text";
    body.textContent = line.text;
    li.append(meta, body);
    transcript.append(li);
    if (line.at > last) { last = line.at; }
    li.scrollIntoView({ block: "nearest" });
  }

  function hideContactFields() {
    var contact = form.querySelector(".chat-contact");
    if (contact) { contact.hidden = true; }
  }

  function fieldValue(name) {
    var field = form.querySelector("[name=" + name + "]");
    return field && !field.closest("[hidden]") ? field.value.trim() : "";
  }

  function sendOverHttp(payload) {
    fetch(root.dataset.sendUrl + "?lang=" + encodeURIComponent(lang), {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Chat-Token": token },
      body: JSON.stringify(payload),
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (!result.ok) { showError(result.data.error); textarea.value = payload.text; return; }
      saveToken(result.data.token);
      result.data.lines.forEach(addLine);
      hideContactFields();
    }).catch(function () {
      showError(root.dataset.sendError);
      textarea.value = payload.text;
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = textarea.value.trim();
    if (!text) { showError(root.dataset.emptyError); textarea.focus(); return; }
    showError("");
    counter += 1;
    var payload = {
      type: "message", text: text, name: fieldValue("name"), email: fieldValue("email"),
      id: Date.now().toString(36) + "-" + counter
    };
    textarea.value = "";
    if (live && socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(payload));
      hideContactFields();
    } else {
      sendOverHttp(payload);
    }
  });

  function poll() {
    var url = root.dataset.pollUrl + "?lang=" + encodeURIComponent(lang) +
      (last ? "&after=" + encodeURIComponent(last) : "");
    fetch(url, { headers: { "X-Chat-Token": token }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        setAvailable(data.available);
        data.lines.forEach(addLine);
      })
      .catch(function () { /* offline: the next poll tries again */ });
  }

  function startPolling() {
    if (polling) { return; }
    note.textContent = root.dataset.pollNote;
    poll();
    polling = window.setInterval(poll, 4000);
  }

  function stopPolling() {
    if (polling) { window.clearInterval(polling); polling = null; }
  }

  function connect() {
    if (!("WebSocket" in window)) { startPolling(); return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + window.location.host + root.dataset.wsPath);
    } catch (e) {
      startPolling();
      return;
    }
    socket.addEventListener("open", function () {
      socket.send(JSON.stringify({ type: "hello", token: token, language: lang }));
    });
    socket.addEventListener("message", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "welcome") {
        live = true;
        retry = 1000;
        stopPolling();
        note.textContent = root.dataset.liveNote;
        setAvailable(data.available);
        data.lines.forEach(addLine);
      } else if (data.type === "session") {
        saveToken(data.token);
      } else if (data.type === "line") {
        addLine(data);
      } else if (data.type === "error") {
        showError(data.message);
      }
    });
    socket.addEventListener("close", function () {
      live = false;
      startPolling();
      window.setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  connect();
})();
