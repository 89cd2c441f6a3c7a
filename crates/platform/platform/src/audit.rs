//! The audit log: one append-only entry per state-changing call (who, org, action, target, the
//! SHA-256 of the parameters exactly as sent, the result, the time, the request id), each
//! hash-chained to the one before. Nothing in the code updates or deletes an entry.
//!
//! An entry's hash is SHA-256 over Covenant's own encoding of its fields:
//! `covenant-audit/v1` then, for each field in order, its length in bytes, `:`, the bytes and
//! `\n` — seq, at, request_id, account_id, org_id, action, target, params_digest, result,
//! prev_hash. The first entry's `prev_hash` is 64 zeros.
//!
//! The head (the newest seq and hash) is anchored on a chain at an interval as an evidence
//! transaction, so an operator who rewrites the database is caught by [`verify`] even if they
//! recompute every hash after the change.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform,
    db::Tx,
    error::{Error, Result},
    time::{now_ms, sha256_hex},
};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where and how often the head is anchored.
#[derive(Debug, Clone)]
pub struct AnchorConfig {
    /// The chain (one the platform deployed) holding the anchors.
    pub chain_id: String,
    /// The org whose client identity (kept by the platform) submits them.
    pub org_id: String,
    /// The evidence contract on that chain (`put {"hash", "meta"}`).
    pub contract: String,
    pub interval: Duration,
}

/// What is recorded of a call.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub request_id: String,
    pub account_id: String,
    pub org_id: String,
    pub action: String,
    pub target: String,
    pub params_digest: String,
    pub result: String,
}

/// An entry as stored and exported.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub seq: i64,
    pub at: i64,
    pub request_id: String,
    pub account_id: String,
    pub org_id: String,
    pub action: String,
    pub target: String,
    pub params_digest: String,
    pub result: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Entry {
    /// The hash this entry should have.
    pub fn compute_hash(&self) -> String {
        let seq = self.seq.to_string();
        let at = self.at.to_string();
        let fields: [&str; 10] = [
            &seq,
            &at,
            &self.request_id,
            &self.account_id,
            &self.org_id,
            &self.action,
            &self.target,
            &self.params_digest,
            &self.result,
            &self.prev_hash,
        ];
        let mut bytes = b"covenant-audit/v1\n".to_vec();
        for f in fields {
            bytes.extend_from_slice(f.len().to_string().as_bytes());
            bytes.push(b':');
            bytes.extend_from_slice(f.as_bytes());
            bytes.push(b'\n');
        }
        sha256_hex(&bytes)
    }
}

