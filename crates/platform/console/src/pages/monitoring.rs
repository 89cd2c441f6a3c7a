//! Monitoring and alerts: what is firing, the org's rules and channels (with forms to add
//! them), and the delivery log; and the metric charts of a node page.

use axum::{
    extract::{Path, Query, rejection::FormRejection},
    http::Method,
    response::Response,
};
use covenant_platform::action as a;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Done, Fields, done, refused};
use crate::{
    chart::{Bar, bars_in},
    gateway::enc,
    i18n::Lang,
    layout::{self, Nav, badge, confirm_button, csrf, empty, label, short, text, time, utc},
    viewer::Viewer,
};

type Form = Result<axum::Form<Vec<(String, String)>>, FormRejection>;

const METRICS: [&str; 8] = [
    "node_down",
    "height_stalled_s",
    "disk_used_percent",
    "memory_mb",
    "cpu_percent",
    "txpool_size",
    "cert_expiring_days",
    "tx_failures_per_min",
];

fn items(v: &Result<Value, crate::gateway::ApiError>) -> Vec<Value> {
    v.as_ref()
        .ok()
        .and_then(|x| x["items"].as_array().cloned())
        .unwrap_or_default()
}

/// `GET /monitoring`.
pub async fn show(v: Viewer, Query(q): Query<Done>) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    if !v.may(a::MONITOR_READ) {
        return Err(layout::forbidden(&v, a::MONITOR_READ));
    }
    let (alerts, rules, channels, log) = tokio::join!(
        v.try_get("/api/v1/alerts?limit=50"),
        v.try_get("/api/v1/alert-rules?limit=200"),
        v.try_get("/api/v1/alert-channels?limit=200"),
        v.try_get("/api/v1/alert-deliveries?limit=30"),
    );
    let (alerts, rules, channels, log) =
        (items(&alerts), items(&rules), items(&channels), items(&log));
    let manage = v.may(a::MONITOR_MANAGE);
    let channel_name = |id: &str| -> String {
        channels
            .iter()
            .find(|c| c["id"] == id)
            .map_or_else(|| id.to_string(), |c| text(&c["name"]))
    };
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        p.lead { (l.t("monitoring-intro")) }
        section.card {
            h2 { (l.t("alerts")) }
            @if alerts.is_empty() { (empty(l, "empty-alerts", None)) } @else {
                table {
                    thead { tr { th scope="col" { (l.t("state")) } th scope="col" { (l.t("rule")) } th scope="col" { (l.t("severity")) } th scope="col" { (l.t("subject")) } th scope="col" { (l.t("summary")) } th scope="col" { (l.t("since")) } } }
                    tbody { @for x in &alerts {
                        tr {
                            td { (badge(l, x["state"].as_str().unwrap_or_default())) }
                            td { (text(&x["rule_name"])) }
                            td { (label(l, "severity", x["severity"].as_str().unwrap_or_default())) }
                            td { (text(&x["subject_name"])) }
                            td { (text(&x["summary"])) }
                            td { (time(x["pending_since"].as_i64().unwrap_or_default())) }
                        }
                    } }
                }
            }
        }
        section.card {
            h2 { (l.t("alert-rules")) }
            @if rules.is_empty() { (empty(l, "empty-rules", None)) } @else {
                table {
                    thead { tr { th scope="col" { (l.t("name")) } th scope="col" { (l.t("metric")) } th scope="col" { (l.t("threshold")) } th scope="col" { (l.t("for-s")) } th scope="col" { (l.t("severity")) } th scope="col" { (l.t("channels")) } th scope="col" { span.sr-only { (l.t("actions")) } } } }
                    tbody { @for r in &rules {
                        tr {
                            td { (text(&r["name"])) @if r["enabled"] != true { " " span.muted { (l.t("disabled")) } } }
                            td { (label(l, "metric", r["metric"].as_str().unwrap_or_default())) }
                            td { (text(&r["threshold"])) }
                            td { (text(&r["for_s"])) }
                            td { (label(l, "severity", r["severity"].as_str().unwrap_or_default())) }
                            td { @for c in r["channels"].as_array().into_iter().flatten() { (channel_name(c.as_str().unwrap_or_default())) " " } }
                            td { @if manage { (confirm_button(&v, &format!("/monitoring/rules/{}/delete", enc(r["id"].as_str().unwrap_or_default())), &l.t("delete"), &l.t("confirm-delete-rule"), true)) } }
                        }
                    } }
                }
            }
            @if manage { (rule_form(&v, l, &channels)) }
        }
        section.card {
            h2 { (l.t("alert-channels")) }
            @if channels.is_empty() { (empty(l, "empty-channels", None)) } @else {
                table {
                    thead { tr { th scope="col" { (l.t("name")) } th scope="col" { (l.t("kind")) } th scope="col" { (l.t("target")) } th scope="col" { span.sr-only { (l.t("actions")) } } } }
                    tbody { @for c in &channels {
                        @let id = c["id"].as_str().unwrap_or_default();
                        tr {
                            td { (text(&c["name"])) }
                            td { (text(&c["kind"])) }
                            td { code { (text(&c["target"])) } }
                            td { @if manage {
                                form.inline method="post" action={"/monitoring/channels/" (enc(id)) "/test"} { (csrf(&v)) button.secondary type="submit" { (l.t("send-test")) } }
                                " "
                                (confirm_button(&v, &format!("/monitoring/channels/{}/delete", enc(id)), &l.t("delete"), &l.t("confirm-delete-channel"), true))
                            } }
                        }
                    } }
                }
            }
            @if manage { (channel_form(&v, l)) }
        }
        section.card {
            h2 { (l.t("delivery-log")) }
            @if log.is_empty() { (empty(l, "empty-deliveries", None)) } @else {
                table {
                    thead { tr { th scope="col" { (l.t("when")) } th scope="col" { (l.t("channel")) } th scope="col" { (l.t("event")) } th scope="col" { (l.t("state")) } th scope="col" { (l.t("attempts")) } th scope="col" { (l.t("answer")) } } }
                    tbody { @for d in &log {
                        tr {
                            td { (time(d["created_at"].as_i64().unwrap_or_default())) }
                            td { (channel_name(d["channel_id"].as_str().unwrap_or_default())) }
                            td { code { (text(&d["event"])) } }
                            td { (badge(l, d["state"].as_str().unwrap_or_default())) }
                            td { (text(&d["attempts"])) }
                            td { @if let Some(s) = d["response_status"].as_i64() { code { (s) } " " } @if let Some(e) = d["last_error"].as_str() { span.muted { (e) } } }
                        }
                    } }
                }
            }
        }
    };
    Ok(layout::page(
        &v,
        &l.t("nav-monitoring"),
        Nav::Monitoring,
        body,
    ))
}

