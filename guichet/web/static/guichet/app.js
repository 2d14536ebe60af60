// Keyboard shortcuts of the agent interface. Loaded as a static file (strict CSP: no inline JS).
(function () {
  "use strict";

  function isTyping(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#inbox-table tbody tr.inbox-row"));
  }

  var selected = -1;

  function select(index) {
    var all = rows();
    if (!all.length) return;
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (row) { row.classList.remove("is-selected"); });
    var row = all[index];
    row.classList.add("is-selected");
    var link = row.querySelector("a.row-link");
    if (link) link.focus();
    selected = index;
  }

  function currentIndex() {
    var all = rows();
    var focused = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("tr.inbox-row") : null;
    var index = focused ? all.indexOf(focused) : -1;
    return index >= 0 ? index : selected;
  }

  function focusEditor(name) {
    var editor = document.querySelector('textarea[data-editor="' + name + '"]');
    if (editor) {
      editor.focus();
      editor.scrollIntoView({ block: "center" });
    }
  }

  function toggleHelp() {
    var help = document.getElementById("shortcuts-help");
    if (!help) return;
    help.open = !help.open;
    if (help.open) help.querySelector("summary").focus();
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    // Ctrl+Enter (or Cmd+Enter) sends the reply or note being written.
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target && target.matches &&
        target.matches("textarea[data-editor]")) {
      event.preventDefault();
      var form = target.form;
      if (form) {
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(target)) return;
    switch (event.key) {
      case "j":
        select(currentIndex() + 1);
        break;
      case "k":
        select(currentIndex() < 0 ? 0 : currentIndex() - 1);
        break;
      case "o":
      case "Enter": {
        var index = currentIndex();
        var all = rows();
        if (index < 0 || !all[index]) return;
        if (event.key === "Enter" && document.activeElement && document.activeElement.tagName === "A") return;
        window.location.href = all[index].getAttribute("data-href");
        break;
      }
      case "/": {
        var search = document.querySelector('[data-shortcut-target="search"]');
        if (!search) return;
        search.focus();
        search.select();
        break;
      }
      case "c": {
        var link = document.querySelector('a[data-shortcut="c"]');
        if (!link) return;
        window.location.href = link.href;
        break;
      }
      case "r":
        if (!document.querySelector('textarea[data-editor="reply"]')) return;
        focusEditor("reply");
        break;
      case "n":
        if (!document.querySelector('textarea[data-editor="note"]')) return;
        focusEditor("note");
        break;
      case "?":
        toggleHelp();
        break;
      default:
        return;
    }
    event.preventDefault();
  });
})();

// Failed htmx actions: every 4xx/5xx answer htmx does not swap, a network failure or a timeout is
// told in the live region of base.html, in the page's language (the texts are its data-*).
(function () {
  "use strict";

  function region() {
    return document.getElementById("live-error");
  }

  function say(text) {
    var live = region();
    if (!live) return;
    live.textContent = "";
    // A fresh insertion after emptying: the same text twice is announced twice.
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  // The text of the error a Guichet fragment or page carries, parsed inertly (no script runs).
  function errorText(xhr) {
    var type = (xhr.getResponseHeader && xhr.getResponseHeader("Content-Type")) || "";
    if (type.indexOf("text/html") !== 0 || !xhr.responseText) return "";
    var html = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var alert = html.querySelector('[data-error-text], [role="alert"]');
    return alert ? alert.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function messageFor(xhr) {
    var live = region();
    var status = xhr ? xhr.status : 0;
    // Guichet's own answers (a refusal, "not saved: the database is unavailable") say it best.
    var text = xhr ? errorText(xhr) : "";
    if (text) return text;
    if (status === 404) return live.dataset.notFound;
    if (status === 403) return live.dataset.forbidden;
    if (status >= 400 && status < 500) return live.dataset.refused;
    return live.dataset.server;
  }

  document.addEventListener("htmx:beforeRequest", function () {
    var live = region();
    if (live) live.textContent = "";
  });
  document.addEventListener("htmx:responseError", function (event) {
    if (region()) say(messageFor(event.detail.xhr));
  });
  document.addEventListener("htmx:sendError", function () {
    var live = region();
    if (live) say(live.dataset.network);
  });
  document.addEventListener("htmx:timeout", function () {
    var live = region();
    if (live) say(live.dataset.timeout);
  });
})();
