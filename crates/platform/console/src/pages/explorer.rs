//! The blockchain explorer (seed 002 区块链浏览器: 交易趋势、区块信息和交易信息, 检索): per
//! chain its height, transactions, a transactions-per-block trend, the latest blocks and
//! transactions (refreshed live), block and transaction pages with the commit certificate,
//! the DAG, the result, events and the Merkle proof, contract pages, and search.

use axum::{
    extract::{Path, Query},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    chart::{self, Bar},
    gateway::enc,
    layout::{self, Nav, badge, empty, pretty, short, text, time},
    viewer::Viewer,
};

/// Blocks the trend covers.
const TREND_BLOCKS: u64 = 60;

fn search_box(v: &Viewer, chain: &str, q: &str) -> Markup {
    let l = v.lang;
    html! {
        form.search role="search" method="get" action={"/explorer/" (enc(chain)) "/search"} {
            label for="q" class="sr-only" { (l.t("search")) }
            input #q name="q" type="search" value=(q) required maxlength="128" placeholder=(l.t("search-placeholder"));
            button.primary type="submit" { (l.t("search")) }
        }
    }
}

/// `GET /explorer`: the chains to explore.
pub async fn index(v: Viewer) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let chains = v.get("/api/v1/chains?limit=200").await?;
    let list = chains["items"].as_array().cloned().unwrap_or_default();
    if list.len() == 1
        && let Some(id) = list[0]["id"].as_str()
    {
        return Ok(Redirect::to(&format!("/explorer/{}", enc(id))).into_response());
    }
    let body = html! {
        p.lead { (l.t("explorer-intro")) }
        section.card {
            @if list.is_empty() { (empty(l, "empty-chains", None)) } @else {
                ul.plain { @for c in &list {
                    @let id = c["id"].as_str().unwrap_or_default();
                    li { a href={"/explorer/" (enc(id))} { (id) } " " span.muted { (text(&c["consensus"])) " · " (text(&c["suite"])) } " " (badge(l, c["state"].as_str().unwrap_or_default())) }
                } }
            }
        }
    };
    Ok(layout::page(&v, &l.t("nav-explorer"), Nav::Explorer, body))
}

fn latest(v: &Viewer, chain: &str, o: &Value) -> Markup {
    let l = v.lang;
    let blocks = o["blocks"].as_array().cloned().unwrap_or_default();
    let txs = o["txs"].as_array().cloned().unwrap_or_default();
    let c = enc(chain);
    html! {
        div.grid {
            section.card {
                h2 { (l.t("latest-blocks")) }
                @if blocks.is_empty() { (empty(l, "empty-blocks", None)) } @else {
                    table {
                        thead { tr { th scope="col" { (l.t("height")) } th scope="col" { (l.t("hash")) } th scope="col" { (l.t("txs")) } th scope="col" { (l.t("time")) } } }
                        tbody { @for b in blocks.iter().take(10) {
                            tr {
                                td { a href={"/explorer/" (c) "/blocks/" (text(&b["height"]))} { (text(&b["height"])) } }
                                td { (short(b["hash"].as_str().unwrap_or_default())) }
                                td { (text(&b["tx_count"])) }
                                td { (time(b["timestamp_ms"].as_i64().unwrap_or_default())) }
                            }
                        } }
                    }
                    p { a href={"/explorer/" (c) "/blocks"} { (l.t("all-blocks")) } }
                }
            }
            section.card {
                h2 { (l.t("latest-txs")) }
                @if txs.is_empty() { (empty(l, "empty-txs", None)) } @else {
                    table {
                        thead { tr { th scope="col" { (l.t("transaction")) } th scope="col" { (l.t("call")) } th scope="col" { (l.t("result")) } th scope="col" { (l.t("height")) } } }
                        tbody { @for t in txs.iter().take(10) {
                            @let id = t["tx_id"].as_str().unwrap_or_default();
                            tr {
                                td { a href={"/explorer/" (c) "/txs/" (enc(id))} { (short(id)) } }
                                td { code { (text(&t["contract"])) "." (text(&t["method"])) } }
                                td { (badge(l, t["code"].as_str().unwrap_or_default())) }
                                td { (text(&t["height"])) }
                            }
                        } }
                    }
                }
            }
        }
    }
}

