// The console's own script: small, optional (every page works without it), no libraries.
// - times in the account's time zone (or the browser's) and language;
// - confirmation before destructive actions (forms with data-confirm);
// - the language switcher submits on change;
// - sortable tables (table.sortable: click or Enter on a column header);
// - live regions (data-live) refreshed from their URL every few seconds;
// - source editors (textarea[data-editor]) with line numbers and colours.
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

  // Source editors (textarea[data-editor]): line numbers and Rust colours drawn under the
  // text area, which stays the real input (and all there is without this script). Lines with
  // findings (data-flagged) are marked; links a.goto-line[data-line] move to their line.
  var RUST_WORDS = /\b(as|break|const|continue|crate|else|enum|extern|false|fn|for|if|impl|in|let|loop|match|mod|move|mut|pub|ref|return|self|Self|static|struct|super|trait|true|type|unsafe|use|where|while|Some|None|Ok|Err|Result|Option|String|Vec)\b/;
  var TOKENS = /(\/\/[^\n]*)|("(?:[^"\\]|\\.)*")|(\b[A-Za-z_][A-Za-z0-9_]*!)|(\b\d[\d_]*\b)|(\b[A-Za-z_][A-Za-z0-9_]*\b)/g;

  function escapeHtml(t) {
    return t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function highlight(src) {
    return escapeHtml(src).replace(TOKENS, function (m, comment, str, mac, num, word) {
      if (comment) { return '<span class="tk-comment">' + comment + "</span>"; }
      if (str) { return '<span class="tk-string">' + str + "</span>"; }
      if (mac) { return '<span class="tk-macro">' + mac + "</span>"; }
      if (num) { return '<span class="tk-number">' + num + "</span>"; }
      if (word && RUST_WORDS.test(word)) { return '<span class="tk-keyword">' + word + "</span>"; }
      return m;
    });
  }

  function editors(scope) {
    scope.querySelectorAll("textarea[data-editor]").forEach(function (ta) {
      var flagged = (ta.dataset.flagged || "").split(",").filter(Boolean).map(Number);
      var box = document.createElement("div");
      box.className = "editor";
      var gutter = document.createElement("pre");
      gutter.className = "editor-gutter";
      gutter.setAttribute("aria-hidden", "true");
      var layer = document.createElement("pre");
      layer.className = "editor-layer";
      layer.setAttribute("aria-hidden", "true");
      ta.parentNode.insertBefore(box, ta);
      box.appendChild(gutter);
      var stack = document.createElement("div");
      stack.className = "editor-stack";
      box.appendChild(stack);
      stack.appendChild(layer);
      stack.appendChild(ta);
      ta.wrap = "off";
      var draw = function () {
        var lines = ta.value.split("\n").length;
        var out = [];
        for (var i = 1; i <= lines; i++) {
          out.push(flagged.indexOf(i) >= 0 ? '<span class="flagged">' + i + "</span>" : String(i));
        }
        gutter.innerHTML = out.join("\n") + "\n";
        layer.innerHTML = highlight(ta.value) + "\n";
      };
      var sync = function () {
        layer.scrollTop = ta.scrollTop;
        layer.scrollLeft = ta.scrollLeft;
        gutter.scrollTop = ta.scrollTop;
      };
      ta.addEventListener("input", draw);
      ta.addEventListener("scroll", sync);
      ta.addEventListener("keydown", function (ev) {
        if (ev.key === "Tab" && !ev.shiftKey && !ev.ctrlKey && !ev.altKey) {
          // Four spaces; Shift+Tab and Escape then Tab still leave the field.
          ev.preventDefault();
          var a = ta.selectionStart, b = ta.selectionEnd;
          ta.value = ta.value.slice(0, a) + "    " + ta.value.slice(b);
          ta.selectionStart = ta.selectionEnd = a + 4;
          draw();
        }
      });
      draw();
      document.querySelectorAll("a.goto-line[data-line]").forEach(function (link) {
        link.addEventListener("click", function (ev) {
          ev.preventDefault();
          var n = Number(link.dataset.line);
          var lines = ta.value.split("\n");
          var at = 0;
          for (var i = 0; i < n - 1 && i < lines.length; i++) { at += lines[i].length + 1; }
          ta.focus();
          ta.setSelectionRange(at, at + (lines[n - 1] || "").length);
          var lh = parseFloat(window.getComputedStyle(ta).lineHeight) || 18;
          ta.scrollTop = Math.max(0, (n - 5) * lh);
          sync();
        });
      });
    });
  }

  function start() {
    formatTimes(document);
    editors(document);
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
