//! The audit log: my org's entries, newest first, filtered by action, account, result and
//! time, with the hash chain visible and an export of the whole log.

use axum::{extract::Query, response::Response};
use covenant_platform::action as a;
use maud::html;
use serde::Deserialize;

use crate::{
    gateway::enc,
    layout::{self, Nav, badge, empty, short, text, time},
    viewer::Viewer,
};

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    account_id: Option<String>,
    result: Option<String>,
    /// Only entries before this seq (the next page).
    after: Option<i64>,
}

/// `GET /audit`.
pub async fn list(v: Viewer, Query(q): Query<AuditQuery>) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let mut filter = String::new();
    for (k, val) in [
        ("action", &q.action),
        ("account_id", &q.account_id),
        ("result", &q.result),
    ] {
        if let Some(x) = val.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
            filter.push_str(&format!("&{k}={}", enc(x)));
        }
    }
    let mut uri = format!("/api/v1/audit?order=desc&limit=50{filter}");
    if let Some(b) = q.after {
        uri.push_str(&format!("&before={b}"));
    }
    let page = v.get(&uri).await?;
    let list = page["items"].as_array().cloned().unwrap_or_default();
    let next = if list.len() >= 50 {
        list.last().map(|e| e["seq"].clone()).unwrap_or_default()
    } else {
        serde_json::Value::Null
    };
    let base = format!("/audit?x=1{filter}");
    let body = html! {
        p.lead { (l.t("audit-intro")) }
        form.filters method="get" action="/audit" {
            div.field { label for="f-action" { (l.t("action")) } input #f-action name="action" type="text" value=(q.action.clone().unwrap_or_default()) placeholder="proposal.vote"; }
            div.field { label for="f-account" { (l.t("account")) } input #f-account name="account_id" type="text" value=(q.account_id.clone().unwrap_or_default()); }
            div.field {
                label for="f-result" { (l.t("result")) }
                select #f-result name="result" {
                    option value="" { (l.t("any")) }
                    option value="ok" selected[q.result.as_deref() == Some("ok")] { (l.t("status-ok")) }
                    option value="error" selected[q.result.as_deref() == Some("error")] { (l.t("status-error")) }
                }
            }
            button.secondary type="submit" { (l.t("filter")) }
            @if v.may(a::AUDIT_EXPORT) {
                " " a.button.secondary href="/api/v1/audit/export" download="audit.jsonl" { (l.t("export")) }
            }
        }
        section.card {
            @if list.is_empty() { (empty(l, "empty-audit", None)) } @else {
                table.sortable {
                    thead { tr {
                        th scope="col" { (l.t("seq")) } th scope="col" { (l.t("when")) } th scope="col" { (l.t("account")) }
                        th scope="col" { (l.t("action")) } th scope="col" { (l.t("target")) } th scope="col" { (l.t("result")) } th scope="col" { (l.t("hash")) }
                    } }
                    tbody { @for e in &list {
                        @let result = e["result"].as_str().unwrap_or_default();
                        tr {
                            td data-sort=(text(&e["seq"])) { (text(&e["seq"])) }
                            td { (time(e["at"].as_i64().unwrap_or_default())) }
                            td { (short(e["account_id"].as_str().unwrap_or_default())) }
                            td { code { (text(&e["action"])) } }
                            td { code { (text(&e["target"])) } }
                            td { (badge(l, if result.starts_with("ok") { "ok" } else { "error" })) " " span.muted { (result) } }
                            td { (short(e["hash"].as_str().unwrap_or_default())) }
                        }
                    } }
                }
                (layout::pager(l, &base, &next))
            }
        }
    };
    Ok(layout::page(&v, &l.t("nav-audit"), Nav::Audit, body))
}
