// ProdLens dashboard: developer names link to their profile, and the page reloads when the
// store changes. The server streams server-sent events from /api/events: "hello" with the
// current data generation on every (re)connection, "change" when new data was committed.
(function () {
  "use strict";
  // Developer rows of the report's tables link to /developers/{id}, keeping the filters.
  var params = new URLSearchParams(window.location.search);
  params.delete("developer");
  var qs = params.toString();
  document.querySelectorAll("tr[data-developer]").forEach(function (tr) {
    var name = tr.getAttribute("data-developer");
    var cell = tr.cells[0];
    if (!name || !cell || cell.querySelector("a")) return;
    var a = document.createElement("a");
    a.href = "/developers/" + encodeURIComponent(name) + (qs ? "?" + qs : "");
    a.textContent = cell.textContent;
    cell.textContent = "";
    cell.appendChild(a);
  });

  var status = document.getElementById("live-status");
  var meta = document.querySelector('meta[name="prodlens-generation"]');
  var shown = meta ? meta.getAttribute("content") : null;
  function say(text) {
    if (status) status.textContent = text;
  }
  if (!window.EventSource) {
    say("no live updates");
    return;
  }
  var source = new EventSource("/api/events");
  function reload() {
    say("updating…");
    source.close();
    window.location.reload();
  }
  source.addEventListener("hello", function (e) {
    var g = null;
    try {
      g = String(JSON.parse(e.data).generation);
    } catch (err) {
      g = null;
    }
    // Data changed while the connection was down: show the new data.
    if (shown !== null && g !== null && g !== shown) {
      reload();
      return;
    }
    say("live");
  });
  source.addEventListener("change", reload);
  source.onerror = function () {
    say("reconnecting…");
  };
})();
