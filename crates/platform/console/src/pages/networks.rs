//! Networks and chains: the networks of my consortia with their nodes' status, heights and
//! peers; a chain's deployment and what the chain itself reports (members, consensus nodes,
//! policies, contracts).

use axum::{
    extract::{Path, Query},
    response::Response,
};
use maud::html;

use super::Done;
use crate::{
    gateway::enc,
    layout::{self, Nav, badge, empty, pretty, text, time},
    viewer::Viewer,
};

/// How long a network stays in the recycle bin before it may be purged.
const RECYCLE_GRACE_MS: i64 = covenant_platform::network::RECYCLE_GRACE_DAYS * 86_400_000;

/// `GET /networks`.
pub async fn list(v: Viewer, Query(q): Query<Done>) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let nets = v.get("/api/v1/networks?limit=200").await?;
    let chains = v.try_get("/api/v1/chains?limit=200").await.ok();
    let all = nets["items"].as_array().cloned().unwrap_or_default();
    // The recycle bin: expired networks (renewable) and purged ones (their exports remain).
    let (binned, items): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|n| n["state"] == "recycled" || n["state"] == "purged");
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        p.lead { (l.t("networks-intro")) }
        section.card {
            h2 { (l.t("networks")) }
            @if items.is_empty() { (empty(l, "empty-networks", None)) } @else {
                table.sortable {
                    thead { tr { th scope="col" { (l.t("name")) } th scope="col" { (l.t("state")) } th scope="col" { (l.t("nodes")) } th scope="col" { (l.t("chains")) } th scope="col" { (l.t("expires")) } } }
                    tbody { @for n in &items {
                        tr {
                            td { a href={"/networks/" (enc(n["id"].as_str().unwrap_or_default()))} { (text(&n["name"])) } }
                            td { (badge(l, n["state"].as_str().unwrap_or_default())) }
                            td { (n["nodes"].as_array().map_or(0, Vec::len)) }
                            td { @for c in n["chains"].as_array().into_iter().flatten() { a href={"/chains/" (enc(c.as_str().unwrap_or_default()))} { (text(c)) } " " } }
                            td data-sort=(n["expires_at"].as_i64().unwrap_or_default()) { (time(n["expires_at"].as_i64().unwrap_or_default())) }
                        }
                    } }
                }
            }
        }
        section.card #recycle-bin {
            h2 { (l.t("recycle-bin")) }
            p.muted { (l.t("recycle-bin-intro")) }
            @if binned.is_empty() { (empty(l, "empty-recycle-bin", None)) } @else {
                table.sortable {
                    thead { tr { th scope="col" { (l.t("name")) } th scope="col" { (l.t("state")) } th scope="col" { (l.t("recycled-at")) } th scope="col" { (l.t("purge-after")) } th scope="col" { (l.t("chains")) } } }
                    tbody { @for n in &binned {
                        @let at = n["recycled_at"].as_i64();
                        tr {
                            td { a href={"/networks/" (enc(n["id"].as_str().unwrap_or_default()))} { (text(&n["name"])) } }
                            td { (badge(l, n["state"].as_str().unwrap_or_default())) }
                            td { @if let Some(t) = at { (time(t)) } }
                            td { @if let Some(t) = n["purged_at"].as_i64() { (l.t("purged-at")) " " (time(t)) } @else if let Some(t) = at { (time(t + RECYCLE_GRACE_MS)) } }
                            td { @for c in n["chains"].as_array().into_iter().flatten() { code { (text(c)) } " " } }
                        }
                    } }
                }
            }
        }
        @if let Some(c) = &chains {
            @let list = c["items"].as_array().cloned().unwrap_or_default();
            section.card {
                h2 { (l.t("chains")) }
                @if list.is_empty() { (empty(l, "empty-chains", None)) } @else {
                    table.sortable {
                        thead { tr { th scope="col" { (l.t("chain")) } th scope="col" { (l.t("consensus")) } th scope="col" { (l.t("suite")) } th scope="col" { (l.t("state")) } th scope="col" { (l.t("nodes")) } } }
                        tbody { @for c in &list {
                            @let id = c["id"].as_str().unwrap_or_default();
                            tr {
                                td { a href={"/chains/" (enc(id))} { (id) } " · " a href={"/explorer/" (enc(id))} { (l.t("nav-explorer")) } }
                                td { (text(&c["consensus"])) }
                                td { (text(&c["suite"])) }
                                td { (badge(l, c["state"].as_str().unwrap_or_default())) }
                                td { (c["nodes"].as_array().map_or(0, Vec::len)) }
                            }
                        } }
                    }
                }
            }
        }
    };
    Ok(layout::page(&v, &l.t("nav-networks"), Nav::Networks, body))
}