/// `GET /explorer/{chain}`.
pub async fn chain(v: Viewer, Path(chain): Path<String>) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let o = v
        .get(&format!(
            "/api/v1/chains/{}/explorer?limit={TREND_BLOCKS}",
            enc(&chain)
        ))
        .await?;
    let mut trend: Vec<Bar> = o["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| Bar {
            label: format!("#{}", text(&b["height"])),
            value: b["tx_count"].as_f64().unwrap_or_default(),
        })
        .collect();
    trend.reverse();
    let tps = o["tx_per_second"].as_f64().unwrap_or_default();
    let described = l.ta(
        "trend-desc",
        &[
            ("blocks", trend.len().into()),
            (
                "txs",
                o["recent_tx_count"].as_u64().unwrap_or_default().into(),
            ),
        ],
    );
    let body = html! {
        (search_box(&v, &chain, ""))
        section.stats aria-label=(l.t("chain-figures")) {
            div.stat { span.n #live-height { (text(&o["height"])) } span.k { (l.t("height")) } }
            div.stat { span.n { (text(&o["recent_tx_count"])) } span.k { (l.ta("txs-in-blocks", &[("count", trend.len().into())])) } }
            div.stat { span.n { (format!("{tps:.1}")) } span.k { (l.t("tx-per-second")) } }
            div.stat { span.n { (text(&o["txpool_size"])) } span.k { (l.t("txpool")) } }
            div.stat { span.n { (text(&o["consensus"])) } span.k { (text(&o["suite"])) } }
        }
        section.card {
            h2 { (l.t("tx-trend")) }
            (chart::bars(&l.t("tx-trend"), &described, &trend))
        }
        div #live data-live={"/explorer/" (enc(&chain)) "/live"} aria-live="polite" {
            (latest(&v, &chain, &o))
        }
    };
    Ok(layout::page(
        &v,
        &l.ta("explorer-title", &[("id", chain.clone().into())]),
        Nav::Explorer,
        body,
    ))
}

