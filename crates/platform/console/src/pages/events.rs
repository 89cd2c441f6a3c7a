//! The event centre: my org's events, the proposals of my consortia (those awaiting my vote
//! first), and a proposal's page — its policy, voters, each vote so far and the deadline —
//! where an admin votes with a key the platform keeps, or downloads the exact bytes to sign
//! offline (`covenant proposal sign`) and uploads the signature.

use axum::{
    extract::{Path, Query, rejection::FormRejection},
    http::{HeaderValue, Method, header},
    response::{IntoResponse, Response},
};
use covenant_platform::action as a;
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Done, Fields, done, refused};
use crate::{
    gateway::enc,
    layout::{self, Nav, badge, csrf, empty, pretty, short, text, time},
    viewer::Viewer,
};

type Form = Result<axum::Form<Vec<(String, String)>>, FormRejection>;

#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    done: Option<String>,
    state: Option<String>,
    after: Option<String>,
}

/// `GET /events`.
pub async fn list(v: Viewer, Query(q): Query<EventsQuery>) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    if !v.may(a::EVENT_READ) && !v.may(a::PROPOSAL_READ) {
        return Err(layout::forbidden(&v, a::EVENT_READ));
    }
    let state = q.state.as_deref().filter(|s| {
        [
            "open",
            "approved",
            "rejected",
            "expired",
            "executing",
            "executed",
            "failed",
        ]
        .contains(s)
    });
    let mut proposals_uri = "/api/v1/proposals?limit=50".to_string();
    if let Some(s) = state {
        proposals_uri.push_str(&format!("&state={s}"));
    }
    if let Some(a) = &q.after {
        proposals_uri.push_str(&format!("&after={}", enc(a)));
    }
    let (awaiting, proposals, events) = tokio::join!(
        async {
            if v.may(a::PROPOSAL_READ) {
                v.try_get("/api/v1/proposals?awaiting_my_vote=true&limit=200")
                    .await
                    .ok()
            } else {
                None
            }
        },
        async {
            if v.may(a::PROPOSAL_READ) {
                v.try_get(&proposals_uri).await.ok()
            } else {
                None
            }
        },
        async {
            if v.may(a::EVENT_READ) {
                v.try_get("/api/v1/events?limit=500").await.ok()
            } else {
                None
            }
        },
    );
    let rows = |list: &Vec<Value>| {
        html! {
            table.sortable {
                thead { tr {
                    th scope="col" { (l.t("proposal")) } th scope="col" { (l.t("kind")) } th scope="col" { (l.t("state")) }
                    th scope="col" { (l.t("votes")) } th scope="col" { (l.t("deadline")) }
                } }
                tbody { @for p in list {
                    tr {
                        td { a href={"/proposals/" (enc(p["id"].as_str().unwrap_or_default()))} { (text(&p["title"])) } }
                        td { (layout::label(l, "proposal-kind", p["kind"].as_str().unwrap_or_default())) }
                        td { (badge(l, p["state"].as_str().unwrap_or_default())) }
                        td { (p["votes"].as_array().map_or(0, Vec::len)) " / " (p["voters"].as_array().map_or(0, Vec::len)) }
                        td data-sort=(p["deadline"].as_i64().unwrap_or_default()) { (time(p["deadline"].as_i64().unwrap_or_default())) }
                    }
                } }
            }
        }
    };
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        p.lead { (l.t("events-intro")) }
        @if let Some(w) = &awaiting {
            @let list = w["items"].as_array().cloned().unwrap_or_default();
            section.card.attention {
                h2 { (l.t("awaiting-my-vote")) }
                @if list.is_empty() { (empty(l, "empty-awaiting", None)) } @else { (rows(&list)) }
            }
        }
        @if let Some(p) = &proposals {
            @let list = p["items"].as_array().cloned().unwrap_or_default();
            section.card {
                h2 { (l.t("proposals")) }
                form.filters method="get" action="/events" {
                    label for="f-state" { (l.t("state")) }
                    select #f-state name="state" {
                        option value="" { (l.t("any")) }
                        @for s in ["open", "approved", "rejected", "expired", "executing", "executed", "failed"] {
                            option value=(s) selected[state == Some(s)] { (l.t(&format!("status-{s}"))) }
                        }
                    }
                    button.secondary type="submit" { (l.t("filter")) }
                }
                @if list.is_empty() { (empty(l, "empty-proposals", None)) } @else {
                    (rows(&list))
                    (layout::pager(l, &format!("/events?state={}", state.unwrap_or("")), &p["next"]))
                }
            }
        }
        @if let Some(e) = &events {
            @let list: Vec<Value> = e["items"].as_array().into_iter().flatten().rev().cloned().collect();
            section.card {
                h2 { (l.t("events")) }
                @if list.is_empty() { (empty(l, "empty-events", None)) } @else {
                    form.inline method="post" action="/events/read-all" { (csrf(&v)) button.secondary type="submit" { (l.t("mark-all-read")) } }
                    table {
                        thead { tr { th scope="col" { (l.t("when")) } th scope="col" { (l.t("event")) } th scope="col" { (l.t("kind")) } } }
                        tbody { @for x in &list {
                            tr class=(if x["read"] == true { "" } else { "unread" }) {
                                td { (time(x["created_at"].as_i64().unwrap_or_default())) }
                                td {
                                    @if x["subject_kind"] == "proposal" {
                                        a href={"/proposals/" (enc(x["subject_id"].as_str().unwrap_or_default()))} { (text(&x["title"])) }
                                    } @else if x["subject_kind"] == "invitation" {
                                        a href="/consortia" { (text(&x["title"])) }
                                    } @else { (text(&x["title"])) }
                                    @if x["read"] != true { " " span.badge.warn { (l.t("unread")) } }
                                }
                                td { (layout::label(l, "event-kind", x["kind"].as_str().unwrap_or_default())) }
                            }
                        } }
                    }
                }
            }
        }
    };
    Ok(layout::page(&v, &l.t("nav-events"), Nav::Events, body))
}