/// `GET /networks/{id}`.
pub async fn network(
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let n = v.get(&format!("/api/v1/networks/{}", enc(&id))).await?;
    let nodes = n["nodes"].as_array().cloned().unwrap_or_default();
    let binned = n["state"] == "recycled" || n["state"] == "purged";
    let exports = if binned {
        v.try_get(&format!("/api/v1/networks/{}/exports", enc(&id)))
            .await
            .ok()
    } else {
        None
    };
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        @if n["state"] == "recycled" { div.notice.bad role="status" { (l.t("network-recycled-hint")) } }
        @if n["state"] == "purged" { div.notice.bad role="status" { (l.t("network-purged-hint")) } }
        section.card {
            dl.facts {
                dt { (l.t("state")) } dd { (badge(l, n["state"].as_str().unwrap_or_default())) }
                dt { (l.t("created")) } dd { (time(n["created_at"].as_i64().unwrap_or_default())) }
                dt { (l.t("expires")) } dd { (time(n["expires_at"].as_i64().unwrap_or_default())) }
                @if let Some(at) = n["recycled_at"].as_i64() {
                    dt { (l.t("recycled-at")) } dd { (time(at)) }
                    dt { (l.t("purge-after")) } dd { (time(at + RECYCLE_GRACE_MS)) }
                }
                @if let Some(at) = n["purged_at"].as_i64() { dt { (l.t("purged-at")) } dd { (time(at)) } }
                dt { (l.t("chains")) } dd { @for c in n["chains"].as_array().into_iter().flatten() { a href={"/chains/" (enc(c.as_str().unwrap_or_default()))} { (text(c)) } " " } }
            }
        }
        section.card {
            h2 { (l.t("nodes")) }
            @if nodes.is_empty() { (empty(l, "empty-nodes", None)) } @else {
                table.sortable {
                    thead { tr {
                        th scope="col" { (l.t("node")) } th scope="col" { (l.t("org")) } th scope="col" { (l.t("health")) }
                        th scope="col" { (l.t("process")) } th scope="col" { (l.t("height")) } th scope="col" { (l.t("peers")) }
                        th scope="col" { (l.t("api")) } th scope="col" { (l.t("last-seen")) }
                    } }
                    tbody { @for x in &nodes {
                        tr {
                            td { a href={"/nodes/" (enc(x["id"].as_str().unwrap_or_default()))} { (text(&x["name"])) } }
                            td { code { (text(&x["org_id"])) } }
                            td { (badge(l, x["status"].as_str().unwrap_or("unknown"))) @if let Some(e) = x["last_error"].as_str() { br; span.muted { (e) } } }
                            td { (badge(l, x["state"].as_str().unwrap_or_default())) }
                            td { @for (c, h) in x["heights"].as_object().into_iter().flatten() { span.muted { (c) ": " } (text(h)) " " } }
                            td { (text(&x["peers"])) }
                            td { code { (text(&x["api_url"])) } }
                            td { @if let Some(t) = x["last_seen_at"].as_i64() { (time(t)) } }
                        }
                    } }
                }
            }
        }
    };
    let body = html! {
        (body)
        @if binned { (recycle_card(&v, &id, &n, exports.as_ref())) }
        @if !binned && n["state"] != "deleted" && v.may(covenant_platform::action::NODE_MANAGE) { (add_node_form(&v, &id)) }
        @if v.may(covenant_platform::action::CHAIN_CREATE) { (super::proposals::chain_form(&v, &n)) }
        (super::proposals::network_governance(&v, &n))
    };
    Ok(layout::page(&v, &text(&n["name"]), Nav::Networks, body))
}

