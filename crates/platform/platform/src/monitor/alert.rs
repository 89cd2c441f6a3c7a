//! Alert rules and channels of an org, and the alerts they raise.
//!
//! A rule is a condition over a metric of the org's nodes (down, height not advancing, disk,
//! memory, CPU, txpool) or of its certificates (days left), held for `for_s` seconds before
//! it fires. A firing alert notifies the rule's channels once, again every `repeat_s` while it
//! holds (0: never again), and once more when it resolves. Each condition is looked at every
//! tick; an alert is per rule and subject (a node or a certificate).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform,
    certificate::{self, CertKind},
    db::is_unique_violation,
    error::{Error, Result},
    event,
    time::{new_id, now_ms},
};

use super::{delivery, sample};

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// A node the platform runs does not answer its API (threshold unused).
    NodeDown,
    /// A node's height has not changed for more than `threshold` seconds.
    HeightStalledS,
    /// Its data directory's file system is more than `threshold` percent full.
    DiskUsedPercent,
    /// Its resident memory is above `threshold` MiB.
    MemoryMb,
    /// It uses more than `threshold` percent of a core.
    CpuPercent,
    /// Its txpools hold more than `threshold` transactions.
    TxpoolSize,
    /// A certificate of the org has fewer than `threshold` days left (or expired).
    CertExpiringDays,
    /// More than `threshold` of a node's committed transactions per minute failed.
    TxFailuresPerMin,
}

pub const METRICS: [Metric; 8] = [
    Metric::NodeDown,
    Metric::HeightStalledS,
    Metric::DiskUsedPercent,
    Metric::MemoryMb,
    Metric::CpuPercent,
    Metric::TxpoolSize,
    Metric::CertExpiringDays,
    Metric::TxFailuresPerMin,
];

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::NodeDown => "node_down",
            Metric::HeightStalledS => "height_stalled_s",
            Metric::DiskUsedPercent => "disk_used_percent",
            Metric::MemoryMb => "memory_mb",
            Metric::CpuPercent => "cpu_percent",
            Metric::TxpoolSize => "txpool_size",
            Metric::CertExpiringDays => "cert_expiring_days",
            Metric::TxFailuresPerMin => "tx_failures_per_min",
        }
    }

    pub fn parse(s: &str) -> Result<Metric> {
        METRICS
            .iter()
            .copied()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                Error::invalid_as(
                    "ALERT_METRIC_UNKNOWN",
                    format!(
                        "metric {s:?} is not one of {}",
                        METRICS.map(Metric::name).join(", ")
                    ),
                )
            })
    }

    fn threshold_range(self) -> (i64, i64) {
        match self {
            Metric::NodeDown => (0, 0),
            Metric::HeightStalledS => (1, 30 * 86_400),
            Metric::DiskUsedPercent | Metric::CpuPercent => (1, 100_000),
            Metric::MemoryMb | Metric::TxpoolSize | Metric::TxFailuresPerMin => {
                (1, i64::from(u32::MAX))
            }
            Metric::CertExpiringDays => (1, 3650),
        }
    }
}

pub const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];

/// A rule as shown.
#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub metric: Metric,
    pub threshold: i64,
    pub for_s: i64,
    pub severity: String,
    pub repeat_s: i64,
    pub channels: Vec<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub version: i64,
}

/// A rule to create, or the new fields of one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    pub name: String,
    pub metric: String,
    #[serde(default)]
    pub threshold: i64,
    #[serde(default)]
    pub for_s: i64,
    #[serde(default = "warning")]
    pub severity: String,
    #[serde(default)]
    pub repeat_s: i64,
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn warning() -> String {
    "warning".into()
}

fn yes() -> bool {
    true
}

fn rule_view(r: &AnyRow) -> Result<RuleView> {
    let metric: String = r.try_get("metric")?;
    Ok(RuleView {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        name: r.try_get("name")?,
        metric: Metric::parse(&metric)?,
        threshold: r.try_get("threshold")?,
        for_s: r.try_get("for_s")?,
        severity: r.try_get("severity")?,
        repeat_s: r.try_get("repeat_s")?,
        channels: serde_json::from_str(&r.try_get::<String, _>("channels")?)
            .map_err(|_| Error::internal("a rule's channels are damaged"))?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        created_at: r.try_get("created_at")?,
        version: r.try_get("version")?,
    })
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "a name is 1 to 100 characters, none of them control characters",
        ));
    }
    Ok(())
}

