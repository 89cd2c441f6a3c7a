//! The platform's own Prometheus metrics at `/metrics`: requests by route and status (counted
//! in memory since start) and gauges read from the database when scraped — nodes by status,
//! alerts by state, notifications waiting or given up, revocations in progress, proposals
//! open. No org's private data is in them: only counts.

use std::{collections::BTreeMap, fmt::Write as _, sync::Mutex};

use sqlx::Row;

use crate::{Platform, error::Result};

/// Requests served, by (method, route template, status).
#[derive(Debug, Default)]
pub struct Requests(Mutex<BTreeMap<(String, String, u16), u64>>);

impl Requests {
    pub fn count(&self, method: &str, route: &str, status: u16) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry((method.to_string(), route.to_string(), status))
                .or_default() += 1;
        }
    }

    fn snapshot(&self) -> BTreeMap<(String, String, u16), u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn counts(p: &Platform, sql: &str) -> Result<Vec<(String, i64)>> {
    sqlx::query(sql)
        .fetch_all(p.db().pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>("k")?, r.try_get::<i64, _>("n")?)))
        .collect()
}

/// The exposition text.
pub async fn render(p: &Platform) -> Result<String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP covenant_platform_requests_total API requests served since start, by route and status.\n# TYPE covenant_platform_requests_total counter"
    );
    for ((method, route, status), n) in p.inner.requests.snapshot() {
        let _ = writeln!(
            out,
            "covenant_platform_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
            label(&method),
            label(&route)
        );
    }
    let gauges: [(&str, &str, &str, &str); 5] = [
        (
            "covenant_platform_nodes",
            "Nodes the platform runs, by status.",
            "status",
            "SELECT status AS k, COUNT(*) AS n FROM nodes WHERE state = 'running' GROUP BY status",
        ),
        (
            "covenant_platform_alerts",
            "Alerts by state.",
            "state",
            "SELECT state AS k, COUNT(*) AS n FROM alerts GROUP BY state",
        ),
        (
            "covenant_platform_notifications",
            "Alert notifications by delivery state.",
            "state",
            "SELECT state AS k, COUNT(*) AS n FROM alert_deliveries GROUP BY state",
        ),
        (
            "covenant_platform_revocations",
            "Certificate revocations by state.",
            "state",
            "SELECT state AS k, COUNT(*) AS n FROM revocations GROUP BY state",
        ),
        (
            "covenant_platform_proposals",
            "Proposals by state.",
            "state",
            "SELECT state AS k, COUNT(*) AS n FROM proposals GROUP BY state",
        ),
    ];
    for (name, help, key, sql) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (k, n) in counts(p, sql).await? {
            let _ = writeln!(out, "{name}{{{key}=\"{}\"}} {n}", label(&k));
        }
    }
    Ok(out)
}
