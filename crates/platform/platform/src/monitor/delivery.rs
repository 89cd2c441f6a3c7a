//! Delivering notifications: each (alert, channel, event) is a row sent by the delivery loop,
//! retried with backoff until it is delivered or [`MAX_ATTEMPTS`] have failed; every row is
//! the delivery log.
//!
//! A webhook gets `POST` with a JSON body and `X-Covenant-Event`, `X-Covenant-Delivery`,
//! `X-Covenant-Timestamp` and `X-Covenant-Signature: v1=HEX` headers, where HEX is
//! HMAC-SHA256 under the channel's secret of `TIMESTAMP.BODY` (the exact bytes sent); a 2xx
//! answer delivers it. An e-mail goes through the channel's SMTP relay ([`super::smtp`]).

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform,
    db::Tx,
    error::{Error, Result},
    time::{new_id, now_ms},
};

use super::{
    alert::{self, AlertView, RuleView},
    smtp,
};

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait before attempt `n + 1` (after `n` failures): 2, 4, 8 … seconds, at most 5 minutes.
pub fn backoff_ms(failures: i64) -> i64 {
    let s = 1i64 << failures.clamp(1, 9);
    s.min(300) * 1000
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub id: String,
    pub alert_id: String,
    pub channel_id: String,
    /// `firing`, `repeat`, `resolved` or `test`.
    pub event: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub state: String,
    pub attempts: i64,
    pub next_at: i64,
    pub last_error: Option<String>,
    pub response_status: Option<i64>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    pub payload: Value,
}

fn view(r: &AnyRow) -> Result<DeliveryView> {
    Ok(DeliveryView {
        id: r.try_get("id")?,
        alert_id: r.try_get("alert_id")?,
        channel_id: r.try_get("channel_id")?,
        event: r.try_get("event")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        next_at: r.try_get("next_at")?,
        last_error: r.try_get("last_error")?,
        response_status: r.try_get("response_status")?,
        created_at: r.try_get("created_at")?,
        delivered_at: r.try_get("delivered_at")?,
        payload: serde_json::from_str(&r.try_get::<String, _>("payload")?).unwrap_or(Value::Null),
    })
}

/// The body a notification carries.
pub fn payload(a: &AlertView, rule: &RuleView, event: &str) -> Value {
    json!({
        "event": event,
        "alert": {
            "id": a.id, "state": a.state, "subject": a.subject, "subject_name": a.subject_name,
            "value": a.value, "summary": a.summary, "pending_since": a.pending_since,
            "fired_at": a.fired_at, "resolved_at": a.resolved_at,
        },
        "rule": {
            "id": rule.id, "name": rule.name, "metric": rule.metric, "threshold": rule.threshold,
            "for_s": rule.for_s, "severity": rule.severity,
        },
        "org_id": a.org_id,
        "sent_at": now_ms(),
    })
}

/// Queue a notification of `a` to `channel_id` inside `tx`.
pub async fn enqueue_in(
    tx: &mut Tx,
    a: &AlertView,
    rule: &RuleView,
    channel_id: &str,
    event: &str,
) -> Result<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO alert_deliveries (id, alert_id, org_id, channel_id, event, payload, state, attempts, next_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
    )
    .bind(new_id("adl")?)
    .bind(&a.id)
    .bind(&a.org_id)
    .bind(channel_id)
    .bind(event)
    .bind(payload(a, rule, event).to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queue a test notification to a channel; returns its delivery.
pub async fn test(p: &Platform, org_id: &str, channel_id: &str) -> Result<DeliveryView> {
    let c = alert::channel(p, org_id, channel_id).await?;
    let id = new_id("adl")?;
    let now = now_ms();
    let body = json!({
        "event": "test",
        "alert": {"id": "test", "state": "test", "subject": "", "subject_name": "",
                  "value": null, "summary": format!("a test notification to channel {}", c.name)},
        "rule": null,
        "org_id": org_id,
        "sent_at": now,
    });
    sqlx::query(
        "INSERT INTO alert_deliveries (id, alert_id, org_id, channel_id, event, payload, state, attempts, next_at, created_at) VALUES ($1, 'test', $2, $3, 'test', $4, 'pending', 0, $5, $5)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(channel_id)
    .bind(body.to_string())
    .bind(now)
    .execute(p.db().pool())
    .await?;
    get(p, org_id, &id).await
}

pub async fn get(p: &Platform, org_id: &str, id: &str) -> Result<DeliveryView> {
    sqlx::query("SELECT * FROM alert_deliveries WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .fetch_optional(p.db().pool())
        .await?
        .as_ref()
        .map(view)
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("no delivery {id}")))
}

/// What to list from the delivery log.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub alert_id: Option<String>,
    pub channel_id: Option<String>,
    pub state: Option<String>,
}