async fn check_rule(p: &Platform, org_id: &str, r: &NewRule) -> Result<Metric> {
    check_name(&r.name)?;
    let metric = Metric::parse(&r.metric)?;
    let (lo, hi) = metric.threshold_range();
    if !(lo..=hi).contains(&r.threshold) {
        return Err(Error::invalid(format!(
            "the threshold of {} is {lo} to {hi}",
            metric.name()
        )));
    }
    if !(0..=86_400).contains(&r.for_s) {
        return Err(Error::invalid("for_s is 0 to 86400 seconds"));
    }
    if r.repeat_s != 0 && !(5..=7 * 86_400).contains(&r.repeat_s) {
        return Err(Error::invalid(
            "repeat_s is 0 (never repeat) or 5 to 604800 seconds",
        ));
    }
    if !SEVERITIES.contains(&r.severity.as_str()) {
        return Err(Error::invalid(format!(
            "severity {:?} is not one of {}",
            r.severity,
            SEVERITIES.join(", ")
        )));
    }
    if r.channels.len() > 20 {
        return Err(Error::invalid("a rule notifies at most 20 channels"));
    }
    for c in &r.channels {
        channel(p, org_id, c).await.map_err(|_| {
            Error::invalid_as(
                "CHANNEL_UNKNOWN",
                format!("your org has no alert channel {c}"),
            )
        })?;
    }
    Ok(metric)
}

/// Create a rule for `org_id`.
pub async fn create_rule(p: &Platform, org_id: &str, r: &NewRule) -> Result<RuleView> {
    let metric = check_rule(p, org_id, r).await?;
    let id = new_id("alr")?;
    let res = sqlx::query(
        "INSERT INTO alert_rules (id, org_id, name, metric, threshold, for_s, severity, repeat_s, channels, enabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(&r.name)
    .bind(metric.name())
    .bind(r.threshold)
    .bind(r.for_s)
    .bind(&r.severity)
    .bind(r.repeat_s)
    .bind(json!(r.channels).to_string())
    .bind(i64::from(r.enabled))
    .bind(now_ms())
    .execute(p.db().pool())
    .await;
    match res {
        Err(e) if is_unique_violation(&e) => Err(Error::conflict(
            "RULE_EXISTS",
            format!("your org has a rule named {} already", r.name),
        )),
        other => {
            other?;
            rule(p, org_id, &id).await
        }
    }
}

/// Replace a rule's fields if it is still at `version`.
pub async fn update_rule(
    p: &Platform,
    org_id: &str,
    id: &str,
    version: i64,
    r: &NewRule,
) -> Result<RuleView> {
    rule(p, org_id, id).await?;
    let metric = check_rule(p, org_id, r).await?;
    let res = sqlx::query(
        "UPDATE alert_rules SET name = $1, metric = $2, threshold = $3, for_s = $4, severity = $5, repeat_s = $6, channels = $7, enabled = $8, version = version + 1 WHERE id = $9 AND org_id = $10 AND version = $11",
    )
    .bind(&r.name)
    .bind(metric.name())
    .bind(r.threshold)
    .bind(r.for_s)
    .bind(&r.severity)
    .bind(r.repeat_s)
    .bind(json!(r.channels).to_string())
    .bind(i64::from(r.enabled))
    .bind(id)
    .bind(org_id)
    .bind(version)
    .execute(p.db().pool())
    .await;
    let n = match res {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "RULE_EXISTS",
                format!("your org has a rule named {} already", r.name),
            ));
        }
        other => other?.rows_affected(),
    };
    if n == 0 {
        return Err(Error::VersionMismatch(format!(
            "rule {id} changed since version {version}; read it again"
        )));
    }
    rule(p, org_id, id).await
}

/// Delete a rule; its open alerts resolve without notice.
pub async fn delete_rule(p: &Platform, org_id: &str, id: &str) -> Result<()> {
    rule(p, org_id, id).await?;
    let mut tx = p.db().write().await?;
    sqlx::query(
        "UPDATE alerts SET state = 'resolved', resolved_at = $1, summary = summary || ' (rule deleted)' WHERE rule_id = $2 AND state = 'firing'",
    )
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM alerts WHERE rule_id = $1 AND state = 'pending'")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM alert_rules WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn rule(p: &Platform, org_id: &str, id: &str) -> Result<RuleView> {
    sqlx::query("SELECT * FROM alert_rules WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .fetch_optional(p.db().pool())
        .await?
        .as_ref()
        .map(rule_view)
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("no alert rule {id}")))
}