/// Adding a node of the viewer's org: run by the platform, or on the org's own machine.
fn add_node_form(v: &Viewer, id: &str) -> maud::Markup {
    let l = v.lang;
    html! {
        section.card #add-node {
            h2 { (l.t("add-node")) }
            p.hint { (l.t("add-node-hint")) }
            form method="post" action={"/networks/" (enc(id)) "/nodes"} {
                (layout::csrf(v))
                fieldset {
                    legend { (l.t("hosting")) }
                    label { input type="radio" name="hosting" value="platform" checked; " " (l.t("hosting-platform")) }
                    label { input type="radio" name="hosting" value="org"; " " (l.t("hosting-org")) }
                }
                div.field {
                    label for="an-name" { (l.t("node-name")) }
                    input #an-name name="name" type="text" maxlength="64" pattern="[A-Za-z0-9._-]{1,64}" aria-describedby="an-name-hint";
                    p.hint #an-name-hint { (l.t("node-name-hint")) }
                }
                div.field {
                    label for="an-csr" { (l.t("node-csr")) }
                    textarea #an-csr name="csr" rows="5" aria-describedby="an-csr-hint" {}
                    p.hint #an-csr-hint { (l.t("node-csr-hint")) }
                }
                div.field {
                    label for="an-host" { (l.t("node-host")) }
                    input #an-host name="host" type="text" maxlength="253";
                }
                div.field {
                    label for="an-api" { (l.t("api-port")) }
                    input #an-api name="api_port" type="number" min="1" max="65535";
                }
                div.field {
                    label for="an-grpc" { (l.t("grpc-port")) }
                    input #an-grpc name="grpc_port" type="number" min="1" max="65535";
                }
                div.field {
                    label for="an-peer" { (l.t("peer-port")) }
                    input #an-peer name="peer_port" type="number" min="1" max="65535";
                }
                button.primary type="submit" { (l.t("add-node")) }
            }
        }
    }
}

