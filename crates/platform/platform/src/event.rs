//! The event centre: what an org's accounts should see — invitations, proposals waiting for
//! their vote, outcomes, operations that finished, networks and certificates about to expire.
//! Events are kept per org; each account marks them read for itself. New events are also
//! pushed live ([`Notice`]) to server-sent-event streams.

use serde::Serialize;
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform,
    db::Tx,
    error::{Error, Result},
    time::now_ms,
};

/// An event, for one org.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub id: i64,
    pub org_id: String,
    /// e.g. `invitation.received`, `proposal.opened`, `proposal.approved`.
    pub kind: String,
    pub title: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub data: serde_json::Value,
    pub created_at: i64,
    pub read: bool,
}

/// A new event, as pushed to live streams.
#[derive(Debug, Clone)]
pub struct Notice {
    pub event: EventView,
}

/// An event to publish.
#[derive(Debug, Clone)]
pub struct New<'a> {
    pub kind: &'a str,
    pub title: String,
    pub subject_kind: &'a str,
    pub subject_id: &'a str,
    pub data: serde_json::Value,
}

/// Insert `event` for each of `orgs` inside `tx`; returns what to push once it commits.
pub async fn add_in(tx: &mut Tx, orgs: &[String], event: &New<'_>) -> Result<Vec<Notice>> {
    let now = now_ms();
    let mut out = Vec::new();
    for org in orgs {
        let row = sqlx::query(
            "INSERT INTO events (org_id, kind, title, subject_kind, subject_id, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(org)
        .bind(event.kind)
        .bind(&event.title)
        .bind(event.subject_kind)
        .bind(event.subject_id)
        .bind(event.data.to_string())
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        out.push(Notice {
            event: EventView {
                id: row.try_get("id")?,
                org_id: org.clone(),
                kind: event.kind.to_string(),
                title: event.title.clone(),
                subject_kind: event.subject_kind.to_string(),
                subject_id: event.subject_id.to_string(),
                data: event.data.clone(),
                created_at: now,
                read: false,
            },
        });
    }
    Ok(out)
}

/// Push notices of a committed transaction to live streams.
pub fn push(p: &Platform, notices: Vec<Notice>) {
    for n in notices {
        // Nobody listening is fine.
        let _ = p.inner.events.send(n);
    }
}

/// Publish `event` to `orgs` in its own transaction.
pub async fn publish(p: &Platform, orgs: &[String], event: &New<'_>) -> Result<()> {
    let mut tx = p.db().write().await?;
    let notices = add_in(&mut tx, orgs, event).await?;
    tx.commit().await?;
    push(p, notices);
    Ok(())
}

/// Live notices.
pub fn subscribe(p: &Platform) -> tokio::sync::broadcast::Receiver<Notice> {
    p.inner.events.subscribe()
}

fn view(r: &AnyRow) -> Result<EventView> {
    let data: String = r.try_get("data")?;
    Ok(EventView {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        kind: r.try_get("kind")?,
        title: r.try_get("title")?,
        subject_kind: r.try_get("subject_kind")?,
        subject_id: r.try_get("subject_id")?,
        data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
        created_at: r.try_get("created_at")?,
        read: r.try_get::<Option<i64>, _>("read_at")?.is_some(),
    })
}

/// The events of the account's org after `after` (oldest first), or before `before` (newest
/// first) — with whether this account read each.
pub async fn list(
    p: &Platform,
    org_id: &str,
    account_id: &str,
    after: Option<i64>,
    unread_only: bool,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<EventView>> {
    let rows = sqlx::query(
        "SELECT e.*, r.read_at FROM events e LEFT JOIN event_reads r ON r.event_id = e.id AND r.account_id = $2
         WHERE e.org_id = $1 AND e.id > $3 AND ($4 = 0 OR r.read_at IS NULL) AND ($5 = '' OR e.kind = $5)
         ORDER BY e.id LIMIT $6",
    )
    .bind(org_id)
    .bind(account_id)
    .bind(after.unwrap_or(0))
    .bind(i64::from(unread_only))
    .bind(kind.unwrap_or(""))
    .bind(limit.clamp(1, 500))
    .fetch_all(p.db().pool())
    .await?;
    rows.iter().map(view).collect()
}

/// How many events of the org the account has not read.
pub async fn unread_count(p: &Platform, org_id: &str, account_id: &str) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM events e LEFT JOIN event_reads r ON r.event_id = e.id AND r.account_id = $2 WHERE e.org_id = $1 AND r.read_at IS NULL",
    )
    .bind(org_id)
    .bind(account_id)
    .fetch_one(p.db().pool())
    .await?;
    Ok(row.try_get("n")?)
}

/// Mark one event read (it must be the org's).
pub async fn mark_read(p: &Platform, org_id: &str, account_id: &str, id: i64) -> Result<()> {
    let exists = sqlx::query("SELECT id FROM events WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .fetch_optional(p.db().pool())
        .await?;
    if exists.is_none() {
        return Err(Error::not_found(format!("no event {id}")));
    }
    sqlx::query(
        "INSERT INTO event_reads (account_id, event_id, read_at) VALUES ($1, $2, $3) ON CONFLICT (account_id, event_id) DO NOTHING",
    )
    .bind(account_id)
    .bind(id)
    .bind(now_ms())
    .execute(p.db().pool())
    .await?;
    Ok(())
}

/// Mark every event of the org read for the account; how many were unread.
pub async fn mark_all_read(p: &Platform, org_id: &str, account_id: &str) -> Result<u64> {
    let n = sqlx::query(
        "INSERT INTO event_reads (account_id, event_id, read_at)
         SELECT $2, e.id, $3 FROM events e WHERE e.org_id = $1
           AND NOT EXISTS (SELECT 1 FROM event_reads r WHERE r.event_id = e.id AND r.account_id = $2)",
    )
    .bind(org_id)
    .bind(account_id)
    .bind(now_ms())
    .execute(p.db().pool())
    .await?
    .rows_affected();
    Ok(n)
}