fn rule_form(v: &Viewer, l: Lang, channels: &[Value]) -> Markup {
    html! {
        h3 { (l.t("add-rule")) }
        form method="post" action="/monitoring/rules" {
            (csrf(v))
            div.field { label for="ar-name" { (l.t("name")) } input #ar-name name="name" type="text" required maxlength="100"; }
            div.field {
                label for="ar-metric" { (l.t("metric")) }
                select #ar-metric name="metric" aria-describedby="ar-metric-hint" { @for m in METRICS { option value=(m) { (l.t(&format!("metric-{}", m.replace('_', "-")))) } } }
                p.hint #ar-metric-hint { (l.t("metric-hint")) }
            }
            div.field { label for="ar-threshold" { (l.t("threshold")) } input #ar-threshold name="threshold" type="number" value="0" min="0"; }
            div.field { label for="ar-for" { (l.t("for-s")) } input #ar-for name="for_s" type="number" value="60" min="0" max="86400"; }
            div.field { label for="ar-repeat" { (l.t("repeat-s")) } input #ar-repeat name="repeat_s" type="number" value="0" min="0" max="604800"; }
            div.field {
                label for="ar-severity" { (l.t("severity")) }
                select #ar-severity name="severity" { @for s in ["info", "warning", "critical"] { option value=(s) selected[s == "warning"] { (l.t(&format!("severity-{s}"))) } } }
            }
            @if !channels.is_empty() {
                fieldset.checks {
                    legend { (l.t("channels")) }
                    @for c in channels {
                        @let id = c["id"].as_str().unwrap_or_default();
                        div.check { input type="checkbox" id={"ar-c-" (id)} name="channels" value=(id); label for={"ar-c-" (id)} { (text(&c["name"])) } }
                    }
                }
            }
            button.primary type="submit" { (l.t("add-rule")) }
        }
    }
}

fn channel_form(v: &Viewer, l: Lang) -> Markup {
    html! {
        h3 { (l.t("add-channel")) }
        form method="post" action="/monitoring/channels" {
            (csrf(v))
            div.field { label for="ac-name" { (l.t("name")) } input #ac-name name="name" type="text" required maxlength="100"; }
            div.field {
                label for="ac-kind" { (l.t("kind")) }
                select #ac-kind name="kind" { option value="webhook" { "Webhook" } option value="email" { (l.t("email")) } }
            }
            div.field { label for="ac-url" { (l.t("webhook-url")) } input #ac-url name="url" type="url" placeholder="https://ops.example/hooks/covenant"; }
            div.field { label for="ac-to" { (l.t("email-to")) } input #ac-to name="to" type="text" placeholder="ops@example.com, cto@example.com"; }
            div.field { label for="ac-host" { (l.t("smtp-relay")) } input #ac-host name="smtp_host" type="text" placeholder="smtp.example.com"; }
            div.field { label for="ac-port" { (l.t("smtp-port")) } input #ac-port name="smtp_port" type="number" min="1" max="65535" value="25"; }
            div.field { label for="ac-from" { (l.t("email-from")) } input #ac-from name="smtp_from" type="text" placeholder="alerts@example.com"; }
            p.hint { (l.t("channel-hint")) }
            button.primary type="submit" { (l.t("add-channel")) }
        }
    }
}

/// `POST /monitoring/rules`.
pub async fn create_rule(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let num = |k: &str| f.get(k).parse::<i64>().unwrap_or(0);
    let body = json!({
        "name": f.get("name"), "metric": f.get("metric"), "threshold": num("threshold"),
        "for_s": num("for_s"), "repeat_s": num("repeat_s"), "severity": f.get("severity"),
        "channels": f.all("channels"),
    });
    match w.send(Method::POST, "/api/v1/alert-rules", &body).await {
        Ok(_) => Ok(done("/monitoring", "rule-added")),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `POST /monitoring/channels`.
pub async fn create_channel(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let body = if f.get("kind") == "email" {
        json!({
            "name": f.get("name"), "kind": "email",
            "to": f.get("to").split(',').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>(),
            "smtp": {"host": f.get("smtp_host"), "port": f.get("smtp_port").parse::<u16>().unwrap_or(25), "from": f.get("smtp_from")},
        })
    } else {
        json!({"name": f.get("name"), "kind": "webhook", "url": f.get("url")})
    };
    match w.send(Method::POST, "/api/v1/alert-channels", &body).await {
        Ok(c) => {
            // The webhook's signing key is shown once: here.
            if let Some(secret) = c["secret"].as_str() {
                let l = v.lang;
                let page = html! {
                    div.notice.good role="status" { (l.t("done-channel-added")) }
                    section.card {
                        h2 { (l.t("webhook-secret")) }
                        p { (l.t("webhook-secret-once")) }
                        pre.log tabindex="0" { (secret) }
                        p { a href="/monitoring" { (l.t("back-to-monitoring")) } }
                    }
                };
                return Ok(layout::page(
                    &v,
                    &l.t("nav-monitoring"),
                    Nav::Monitoring,
                    page,
                ));
            }
            Ok(done("/monitoring", "channel-added"))
        }
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `POST /monitoring/{rules|channels}/{id}/{delete|test}`.
pub async fn act(
    v: Viewer,
    Path((what, id, action)): Path<(String, String, String)>,
    form: Form,
) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let (method, uri, notice) = match (what.as_str(), action.as_str()) {
        ("rules", "delete") => (
            Method::DELETE,
            format!("/api/v1/alert-rules/{}", enc(&id)),
            "rule-deleted",
        ),
        ("channels", "delete") => (
            Method::DELETE,
            format!("/api/v1/alert-channels/{}", enc(&id)),
            "channel-deleted",
        ),
        ("channels", "test") => (
            Method::POST,
            format!("/api/v1/alert-channels/{}/test", enc(&id)),
            "test-sent",
        ),
        _ => return Err(layout::not_found(&v)),
    };
    match w.send(method, &uri, &json!({})).await {
        Ok(_) => Ok(done("/monitoring", notice)),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// The metric charts of a node page (samples of the last hour), if the viewer may read them.
pub async fn node_charts(v: &Viewer, node_id: &str) -> Markup {
    let l = v.lang;
    if !v.may(a::MONITOR_READ) {
        return html! {};
    }
    let got = v
        .try_get(&format!("/api/v1/nodes/{}/metrics", enc(node_id)))
        .await;
    let samples = got
        .as_ref()
        .ok()
        .and_then(|x| x["samples"].as_array().cloned())
        .unwrap_or_default();
    let series = |key: &str, scale: f64| -> Vec<Bar> {
        samples
            .iter()
            .filter_map(|s| {
                let at = s["at"].as_i64()?;
                let value = s[key].as_f64()? * scale;
                Some(Bar {
                    label: utc(at).1,
                    value,
                })
            })
            .collect()
    };
    let charts = [
        ("cpu", l.t("chart-cpu"), series("cpu_percent", 1.0)),
        (
            "memory",
            l.t("chart-memory"),
            series("memory_bytes", 1.0 / 1_048_576.0),
        ),
        ("height", l.t("height"), series("height", 1.0)),
        ("txpool", l.t("chart-txpool"), series("txpool", 1.0)),
        ("disk", l.t("chart-disk"), series("disk_used_percent", 1.0)),
        ("tps", l.t("chart-tps"), series("tps", 1.0)),
        (
            "failures",
            l.t("chart-failures"),
            series("tx_failures_per_min", 1.0),
        ),
    ];
    let latest = samples.last().cloned().unwrap_or(Value::Null);
    html! {
        section.card {
            h2 { (l.t("node-metrics")) }
            @match &got {
                Err(e) => { (layout::refusal(l, e)) }
                Ok(_) if samples.is_empty() => { (empty(l, "empty-samples", None)) }
                Ok(_) => {
                    dl.facts {
                        @if let Some(u) = latest["uptime_s"].as_i64() { dt { (l.t("uptime")) } dd { (u / 3600) " h " (u % 3600 / 60) " min" } }
                        @if let Some(r) = latest["round"].as_i64() { dt { (l.t("round")) } dd { (r) } }
                        @if let Some(b) = latest["block_interval_ms"].as_i64() { dt { (l.t("block-interval")) } dd { (b) " ms" } }
                        dt { (l.t("samples")) } dd { (samples.len()) " " span.muted { (short(node_id)) } }
                    }
                    div.grid {
                        @for (id, title, bars) in &charts {
                            @if !bars.is_empty() {
                                figure {
                                    figcaption { (title) }
                                    (bars_in(&format!("chart-{id}"), title, &l.ta("chart-desc-samples", &[("count", (bars.len() as i64).into())]), bars))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
