//! Guided forms that open proposals — a network for the consortium, a chain on a network, a
//! contract installed, frozen, unfrozen or revoked on a chain — and the page of a long
//! operation (deploying nodes, creating a chain) with its progress, refreshed live.

use axum::{
    extract::{Multipart, Path, rejection::FormRejection},
    http::{Method, StatusCode},
    response::{IntoResponse, Response},
};
use covenant_platform::action as a;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Fields, done, refused};
use crate::{
    gateway::{ApiError, enc},
    layout::{self, Nav, badge, confirm_button, csrf, pretty, text, time},
    viewer::Viewer,
};

type Form = Result<axum::Form<Vec<(String, String)>>, FormRejection>;

/// The largest contract module the upload form takes (the API's own limit is 16 MiB for the
/// whole request, base64 included).
pub const MAX_MODULE_BYTES: usize = 11 * 1024 * 1024;

pub(super) async fn propose(
    v: &Viewer,
    csrf_token: Option<&str>,
    consortium: &str,
    kind: &str,
    params: Value,
) -> Response {
    let w = v.with_csrf(csrf_token);
    match w
        .send(
            Method::POST,
            &format!("/api/v1/consortia/{}/proposals", enc(consortium)),
            &json!({"kind": kind, "params": params}),
        )
        .await
    {
        Ok(p) => done(
            &format!("/proposals/{}", enc(p["id"].as_str().unwrap_or_default())),
            "proposed",
        ),
        Err(e) => refused(v, &e),
    }
}

/// The form proposing a network: a name, how long it lives, and nodes per member org.
pub fn network_form(v: &Viewer, consortium_id: &str, members: &[Value]) -> Markup {
    let l = v.lang;
    html! {
        section.card {
            h2 { (l.t("propose-network")) }
            p.hint { (l.t("propose-network-hint")) }
            form method="post" action={"/consortia/" (enc(consortium_id)) "/networks"} {
                (csrf(v))
                div.field {
                    label for="n-name" { (l.t("name")) }
                    input #n-name name="name" type="text" required pattern="[a-z0-9-]{1,32}" maxlength="32" aria-describedby="n-name-hint";
                    p.hint #n-name-hint { (l.t("network-name-hint")) }
                }
                div.field {
                    label for="n-days" { (l.t("valid-days")) }
                    input #n-days name="days" type="number" min="1" max="3650" value="365";
                }
                fieldset.checks {
                    legend { (l.t("nodes-per-org")) }
                    @for m in members {
                        @let org = m["org_id"].as_str().unwrap_or_default();
                        div.field {
                            label for={"n-org-" (org)} { (text(&m["name"])) " (" (org) ")" }
                            input id={"n-org-" (org)} name={"nodes." (org)} type="number" min="0" max="8" value="1";
                        }
                    }
                }
                button.primary type="submit" { (l.t("propose")) }
            }
        }
    }
}

/// `POST /consortia/{id}/networks`.
pub async fn propose_network(
    v: Viewer,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let nodes: Vec<Value> =
        f.0.iter()
            .filter_map(|(k, val)| {
                let org = k.strip_prefix("nodes.")?;
                let count: u32 = val.trim().parse().ok()?;
                (count > 0).then(|| json!({"org_id": org, "count": count}))
            })
            .collect();
    let days: u32 = f.get("days").parse().unwrap_or(365);
    let params = json!({"name": f.get("name"), "nodes": nodes, "days": days});
    Ok(propose(&v, f.csrf(), &id, "network.create", params).await)
}