pub async fn rules(p: &Platform, org_id: &str) -> Result<Vec<RuleView>> {
    sqlx::query("SELECT * FROM alert_rules WHERE org_id = $1 ORDER BY name")
        .bind(org_id)
        .fetch_all(p.db().pool())
        .await?
        .iter()
        .map(rule_view)
        .collect()
}

// --- channels ---------------------------------------------------------------------------------

/// A channel as shown: never its secret.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelView {
    pub id: String,
    pub org_id: String,
    pub name: String,
    /// `webhook` or `email`.
    pub kind: String,
    /// The webhook's URL, or the e-mail recipients.
    pub target: String,
    /// For e-mail: the SMTP relay's `host`, `port`, `from` and `username`.
    pub settings: Value,
    /// Whether a secret is kept (the webhook's signing key, the SMTP password).
    pub has_secret: bool,
    pub created_at: i64,
    /// The webhook's signing key: only in the answer that created the channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A channel to create.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    pub name: String,
    pub kind: String,
    /// Webhook: the URL (http or https).
    #[serde(default)]
    pub url: Option<String>,
    /// Webhook: the signing key (made for you when left out).
    #[serde(default)]
    pub secret: Option<String>,
    /// E-mail: recipients.
    #[serde(default)]
    pub to: Vec<String>,
    /// E-mail: the SMTP relay.
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    #[serde(default = "smtp_port")]
    pub port: u16,
    pub from: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
}

fn smtp_port() -> u16 {
    25
}

fn channel_view(r: &AnyRow) -> Result<ChannelView> {
    Ok(ChannelView {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        target: r.try_get("target")?,
        settings: serde_json::from_str(&r.try_get::<String, _>("settings")?).unwrap_or(Value::Null),
        has_secret: r.try_get::<Option<String>, _>("secret_sealed")?.is_some(),
        created_at: r.try_get("created_at")?,
        secret: None,
    })
}

fn check_url(url: &str) -> Result<()> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2000
        && reqwest::Url::parse(url).is_ok_and(|u| u.host_str().is_some());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "a webhook URL is an http:// or https:// URL with a host",
        ))
    }
}

/// Check an e-mail address (the part between angle brackets).
pub fn check_address(a: &str) -> Result<()> {
    let ok = a.len() <= 254
        && a.split('@').count() == 2
        && a.split('@').all(|p| !p.is_empty())
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("{a:?} is not an e-mail address")))
    }
}

