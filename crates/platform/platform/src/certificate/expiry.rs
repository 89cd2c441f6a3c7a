//! Expiry warnings: every certificate the platform knows is looked at; one expiring within 30,
//! 7 or 1 days gets a warning in its org's event centre once per threshold (the tightest one
//! reached; the looser ones count as given), and an expired one gets a last notice.

use serde_json::json;
use sqlx::Row;

use crate::{Platform, error::Result, event, time::now_ms};

use super::known_of;

/// The thresholds, in days, loosest first.
pub const THRESHOLDS: [i64; 3] = [30, 7, 1];

/// The notice `days_left` calls for: the tightest threshold reached (0 once expired), and
/// every threshold it covers.
pub fn due(days_left: i64, expired: bool) -> Option<(i64, Vec<i64>)> {
    if expired {
        let mut all = THRESHOLDS.to_vec();
        all.push(0);
        return Some((0, all));
    }
    let reached: Vec<i64> = THRESHOLDS
        .iter()
        .copied()
        .filter(|t| days_left < *t)
        .collect();
    reached.last().map(|t| (*t, reached.clone()))
}

/// Look at every org's certificates and publish the warnings due; returns how many.
pub async fn sweep(p: &Platform) -> Result<usize> {
    let orgs: Vec<String> = sqlx::query("SELECT id FROM orgs ORDER BY id")
        .fetch_all(p.db().pool())
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    let mut sent = 0;
    for org in orgs {
        for k in known_of(p, &org).await? {
            let c = &k.view;
            if c.status == "revoked" {
                continue;
            }
            let Some((notice, covers)) = due(c.days_left, c.status == "expired") else {
                continue;
            };
            let given = sqlx::query(
                "SELECT days FROM cert_expiry_notices WHERE fingerprint = $1 AND days = $2",
            )
            .bind(&c.fingerprint)
            .bind(notice)
            .fetch_optional(p.db().pool())
            .await?;
            if given.is_some() {
                continue;
            }
            let mut tx = p.db().write().await?;
            for d in &covers {
                sqlx::query(
                    "INSERT INTO cert_expiry_notices (fingerprint, days, sent_at) VALUES ($1, $2, $3) ON CONFLICT (fingerprint, days) DO NOTHING",
                )
                .bind(&c.fingerprint)
                .bind(d)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            }
            let title = if notice == 0 {
                format!(
                    "Certificate expired: {} ({}) on {}",
                    c.name,
                    c.kind.name(),
                    c.not_after
                )
            } else {
                format!(
                    "Certificate expires within {notice} day{}: {} ({}) on {}",
                    if notice == 1 { "" } else { "s" },
                    c.name,
                    c.kind.name(),
                    c.not_after
                )
            };
            let notices = event::add_in(
                &mut tx,
                std::slice::from_ref(&org),
                &event::New {
                    kind: if notice == 0 {
                        "cert.expired"
                    } else {
                        "cert.expiring"
                    },
                    title,
                    subject_kind: "certificate",
                    subject_id: &c.fingerprint,
                    data: json!({"kind": c.kind, "name": c.name, "not_after": c.not_after, "days_left": c.days_left, "threshold": notice}),
                },
            )
            .await?;
            tx.commit().await?;
            event::push(p, notices);
            sent += 1;
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_threshold_reached_is_due() {
        assert_eq!(due(400, false), None);
        assert_eq!(due(30, false), None);
        assert_eq!(due(29, false), Some((30, vec![30])));
        assert_eq!(due(7, false), Some((30, vec![30])));
        assert_eq!(due(6, false), Some((7, vec![30, 7])));
        assert_eq!(due(0, false), Some((1, vec![30, 7, 1])));
        assert_eq!(due(-1, true), Some((0, vec![30, 7, 1, 0])));
    }
}