/// The form proposing a chain on a network.
pub fn chain_form(v: &Viewer, network: &Value) -> Markup {
    let l = v.lang;
    let nodes = network["nodes"].as_array().cloned().unwrap_or_default();
    let mut orgs: Vec<String> = nodes
        .iter()
        .filter_map(|n| n["org_id"].as_str().map(str::to_string))
        .collect();
    orgs.sort();
    orgs.dedup();
    let id = network["id"].as_str().unwrap_or_default();
    html! {
        section.card {
            h2 { (l.t("propose-chain")) }
            p.hint { (l.t("propose-chain-hint")) }
            form method="post" action={"/networks/" (enc(id)) "/chains"} {
                (csrf(v))
                div.field {
                    label for="c-id" { (l.t("chain-id")) }
                    input #c-id name="chain_id" type="text" required pattern="[a-z0-9-]{1,32}" maxlength="32";
                }
                div.field {
                    label for="c-consensus" { (l.t("consensus")) }
                    select #c-consensus name="consensus" {
                        option value="tbft" selected { "TBFT — " (l.t("consensus-tbft")) }
                        option value="raft" { "Raft — " (l.t("consensus-raft")) }
                        option value="solo" { "Solo — " (l.t("consensus-solo")) }
                    }
                }
                fieldset.checks {
                    legend { (l.t("member-orgs")) }
                    @for o in &orgs {
                        div.check {
                            input type="checkbox" id={"c-org-" (o)} name="orgs" value=(o) checked;
                            label for={"c-org-" (o)} { code { (o) } }
                        }
                    }
                }
                fieldset.checks {
                    legend { (l.t("chain-policies")) }
                    p.hint { (l.t("chain-policies-hint")) }
                    @for (resource, default_rule) in covenant_types::config::resource::DEFAULTS {
                        @let fid = format!("c-pol-{}", resource.replace('.', "-"));
                        div.field {
                            label for=(fid) { code { (resource) } }
                            select id=(fid) name={"policy." (resource)} {
                                option value="" selected { (l.ta("policy-default", &[("rule", default_rule.into())])) }
                                @for rule in ["ANY", "MAJORITY", "ALL", "OWNER"] {
                                    @if rule != default_rule { option value=(rule) { (rule) } }
                                }
                            }
                        }
                    }
                }
                fieldset.checks {
                    legend { (l.t("consensus-nodes")) }
                    @for n in &nodes {
                        @let nid = n["id"].as_str().unwrap_or_default();
                        div.check {
                            input type="checkbox" id={"c-node-" (nid)} name="nodes" value=(nid) checked;
                            label for={"c-node-" (nid)} { (text(&n["name"])) " " span.muted { "(" (text(&n["org_id"])) ")" } }
                        }
                    }
                }
                button.primary type="submit" { (l.t("propose")) }
            }
        }
    }
}