/// Create a channel for `org_id`.
pub async fn create_channel(p: &Platform, org_id: &str, c: &NewChannel) -> Result<ChannelView> {
    check_name(&c.name)?;
    let id = new_id("ach")?;
    let (target, settings, secret, shown) = match c.kind.as_str() {
        "webhook" => {
            let url = c
                .url
                .as_deref()
                .ok_or_else(|| Error::invalid("a webhook channel needs its url"))?;
            check_url(url)?;
            if let Some(host) = reqwest::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
            {
                super::target::check_host(&host, p.config().private_alert_targets)?;
            }
            if !c.to.is_empty() || c.smtp.is_some() {
                return Err(Error::invalid(
                    "a webhook channel takes url and secret only",
                ));
            }
            let secret = match &c.secret {
                Some(s) if (16..=256).contains(&s.len()) => s.clone(),
                Some(_) => {
                    return Err(Error::invalid("a webhook secret is 16 to 256 characters"));
                }
                None => format!("whsec_{}", crate::time::secret(24)?),
            };
            (
                url.to_string(),
                json!({}),
                Some(secret.clone()),
                Some(secret),
            )
        }
        "email" => {
            if c.url.is_some() || c.secret.is_some() {
                return Err(Error::invalid("an e-mail channel takes to and smtp only"));
            }
            if c.to.is_empty() || c.to.len() > 20 {
                return Err(Error::invalid("an e-mail channel has 1 to 20 recipients"));
            }
            for a in &c.to {
                check_address(a)?;
            }
            let smtp = c
                .smtp
                .as_ref()
                .ok_or_else(|| Error::invalid("an e-mail channel needs its smtp relay"))?;
            if smtp.host.is_empty()
                || smtp.host.len() > 253
                || smtp
                    .host
                    .chars()
                    .any(|ch| ch.is_whitespace() || ch.is_control())
            {
                return Err(Error::invalid("the SMTP host is a host name or address"));
            }
            if smtp.port == 0 {
                return Err(Error::invalid("the SMTP port is 1 to 65535"));
            }
            super::target::check_host(&smtp.host, p.config().private_alert_targets)?;
            check_address(&smtp.from)?;
            if smtp.username.is_some() != smtp.password.is_some() {
                return Err(Error::invalid(
                    "give both the SMTP username and password, or neither",
                ));
            }
            (
                c.to.join(", "),
                serde_json::to_value(smtp).map_err(|e| Error::internal(e.to_string()))?,
                smtp.password.clone(),
                None,
            )
        }
        other => {
            return Err(Error::invalid(format!(
                "kind {other:?} is not one of webhook, email"
            )));
        }
    };
    let sealed = match &secret {
        Some(s) => Some(
            p.vault()
                .seal(&format!("alert-channel:{id}"), s.as_bytes())?,
        ),
        None => None,
    };
    let res = sqlx::query(
        "INSERT INTO alert_channels (id, org_id, name, kind, target, settings, secret_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(&c.name)
    .bind(&c.kind)
    .bind(&target)
    .bind(settings.to_string())
    .bind(&sealed)
    .bind(now_ms())
    .execute(p.db().pool())
    .await;
    match res {
        Err(e) if is_unique_violation(&e) => Err(Error::conflict(
            "CHANNEL_EXISTS",
            format!("your org has a channel named {} already", c.name),
        )),
        other => {
            other?;
            let mut v = channel(p, org_id, &id).await?;
            v.secret = shown;
            Ok(v)
        }
    }
}

pub async fn channel(p: &Platform, org_id: &str, id: &str) -> Result<ChannelView> {
    sqlx::query("SELECT * FROM alert_channels WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .fetch_optional(p.db().pool())
        .await?
        .as_ref()
        .map(channel_view)
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("no alert channel {id}")))
}

pub async fn channels(p: &Platform, org_id: &str) -> Result<Vec<ChannelView>> {
    sqlx::query("SELECT * FROM alert_channels WHERE org_id = $1 ORDER BY name")
        .bind(org_id)
        .fetch_all(p.db().pool())
        .await?
        .iter()
        .map(channel_view)
        .collect()
}

/// Delete a channel no rule names.
pub async fn delete_channel(p: &Platform, org_id: &str, id: &str) -> Result<()> {
    channel(p, org_id, id).await?;
    let users: Vec<String> = rules(p, org_id)
        .await?
        .into_iter()
        .filter(|r| r.channels.iter().any(|c| c == id))
        .map(|r| r.name)
        .collect();
    if !users.is_empty() {
        return Err(Error::conflict(
            "CHANNEL_IN_USE",
            format!("rules {} notify this channel", users.join(", ")),
        ));
    }
    sqlx::query("DELETE FROM alert_channels WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .execute(p.db().pool())
        .await?;
    Ok(())
}

/// Open a channel's kept secret (its `secret_sealed` column).
pub(crate) fn open_secret(p: &Platform, id: &str, sealed: Option<&str>) -> Result<Option<String>> {
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let bytes = p.vault().open(&format!("alert-channel:{id}"), sealed)?;
    String::from_utf8(bytes.to_vec())
        .map(Some)
        .map_err(|_| Error::internal("a channel's secret is damaged"))
}

// --- alerts -----------------------------------------------------------------------------------

/// An alert as shown.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub id: String,
    pub rule_id: String,
    pub rule_name: Option<String>,
    pub severity: Option<String>,
    pub org_id: String,
    /// The node's id or the certificate's fingerprint.
    pub subject: String,
    pub subject_name: String,
    /// `pending` (the condition holds, not yet for long enough), `firing` or `resolved`.
    pub state: String,
    pub value: Option<i64>,
    pub summary: String,
    pub pending_since: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub last_sent_at: Option<i64>,
}