fn entry(r: &AnyRow) -> Result<Entry> {
    Ok(Entry {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        request_id: r.try_get("request_id")?,
        account_id: r.try_get("account_id")?,
        org_id: r.try_get("org_id")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        params_digest: r.try_get("params_digest")?,
        result: r.try_get("result")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// Append `record` inside `tx` (the head row is locked until it commits).
pub async fn append_in(p: &Platform, tx: &mut Tx, record: &Record) -> Result<Entry> {
    let head = sqlx::query(&format!(
        "SELECT seq, hash FROM audit_head WHERE id = 1{}",
        p.db().for_update()
    ))
    .fetch_optional(&mut **tx)
    .await?;
    let (seq, prev) = match head {
        Some(r) => (r.try_get::<i64, _>("seq")?, r.try_get::<String, _>("hash")?),
        None => {
            sqlx::query("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, $1)")
                .bind(GENESIS)
                .execute(&mut **tx)
                .await?;
            (0, GENESIS.to_string())
        }
    };
    let mut e = Entry {
        seq: seq + 1,
        at: now_ms(),
        request_id: record.request_id.clone(),
        account_id: record.account_id.clone(),
        org_id: record.org_id.clone(),
        action: record.action.clone(),
        target: record.target.clone(),
        params_digest: record.params_digest.clone(),
        result: record.result.clone(),
        prev_hash: prev,
        hash: String::new(),
    };
    e.hash = e.compute_hash();
    sqlx::query(
        "INSERT INTO audit_log (seq, at, request_id, account_id, org_id, action, target, params_digest, result, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(e.seq)
    .bind(e.at)
    .bind(&e.request_id)
    .bind(&e.account_id)
    .bind(&e.org_id)
    .bind(&e.action)
    .bind(&e.target)
    .bind(&e.params_digest)
    .bind(&e.result)
    .bind(&e.prev_hash)
    .bind(&e.hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(e.seq)
        .bind(&e.hash)
        .execute(&mut **tx)
        .await?;
    Ok(e)
}

/// Append `record` in its own transaction.
pub async fn append(p: &Platform, record: &Record) -> Result<Entry> {
    let mut tx = p.db().write().await?;
    let e = append_in(p, &mut tx, record).await?;
    tx.commit().await?;
    Ok(e)
}

/// A filter on the log.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Only entries after this seq.
    pub after: Option<i64>,
    pub action: Option<String>,
    pub account_id: Option<String>,
    /// Only results starting with this (`ok`, `error`).
    pub result: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Only entries before this seq.
    pub before: Option<i64>,
    /// `asc` (oldest first, the default) or `desc`.
    pub order: Option<String>,
    pub limit: Option<i64>,
}

/// Entries of `org_id` matching `f`, oldest first (or newest first with `order=desc`).
pub async fn list(p: &Platform, org_id: &str, f: &Filter) -> Result<Vec<Entry>> {
    let limit = f.limit.unwrap_or(100).clamp(1, 1000);
    let desc = match f.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(Error::invalid(format!(
                "order {other:?} is not asc or desc"
            )));
        }
    };
    let sql = format!(
        "SELECT * FROM audit_log WHERE org_id = $1 AND seq > $2 AND seq < $9
           AND ($3 = '' OR action = $3) AND ($4 = '' OR account_id = $4)
           AND ($5 = '' OR result LIKE $5 || '%') AND at >= $6 AND at <= $7
         ORDER BY seq {} LIMIT $8",
        if desc { "DESC" } else { "ASC" }
    );
    let rows = sqlx::query(&sql)
        .bind(org_id)
        .bind(f.after.unwrap_or(0))
        .bind(f.action.clone().unwrap_or_default())
        .bind(f.account_id.clone().unwrap_or_default())
        .bind(f.result.clone().unwrap_or_default())
        .bind(f.from_ms.unwrap_or(0))
        .bind(f.to_ms.unwrap_or(i64::MAX))
        .bind(limit)
        .bind(f.before.unwrap_or(i64::MAX))
        .fetch_all(p.db().pool())
        .await?;
    rows.iter().map(entry).collect()
}

/// An anchor: the head at `seq` recorded on a chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
    pub chain_id: String,
    pub tx_id: String,
    pub height: i64,
    pub anchored_at: i64,
}

/// Every anchor, oldest first.
pub async fn anchors(p: &Platform) -> Result<Vec<Anchor>> {
    let rows = sqlx::query("SELECT * FROM audit_anchors ORDER BY seq, chain_id")
        .fetch_all(p.db().pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Anchor {
                seq: r.try_get("seq")?,
                hash: r.try_get("hash")?,
                chain_id: r.try_get("chain_id")?,
                tx_id: r.try_get("tx_id")?,
                height: r.try_get("height")?,
                anchored_at: r.try_get("anchored_at")?,
            })
        })
        .collect()
}

/// One problem [`verify`] found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub seq: i64,
    pub problem: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub entries: i64,
    pub head_seq: i64,
    pub head_hash: String,
    pub anchors_checked: usize,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Check a sequence of entries (oldest first): each hash recomputes, each links to the one
/// before, seqs run 1, 2, 3 … without gaps.
pub fn check_chain(entries: &[Entry]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut prev_hash = GENESIS.to_string();
    let mut expected_seq = 1;
    for e in entries {
        if e.seq != expected_seq {
            findings.push(Finding {
                seq: e.seq,
                problem: format!(
                    "expected entry {expected_seq} here: entries are missing or out of order"
                ),
            });
        }
        if e.compute_hash() != e.hash {
            findings.push(Finding {
                seq: e.seq,
                problem: "the entry was changed: its hash does not match its content".into(),
            });
        }
        if e.prev_hash != prev_hash {
            findings.push(Finding {
                seq: e.seq,
                problem: "the entry does not link to the one before it (removed, inserted or reordered entries)".into(),
            });
        }
        prev_hash = e.hash.clone();
        expected_seq = e.seq + 1;
    }
    findings
}