/// `POST /networks/{id}/chains`.
pub async fn propose_chain(
    v: Viewer,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let net = v.get(&format!("/api/v1/networks/{}", enc(&id))).await?;
    let consortium = net["consortium_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let policies: Vec<Value> = f
        .0
        .iter()
        .filter_map(|(k, rule)| {
            let resource = k.strip_prefix("policy.")?;
            (!rule.trim().is_empty()).then(|| json!({"resource": resource, "rule": rule.trim()}))
        })
        .collect();
    let params = json!({
        "chain_id": f.get("chain_id"),
        "network_id": id,
        "orgs": f.all("orgs"),
        "consensus": f.get("consensus"),
        "nodes": f.all("nodes"),
        "policies": policies,
    });
    Ok(propose(&v, f.csrf(), &consortium, "chain.create", params).await)
}

/// The form uploading a contract module to propose installing it, and the governed actions on
/// each installed contract.
pub fn contracts_forms(v: &Viewer, chain_id: &str, contracts: &[Value]) -> Markup {
    let l = v.lang;
    if !v.may(a::CONTRACT_MANAGE) {
        return html! {};
    }
    html! {
        section.card {
            h2 { (l.t("propose-contract")) }
            p.hint { (l.t("propose-contract-hint")) }
            p { a.button.secondary href={"/chains/" (enc(chain_id)) "/contracts/source"} { (l.t("write-in-rust")) } }
            form method="post" action={"/chains/" (enc(chain_id)) "/contracts"} enctype="multipart/form-data" {
                (csrf(v))
                div.field {
                    label for="k-name" { (l.t("name")) }
                    input #k-name name="name" type="text" required pattern="[a-z][a-z0-9_]{0,31}" maxlength="32";
                }
                div.field {
                    label for="k-version" { (l.t("version")) span.hint { " " (l.t("optional")) } }
                    input #k-version name="version" type="text" maxlength="32";
                }
                div.field {
                    label for="k-module" { (l.t("wasm-module")) }
                    input #k-module name="module" type="file" accept=".wasm,application/wasm" required;
                }
                div.field.check {
                    input #k-upgrade name="upgrade" type="checkbox" value="true";
                    label for="k-upgrade" { (l.t("as-upgrade")) }
                }
                button.primary type="submit" name="intent" value="propose" { (l.t("propose")) }
                " "
                button.secondary type="submit" name="intent" value="check" { (l.t("check-only")) }
            }
            @if !contracts.is_empty() {
                h3 { (l.t("contract-actions")) }
                table {
                    thead { tr { th scope="col" { (l.t("name")) } th scope="col" { (l.t("state")) } th scope="col" { span.sr-only { (l.t("actions")) } } } }
                    tbody { @for k in contracts {
                        @let name = k["name"].as_str().unwrap_or_default();
                        @let status = k["status"].as_str().unwrap_or("active");
                        @if !name.starts_with("sys.") {
                            tr {
                                td { code { (name) } }
                                td { (badge(l, status)) }
                                td.actions {
                                    @if status == "active" {
                                        (confirm_button(v, &format!("/chains/{}/contracts/{}/freeze", enc(chain_id), enc(name)), &l.t("freeze"), &l.ta("confirm-freeze", &[("name", name.into())]), true))
                                    } @else if status == "frozen" {
                                        (confirm_button(v, &format!("/chains/{}/contracts/{}/unfreeze", enc(chain_id), enc(name)), &l.t("unfreeze"), &l.ta("confirm-unfreeze", &[("name", name.into())]), false))
                                    }
                                    @if status != "revoked" {
                                        " " (confirm_button(v, &format!("/chains/{}/contracts/{}/revoke", enc(chain_id), enc(name)), &l.t("revoke"), &l.ta("confirm-revoke-contract", &[("name", name.into())]), true))
                                    }
                                }
                            }
                        }
                    } }
                }
            }
        }
    }
}

pub(super) async fn consortium_of_chain(v: &Viewer, chain: &str) -> Result<String, Response> {
    let c = v.get(&format!("/api/v1/chains/{}", enc(chain))).await?;
    Ok(c["consortium_id"].as_str().unwrap_or_default().to_string())
}

/// `POST /chains/{id}/contracts` (multipart: the module file).
pub async fn propose_contract(
    v: Viewer,
    Path(chain): Path<String>,
    mut parts: Multipart,
) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut module: Option<Vec<u8>> = None;
    let too_big = || {
        refused(
            &v,
            &ApiError::console(413, "MODULE_TOO_LARGE", l.t("module-too-large")),
        )
    };
    loop {
        match parts.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == "module" {
                    let bytes = field.bytes().await.map_err(|_| too_big())?;
                    if bytes.len() > MAX_MODULE_BYTES {
                        return Err(too_big());
                    }
                    module = Some(bytes.to_vec());
                } else {
                    let value = field.text().await.unwrap_or_default();
                    fields.push((name, value));
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err(refused(
                    &v,
                    &ApiError::console(400, "FORM_INVALID", e.body_text()),
                ));
            }
        }
    }
    let f = Fields(fields);
    let Some(module) = module.filter(|m| !m.is_empty()) else {
        return Err(refused(
            &v,
            &ApiError::console(400, "MODULE_MISSING", l.t("module-missing")),
        ));
    };
    if f.get("intent") == "check" {
        return check_page(&v, &chain, f.csrf(), &module).await;
    }
    let consortium = consortium_of_chain(&v, &chain).await?;
    let version = Some(f.get("version")).filter(|s| !s.is_empty());
    let kind = if f.get("upgrade") == "true" {
        "contract.upgrade"
    } else {
        "contract.install"
    };
    let params = json!({
        "chain_id": chain,
        "name": f.get("name"),
        "version": version,
        "code": covenant_platform::time::b64(&module),
    });
    Ok(propose(&v, f.csrf(), &consortium, kind, params).await)
}

/// `POST /chains/{id}/contracts/{name}/{freeze|unfreeze|revoke}`.
pub async fn propose_contract_action(
    v: Viewer,
    Path((chain, name, act)): Path<(String, String, String)>,
    form: Form,
) -> Result<Response, Response> {
    v.me()?;
    let kind = match act.as_str() {
        "freeze" => "contract.freeze",
        "unfreeze" => "contract.unfreeze",
        "revoke" => "contract.revoke",
        _ => return Err(layout::not_found(&v)),
    };
    let f = Fields::from(form);
    let consortium = consortium_of_chain(&v, &chain).await?;
    Ok(propose(
        &v,
        f.csrf(),
        &consortium,
        kind,
        json!({"chain_id": chain, "name": name}),
    )
    .await)
}