const ALERT_SELECT: &str = "SELECT a.*, r.name AS rule_name, r.severity AS severity FROM alerts a LEFT JOIN alert_rules r ON r.id = a.rule_id";

fn alert_view(r: &AnyRow) -> Result<AlertView> {
    Ok(AlertView {
        id: r.try_get("id")?,
        rule_id: r.try_get("rule_id")?,
        rule_name: r.try_get("rule_name")?,
        severity: r.try_get("severity")?,
        org_id: r.try_get("org_id")?,
        subject: r.try_get("subject")?,
        subject_name: r.try_get("subject_name")?,
        state: r.try_get("state")?,
        value: r.try_get("value")?,
        summary: r.try_get("summary")?,
        pending_since: r.try_get("pending_since")?,
        fired_at: r.try_get("fired_at")?,
        resolved_at: r.try_get("resolved_at")?,
        last_sent_at: r.try_get("last_sent_at")?,
    })
}

/// The org's alerts, newest first, optionally in one state.
pub async fn alerts(p: &Platform, org_id: &str, state: Option<&str>) -> Result<Vec<AlertView>> {
    if let Some(s) = state
        && !["pending", "firing", "resolved"].contains(&s)
    {
        return Err(Error::invalid(format!(
            "state {s:?} is not one of pending, firing, resolved"
        )));
    }
    sqlx::query(&format!(
        "{ALERT_SELECT} WHERE a.org_id = $1 AND ($2 = '' OR a.state = $2) ORDER BY a.pending_since DESC, a.id LIMIT 1000"
    ))
    .bind(org_id)
    .bind(state.unwrap_or(""))
    .fetch_all(p.db().pool())
    .await?
    .iter()
    .map(alert_view)
    .collect()
}

pub async fn alert(p: &Platform, org_id: &str, id: &str) -> Result<AlertView> {
    sqlx::query(&format!("{ALERT_SELECT} WHERE a.id = $1 AND a.org_id = $2"))
        .bind(id)
        .bind(org_id)
        .fetch_optional(p.db().pool())
        .await?
        .as_ref()
        .map(alert_view)
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("no alert {id}")))
}

/// A subject the condition holds for: its name, the value and a sentence saying it.
struct Holding {
    name: String,
    value: i64,
    summary: String,
}

/// Where `rule`'s condition holds now, by subject.
async fn holding(p: &Platform, rule: &RuleView) -> Result<HashMap<String, Holding>> {
    let mut out = HashMap::new();
    let now = now_ms();
    if rule.metric == Metric::CertExpiringDays {
        for k in certificate::known_of(p, &rule.org_id).await? {
            let c = k.view;
            if c.status != "revoked" && c.days_left < rule.threshold {
                let kind = match c.kind {
                    CertKind::Root => "root",
                    CertKind::Admin => "admin",
                    CertKind::Client => "client",
                    CertKind::Node => "node",
                };
                out.insert(
                    c.fingerprint.clone(),
                    Holding {
                        name: format!("{} ({kind})", c.name),
                        value: c.days_left,
                        summary: if c.days_left < 0 {
                            format!("certificate {} ({kind}) expired on {}", c.name, c.not_after)
                        } else {
                            format!(
                                "certificate {} ({kind}) expires on {}: {} days left, fewer than {}",
                                c.name, c.not_after, c.days_left, rule.threshold
                            )
                        },
                    },
                );
            }
        }
        return Ok(out);
    }
    let nodes = sqlx::query(
        "SELECT id, name, status FROM nodes WHERE org_id = $1 AND state IN ('running', 'remote') ORDER BY name",
    )
    .bind(&rule.org_id)
    .fetch_all(p.db().pool())
    .await?;
    let ids: Vec<String> = nodes
        .iter()
        .map(|n| n.try_get("id"))
        .collect::<Result<_, _>>()?;
    let latest = sample::latest(p, &ids).await?;
    for n in &nodes {
        let id: String = n.try_get("id")?;
        let name: String = n.try_get("name")?;
        let status: String = n.try_get("status")?;
        let s = latest.get(&id);
        let t = rule.threshold;
        let found: Option<(i64, String)> = match rule.metric {
            // Until its API answers (`unknown` just after a start), a node is not back.
            Metric::NodeDown => {
                (status != "up").then(|| (1, format!("node {name} does not answer")))
            }
            Metric::HeightStalledS => match sample::height_since(p, &id).await? {
                Some(since) if status == "up" && (now - since) / 1000 > t => Some((
                    (now - since) / 1000,
                    format!(
                        "node {name}'s height has stayed at {} for {} s (over {t} s)",
                        s.map_or(0, |x| x.height),
                        (now - since) / 1000
                    ),
                )),
                _ => None,
            },
            Metric::DiskUsedPercent => s.and_then(|x| x.disk_used_percent).and_then(|v| {
                (v > t as f64).then(|| {
                    (
                        v.round() as i64,
                        format!("node {name}'s disk is {v}% full (over {t}%)"),
                    )
                })
            }),
            Metric::MemoryMb => s.and_then(|x| x.memory_bytes).and_then(|b| {
                let mb = b / (1024 * 1024);
                (mb > t).then(|| {
                    (
                        mb,
                        format!("node {name} uses {mb} MiB of memory (over {t} MiB)"),
                    )
                })
            }),
            Metric::CpuPercent => s.and_then(|x| x.cpu_percent).and_then(|v| {
                (v > t as f64).then(|| {
                    (
                        v.round() as i64,
                        format!("node {name} uses {v}% CPU (over {t}%)"),
                    )
                })
            }),
            Metric::TxpoolSize => s.and_then(|x| x.txpool).and_then(|v| {
                (v > t).then(|| {
                    (
                        v,
                        format!("node {name}'s txpools hold {v} transactions (over {t})"),
                    )
                })
            }),
            Metric::TxFailuresPerMin => s.and_then(|x| x.tx_failures_per_min).and_then(|v| {
                (v > t as f64).then(|| {
                    (
                        v.round() as i64,
                        format!(
                            "node {name} committed {v} failed transactions a minute (over {t})"
                        ),
                    )
                })
            }),
            Metric::CertExpiringDays => None,
        };
        if let Some((value, summary)) = found {
            out.insert(
                id,
                Holding {
                    name,
                    value,
                    summary,
                },
            );
        }
    }
    Ok(out)
}

