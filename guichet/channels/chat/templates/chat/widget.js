/* Guichet chat widget: one button, "Talk to a person", that opens Guichet's chat in a frame.
   Served by Guichet itself; loads nothing from anywhere else. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.guichetChatWidget) { return; }
  window.guichetChatWidget = true;
  var origin = new URL(script.src, document.baseURI).origin;
  var labels = {{ labels|safe }};
  var lang = (document.documentElement.lang || navigator.language || "{{ default }}").slice(0, 2).toLowerCase();
  if (!labels[lang]) { lang = "{{ default }}"; }
  var text = labels[lang];

  function start() {
    var button = document.createElement("button");
    button.type = "button";
    button.id = "guichet-chat-launcher";
    button.textContent = text.open;
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "guichet-chat-frame");
    Object.assign(button.style, {
      position: "fixed", right: "1rem", bottom: "1rem", zIndex: "2147483000",
      padding: ".7rem 1.1rem", font: "600 1rem/1.2 system-ui, sans-serif",
      color: "#fff", background: "#1d4f91", border: "2px solid #fff", borderRadius: "999px",
      boxShadow: "0 2px 8px rgba(0,0,0,.35)", cursor: "pointer"
    });
    var frame = null;
    button.addEventListener("click", function () {
      if (!frame) {
        frame = document.createElement("iframe");
        frame.id = "guichet-chat-frame";
        frame.title = text.title;
        frame.src = origin + "/chat/?embed=1&lang=" + encodeURIComponent(lang);
        Object.assign(frame.style, {
          position: "fixed", right: "1rem", bottom: "4.5rem", zIndex: "2147483000",
          width: "min(26rem, calc(100vw - 2rem))", height: "min(38rem, calc(100vh - 6rem))",
          border: "1px solid #5b6470", borderRadius: "8px", background: "#fff",
          boxShadow: "0 4px 18px rgba(0,0,0,.3)"
        });
        document.body.appendChild(frame);
      } else {
        frame.hidden = !frame.hidden;
      }
      var open = !frame.hidden;
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.textContent = open ? text.close : text.open;
      if (open) { frame.focus(); }
    });
    document.body.appendChild(button);
  }
  if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }
})();