fn operation_body(v: &Viewer, o: &Value) -> Markup {
    let l = v.lang;
    let step = o["step"].as_i64().unwrap_or_default();
    let steps = o["steps"].as_i64().unwrap_or_default().max(1);
    html! {
        section.card {
            dl.facts {
                dt { (l.t("state")) } dd { (badge(l, o["state"].as_str().unwrap_or_default())) }
                dt { (l.t("kind")) } dd { (layout::label(l, "proposal-kind", o["kind"].as_str().unwrap_or_default())) }
                dt { (l.t("target")) } dd { code { (text(&o["target"])) } }
                dt { (l.t("progress")) } dd {
                    progress max=(steps) value=(step) aria-label=(l.t("progress")) { (step) " / " (steps) }
                    " " (step) " / " (steps) " · " (text(&o["progress"]))
                }
                dt { (l.t("created")) } dd { (time(o["created_at"].as_i64().unwrap_or_default())) }
                dt { (l.t("updated")) } dd { (time(o["updated_at"].as_i64().unwrap_or_default())) }
            }
            @if !o["error"].is_null() { div.notice.bad role="alert" { (text(&o["error"]["message"])) " " code { (text(&o["error"]["code"])) } } }
            @if !o["result"].is_null() { h3 { (l.t("result")) } pre tabindex="0" { (pretty(&o["result"])) } }
        }
    }
}

/// `GET /operations/{id}`.
pub async fn operation(v: Viewer, Path(id): Path<String>) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let o = v.get(&format!("/api/v1/operations/{}", enc(&id))).await?;
    let running = o["state"] == "running";
    let body = html! {
        @if running {
            div #live data-live={"/operations/" (enc(&id)) "/live"} aria-live="polite" { (operation_body(&v, &o)) }
        } @else {
            (operation_body(&v, &o))
        }
    };
    Ok(layout::page(&v, &l.t("operation"), Nav::Networks, body))
}

/// `GET /operations/{id}/live`.
pub async fn operation_live(v: Viewer, Path(id): Path<String>) -> Result<Response, Response> {
    if v.me.is_none() {
        return Err(StatusCode::UNAUTHORIZED.into_response());
    }
    let o = v.get(&format!("/api/v1/operations/{}", enc(&id))).await?;
    Ok(layout::html_response(
        StatusCode::OK,
        operation_body(&v, &o),
    ))
}

/// The governed actions the small forms on network and chain pages propose.
const SIMPLE_KINDS: &[&str] = &[
    "network.renew",
    "network.delete",
    "chain.admit_org",
    "chain.remove_org",
    "chain.update_org_roots",
    "chain.add_node",
    "chain.promote_node",
    "chain.remove_node",
];

/// `POST /propose`: a small form's proposal — `consortium`, `kind` and its parameters as
/// `p.NAME` fields (`p.days` is a number).
pub async fn propose_simple(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let kind = f.get("kind");
    if !SIMPLE_KINDS.contains(&kind) {
        return Err(refused(
            &v,
            &ApiError::console(
                400,
                "PROPOSAL_KIND_UNKNOWN",
                format!("{kind:?} is not proposed from this form"),
            ),
        ));
    }
    let mut params = serde_json::Map::new();
    for (k, val) in &f.0 {
        if let Some(name) = k.strip_prefix("p.") {
            let value = if name == "days" {
                val.trim()
                    .parse::<u32>()
                    .map(Value::from)
                    .unwrap_or(Value::Null)
            } else {
                Value::String(val.trim().to_string())
            };
            params.insert(name.to_string(), value);
        }
    }
    Ok(propose(
        &v,
        f.csrf(),
        f.get("consortium"),
        kind,
        Value::Object(params),
    )
    .await)
}

fn hidden(consortium: &str, kind: &str) -> Markup {
    html! {
        input type="hidden" name="consortium" value=(consortium);
        input type="hidden" name="kind" value=(kind);
    }
}