/// `POST /nodes/{id}/settings`.
pub async fn settings(
    v: Viewer,
    Path(id): Path<String>,
    form: Result<axum::Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, Response> {
    v.me()?;
    let f = super::Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let mut body = serde_json::json!({});
    let log = f.get("log_level").trim();
    if !log.is_empty() {
        body["log_level"] = serde_json::json!(log);
    }
    for key in ["pool_max_txs", "verify_blocks"] {
        let value = f.get(key).trim();
        if value.is_empty() {
            continue;
        }
        match value.parse::<u64>() {
            Ok(n) => body[key] = serde_json::json!(n),
            Err(_) => {
                return Err(super::refused(
                    &v,
                    &crate::gateway::ApiError::console(
                        400,
                        "FORM_INVALID",
                        format!("{key} is a whole number"),
                    ),
                ));
            }
        }
    }
    match w
        .send(
            axum::http::Method::PUT,
            &format!("/api/v1/nodes/{}/settings", enc(&id)),
            &body,
        )
        .await
    {
        Ok(_) => Ok(super::done(
            &format!("/nodes/{}", enc(&id)),
            "node-settings",
        )),
        Err(e) => Err(super::refused(&v, &e)),
    }
}

/// `POST /networks/{id}/nodes`.
pub async fn add_node(
    v: Viewer,
    Path(id): Path<String>,
    form: Result<axum::Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, Response> {
    v.me()?;
    let f = super::Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let mut body = serde_json::json!({"hosting": f.get("hosting")});
    if body["hosting"] == "" {
        body["hosting"] = serde_json::json!("platform");
    }
    for key in ["name", "csr", "host"] {
        let value = f.get(key).trim();
        if !value.is_empty() {
            body[key] = serde_json::json!(value);
        }
    }
    for key in ["api_port", "grpc_port", "peer_port"] {
        let value = f.get(key).trim();
        if value.is_empty() {
            continue;
        }
        match value.parse::<u16>() {
            Ok(port) => body[key] = serde_json::json!(port),
            Err(_) => {
                return Err(super::refused(
                    &v,
                    &crate::gateway::ApiError::console(
                        400,
                        "NODE_PORT_INVALID",
                        format!("{key} is a port number, 1 to 65535"),
                    ),
                ));
            }
        }
    }
    match w
        .send(
            axum::http::Method::POST,
            &format!("/api/v1/networks/{}/nodes", enc(&id)),
            &body,
        )
        .await
    {
        Ok(node) => Ok(super::done(
            &format!("/nodes/{}", enc(node["id"].as_str().unwrap_or_default())),
            "node-added",
        )),
        Err(e) => Err(super::refused(&v, &e)),
    }
}

/// A network in the recycle bin: its chains' ledger exports, and the export and purge actions.
fn recycle_card(
    v: &Viewer,
    id: &str,
    n: &serde_json::Value,
    exports: Option<&serde_json::Value>,
) -> maud::Markup {
    use covenant_platform::action as a;
    let l = v.lang;
    let items = exports
        .and_then(|e| e["items"].as_array().cloned())
        .unwrap_or_default();
    let recycled = n["state"] == "recycled";
    html! {
        section.card #ledger-exports {
            h2 { (l.t("ledger-exports")) }
            p.muted { (l.t("ledger-exports-intro")) }
            @if items.is_empty() { (empty(l, "empty-exports", None)) } @else {
                table {
                    thead { tr {
                        th scope="col" { (l.t("chain")) } th scope="col" { (l.t("blocks")) } th scope="col" { (l.t("size")) }
                        th scope="col" { (l.t("tip-hash")) } th scope="col" { (l.t("node")) } th scope="col" { (l.t("created")) } th scope="col" { }
                    } }
                    tbody { @for e in &items {
                        @let chain = e["chain_id"].as_str().unwrap_or_default();
                        tr {
                            td { code { (chain) } }
                            td { (text(&e["blocks"])) }
                            td { (e["bytes"].as_i64().unwrap_or_default()) " B" }
                            td { code.hash { (text(&e["tip_hash"])) } }
                            td { (text(&e["node"])) }
                            td { (time(e["created_at"].as_i64().unwrap_or_default())) }
                            td { a href={"/api/v1/networks/" (enc(id)) "/exports/" (enc(chain))} download { (l.t("download")) } }
                        }
                    } }
                }
                p.muted { (l.t("restore-hint")) " " code { "covenant node import --dir DIR --file CHAIN.ledger" } }
            }
            @if recycled {
                div.actions {
                    @if v.may(a::NETWORK_EXPORT) {
                        form.inline method="post" action={"/networks/" (enc(id)) "/export"} { (layout::csrf(v)) button.secondary type="submit" { (l.t("export-ledgers")) } }
                    }
                    @if v.may(a::NETWORK_PURGE) {
                        (layout::confirm_button(v, &format!("/networks/{}/purge", enc(id)), &l.t("purge"), &l.t("confirm-purge-network"), true))
                    }
                }
            }
        }
    }
}

/// `POST /networks/{id}/export` and `/networks/{id}/purge`.
pub async fn recycle_action(
    v: Viewer,
    Path((id, action)): Path<(String, String)>,
    form: Result<axum::Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, Response> {
    v.me()?;
    let path = match action.as_str() {
        "export" => format!("/api/v1/networks/{}/exports", enc(&id)),
        "purge" => format!("/api/v1/networks/{}/purge", enc(&id)),
        _ => return Err(layout::not_found(&v)),
    };
    let f = super::Fields::from(form);
    let w = v.with_csrf(f.csrf());
    match w
        .send(axum::http::Method::POST, &path, &serde_json::json!({}))
        .await
    {
        Ok(_) => Ok(super::done(
            &format!("/networks/{}", enc(&id)),
            &format!("network-{action}"),
        )),
        Err(e) => Err(super::refused(&v, &e)),
    }
}

/// `GET /chains/{id}`.
pub async fn chain(v: Viewer, Path(id): Path<String>) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let c = v.get(&format!("/api/v1/chains/{}", enc(&id))).await?;
    let live = &c["live"];
    let members: Vec<String> = live["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    let network = v
        .try_get(&format!(
            "/api/v1/networks/{}",
            enc(c["network_id"].as_str().unwrap_or_default())
        ))
        .await
        .ok();
    let body = html! {
        p { a.button.secondary href={"/explorer/" (enc(&id))} { (l.t("open-explorer")) } }
        div.grid {
            section.card {
                h2 { (l.t("deployment")) }
                dl.facts {
                    dt { (l.t("state")) } dd { (badge(l, c["state"].as_str().unwrap_or_default())) }
                    dt { (l.t("consensus")) } dd { (text(&c["consensus"])) }
                    dt { (l.t("suite")) } dd { (text(&c["suite"])) }
                    dt { (l.t("network")) } dd { a href={"/networks/" (enc(c["network_id"].as_str().unwrap_or_default()))} { (text(&c["network_id"])) } }
                    dt { (l.t("created")) } dd { (time(c["created_at"].as_i64().unwrap_or_default())) }
                    @if let Some(g) = c["genesis_hash"].as_str() { dt { (l.t("genesis")) } dd { code.hash { (g) } } }
                }
            }
            section.card {
                h2 { (l.t("live-state")) }
                @if !live["error"].is_null() {
                    div.notice.bad role="alert" { (text(&live["error"]["message"])) " " code { (text(&live["error"]["code"])) } }
                } @else {
                    dl.facts {
                        dt { (l.t("height")) } dd { (text(&live["height"])) }
                        dt { (l.t("config-version")) } dd { (text(&live["config_version"])) }
                        dt { (l.t("members")) } dd { @for m in live["members"].as_array().into_iter().flatten() { code { (text(m)) } " " } }
                        dt { (l.t("served-by")) } dd { code { (text(&live["served_by"])) } }
                    }
                }
            }
        }
        @if live["error"].is_null() {
            section.card {
                h2 { (l.t("consensus-nodes")) }
                table {
                    thead { tr { th scope="col" { (l.t("node")) } th scope="col" { (l.t("org")) } th scope="col" { (l.t("address")) } } }
                    tbody { @for n in live["consensus_nodes"].as_array().into_iter().flatten() {
                        tr { td { code { (text(&n["node_id"])) } } td { (text(&n["org_id"])) } td { code { (text(&n["address"])) } } }
                    } }
                }
            }
            section.card {
                h2 { (l.t("contracts")) }
                @let contracts = live["contracts"].as_array().cloned().unwrap_or_default();
                @if contracts.is_empty() { (empty(l, "empty-contracts", None)) } @else {
                    table {
                        thead { tr { th scope="col" { (l.t("name")) } th scope="col" { (l.t("version")) } th scope="col" { (l.t("state")) } } }
                        tbody { @for k in &contracts {
                            tr {
                                td { a href={"/explorer/" (enc(&id)) "/contracts/" (enc(k["name"].as_str().unwrap_or_default()))} { (text(&k["name"])) } }
                                td { (text(&k["version"])) }
                                td { (badge(l, k["status"].as_str().unwrap_or("active"))) }
                            }
                        } }
                    }
                }
            }
            section.card {
                h2 { (l.t("policies")) }
                @let policies = live["policies"].as_array().cloned().unwrap_or_default();
                @if policies.is_empty() { pre tabindex="0" { (pretty(&live["policies"])) } } @else {
                    table.sortable {
                        thead { tr { th scope="col" { (l.t("resource")) } th scope="col" { (l.t("rule")) } th scope="col" { (l.t("roles")) } th scope="col" { (l.t("orgs")) } } }
                        tbody { @for x in &policies {
                            tr {
                                td { code { (text(&x["resource"])) } }
                                td { code { (text(&x["rule"])) } }
                                td { @for r in x["roles"].as_array().into_iter().flatten() { (text(r)) " " } }
                                td { @let orgs = x["org_ids"].as_array().cloned().unwrap_or_default();
                                    @if orgs.is_empty() { span.muted { (l.t("all-members")) } } @else { @for o in &orgs { code { (text(o)) } " " } } }
                            }
                        } }
                    }
                }
            }
            (super::proposals::contracts_forms(&v, &id, live["contracts"].as_array().map(Vec::as_slice).unwrap_or_default()))
            (super::proposals::chain_governance(&v, &c, &members, network.as_ref()))
        }
    };
    Ok(layout::page(
        &v,
        &l.ta("chain-title", &[("id", id.clone().into())]),
        Nav::Networks,
        body,
    ))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct LogQuery {
    q: Option<String>,
    done: Option<String>,
}

/// `GET /nodes/{id}`: a node's status and, for the org running it, its recent log lines
/// with search.
pub async fn node(
    v: Viewer,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<LogQuery>,
) -> Result<Response, Response> {
    let me = v.me()?.clone();
    let l = v.lang;
    let n = v.get(&format!("/api/v1/nodes/{}", enc(&id))).await?;
    let ours = n["org_id"].as_str() == Some(me.org_id());
    let search = q.q.unwrap_or_default();
    let logs = if ours {
        let mut uri = format!("/api/v1/nodes/{}/logs?lines=300", enc(&id));
        if !search.trim().is_empty() {
            uri.push_str(&format!("&q={}", enc(search.trim())));
        }
        Some(v.try_get(&uri).await)
    } else {
        None
    };
    let charts = super::monitoring::node_charts(&v, &id).await;
    let settings = if ours && n["hosting"] != "org" && v.may(covenant_platform::action::NODE_MANAGE)
    {
        v.try_get(&format!("/api/v1/nodes/{}/settings", enc(&id)))
            .await
            .ok()
    } else {
        None
    };
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        section.card {
            dl.facts {
                dt { (l.t("org")) } dd { code { (text(&n["org_id"])) } }
                dt { (l.t("health")) } dd { (badge(l, n["status"].as_str().unwrap_or("unknown"))) }
                dt { (l.t("process")) } dd { (badge(l, n["state"].as_str().unwrap_or_default())) }
                dt { (l.t("height")) } dd { @for (c, h) in n["heights"].as_object().into_iter().flatten() { a href={"/explorer/" (enc(c))} { (c) } ": " (text(h)) " " } }
                dt { (l.t("peers")) } dd { (text(&n["peers"])) }
                dt { (l.t("api")) } dd { code { (text(&n["api_url"])) } }
                dt { (l.t("address")) } dd { code { (text(&n["peer_address"])) } }
                dt { (l.t("network")) } dd { a href={"/networks/" (enc(n["network_id"].as_str().unwrap_or_default()))} { (text(&n["network_id"])) } }
                @if let Some(t) = n["last_seen_at"].as_i64() { dt { (l.t("last-seen")) } dd { (time(t)) } }
                @if let Some(e) = n["last_error"].as_str() { dt { (l.t("last-error")) } dd { (e) } }
            }
        }
        (charts)
        @if n["hosting"] == "org" {
            section.card #own-machine {
                h2 { (l.t("own-machine")) }
                p { (l.t("own-machine-hint")) }
                @if ours && v.may(covenant_platform::action::NODE_MANAGE) {
                    @if n["chains"].as_array().is_some_and(|c| !c.is_empty()) {
                        p { a.button.secondary href={"/api/v1/nodes/" (enc(&id)) "/bundle"} download={(text(&n["name"])) "-bundle.json"} { (l.t("download-bundle")) } }
                        pre tabindex="0" { "covenant node start --bundle " (text(&n["name"])) "-bundle.json --key node.key --dir " (text(&n["name"])) }
                    } @else {
                        p.hint { (l.t("bundle-after-chain")) }
                    }
                }
            }
        }
        @if ours && v.may(covenant_platform::action::NODE_MANAGE) && n["state"] != "created" && n["hosting"] != "org" {
            section.card {
                h2 { (l.t("node-control")) }
                p.hint { (l.t("node-control-hint")) }
                @if n["state"] == "running" {
                    (layout::confirm_button(&v, &format!("/nodes/{}/restart", enc(&id)), &l.t("restart"), &l.t("confirm-restart-node"), false))
                    " "
                    (layout::confirm_button(&v, &format!("/nodes/{}/stop", enc(&id)), &l.t("stop"), &l.t("confirm-stop-node"), true))
                } @else {
                    form.inline method="post" action={"/nodes/" (enc(&id)) "/start"} { (layout::csrf(&v)) button.primary type="submit" { (l.t("start")) } }
                }
            }
        }
        @if let Some(s) = &settings {
            section.card #node-settings {
                h2 { (l.t("node-settings")) }
                p.hint { (l.t("node-settings-hint")) }
                form method="post" action={"/nodes/" (enc(&id)) "/settings"} data-confirm=(l.t("confirm-node-settings")) {
                    (layout::csrf(&v))
                    div.field {
                        label for="ns-log" { (l.t("log-level")) }
                        input #ns-log name="log_level" type="text" maxlength="200" placeholder="info" value=(s["log_level"].as_str().unwrap_or_default()) aria-describedby="ns-log-hint";
                        p.hint #ns-log-hint { (l.t("log-level-hint")) }
                    }
                    div.field {
                        label for="ns-pool" { (l.t("pool-max-txs")) }
                        input #ns-pool name="pool_max_txs" type="number" min="100" max="1000000" value=(s["pool_max_txs"].as_u64().map(|n| n.to_string()).unwrap_or_default());
                    }
                    div.field {
                        label for="ns-verify" { (l.t("verify-blocks")) }
                        input #ns-verify name="verify_blocks" type="number" min="0" max="10000000" value=(s["verify_blocks"].as_u64().map(|n| n.to_string()).unwrap_or_default()) aria-describedby="ns-verify-hint";
                        p.hint #ns-verify-hint { (l.t("verify-blocks-hint")) }
                    }
                    button.primary type="submit" { (l.t("save-and-restart")) }
                }
            }
        }
        section.card {
            h2 { (l.t("node-log")) }
            @match &logs {
                None => { p.hint { (l.t("node-log-others")) } }
                Some(Err(e)) => { (layout::refusal(l, e)) }
                Some(Ok(got)) => {
                    form.filters role="search" method="get" action={"/nodes/" (enc(&id))} {
                        div.field {
                            label for="log-q" { (l.t("search-log")) }
                            input #log-q name="q" type="search" maxlength="200" value=(search);
                        }
                        button.secondary type="submit" { (l.t("search")) }
                    }
                    @let lines = got["lines"].as_array().cloned().unwrap_or_default();
                    @if lines.is_empty() { (empty(l, "empty-log", None)) } @else {
                        pre.log tabindex="0" { @for line in &lines { (text(line)) "\n" } }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &v,
        &l.ta("node-title", &[("name", text(&n["name"]).into())]),
        Nav::Networks,
        body,
    ))
}

/// `POST /nodes/{id}/{stop|start|restart}`.
pub async fn control(
    v: Viewer,
    Path((id, action)): Path<(String, String)>,
    form: Result<axum::Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, Response> {
    v.me()?;
    if !["stop", "start", "restart"].contains(&action.as_str()) {
        return Err(layout::not_found(&v));
    }
    let f = super::Fields::from(form);
    let w = v.with_csrf(f.csrf());
    match w
        .send(
            axum::http::Method::POST,
            &format!("/api/v1/nodes/{}/{action}", enc(&id)),
            &serde_json::json!({}),
        )
        .await
    {
        Ok(_) => Ok(super::done(
            &format!("/nodes/{}", enc(&id)),
            &format!("node-{action}"),
        )),
        Err(e) => Err(super::refused(&v, &e)),
    }
}
