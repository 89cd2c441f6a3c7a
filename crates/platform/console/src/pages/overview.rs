//! The overview: my org's consortia, networks, chains and nodes with their health, what waits
//! for my vote, unread events and recent activity.

use axum::{extract::Query, response::Response};
use covenant_platform::action as a;
use maud::html;
use serde_json::Value;

use super::Done;
use crate::{
    gateway::enc,
    layout::{self, Nav, badge, empty, short, text, time},
    viewer::Viewer,
};

fn items(v: &Result<Value, crate::gateway::ApiError>) -> Vec<Value> {
    v.as_ref()
        .ok()
        .and_then(|v| v["items"].as_array().cloned())
        .unwrap_or_default()
}

/// `GET /`.
pub async fn show(v: Viewer, Query(q): Query<Done>) -> Result<Response, Response> {
    let me = v.me()?.clone();
    let l = v.lang;
    let (consortia, networks, chains, awaiting, events, recent) = tokio::join!(
        async {
            if v.may(a::CONSORTIUM_READ) {
                Some(v.try_get("/api/v1/consortia?limit=200").await)
            } else {
                None
            }
        },
        async {
            if v.may(a::NETWORK_READ) {
                Some(v.try_get("/api/v1/networks?limit=200").await)
            } else {
                None
            }
        },
        async {
            if v.may(a::CHAIN_READ) {
                Some(v.try_get("/api/v1/chains?limit=200").await)
            } else {
                None
            }
        },
        async {
            if v.may(a::PROPOSAL_READ) {
                Some(
                    v.try_get("/api/v1/proposals?awaiting_my_vote=true&limit=20")
                        .await,
                )
            } else {
                None
            }
        },
        async {
            if v.may(a::EVENT_READ) {
                Some(v.try_get("/api/v1/events?unread=true&limit=500").await)
            } else {
                None
            }
        },
        async {
            if v.may(a::AUDIT_READ) {
                Some(v.try_get("/api/v1/audit?order=desc&limit=10").await)
            } else {
                None
            }
        },
    );
    let consortia = consortia.map(|r| items(&r));
    let networks = networks.map(|r| items(&r));
    let chains = chains.map(|r| items(&r));
    let awaiting = awaiting.map(|r| items(&r));
    let mut events = events.map(|r| items(&r));
    if let Some(e) = events.as_mut() {
        e.reverse();
        e.truncate(10);
    }
    let recent = recent.map(|r| items(&r));
    let nodes: Vec<Value> = networks
        .iter()
        .flatten()
        .flat_map(|n| n["nodes"].as_array().cloned().unwrap_or_default())
        .collect();
    let up = nodes.iter().filter(|n| n["status"] == "up").count();
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        p.lead { (l.ta("overview-welcome", &[("name", me.account["display_name"].as_str().unwrap_or(me.username()).into()), ("org", me.org["name"].as_str().unwrap_or_default().into())])) }
        section.stats aria-label=(l.t("overview-figures")) {
            @if let Some(c) = &consortia { a.stat href="/consortia" { span.n { (c.len()) } span.k { (l.t("nav-consortia")) } } }
            @if let Some(c) = &chains { a.stat href="/explorer" { span.n { (c.len()) } span.k { (l.t("chains")) } } }
            @if networks.is_some() { a.stat href="/networks" { span.n { (up) " / " (nodes.len()) } span.k { (l.t("nodes-up")) } } }
            @if let Some(w) = &awaiting { a.stat href="/events" { span.n { (w.len()) } span.k { (l.t("awaiting-my-vote")) } } }
        }
        div.grid {
            @if let Some(w) = &awaiting {
                section.card {
                    h2 { (l.t("awaiting-my-vote")) }
                    @if w.is_empty() { (empty(l, "empty-awaiting", None)) } @else {
                        ul.plain { @for p in w {
                            li { a href={"/proposals/" (enc(p["id"].as_str().unwrap_or_default()))} { (text(&p["title"])) } " " (badge(l, p["state"].as_str().unwrap_or_default())) " " span.muted { (l.t("deadline")) " " (time(p["deadline"].as_i64().unwrap_or_default())) } }
                        } }
                    }
                }
            }
            @if let Some(c) = &consortia {
                section.card {
                    h2 { (l.t("nav-consortia")) }
                    @if c.is_empty() {
                        (empty(l, "empty-consortia", Some(html! { a href="/consortia" { (l.t("create-consortium")) } })))
                    } @else {
                        ul.plain { @for x in c {
                            li { a href={"/consortia/" (enc(x["id"].as_str().unwrap_or_default()))} { (text(&x["name"])) } " " span.muted { (l.ta("members-count", &[("count", x["members"].as_array().map_or(0, Vec::len).into())])) } }
                        } }
                    }
                }
            }
            @if let Some(ch) = &chains {
                section.card {
                    h2 { (l.t("chains")) }
                    @if ch.is_empty() { (empty(l, "empty-chains", None)) } @else {
                        table {
                            thead { tr { th scope="col" { (l.t("chain")) } th scope="col" { (l.t("consensus")) } th scope="col" { (l.t("state")) } } }
                            tbody { @for x in ch {
                                @let id = x["id"].as_str().unwrap_or_default();
                                tr { td { a href={"/explorer/" (enc(id))} { (id) } } td { (text(&x["consensus"])) " · " (text(&x["suite"])) } td { (badge(l, x["state"].as_str().unwrap_or_default())) } }
                            } }
                        }
                    }
                }
            }
            @if networks.is_some() {
                section.card {
                    h2 { (l.t("nodes")) }
                    @if nodes.is_empty() { (empty(l, "empty-nodes", None)) } @else {
                        table {
                            thead { tr { th scope="col" { (l.t("node")) } th scope="col" { (l.t("org")) } th scope="col" { (l.t("health")) } th scope="col" { (l.t("height")) } th scope="col" { (l.t("peers")) } } }
                            tbody { @for n in &nodes {
                                tr {
                                    td { a href={"/nodes/" (enc(n["id"].as_str().unwrap_or_default()))} { (text(&n["name"])) } }
                                    td { (text(&n["org_id"])) }
                                    td { (badge(l, n["status"].as_str().unwrap_or("unknown"))) }
                                    td { @for (c, h) in n["heights"].as_object().into_iter().flatten() { span.muted { (c) ": " } (text(h)) " " } }
                                    td { (text(&n["peers"])) }
                                }
                            } }
                        }
                    }
                }
            }
            @if let Some(e) = &events {
                section.card {
                    h2 { (l.t("unread-events")) }
                    @if e.is_empty() { (empty(l, "empty-unread", None)) } @else {
                        ul.plain { @for x in e {
                            li { (time(x["created_at"].as_i64().unwrap_or_default())) " " (text(&x["title"])) }
                        } }
                        p { a href="/events" { (l.t("all-events")) } }
                    }
                }
            }
            @if let Some(r) = &recent {
                section.card {
                    h2 { (l.t("recent-activity")) }
                    @if r.is_empty() { (empty(l, "empty-activity", None)) } @else {
                        ul.plain { @for x in r {
                            li { (time(x["at"].as_i64().unwrap_or_default())) " " code { (text(&x["action"])) } " " (short(x["target"].as_str().unwrap_or_default())) " " (badge(l, if x["result"].as_str().unwrap_or_default().starts_with("ok") { "ok" } else { "error" })) }
                        } }
                        p { a href="/audit" { (l.t("nav-audit")) } }
                    }
                }
            }
        }
    };
    Ok(layout::page(&v, &l.t("nav-overview"), Nav::Overview, body))
}