/// `GET /explorer/{chain}/live`: the latest blocks and transactions, for the page script.
pub async fn live(v: Viewer, Path(chain): Path<String>) -> Result<Response, Response> {
    if v.me.is_none() {
        return Err(StatusCode::UNAUTHORIZED.into_response());
    }
    let o = v
        .get(&format!("/api/v1/chains/{}/explorer?limit=10", enc(&chain)))
        .await?;
    Ok(layout::html_response(
        StatusCode::OK,
        latest(&v, &chain, &o),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct AfterQuery {
    after: Option<u64>,
}

/// `GET /explorer/{chain}/blocks`.
pub async fn blocks(
    v: Viewer,
    Path(chain): Path<String>,
    Query(q): Query<AfterQuery>,
) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let mut uri = format!("/api/v1/chains/{}/blocks?limit=50", enc(&chain));
    if let Some(a) = q.after {
        uri.push_str(&format!("&after={a}"));
    }
    let page = v.get(&uri).await?;
    let list = page["items"].as_array().cloned().unwrap_or_default();
    let c = enc(&chain);
    let body = html! {
        (search_box(&v, &chain, ""))
        section.card {
            @if list.is_empty() { (empty(l, "empty-blocks", None)) } @else {
                table {
                    thead { tr { th scope="col" { (l.t("height")) } th scope="col" { (l.t("hash")) } th scope="col" { (l.t("proposer")) } th scope="col" { (l.t("txs")) } th scope="col" { (l.t("time")) } } }
                    tbody { @for b in &list {
                        tr {
                            td { a href={"/explorer/" (c) "/blocks/" (text(&b["height"]))} { (text(&b["height"])) } }
                            td { (short(b["hash"].as_str().unwrap_or_default())) }
                            td { (short(b["proposer"].as_str().unwrap_or_default())) }
                            td { (text(&b["tx_count"])) }
                            td { (time(b["timestamp_ms"].as_i64().unwrap_or_default())) }
                        }
                    } }
                }
                (layout::pager(l, &format!("/explorer/{c}/blocks"), &page["next"]))
            }
        }
    };
    Ok(layout::page(
        &v,
        &l.ta("blocks-title", &[("id", chain.clone().into())]),
        Nav::Explorer,
        body,
    ))
}

/// `GET /explorer/{chain}/blocks/{at}`.
pub async fn block(
    v: Viewer,
    Path((chain, at)): Path<(String, String)>,
) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let b = v
        .get(&format!(
            "/api/v1/chains/{}/blocks/{}",
            enc(&chain),
            enc(&at)
        ))
        .await?;
    let c = enc(&chain);
    let height = b["height"].as_u64().unwrap_or_default();
    let txs = b["txs"].as_array().cloned().unwrap_or_default();
    let dag = b["dag"].as_array().cloned().unwrap_or_default();
    let body = html! {
        nav.pager aria-label=(l.t("pages")) {
            @if height > 0 { a href={"/explorer/" (c) "/blocks/" (height - 1)} rel="prev" { "← " (l.t("previous-block")) } " " }
            a href={"/explorer/" (c) "/blocks/" (height + 1)} rel="next" { (l.t("next-block")) " →" }
        }
        div.grid {
            section.card {
                h2 { (l.t("header")) }
                dl.facts {
                    dt { (l.t("height")) } dd { (height) }
                    dt { (l.t("hash")) } dd { code.hash { (text(&b["hash"])) } }
                    dt { (l.t("previous")) } dd { @if height > 0 { a href={"/explorer/" (c) "/blocks/" (height - 1)} { code.hash { (text(&b["prev_hash"])) } } } @else { code.hash { (text(&b["prev_hash"])) } } }
                    dt { (l.t("time")) } dd { (time(b["timestamp_ms"].as_i64().unwrap_or_default())) }
                    dt { (l.t("proposer")) } dd { code.hash { (text(&b["proposer"])) } }
                    dt { (l.t("tx-root")) } dd { code.hash { (text(&b["tx_root"])) } }
                    dt { (l.t("results-root")) } dd { code.hash { (text(&b["results_root"])) } }
                    dt { (l.t("rwset-root")) } dd { code.hash { (text(&b["rwset_root"])) } }
                    dt { (l.t("state-root")) } dd { code.hash { (text(&b["state_root"])) } }
                    dt { (l.t("dag-hash")) } dd { code.hash { (text(&b["dag_hash"])) } }
                    dt { (l.t("config-version")) } dd { (text(&b["config_version"])) }
                }
            }
            section.card {
                h2 { (l.t("commit-certificate")) }
                p.hint { (l.t("commit-certificate-hint")) }
                @let signers = b["committed_by"].as_array().cloned().unwrap_or_default();
                @if signers.is_empty() { (empty(l, "empty-signers", None)) } @else {
                    ol { @for s in &signers { li { code.hash { (text(s)) } } } }
                }
            }
        }
        section.card {
            h2 { (l.ta("block-txs", &[("count", txs.len().into())])) }
            @if txs.is_empty() { (empty(l, "empty-txs", None)) } @else {
                table {
                    thead { tr { th scope="col" { "#" } th scope="col" { (l.t("transaction")) } th scope="col" { (l.t("call")) } th scope="col" { (l.t("sender")) } th scope="col" { (l.t("result")) } th scope="col" { (l.t("gas")) } th scope="col" { (l.t("depends-on")) } } }
                    tbody { @for (i, t) in txs.iter().enumerate() {
                        @let id = t["tx_id"].as_str().unwrap_or_default();
                        tr {
                            td { (i) }
                            td { a href={"/explorer/" (c) "/txs/" (enc(id))} { (short(id)) } }
                            td { code { (text(&t["contract"])) "." (text(&t["method"])) } }
                            td { (short(t["sender"].as_str().unwrap_or_default())) }
                            td { (badge(l, t["code"].as_str().unwrap_or_default())) }
                            td { (text(&t["gas_used"])) }
                            td { @for d in dag.get(i).and_then(Value::as_array).into_iter().flatten() { "#" (text(d)) " " } }
                        }
                    } }
                }
            }
        }
    };
    Ok(layout::page(
        &v,
        &l.ta("block-title", &[("height", height.into())]),
        Nav::Explorer,
        body,
    ))
}

/// `GET /explorer/{chain}/txs/{id}`.
pub async fn tx(
    v: Viewer,
    Path((chain, id)): Path<(String, String)>,
) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let t = v
        .get(&format!("/api/v1/chains/{}/txs/{}", enc(&chain), enc(&id)))
        .await?;
    let c = enc(&chain);
    let r = &t["result"];
    let events = r["events"].as_array().cloned().unwrap_or_default();
    let valid = t["proof_valid"] == true;
    let body = html! {
        div.grid {
            section.card {
                h2 { (l.t("summary")) }
                dl.facts {
                    dt { (l.t("transaction")) } dd { code.hash { (text(&t["tx_id"])) } }
                    dt { (l.t("result")) } dd { (badge(l, r["code"].as_str().unwrap_or_default())) @if !text(&r["message"]).is_empty() { " " (text(&r["message"])) } }
                    dt { (l.t("block")) } dd { a href={"/explorer/" (c) "/blocks/" (text(&t["height"]))} { (text(&t["height"])) } " · " (l.t("index")) " " (text(&t["index"])) }
                    dt { (l.t("time")) } dd { (time(t["timestamp_ms"].as_i64().unwrap_or_default())) }
                    dt { (l.t("call")) } dd { a href={"/explorer/" (c) "/contracts/" (enc(t["contract"].as_str().unwrap_or_default()))} { code { (text(&t["contract"])) } } code { "." (text(&t["method"])) } }
                    dt { (l.t("sender")) } dd { code.hash { (text(&t["sender"])) } }
                    dt { (l.t("endorsements")) } dd { (text(&t["endorsements"])) }
                    dt { (l.t("gas")) } dd { (text(&r["gas_used"])) }
                }
            }
            section.card {
                h2 { (l.t("merkle-proof")) }
                p { @if valid { span.badge.good { (l.t("proof-valid")) } } @else { span.badge.bad { (l.t("proof-invalid")) } } }
                p.hint { (l.t("proof-hint")) }
                dl.facts {
                    dt { (l.t("tx-root")) } dd { code.hash { (text(&t["tx_root"])) } }
                    dt { (l.t("leaf")) } dd { (text(&t["proof"]["leaf_index"])) " / " (text(&t["proof"]["tree_size"])) }
                }
                ol.hashes { @for h in t["proof"]["path"].as_array().into_iter().flatten() { li { code.hash { (text(h)) } } } }
                p { (l.t("verify-yourself")) }
                pre.cmd tabindex="0" { "covenant tx get " (text(&t["tx_id"])) " --chain " (chain) " --endpoint <node-api-url>" }
                p { (l.t("verify-offline")) }
                p.actions {
                    a.button.secondary href={"/api/v1/chains/" (enc(&chain)) "/txs/" (enc(t["tx_id"].as_str().unwrap_or_default())) "/proof"} download={(t["tx_id"].as_str().unwrap_or_default().get(..16).unwrap_or_default()) ".proof"} { (l.t("download-proof")) }
                    " "
                    a.button.secondary href={"/api/v1/chains/" (enc(&chain)) "/genesis"} download={(chain) ".genesis"} { (l.t("download-genesis")) }
                }
                pre.cmd.offline tabindex="0" {
                    "covenant proof export " (text(&t["tx_id"])) " --chain " (chain) " --endpoint <node-api-url> --out tx.proof\n"
                    "covenant chain genesis --chain " (chain) " --endpoint <node-api-url> --out " (chain) ".genesis\n"
                    "covenant proof verify tx.proof --genesis " (chain) ".genesis"
                }
            }
        }
        section.card {
            h2 { (l.t("arguments")) }
            pre tabindex="0" { (pretty(&t["args"])) }
            h2 { (l.t("return-value")) }
            pre tabindex="0" { (pretty(&r["result"])) }
        }
        section.card {
            h2 { (l.t("rwset")) }
            p.hint { (l.t("rwset-hint")) }
            @let reads = t["rwset"]["reads"].as_array().cloned().unwrap_or_default();
            @let ranges = t["rwset"]["ranges"].as_array().cloned().unwrap_or_default();
            @let writes = t["rwset"]["writes"].as_array().cloned().unwrap_or_default();
            @if reads.is_empty() && ranges.is_empty() && writes.is_empty() { (empty(l, "empty-rwset", None)) } @else {
                table {
                    thead { tr { th scope="col" { (l.t("access")) } th scope="col" { (l.t("key")) } th scope="col" { (l.t("value-or-version")) } } }
                    tbody {
                        @for r in &reads {
                            tr { td { (l.t("read")) } td { code { (text(&r["key"])) } } td {
                                @if r["version"]["present"] == true { (l.ta("version-at", &[("height", r["version"]["height"].as_u64().unwrap_or_default().into()), ("index", r["version"]["index"].as_u64().unwrap_or_default().into())])) } @else { span.muted { (l.t("absent")) } }
                            } }
                        }
                        @for r in &ranges {
                            tr { td { (l.t("range-read")) } td { code { (text(&r["start"])) } " … " code { (text(&r["end"])) } } td {} }
                        }
                        @for w in &writes {
                            tr { td { @if w["delete"] == true { (l.t("delete")) } @else { (l.t("write")) } } td { code { (text(&w["key"])) } } td { @if w["delete"] != true { pre.inline tabindex="0" { (pretty(&w["value"])) } } } }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (l.t("events")) }
            @if events.is_empty() { (empty(l, "empty-tx-events", None)) } @else {
                table {
                    thead { tr { th scope="col" { (l.t("topic")) } th scope="col" { (l.t("data")) } } }
                    tbody { @for e in &events {
                        tr { td { code { (text(&e["topic"])) } } td { pre.inline tabindex="0" { (pretty(&e["data"])) } } }
                    } }
                }
            }
        }
    };
    Ok(layout::page(&v, &l.t("transaction"), Nav::Explorer, body))
}

/// `GET /explorer/{chain}/contracts/{name}`.
pub async fn contract(
    v: Viewer,
    Path((chain, name)): Path<(String, String)>,
) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let k = v
        .get(&format!(
            "/api/v1/chains/{}/contracts/{}",
            enc(&chain),
            enc(&name)
        ))
        .await?;
    let methods = k["methods"].as_array().cloned().unwrap_or_default();
    let versions = v
        .try_get(&format!(
            "/api/v1/chains/{}/contracts/{}/versions",
            enc(&chain),
            enc(&name)
        ))
        .await
        .ok()
        .and_then(|x| x["items"].as_array().cloned())
        .unwrap_or_default();
    let body = html! {
        (search_box(&v, &chain, ""))
        div.grid {
            section.card {
                h2 { (l.t("summary")) }
                dl.facts {
                    dt { (l.t("name")) } dd { code { (text(&k["name"])) } }
                    dt { (l.t("version")) } dd { (text(&k["version"])) }
                    dt { (l.t("state")) } dd { (badge(l, k["status"].as_str().unwrap_or("active"))) }
                    @if !k["runtime"].is_null() { dt { (l.t("runtime")) } dd { (text(&k["runtime"])) } }
                    @if !k["code_hash"].is_null() { dt { (l.t("code-hash")) } dd { code.hash { (text(&k["code_hash"])) } } }
                }
            }
            section.card {
                h2 { (l.t("methods")) }
                @if methods.is_empty() { (empty(l, "empty-methods", None)) } @else {
                    ul.plain { @for m in &methods { li {
                        code { (text(&m["method"])) }
                        @if let Some(orgs) = m["org_ids"].as_array().filter(|o| !o.is_empty()) { " " span.muted { (l.t("orgs")) ": " @for o in orgs { (text(o)) " " } } }
                        @if let Some(roles) = m["roles"].as_array().filter(|r| !r.is_empty()) { " " span.muted { (l.t("roles")) ": " @for r in roles { (text(r)) " " } } }
                    } } }
                }
            }
        }
        (call_form(&v, &chain, &name, &methods, "", "{}"))
        section.card {
            h2 { (l.t("contract-versions")) }
            p.hint { (l.t("contract-versions-hint")) }
            @if versions.is_empty() { (empty(l, "empty-contract-versions", None)) } @else {
                table {
                    thead { tr {
                        th scope="col" { (l.t("version")) } th scope="col" { (l.t("code-sha256")) } th scope="col" { (l.t("proposed-by")) }
                        th scope="col" { (l.t("votes")) } th scope="col" { (l.t("state")) } th scope="col" { (l.t("height")) } th scope="col" { (l.t("proposal")) }
                    } }
                    tbody { @for x in &versions {
                        tr {
                            td { @if let Some(ver) = x["version"].as_str() { (ver) } @else { code { (text(&x["kind"])) } } }
                            td { (crate::layout::short(x["code_sha256"].as_str().unwrap_or_default())) }
                            td { code { (text(&x["proposer_org"])) } }
                            td { @for vote in x["votes"].as_array().into_iter().flatten() { code { (text(&vote["org_id"])) } " " (text(&vote["decision"])) " " } }
                            td { (badge(l, x["state"].as_str().unwrap_or_default())) }
                            td { @if let Some(h) = x["height"].as_u64() { a href={"/explorer/" (enc(&chain)) "/blocks/" (h)} { (h) } } }
                            td { a href={"/proposals/" (enc(x["proposal_id"].as_str().unwrap_or_default()))} { (crate::layout::short(x["proposal_id"].as_str().unwrap_or_default())) } }
                        }
                    } }
                }
            }
        }
        section.card {
            h2 { (l.t("as-reported")) }
            pre tabindex="0" { (pretty(&k)) }
        }
    };
    Ok(layout::page(
        &v,
        &l.ta("contract-title", &[("name", name.clone().into())]),
        Nav::Explorer,
        body,
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// `GET /explorer/{chain}/search?q=`: one hit goes straight to its page.
pub async fn search(
    v: Viewer,
    Path(chain): Path<String>,
    Query(q): Query<SearchQuery>,
) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let query = q.q.unwrap_or_default();
    let c = enc(&chain);
    let href = |h: &Value| -> String {
        let id = h["id"].as_str().unwrap_or_default();
        match h["kind"].as_str().unwrap_or_default() {
            "tx" => format!("/explorer/{c}/txs/{}", enc(id)),
            "block" => format!("/explorer/{c}/blocks/{}", enc(id)),
            "contract" => format!("/explorer/{c}/contracts/{}", enc(id)),
            _ => format!("/chains/{c}"),
        }
    };
    let (hits, error) = if query.trim().is_empty() {
        (vec![], None)
    } else {
        match v
            .try_get(&format!(
                "/api/v1/chains/{c}/search?q={}",
                enc(query.trim())
            ))
            .await
        {
            Ok(h) => (h.as_array().cloned().unwrap_or_default(), None),
            Err(e) if e.status == 400 => (vec![], Some(e)),
            Err(e) => return Err(layout::error_page(&v, &e)),
        }
    };
    if hits.len() == 1 {
        return Ok(Redirect::to(&href(&hits[0])).into_response());
    }
    let body = html! {
        (search_box(&v, &chain, &query))
        @if let Some(e) = &error { (layout::refusal(l, e)) }
        section.card {
            @if hits.is_empty() {
                (empty(l, "empty-search", Some(html! { (l.t("search-hint")) })))
            } @else {
                ul.plain { @for h in &hits {
                    li { span.badge.neutral { (l.t(&format!("kind-{}", h["kind"].as_str().unwrap_or("org")))) } " " a href=(href(h)) { (text(&h["summary"])) } }
                } }
            }
        }
    };
    Ok(layout::page(
        &v,
        &l.ta("search-title", &[("q", query.clone().into())]),
        Nav::Explorer,
        body,
    ))
}

fn call_form(
    v: &Viewer,
    chain: &str,
    name: &str,
    methods: &[Value],
    method: &str,
    args: &str,
) -> Markup {
    let l = v.lang;
    let can_invoke = v.may(covenant_platform::action::CONTRACT_INVOKE);
    html! {
        section.card {
            h2 { (l.t("call-contract")) }
            p.hint { (l.t("call-contract-hint")) }
            form method="post" action={"/explorer/" (enc(chain)) "/contracts/" (enc(name)) "/call"} {
                (layout::csrf(v))
                div.field {
                    label for="m-method" { (l.t("method")) }
                    input #m-method name="method" type="text" required pattern="[A-Za-z0-9_.\\-]{1,64}" list="m-methods" value=(method);
                    datalist #m-methods { @for m in methods { option value=(text(&m["method"])) {} } }
                }
                div.field {
                    label for="m-args" { (l.t("arguments-json")) }
                    textarea #m-args name="args" rows="4" spellcheck="false" { (args) }
                }
                div.row {
                    button.secondary type="submit" name="mode" value="query" { (l.t("query")) }
                    @if can_invoke { " " button.primary type="submit" name="mode" value="invoke" { (l.t("invoke")) } }
                }
            }
        }
    }
}

/// `POST /explorer/{chain}/contracts/{name}/call`: invoke (a signed transaction) or query.
pub async fn call(
    v: Viewer,
    Path((chain, name)): Path<(String, String)>,
    form: Result<axum::Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let f = super::Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let method = f.get("method").to_string();
    let raw = f.get("args");
    let args: Value = if raw.is_empty() {
        Value::Null
    } else {
        match serde_json::from_str(raw) {
            Ok(a) => a,
            Err(e) => {
                let err = crate::gateway::ApiError::console(
                    400,
                    "INVALID_JSON",
                    format!("{}: {e}", l.t("args-not-json")),
                );
                return Err(super::refused(&v, &err));
            }
        }
    };
    let invoke = f.get("mode") == "invoke";
    let uri = format!(
        "/api/v1/chains/{}/contracts/{}/{}",
        enc(&chain),
        enc(&name),
        if invoke { "invoke" } else { "query" }
    );
    let body = serde_json::json!({"method": method, "args": args});
    let r = w
        .send(axum::http::Method::POST, &uri, &body)
        .await
        .map_err(|e| super::refused(&v, &e))?;
    let result = if invoke {
        r["result"].clone()
    } else {
        r.clone()
    };
    let events = result["events"].as_array().cloned().unwrap_or_default();
    let k = v
        .try_get(&format!(
            "/api/v1/chains/{}/contracts/{}",
            enc(&chain),
            enc(&name)
        ))
        .await
        .unwrap_or_default();
    let methods = k["methods"].as_array().cloned().unwrap_or_default();
    let page = html! {
        section.card {
            h2 { @if invoke { (l.t("invoked")) } @else { (l.t("queried")) } }
            dl.facts {
                dt { (l.t("call")) } dd { code { (name) "." (method) } }
                dt { (l.t("result")) } dd { (badge(l, result["code"].as_str().unwrap_or("pending"))) " " (text(&result["message"])) }
                @if invoke {
                    dt { (l.t("transaction")) } dd { a href={"/explorer/" (enc(&chain)) "/txs/" (enc(r["tx_id"].as_str().unwrap_or_default()))} { code.hash { (text(&r["tx_id"])) } } }
                    dt { (l.t("block")) } dd { (text(&r["height"])) }
                    dt { (l.t("signed-by")) } dd { code { (text(&r["identity"])) } }
                }
                dt { (l.t("gas")) } dd { (text(&result["gas_used"])) }
            }
            h3 { (l.t("return-value")) }
            pre tabindex="0" { (pretty(&result["result"])) }
            @if !events.is_empty() {
                h3 { (l.t("events")) }
                table {
                    thead { tr { th scope="col" { (l.t("topic")) } th scope="col" { (l.t("data")) } } }
                    tbody { @for e in &events { tr { td { code { (text(&e["topic"])) } } td { pre.inline tabindex="0" { (pretty(&e["data"])) } } } } }
                }
            }
        }
        (call_form(&v, &chain, &name, &methods, &method, raw))
    };
    Ok(layout::page(
        &v,
        &l.ta("contract-title", &[("name", name.clone().into())]),
        Nav::Explorer,
        page,
    ))
}
