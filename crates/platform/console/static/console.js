// The console's own script: small, optional (every page works without it), no libraries.
// - times in the account's time zone (or the browser's) and language;
// - confirmation before destructive actions (forms with data-confirm);
// - the language switcher submits on change;
// - sortable tables (table.sortable: click or Enter on a column header);
// - live regions (data-live) refreshed from their URL every few seconds.
(function () {
  "use strict";
  var root = document.documentElement;
  var lang = root.lang || "en";
  var zone = root.dataset.tz || undefined;

  function formatTimes(scope) {
    var fmt;
    try {
      fmt = new Intl.DateTimeFormat(lang, {
        year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit",
        timeZone: zone, timeZoneName: "short"
      });
    } catch (e) {
      // An unknown zone: the browser's own.
      fmt = new Intl.DateTimeFormat(lang, {
        year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
      });
    }
    scope.querySelectorAll("time[data-ms]").forEach(function (t) {
      var ms = Number(t.dataset.ms);
      if (!isNaN(ms) && ms > 0) { t.textContent = fmt.format(new Date(ms)); }
    });
  }

  function confirmations(scope) {
    scope.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (ev) {
        if (!window.confirm(f.dataset.confirm)) { ev.preventDefault(); }
      });
    });
  }

  function autosubmit(scope) {
    scope.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
  }

  function sortable(scope) {
    scope.querySelectorAll("table.sortable").forEach(function (table) {
      var heads = table.querySelectorAll("thead th");
      heads.forEach(function (th, col) {
        th.tabIndex = 0;
        th.setAttribute("aria-sort", "none");
        var sort = function () {
          var asc = th.getAttribute("aria-sort") !== "ascending";
          heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
          th.setAttribute("aria-sort", asc ? "ascending" : "descending");
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          var key = function (r) {
            var c = r.cells[col];
            if (!c) { return ""; }
            return c.dataset.sort !== undefined ? c.dataset.sort : c.textContent.trim();
          };
          rows.sort(function (a, b) {
            var x = key(a), y = key(b);
            var nx = Number(x), ny = Number(y);
            var r = (!isNaN(nx) && !isNaN(ny) && x !== "" && y !== "") ? nx - ny : x.localeCompare(y, lang);
            return asc ? r : -r;
          });
          rows.forEach(function (r) { body.appendChild(r); });
        };
        th.addEventListener("click", sort);
        th.addEventListener("keydown", function (ev) {
          if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sort(); }
        });
      });
    });
  }

  function live(scope) {
    scope.querySelectorAll("[data-live]").forEach(function (el) {
      var url = el.dataset.live;
      var busy = false;
      window.setInterval(function () {
        if (busy || document.hidden) { return; }
        busy = true;
        fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (html !== null) {
              el.innerHTML = html;
              formatTimes(el);
              el.dispatchEvent(new CustomEvent("covenant:refreshed", { bubbles: true }));
            }
          })
          .catch(function () {})
          .then(function () { busy = false; });
      }, 3000);
    });
  }

  function start() {
    formatTimes(document);
    confirmations(document);
    autosubmit(document);
    sortable(document);
    live(document);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