/// Look at every enabled rule once: raise, fire, repeat and resolve alerts.
pub async fn evaluate(p: &Platform) -> Result<()> {
    let rows = sqlx::query("SELECT * FROM alert_rules WHERE enabled = 1 ORDER BY id")
        .fetch_all(p.db().pool())
        .await?;
    for r in &rows {
        let rule = rule_view(r)?;
        if let Err(e) = evaluate_rule(p, &rule).await {
            tracing::warn!(rule = %rule.id, error = %e, "evaluating an alert rule failed");
        }
    }
    // Rules turned off resolve what they raised.
    let off = sqlx::query(
        "SELECT a.id FROM alerts a JOIN alert_rules r ON r.id = a.rule_id WHERE r.enabled = 0 AND a.state IN ('pending', 'firing')",
    )
    .fetch_all(p.db().pool())
    .await?;
    for a in off {
        let id: String = a.try_get("id")?;
        settle(p, &id, "the rule was turned off").await?;
    }
    Ok(())
}

async fn evaluate_rule(p: &Platform, rule: &RuleView) -> Result<()> {
    let now = now_ms();
    let held = holding(p, rule).await?;
    let open = sqlx::query(&format!(
        "{ALERT_SELECT} WHERE a.rule_id = $1 AND a.state IN ('pending', 'firing')"
    ))
    .bind(&rule.id)
    .fetch_all(p.db().pool())
    .await?;
    let mut seen = std::collections::HashSet::new();
    for a in &open {
        let a = alert_view(a)?;
        seen.insert(a.subject.clone());
        match held.get(&a.subject) {
            None => settle(p, &a.id, "the condition no longer holds").await?,
            Some(h) => {
                if a.state == "pending" && now - a.pending_since >= rule.for_s * 1000 {
                    fire(p, rule, &a.id, h, "firing").await?;
                } else if a.state == "firing"
                    && rule.repeat_s > 0
                    && a.last_sent_at
                        .is_some_and(|t| now - t >= rule.repeat_s * 1000)
                {
                    fire(p, rule, &a.id, h, "repeat").await?;
                } else if a.value != Some(h.value) {
                    sqlx::query("UPDATE alerts SET value = $1, summary = $2 WHERE id = $3")
                        .bind(h.value)
                        .bind(&h.summary)
                        .bind(&a.id)
                        .execute(p.db().pool())
                        .await?;
                }
            }
        }
    }
    for (subject, h) in &held {
        if seen.contains(subject) {
            continue;
        }
        let id = new_id("alt")?;
        // At most one open alert per rule and subject (a unique index): another evaluation
        // that raised it first wins.
        let raised = sqlx::query(
            "INSERT INTO alerts (id, rule_id, org_id, subject, subject_name, state, value, summary, pending_since) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8)",
        )
        .bind(&id)
        .bind(&rule.id)
        .bind(&rule.org_id)
        .bind(subject)
        .bind(&h.name)
        .bind(h.value)
        .bind(&h.summary)
        .bind(now)
        .execute(p.db().pool())
        .await;
        match raised {
            Err(e) if is_unique_violation(&e) => continue,
            other => {
                other?;
            }
        }
        if rule.for_s == 0 {
            fire(p, rule, &id, h, "firing").await?;
        }
    }
    Ok(())
}