/// Renewing or deleting a network, by proposal.
pub fn network_governance(v: &Viewer, network: &Value) -> Markup {
    let l = v.lang;
    let id = network["id"].as_str().unwrap_or_default();
    let consortium = network["consortium_id"].as_str().unwrap_or_default();
    html! {
        @if v.may(a::NETWORK_RENEW) {
            section.card {
                h2 { (l.t("renew-network")) }
                p.hint { (l.t("renew-network-hint")) }
                form method="post" action="/propose" {
                    (csrf(v)) (hidden(consortium, "network.renew"))
                    input type="hidden" name="p.network_id" value=(id);
                    div.field {
                        label for="r-days" { (l.t("extend-days")) }
                        input #r-days name="p.days" type="number" min="1" max="3650" value="365" required;
                    }
                    button.primary type="submit" { (l.t("propose")) }
                }
            }
        }
        @if v.may(a::NETWORK_DELETE) {
            section.card.danger-zone {
                h2 { (l.t("delete-network")) }
                p.hint { (l.t("delete-network-hint")) }
                form method="post" action="/propose" data-confirm=(l.t("confirm-delete-network")) {
                    (csrf(v)) (hidden(consortium, "network.delete"))
                    input type="hidden" name="p.network_id" value=(id);
                    button.danger type="submit" { (l.t("propose-delete-network")) }
                }
            }
        }
    }
}

/// Admitting or removing an org, adding or removing a node, on a chain, by proposal.
pub fn chain_governance(
    v: &Viewer,
    chain: &Value,
    members: &[String],
    network: Option<&Value>,
) -> Markup {
    let l = v.lang;
    let id = chain["id"].as_str().unwrap_or_default();
    let consortium = chain["consortium_id"].as_str().unwrap_or_default();
    let in_chain: Vec<String> = chain["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            n["node_id"]
                .as_str()
                .or(n["id"].as_str())
                .map(str::to_string)
        })
        .collect();
    let my_org = v.me().map(|m| m.org_id().to_string()).unwrap_or_default();
    let sync: Vec<(String, String)> = chain["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["role"] == "sync")
        .map(|n| (text(&n["node_id"]), text(&n["name"])))
        .collect();
    let nodes: Vec<Value> = network
        .and_then(|n| n["nodes"].as_array().cloned())
        .unwrap_or_default();
    let outside: Vec<&Value> = nodes
        .iter()
        .filter(|n| {
            !in_chain
                .iter()
                .any(|c| Some(c.as_str()) == n["id"].as_str())
        })
        .collect();
    html! {
        @if v.may(a::CHAIN_MEMBER) {
            section.card {
                h2 { (l.t("chain-members")) }
                p.hint { (l.t("chain-members-hint")) }
                form.filters method="post" action="/propose" {
                    (csrf(v)) (hidden(consortium, "chain.admit_org"))
                    input type="hidden" name="p.chain_id" value=(id);
                    div.field {
                        label for="ca-org" { (l.t("org-id")) }
                        input #ca-org name="p.org_id" type="text" required maxlength="64";
                    }
                    button.primary type="submit" { (l.t("propose-admit")) }
                }
                @if members.iter().any(|m| m == my_org.as_str()) {
                    form.filters method="post" action="/propose" {
                        (csrf(v)) (hidden(consortium, "chain.update_org_roots"))
                        input type="hidden" name="p.chain_id" value=(id);
                        input type="hidden" name="p.org_id" value=(my_org);
                        p.hint { (l.t("update-roots-hint")) " " a href="/certificates/trust-roots" { (l.t("trust-roots")) } }
                        button.secondary type="submit" { (l.t("propose-update-roots")) }
                    }
                }
                @if !members.is_empty() {
                    form.filters method="post" action="/propose" data-confirm=(l.t("confirm-remove-org")) {
                        (csrf(v)) (hidden(consortium, "chain.remove_org"))
                        input type="hidden" name="p.chain_id" value=(id);
                        div.field {
                            label for="cr-org" { (l.t("member-org")) }
                            select #cr-org name="p.org_id" { @for m in members { option value=(m) { (m) } } }
                        }
                        button.danger type="submit" { (l.t("propose-remove")) }
                    }
                }
            }
        }
        @if v.may(a::CHAIN_NODE) {
            section.card {
                h2 { (l.t("chain-nodes")) }
                p.hint { (l.t("chain-nodes-hint")) }
                @if !outside.is_empty() {
                    form.filters method="post" action="/propose" {
                        (csrf(v)) (hidden(consortium, "chain.add_node"))
                        input type="hidden" name="p.chain_id" value=(id);
                        div.field {
                            label for="cn-add" { (l.t("node")) }
                            select #cn-add name="p.node_id" { @for n in &outside { option value=(text(&n["id"])) { (text(&n["name"])) " (" (text(&n["org_id"])) ")" } } }
                        }
                        div.field {
                            label for="cn-role" { (l.t("node-role")) }
                            select #cn-role name="p.role" aria-describedby="cn-role-hint" {
                                option value="consensus" { (l.t("role-consensus")) }
                                option value="sync" { (l.t("role-sync")) }
                            }
                            p.hint #cn-role-hint { (l.t("node-role-hint")) }
                        }
                        button.primary type="submit" { (l.t("propose-add-node")) }
                    }
                }
                @if !sync.is_empty() {
                    form.filters method="post" action="/propose" {
                        (csrf(v)) (hidden(consortium, "chain.promote_node"))
                        input type="hidden" name="p.chain_id" value=(id);
                        div.field {
                            label for="cn-promote" { (l.t("sync-node")) }
                            select #cn-promote name="p.node_id" { @for (nid, name) in &sync { option value=(nid) { (name) } } }
                        }
                        button.primary type="submit" { (l.t("propose-promote-node")) }
                    }
                }
                @if !in_chain.is_empty() {
                    form.filters method="post" action="/propose" data-confirm=(l.t("confirm-remove-node")) {
                        (csrf(v)) (hidden(consortium, "chain.remove_node"))
                        input type="hidden" name="p.chain_id" value=(id);
                        div.field {
                            label for="cn-rm" { (l.t("node")) }
                            select #cn-rm name="p.node_id" { @for n in &in_chain { option value=(n) { (n) } } }
                        }
                        button.danger type="submit" { (l.t("propose-remove-node")) }
                    }
                }
            }
        }
    }
}