/// `POST /events/read-all`.
pub async fn read_all(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    match w
        .send(Method::POST, "/api/v1/events/read-all", &json!({}))
        .await
    {
        Ok(_) => Ok(done("/events", "events-read")),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `GET /proposals/{id}`.
pub async fn proposal(
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, Response> {
    let me = v.me()?.clone();
    let l = v.lang;
    let p = v.get(&format!("/api/v1/proposals/{}", enc(&id))).await?;
    let votes = p["votes"].as_array().cloned().unwrap_or_default();
    let voters = p["voters"].as_array().cloned().unwrap_or_default();
    let my_vote = votes
        .iter()
        .find(|x| x["org_id"].as_str() == Some(me.org_id()));
    let i_vote = voters
        .iter()
        .any(|x| x["org_id"].as_str() == Some(me.org_id()));
    let open = p["state"] == "open";
    let tally = &p["tally"];
    let base = format!("/proposals/{}", enc(&id));
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        div.grid {
            section.card {
                h2 { (l.t("summary")) }
                dl.facts {
                    dt { (l.t("state")) } dd { (badge(l, p["state"].as_str().unwrap_or_default())) }
                    dt { (l.t("kind")) } dd { (layout::label(l, "proposal-kind", p["kind"].as_str().unwrap_or_default())) }
                    dt { (l.t("proposer")) } dd { (text(&p["proposer_org"])) }
                    dt { (l.t("created")) } dd { (time(p["created_at"].as_i64().unwrap_or_default())) }
                    dt { (l.t("deadline")) } dd { (time(p["deadline"].as_i64().unwrap_or_default())) }
                    @if let Some(c) = p["chain_id"].as_str() { dt { (l.t("chain")) } dd { a href={"/explorer/" (enc(c))} { (c) } } }
                    @if let Some(t) = p["tx_id"].as_str() { dt { (l.t("transaction")) } dd { (short(t)) } }
                    dt { (l.t("params-digest")) } dd { (short(p["params_sha256"].as_str().unwrap_or_default())) }
                }
                @if let Some(op) = p["operation_id"].as_str() {
                    p { a href={"/operations/" (enc(op))} { (l.t("view-operation")) } }
                }
                @if !p["outcome"].is_null() {
                    h3 { (l.t("outcome")) }
                    pre tabindex="0" { (pretty(&p["outcome"])) }
                }
            }
            section.card {
                h2 { (l.t("policy")) }
                dl.facts {
                    dt { (l.t("rule")) } dd { code { (text(&p["policy"]["rule"])) } }
                    @if let Some(veto) = p["policy"]["veto"].as_array() { dt { (l.t("veto")) } dd { @for x in veto { code { (text(x)) } " " } } }
                    dt { (l.t("tally")) } dd {
                        (l.ta("tally-text", &[
                            ("approve", tally["approve_weight"].as_u64().unwrap_or_default().into()),
                            ("reject", tally["reject_weight"].as_u64().unwrap_or_default().into()),
                            ("total", tally["total_weight"].as_u64().unwrap_or_default().into()),
                        ]))
                    }
                    @if let Some(r) = tally["reason"].as_str() { dt { (l.t("reason")) } dd { (r) } }
                }
                h3 { (l.t("votes")) }
                table {
                    thead { tr { th scope="col" { (l.t("org")) } th scope="col" { (l.t("weight")) } th scope="col" { (l.t("decision")) } th scope="col" { (l.t("signed")) } } }
                    tbody { @for voter in &voters {
                        @let org = voter["org_id"].as_str().unwrap_or_default();
                        @let vote = votes.iter().find(|x| x["org_id"].as_str() == Some(org));
                        tr {
                            td { code { (org) } }
                            td { (text(&voter["weight"])) }
                            td { @if let Some(x) = vote { (badge(l, if x["decision"] == "approve" { "approved" } else { "rejected" })) } @else { span.muted { (l.t("not-voted")) } } }
                            td { @if let Some(x) = vote {
                                (time(x["created_at"].as_i64().unwrap_or_default()))
                                " " (short(x["certificate_fingerprint"].as_str().unwrap_or_default()))
                                @if x["offline"] == true { " " span.badge.neutral { (l.t("offline")) } }
                            } }
                        }
                    } }
                }
            }
        }
        section.card {
            h2 { (l.t("params")) }
            pre tabindex="0" { (pretty(&p["params"])) }
        }
        @if open && i_vote && my_vote.is_none() && v.may(a::PROPOSAL_VOTE) {
            section.card.attention {
                h2 { (l.t("cast-vote")) }
                p.hint { (l.t("cast-vote-hint")) }
                div.row {
                    form.inline method="post" action={(base) "/vote"} { (csrf(&v)) input type="hidden" name="decision" value="approve"; button.primary type="submit" { (l.t("approve")) } }
                    " "
                    form.inline method="post" action={(base) "/vote"} data-confirm=(l.t("confirm-reject")) { (csrf(&v)) input type="hidden" name="decision" value="reject"; button.danger type="submit" { (l.t("reject")) } }
                }
                h3 { (l.t("vote-offline")) }
                p.hint { (l.t("vote-offline-hint")) }
                p {
                    a.button.secondary href={(base) "/signing-request?decision=approve"} download { (l.t("download-approve")) }
                    " "
                    a.button.secondary href={(base) "/signing-request?decision=reject"} download { (l.t("download-reject")) }
                }
                form method="post" action={(base) "/signature"} {
                    (csrf(&v))
                    div.field {
                        label for="sig" { (l.t("signed-statement")) }
                        textarea #sig name="statement" rows="6" required placeholder="{ \"decision\": …, \"certificate\": …, \"signature\": … }" {}
                    }
                    button.secondary type="submit" { (l.t("upload-signature")) }
                }
            }
        } @else if open && my_vote.is_some() {
            p.notice { (l.t("already-voted")) }
        }
    };
    Ok(layout::page(&v, &text(&p["title"]), Nav::Events, body))
}

/// `POST /proposals/{id}/vote`.
pub async fn vote(v: Viewer, Path(id): Path<String>, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let decision = f.get("decision");
    match w
        .send(
            Method::POST,
            &format!("/api/v1/proposals/{}/votes", enc(&id)),
            &json!({"decision": decision}),
        )
        .await
    {
        Ok(_) => Ok(done(&format!("/proposals/{}", enc(&id)), "voted")),
        Err(e) => Err(refused(&v, &e)),
    }
}

#[derive(Debug, Deserialize)]
pub struct DecisionQuery {
    decision: Option<String>,
}

/// `GET /proposals/{id}/signing-request`: the file `covenant proposal sign` signs.
pub async fn signing_request(
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<DecisionQuery>,
) -> Result<Response, Response> {
    v.me()?;
    let decision = match q.decision.as_deref() {
        Some("reject") => "reject",
        _ => "approve",
    };
    let r = v
        .get(&format!(
            "/api/v1/proposals/{}/signing-request?decision={decision}",
            enc(&id)
        ))
        .await?;
    let body = serde_json::to_string_pretty(&r).unwrap_or_default();
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(d) = HeaderValue::from_str(&format!(
        "attachment; filename=\"proposal-{}-{decision}.json\"",
        id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "")
    )) {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    Ok(resp)
}

/// `POST /proposals/{id}/signature`: a statement signed offline.
pub async fn signature(
    v: Viewer,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let statement: Value = match serde_json::from_str(f.get("statement")) {
        Ok(s) => s,
        Err(e) => {
            let err = crate::gateway::ApiError::console(
                400,
                "INVALID_JSON",
                format!("{}: {e}", v.lang.t("statement-not-json")),
            );
            return Err(refused(&v, &err));
        }
    };
    // The statement `covenant proposal sign` writes carries more than the vote needs.
    let body = json!({
        "decision": statement["decision"],
        "certificate": statement["certificate"],
        "signature": statement["signature"],
    });
    match w
        .send(
            Method::POST,
            &format!("/api/v1/proposals/{}/signatures", enc(&id)),
            &body,
        )
        .await
    {
        Ok(_) => Ok(done(&format!("/proposals/{}", enc(&id)), "voted")),
        Err(e) => Err(refused(&v, &e)),
    }
}