/// Verify the whole log in the database, and the anchors with `check_anchor` (which looks an
/// anchored hash up on its chain and answers whether it is there).
pub async fn verify<F, Fut>(p: &Platform, check_anchor: F) -> Result<Report>
where
    F: Fn(Anchor) -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let mut entries = Vec::new();
    let mut after = 0i64;
    loop {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000")
            .bind(after)
            .fetch_all(p.db().pool())
            .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            entries.push(entry(r)?);
        }
        after = entries.last().map_or(after, |e| e.seq);
    }
    let mut findings = check_chain(&entries);
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_optional(p.db().pool())
        .await?;
    let (head_seq, head_hash) = match head {
        Some(r) => (r.try_get::<i64, _>("seq")?, r.try_get::<String, _>("hash")?),
        None => (0, GENESIS.to_string()),
    };
    let last = entries.last();
    if last.map_or(0, |e| e.seq) != head_seq
        || last.map_or(GENESIS, |e| e.hash.as_str()) != head_hash
    {
        findings.push(Finding {
            seq: head_seq,
            problem: "the newest entry is not the recorded head: entries at the end were removed or added".into(),
        });
    }
    let anchors = anchors(p).await?;
    for a in &anchors {
        match entries.iter().find(|e| e.seq == a.seq) {
            Some(e) if e.hash == a.hash => {}
            Some(_) => findings.push(Finding {
                seq: a.seq,
                problem: format!(
                    "the entry's hash is not the one anchored on chain {} (tx {})",
                    a.chain_id, a.tx_id
                ),
            }),
            None => findings.push(Finding {
                seq: a.seq,
                problem: format!(
                    "the anchored entry is missing (anchor on chain {})",
                    a.chain_id
                ),
            }),
        }
        if !check_anchor(a.clone()).await? {
            findings.push(Finding {
                seq: a.seq,
                problem: format!(
                    "chain {} does not hold the anchored hash {} (tx {})",
                    a.chain_id, a.hash, a.tx_id
                ),
            });
        }
    }
    Ok(Report {
        entries: entries.len() as i64,
        head_seq,
        head_hash,
        anchors_checked: anchors.len(),
        findings,
    })
}

/// The head now.
pub async fn head(p: &Platform) -> Result<(i64, String)> {
    let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_optional(p.db().pool())
        .await?;
    Ok(match row {
        Some(r) => (r.try_get("seq")?, r.try_get("hash")?),
        None => (0, GENESIS.to_string()),
    })
}

/// Record an anchor.
pub async fn record_anchor(p: &Platform, a: &Anchor) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_anchors (seq, hash, chain_id, tx_id, height, anchored_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(a.seq)
    .bind(&a.hash)
    .bind(&a.chain_id)
    .bind(&a.tx_id)
    .bind(a.height)
    .bind(a.anchored_at)
    .execute(p.db().pool())
    .await
    .map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            Error::conflict("ANCHOR_EXISTS", format!("seq {} is anchored on {} already", a.seq, a.chain_id))
        } else {
            e.into()
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for seq in 1..=n {
            let mut e = Entry {
                seq,
                at: 1000 + seq,
                request_id: format!("req{seq}"),
                account_id: "acc".into(),
                org_id: "org".into(),
                action: "consortium.create".into(),
                target: "x".into(),
                params_digest: "d".into(),
                result: "ok 201".into(),
                prev_hash: out.last().map_or(GENESIS.to_string(), |e| e.hash.clone()),
                hash: String::new(),
            };
            e.hash = e.compute_hash();
            out.push(e);
        }
        out
    }

    #[test]
    fn changed_removed_and_reordered_entries_are_found() {
        let good = chain(5);
        assert!(check_chain(&good).is_empty());
        let mut changed = good.clone();
        changed[2].result = "ok 200".into();
        assert_eq!(check_chain(&changed)[0].seq, 3);
        let mut removed = good.clone();
        removed.remove(1);
        assert!(!check_chain(&removed).is_empty());
        let mut reordered = good.clone();
        reordered.swap(1, 2);
        assert!(!check_chain(&reordered).is_empty());
    }

    #[test]
    fn field_boundaries_are_part_of_the_hash() {
        let mut a = chain(1).remove(0);
        let mut b = a.clone();
        a.target = "ab".into();
        a.params_digest = "c".into();
        b.target = "a".into();
        b.params_digest = "bc".into();
        assert_ne!(a.compute_hash(), b.compute_hash());
    }
}