/// Fire (or repeat) alert `id`: notify the rule's channels and the event centre.
async fn fire(p: &Platform, rule: &RuleView, id: &str, h: &Holding, what: &str) -> Result<()> {
    let now = now_ms();
    let mut tx = p.db().write().await?;
    let n = sqlx::query(
        "UPDATE alerts SET state = 'firing', fired_at = COALESCE(fired_at, $1), last_sent_at = $1, value = $2, summary = $3 WHERE id = $4 AND state IN ('pending', 'firing')",
    )
    .bind(now)
    .bind(h.value)
    .bind(&h.summary)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(());
    }
    let row = sqlx::query(&format!("{ALERT_SELECT} WHERE a.id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let a = alert_view(&row)?;
    for c in &rule.channels {
        delivery::enqueue_in(&mut tx, &a, rule, c, what).await?;
    }
    let notices = if what == "firing" {
        event::add_in(
            &mut tx,
            std::slice::from_ref(&rule.org_id),
            &event::New {
                kind: "alert.firing",
                title: format!("Alert ({}): {} — {}", rule.severity, rule.name, h.summary),
                subject_kind: "alert",
                subject_id: id,
                data: json!({"rule_id": rule.id, "metric": rule.metric, "subject": a.subject, "value": h.value}),
            },
        )
        .await?
    } else {
        vec![]
    };
    tx.commit().await?;
    event::push(p, notices);
    Ok(())
}

/// Resolve alert `id` (notifying if it fired) or drop it if it was only pending.
async fn settle(p: &Platform, id: &str, why: &str) -> Result<()> {
    let row = sqlx::query(&format!("{ALERT_SELECT} WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(p.db().pool())
        .await?;
    let Some(row) = row else { return Ok(()) };
    let a = alert_view(&row)?;
    if a.state == "pending" {
        sqlx::query("DELETE FROM alerts WHERE id = $1 AND state = 'pending'")
            .bind(id)
            .execute(p.db().pool())
            .await?;
        return Ok(());
    }
    let rule = sqlx::query("SELECT * FROM alert_rules WHERE id = $1")
        .bind(&a.rule_id)
        .fetch_optional(p.db().pool())
        .await?
        .as_ref()
        .map(rule_view)
        .transpose()?;
    let mut tx = p.db().write().await?;
    let n = sqlx::query(
        "UPDATE alerts SET state = 'resolved', resolved_at = $1, summary = $2 WHERE id = $3 AND state = 'firing'",
    )
    .bind(now_ms())
    .bind(format!("{} — resolved: {why}", a.summary))
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(());
    }
    let row = sqlx::query(&format!("{ALERT_SELECT} WHERE a.id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let resolved = alert_view(&row)?;
    let mut notices = vec![];
    if let Some(rule) = &rule {
        for c in &rule.channels {
            delivery::enqueue_in(&mut tx, &resolved, rule, c, "resolved").await?;
        }
        notices = event::add_in(
            &mut tx,
            std::slice::from_ref(&rule.org_id),
            &event::New {
                kind: "alert.resolved",
                title: format!("Resolved: {} — {}", rule.name, a.subject_name),
                subject_kind: "alert",
                subject_id: id,
                data: json!({"rule_id": rule.id, "subject": a.subject}),
            },
        )
        .await?;
    }
    tx.commit().await?;
    event::push(p, notices);
    Ok(())
}