/// The org's delivery log, newest first (at most 1000).
pub async fn list(p: &Platform, org_id: &str, f: &Filter) -> Result<Vec<DeliveryView>> {
    if let Some(s) = &f.state
        && !["pending", "delivered", "failed"].contains(&s.as_str())
    {
        return Err(Error::invalid(format!(
            "state {s:?} is not one of pending, delivered, failed"
        )));
    }
    sqlx::query(
        "SELECT * FROM alert_deliveries WHERE org_id = $1 AND ($2 = '' OR alert_id = $2) AND ($3 = '' OR channel_id = $3) AND ($4 = '' OR state = $4) ORDER BY created_at DESC, id LIMIT 1000",
    )
    .bind(org_id)
    .bind(f.alert_id.as_deref().unwrap_or(""))
    .bind(f.channel_id.as_deref().unwrap_or(""))
    .bind(f.state.as_deref().unwrap_or(""))
    .fetch_all(p.db().pool())
    .await?
    .iter()
    .map(view)
    .collect()
}

/// The webhook signature of `body` sent at `timestamp` (seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// What one attempt came to.
struct Outcome {
    ok: bool,
    status: Option<i64>,
    error: Option<String>,
}

async fn send_webhook(
    http: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    d: &DeliveryView,
    body: &str,
) -> Outcome {
    let ts = now_ms() / 1000;
    let mut r = http
        .post(url)
        .timeout(ATTEMPT_TIMEOUT)
        .header("content-type", "application/json")
        .header("user-agent", "covenant-platform")
        .header("x-covenant-event", &d.event)
        .header("x-covenant-delivery", &d.id)
        .header("x-covenant-timestamp", ts.to_string());
    if let Some(s) = secret {
        r = r.header("x-covenant-signature", signature(s, ts, body.as_bytes()));
    }
    match r.body(body.to_string()).send().await {
        Ok(resp) => {
            let status = i64::from(resp.status().as_u16());
            if resp.status().is_success() {
                Outcome {
                    ok: true,
                    status: Some(status),
                    error: None,
                }
            } else {
                Outcome {
                    ok: false,
                    status: Some(status),
                    error: Some(format!("the receiver answered {status}")),
                }
            }
        }
        Err(e) => Outcome {
            ok: false,
            status: None,
            error: Some(format!("cannot reach the receiver: {e}")),
        },
    }
}

fn email_text(d: &DeliveryView) -> (String, String) {
    let a = &d.payload["alert"];
    let r = &d.payload["rule"];
    let what = match d.event.as_str() {
        "firing" => "FIRING",
        "repeat" => "STILL FIRING",
        "resolved" => "RESOLVED",
        _ => "TEST",
    };
    let subject = if r.is_null() {
        format!("[Covenant] {what}: {}", a["summary"].as_str().unwrap_or(""))
    } else {
        format!(
            "[Covenant] {what} ({}): {} - {}",
            r["severity"].as_str().unwrap_or(""),
            r["name"].as_str().unwrap_or(""),
            a["subject_name"].as_str().unwrap_or("")
        )
    };
    let body = format!(
        "{}\n\nRule: {} ({} {})\nSubject: {}\nSince: {}\nAlert: {}\nOrg: {}\n\n{}\n",
        a["summary"].as_str().unwrap_or(""),
        r["name"].as_str().unwrap_or("-"),
        r["metric"].as_str().unwrap_or("-"),
        r["threshold"],
        a["subject_name"].as_str().unwrap_or("-"),
        a["pending_since"],
        a["id"].as_str().unwrap_or(""),
        d.payload["org_id"].as_str().unwrap_or(""),
        serde_json::to_string_pretty(&d.payload).unwrap_or_default()
    );
    (subject, body)
}