/// The findings of a module's checks, before anything is proposed.
async fn check_page(
    v: &Viewer,
    chain: &str,
    csrf: Option<&str>,
    module: &[u8],
) -> Result<Response, Response> {
    let l = v.lang;
    let w = v.with_csrf(csrf);
    let r = w
        .send(
            axum::http::Method::POST,
            "/api/v1/contracts/check",
            &json!({"code": covenant_platform::time::b64(module)}),
        )
        .await
        .map_err(|e| refused(v, &e))?;
    let findings = r["findings"].as_array().cloned().unwrap_or_default();
    let body = html! {
        @if r["ok"] == true {
            div.notice.good role="status" { (l.t("checks-passed")) }
        } @else {
            div.notice.bad role="alert" { (l.t("checks-failed")) }
        }
        section.card {
            dl.facts {
                dt { (l.t("size")) } dd { (crate::layout::text(&r["size"])) " B" }
                dt { (l.t("code-sha256")) } dd { code.wrap { (crate::layout::text(&r["sha256"])) } }
                dt { (l.t("exports")) } dd { @for e in r["exports"].as_array().into_iter().flatten() { code { (crate::layout::text(e)) } " " } }
                dt { (l.t("imports")) } dd { @for i in r["imports"].as_array().into_iter().flatten() { code { (crate::layout::text(i)) } " " } }
            }
        }
        section.card {
            h2 { (l.t("findings")) }
            @if findings.is_empty() { (crate::layout::empty(l, "empty-findings", None)) } @else {
                table {
                    thead { tr { th scope="col" { (l.t("severity")) } th scope="col" { (l.t("rule")) } th scope="col" { (l.t("location")) } th scope="col" { (l.t("detail")) } } }
                    tbody { @for x in &findings {
                        @let sev = x["severity"].as_str().unwrap_or_default();
                        tr {
                            td { span class={"badge " (if sev == "error" { "bad" } else if sev == "warning" { "warn" } else { "neutral" })} { (sev) } }
                            td { code { (crate::layout::text(&x["rule"])) } }
                            td { (crate::layout::text(&x["location"])) }
                            td { (crate::layout::text(&x["message"])) }
                        }
                    } }
                }
            }
            p { a href={"/chains/" (enc(chain))} { (l.t("back-to-chain")) } }
        }
    };
    Ok(crate::layout::page(
        v,
        &l.t("contract-checks"),
        crate::layout::Nav::Networks,
        body,
    ))
}
