//! The interactive API page at `/api/docs`: one HTML file with its own small script, no
//! outside resources, so it works on a machine without internet access. It reads
//! `/api/v1/openapi.json`, lists every operation by tag with the permission it needs, and
//! sends a request from the page (with a bearer token, or the session cookie and its CSRF
//! token after signing in on the page).

/// The page.
pub const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Covenant platform API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2a44;color:#fff;padding:14px 24px}
header h1{font-size:18px;margin:0}
header p{margin:4px 0 0;color:#c9d2e3}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
.auth{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:12px;margin-bottom:16px}
.auth input{margin-right:8px}
h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #dde1e8;padding-bottom:4px}
details{background:#fff;border:1px solid #dde1e8;border-radius:6px;margin:6px 0}
summary{cursor:pointer;padding:8px 12px;display:flex;gap:10px;align-items:center}
.m{font:bold 12px monospace;padding:2px 6px;border-radius:4px;color:#fff;min-width:52px;text-align:center}
.GET{background:#2f7d4f}.POST{background:#2b5fb4}.PUT{background:#8a5a00}.PATCH{background:#7a3fa0}.DELETE{background:#b43b2b}
.path{font-family:monospace}
.act{margin-left:auto;font-size:12px;color:#5a6478}
.body{padding:8px 12px 12px;border-top:1px solid #eef0f4}
label{display:block;margin:6px 0 2px;font-size:12px;color:#5a6478}
input,textarea{font:13px monospace;border:1px solid #c9cfda;border-radius:4px;padding:4px 6px}
textarea{width:100%;box-sizing:border-box;min-height:90px}
button{background:#2b5fb4;color:#fff;border:0;border-radius:4px;padding:6px 14px;cursor:pointer;margin-top:8px}
pre{background:#0f1420;color:#d7e0f0;padding:8px;border-radius:4px;overflow:auto;max-height:360px}
.empty{color:#5a6478}
</style>
</head>
<body>
<header><h1>Covenant platform API</h1><p>Every operation of <code>/api/v1</code>, with the permission it needs. Requests go from this page to this platform.</p></header>
<main>
<div class="auth">
<b>Credentials</b> — an API token (<code>cvt_…</code>), or sign in for a session:
<div><label>API token</label><input id="token" size="60" placeholder="cvt_…"></div>
<div><label>Username and password</label><input id="user" placeholder="username"><input id="pass" type="password" placeholder="password"><input id="totp" size="8" placeholder="TOTP"><button id="signin">Sign in</button> <span id="who" class="empty">not signed in</span></div>
</div>
<div id="ops"><p class="empty">Loading the API description…</p></div>
</main>
<script>
"use strict";
let csrf = "";
const $ = (id) => document.getElementById(id);
function example(s, doc, depth) {
  if (!s || depth > 4) return null;
  if (s.$ref) return example(doc.components.schemas[s.$ref.split("/").pop()], doc, depth + 1);
  if (s.enum) return s.enum[0];
  if (s.type === "object") {
    const o = {};
    for (const k of (s.required || [])) o[k] = example((s.properties || {})[k], doc, depth + 1);
    return o;
  }
  if (s.type === "array") return [];
  if (s.type === "integer") return s.minimum || 0;
  if (s.type === "boolean") return false;
  if (s.type === "string") return "";
  return null;
}
async function send(method, path, form, out) {
  let url = path;
  const q = new URLSearchParams();
  for (const inp of form.querySelectorAll("input[data-in]")) {
    if (inp.dataset.in === "path") url = url.replace("{" + inp.dataset.name + "}", encodeURIComponent(inp.value));
    else if (inp.value !== "") q.set(inp.dataset.name, inp.value);
  }
  if ([...q].length) url += "?" + q.toString();
  const headers = {};
  const token = $("token").value.trim();
  if (token) headers["Authorization"] = "Bearer " + token;
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const ta = form.querySelector("textarea");
  const init = {method, headers, credentials: "same-origin"};
  if (ta) { headers["Content-Type"] = "application/json"; init.body = ta.value; }
  out.textContent = "…";
  try {
    const r = await fetch(url, init);
    const text = await r.text();
    let shown = text;
    try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) {}
    out.textContent = r.status + " " + r.statusText + "\n" + shown;
  } catch (e) { out.textContent = "request failed: " + e; }
}
$("signin").onclick = async () => {
  const body = {username: $("user").value, password: $("pass").value};
  if ($("totp").value) body.totp = $("totp").value;
  const r = await fetch("/api/v1/auth/login", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body), credentials: "same-origin"});
  const j = await r.json();
  if (r.ok) { csrf = j.csrf_token; $("who").textContent = "signed in as " + j.account.username; }
  else { $("who").textContent = j.error.code + ": " + j.error.message; }
};
fetch("/api/v1/openapi.json").then((r) => r.json()).then((doc) => {
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(item)) {
    (byTag[op.tags[0]] = byTag[op.tags[0]] || []).push({path, method: method.toUpperCase(), op});
  }
  const root = $("ops");
  root.textContent = "";
  for (const [tag, ops] of Object.entries(byTag)) {
    const h = document.createElement("h2"); h.textContent = tag; root.appendChild(h);
    for (const {path, method, op} of ops) {
      const d = document.createElement("details");
      const s = document.createElement("summary");
      const m = document.createElement("span"); m.className = "m " + method; m.textContent = method;
      const p = document.createElement("span"); p.className = "path"; p.textContent = path;
      const t = document.createElement("span"); t.textContent = op.summary;
      const a = document.createElement("span"); a.className = "act"; a.textContent = op["x-covenant-action"] || (op.security.length ? "signed in" : "public");
      s.append(m, p, t, a); d.appendChild(s);
      const b = document.createElement("div"); b.className = "body";
      const desc = document.createElement("p"); desc.textContent = op.description; b.appendChild(desc);
      const form = document.createElement("form");
      form.onsubmit = (e) => { e.preventDefault(); send(method, path, form, out); };
      for (const prm of (op.parameters || [])) {
        if (prm.in === "header") continue;
        const l = document.createElement("label"); l.textContent = prm.name + " (" + prm.in + ")" + (prm.description ? " — " + prm.description : "");
        const i = document.createElement("input"); i.dataset.in = prm.in; i.dataset.name = prm.name; i.size = 40;
        form.append(l, i);
      }
      if (op.requestBody) {
        const l = document.createElement("label"); l.textContent = "body (application/json)";
        const ta = document.createElement("textarea");
        ta.value = JSON.stringify(example(op.requestBody.content["application/json"].schema, doc, 0), null, 2);
        form.append(l, ta);
      }
      const btn = document.createElement("button"); btn.textContent = "Send"; form.appendChild(btn);
      const out = document.createElement("pre"); out.textContent = "No request sent yet.";
      b.append(form, out); d.appendChild(b); root.appendChild(d);
    }
  }
}).catch((e) => { $("ops").textContent = "Cannot load /api/v1/openapi.json: " + e; });
</script>
</body>
</html>
"##;