async fn attempt(p: &Platform, http: &reqwest::Client, d: &DeliveryView) -> Result<Outcome> {
    let row = sqlx::query("SELECT * FROM alert_channels WHERE id = $1")
        .bind(&d.channel_id)
        .fetch_optional(p.db().pool())
        .await?;
    let Some(row) = row else {
        return Ok(Outcome {
            ok: false,
            status: None,
            error: Some("the channel was deleted".into()),
        });
    };
    let kind: String = row.try_get("kind")?;
    let target: String = row.try_get("target")?;
    let sealed: Option<String> = row.try_get("secret_sealed")?;
    let secret = alert::open_secret(p, &d.channel_id, sealed.as_deref())?;
    let smtp: Option<alert::SmtpSettings> = if kind == "email" {
        Some(
            serde_json::from_str(&row.try_get::<String, _>("settings")?)
                .map_err(|_| Error::internal("a channel's SMTP settings are damaged"))?,
        )
    } else {
        None
    };
    let body = serde_json::to_string(&d.payload).map_err(|e| Error::internal(e.to_string()))?;
    // Where it goes is checked again, resolved, at every attempt.
    let allow = p.config().private_alert_targets;
    let destination = match kind.as_str() {
        "webhook" => reqwest::Url::parse(&target).ok().and_then(|u| {
            Some((
                u.host_str()?.to_string(),
                u.port_or_known_default().unwrap_or(80),
            ))
        }),
        "email" => smtp.as_ref().map(|s| (s.host.clone(), s.port)),
        _ => None,
    };
    if let Some((host, port)) = destination
        && let Err(e) = super::target::check_resolved(&host, port, allow).await
    {
        return Ok(Outcome {
            ok: false,
            status: None,
            error: Some(e.public_message()),
        });
    }
    Ok(match kind.as_str() {
        "webhook" => send_webhook(http, &target, secret.as_deref(), d, &body).await,
        "email" => {
            let Some(settings) = smtp else {
                return Err(Error::internal("an e-mail channel without its settings"));
            };
            let to: Vec<String> = target.split(", ").map(str::to_string).collect();
            let (subject, text) = email_text(d);
            let mail = smtp::Mail {
                from: settings.from.clone(),
                to,
                subject,
                body: text,
                message_id: format!("{}@covenant", d.id),
            };
            let login = settings
                .username
                .as_deref()
                .zip(secret.as_deref())
                .map(|(u, pw)| (u.to_string(), pw.to_string()));
            match tokio::time::timeout(
                ATTEMPT_TIMEOUT,
                smtp::send(&settings.host, settings.port, login, &mail),
            )
            .await
            {
                Ok(Ok(())) => Outcome {
                    ok: true,
                    status: Some(250),
                    error: None,
                },
                Ok(Err(e)) => Outcome {
                    ok: false,
                    status: e.reply_code().map(i64::from),
                    error: Some(e.to_string()),
                },
                Err(_) => Outcome {
                    ok: false,
                    status: None,
                    error: Some("the SMTP relay did not finish in time".into()),
                },
            }
        }
        other => Outcome {
            ok: false,
            status: None,
            error: Some(format!("unknown channel kind {other}")),
        },
    })
}

/// Send every delivery that is due; returns how many were attempted.
pub async fn run_due(p: &Platform, http: &reqwest::Client) -> Result<usize> {
    let now = now_ms();
    let rows = sqlx::query(
        "SELECT * FROM alert_deliveries WHERE state = 'pending' AND next_at <= $1 ORDER BY next_at, id LIMIT 50",
    )
    .bind(now)
    .fetch_all(p.db().pool())
    .await?;
    let due = rows.iter().map(view).collect::<Result<Vec<_>>>()?;
    let mut sent = 0;
    for d in &due {
        // Claim it: whoever moves its next attempt on sends it (a claim lapses after a minute,
        // should the sender die).
        let claimed = sqlx::query(
            "UPDATE alert_deliveries SET next_at = $1 WHERE id = $2 AND state = 'pending' AND next_at = $3",
        )
        .bind(now_ms() + 60_000)
        .bind(&d.id)
        .bind(d.next_at)
        .execute(p.db().pool())
        .await?
        .rows_affected();
        if claimed == 0 {
            continue;
        }
        sent += 1;
        let o = attempt(p, http, d).await?;
        let attempts = d.attempts + 1;
        let (state, next_at) = if o.ok {
            ("delivered", now_ms())
        } else if attempts >= MAX_ATTEMPTS {
            ("failed", now_ms())
        } else {
            ("pending", now_ms() + backoff_ms(attempts))
        };
        if !o.ok {
            tracing::warn!(delivery = %d.id, channel = %d.channel_id, attempts, error = ?o.error, "a notification was not delivered");
        }
        sqlx::query(
            "UPDATE alert_deliveries SET state = $1, attempts = $2, next_at = $3, last_error = $4, response_status = $5, delivered_at = $6 WHERE id = $7",
        )
        .bind(state)
        .bind(attempts)
        .bind(next_at)
        .bind(&o.error)
        .bind(o.status)
        .bind(o.ok.then(now_ms))
        .bind(&d.id)
        .execute(p.db().pool())
        .await?;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff_ms(1), 2_000);
        assert_eq!(backoff_ms(2), 4_000);
        assert_eq!(backoff_ms(7), 128_000);
        assert_eq!(backoff_ms(8), 256_000);
        assert_eq!(backoff_ms(9), 300_000);
        assert_eq!(backoff_ms(50), 300_000);
    }

    #[test]
    fn signatures_cover_the_timestamp_and_the_exact_body() {
        let a = signature("whsec_test", 1_700_000_000, b"{\"a\":1}");
        assert!(a.starts_with("v1=") && a.len() == 3 + 64);
        assert_ne!(a, signature("whsec_test", 1_700_000_001, b"{\"a\":1}"));
        assert_ne!(a, signature("whsec_test", 1_700_000_000, b"{\"a\": 1}"));
        assert_ne!(a, signature("whsec_other", 1_700_000_000, b"{\"a\":1}"));
    }
}
