//! Schema migrations, applied in order at start and recorded in `schema_migrations`. A
//! migration is never edited once released: a change is a new migration.
//!
//! `{serial}` stands for an auto-numbered primary key (`INTEGER PRIMARY KEY AUTOINCREMENT` on
//! SQLite, `BIGSERIAL PRIMARY KEY` on PostgreSQL); everything else is the same on both.

use sqlx::Row;

use crate::{
    db::{Backend, Db},
    error::{Error, Result},
    time::now_ms,
};

/// A migration: version, name, statements separated by `;` at line ends.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "platform",
        sql: r#"
CREATE TABLE platform_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    suite TEXT NOT NULL,
    ca_cert TEXT NOT NULL,
    ca_key TEXT,
    verified BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    is_root BIGINT NOT NULL,
    password_hash TEXT NOT NULL,
    totp_secret TEXT,
    totp_enabled BIGINT NOT NULL DEFAULT 0,
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX accounts_org ON accounts(org_id);

CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (account_id, code_hash)
);

CREATE TABLE account_groups (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    UNIQUE (org_id, name)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES account_groups(id),
    account_id TEXT NOT NULL REFERENCES accounts(id),
    PRIMARY KEY (group_id, account_id)
);

CREATE TABLE grants (
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    action TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (subject_kind, subject_id, action)
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_account ON api_tokens(account_id);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE login_failures (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);

CREATE TABLE identities (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    key_sealed TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE consortia (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    require_verified BIGINT NOT NULL,
    founder_org TEXT NOT NULL REFERENCES orgs(id),
    policies TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE consortium_members (
    consortium_id TEXT NOT NULL REFERENCES consortia(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (consortium_id, org_id)
);
CREATE INDEX consortium_members_org ON consortium_members(org_id);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    consortium_id TEXT NOT NULL REFERENCES consortia(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    proposal_id TEXT,
    message TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX invitations_org ON invitations(org_id);
CREATE INDEX invitations_consortium ON invitations(consortium_id);

CREATE TABLE proposals (
    id TEXT PRIMARY KEY,
    consortium_id TEXT NOT NULL REFERENCES consortia(id),
    chain_id TEXT,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    params TEXT NOT NULL,
    params_digest TEXT NOT NULL,
    proposer_org TEXT NOT NULL,
    proposer_account TEXT NOT NULL,
    policy TEXT NOT NULL,
    voters TEXT NOT NULL,
    statement TEXT NOT NULL,
    payload TEXT,
    tx_id TEXT,
    state TEXT NOT NULL,
    deadline BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    executed_at BIGINT,
    outcome TEXT,
    operation_id TEXT,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX proposals_consortium ON proposals(consortium_id);
CREATE INDEX proposals_state ON proposals(state);

CREATE TABLE proposal_voters (
    proposal_id TEXT NOT NULL REFERENCES proposals(id),
    org_id TEXT NOT NULL,
    weight BIGINT NOT NULL,
    PRIMARY KEY (proposal_id, org_id)
);
CREATE INDEX proposal_voters_org ON proposal_voters(org_id);

CREATE TABLE votes (
    proposal_id TEXT NOT NULL REFERENCES proposals(id),
    org_id TEXT NOT NULL,
    decision TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    signature TEXT NOT NULL,
    account_id TEXT,
    offline BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (proposal_id, org_id)
);

CREATE TABLE events (
    id {serial},
    org_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_org ON events(org_id, id);

CREATE TABLE event_reads (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    event_id BIGINT NOT NULL,
    read_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, event_id)
);

CREATE TABLE networks (
    id TEXT PRIMARY KEY,
    consortium_id TEXT NOT NULL REFERENCES consortia(id),
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    UNIQUE (consortium_id, name)
);

CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL REFERENCES networks(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL UNIQUE,
    api_port BIGINT NOT NULL,
    grpc_port BIGINT NOT NULL,
    peer_port BIGINT NOT NULL,
    cert_pem TEXT NOT NULL,
    key_sealed TEXT NOT NULL,
    state TEXT NOT NULL,
    pid BIGINT,
    status TEXT NOT NULL,
    heights TEXT NOT NULL,
    peers BIGINT NOT NULL DEFAULT 0,
    last_seen_at BIGINT,
    last_error TEXT,
    dir TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX nodes_network ON nodes(network_id);

CREATE TABLE chains (
    id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL REFERENCES networks(id),
    consortium_id TEXT NOT NULL REFERENCES consortia(id),
    consensus TEXT NOT NULL,
    suite TEXT NOT NULL,
    state TEXT NOT NULL,
    genesis_hash TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE chain_nodes (
    chain_id TEXT NOT NULL REFERENCES chains(id),
    node_id TEXT NOT NULL REFERENCES nodes(id),
    role TEXT NOT NULL,
    PRIMARY KEY (chain_id, node_id)
);

CREATE TABLE operations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    consortium_id TEXT,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    progress TEXT NOT NULL,
    step BIGINT NOT NULL,
    steps BIGINT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    result TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
    account_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    status BIGINT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, key)
);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    params_digest TEXT NOT NULL,
    result TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log(org_id, seq);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE audit_anchors (
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    chain_id TEXT NOT NULL,
    tx_id TEXT NOT NULL,
    height BIGINT NOT NULL,
    anchored_at BIGINT NOT NULL,
    PRIMARY KEY (seq, chain_id)
)
"#,
    },
    Migration {
        version: 2,
        name: "account preferences",
        sql: r#"
ALTER TABLE accounts ADD COLUMN locale TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN time_zone TEXT NOT NULL DEFAULT ''
"#,
    },
    Migration {
        version: 3,
        name: "certificate centre",
        sql: r#"
ALTER TABLE identities ADD COLUMN revoked_at BIGINT;

CREATE TABLE cert_requests (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    requested_by TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    csr_pem TEXT,
    days BIGINT NOT NULL,
    note TEXT NOT NULL,
    state TEXT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    decision_note TEXT,
    identity_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX cert_requests_org ON cert_requests(org_id, state);

CREATE TABLE revocations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    fingerprint TEXT NOT NULL,
    serial TEXT NOT NULL,
    subject TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    reason TEXT NOT NULL,
    crl_number BIGINT NOT NULL,
    state TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    UNIQUE (org_id, fingerprint)
);

CREATE TABLE revocation_steps (
    revocation_id TEXT NOT NULL REFERENCES revocations(id),
    chain_id TEXT NOT NULL,
    consortium_id TEXT NOT NULL,
    proposal_id TEXT,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (revocation_id, chain_id)
);

CREATE TABLE crls (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    number BIGINT NOT NULL,
    pem TEXT NOT NULL,
    entries BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, number)
);

CREATE TABLE cert_expiry_notices (
    fingerprint TEXT NOT NULL,
    days BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (fingerprint, days)
)
"#,
    },
    Migration {
        version: 4,
        name: "monitoring and alerts",
        sql: r#"
CREATE TABLE node_samples (
    node_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    up BIGINT NOT NULL,
    height BIGINT NOT NULL,
    peers BIGINT NOT NULL,
    round BIGINT,
    cpu_ms BIGINT,
    memory_bytes BIGINT,
    disk_used_bytes BIGINT,
    disk_available_bytes BIGINT,
    txpool BIGINT,
    tps_milli BIGINT,
    started_at BIGINT,
    PRIMARY KEY (node_id, at)
);

CREATE TABLE alert_channels (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    settings TEXT NOT NULL,
    secret_sealed TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE alert_rules (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    metric TEXT NOT NULL,
    threshold BIGINT NOT NULL,
    for_s BIGINT NOT NULL,
    severity TEXT NOT NULL,
    repeat_s BIGINT NOT NULL,
    channels TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    UNIQUE (org_id, name)
);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    state TEXT NOT NULL,
    value BIGINT,
    summary TEXT NOT NULL,
    pending_since BIGINT NOT NULL,
    fired_at BIGINT,
    resolved_at BIGINT,
    last_sent_at BIGINT
);
CREATE INDEX alerts_rule ON alerts(rule_id, state);
CREATE UNIQUE INDEX alerts_open ON alerts(rule_id, subject) WHERE state <> 'resolved';
CREATE INDEX alerts_org ON alerts(org_id, state);

CREATE TABLE alert_deliveries (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    last_error TEXT,
    response_status BIGINT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(state, next_at);
CREATE INDEX alert_deliveries_org ON alert_deliveries(org_id, created_at)
"#,
    },
    Migration {
        version: 5,
        name: "recycle bin",
        sql: r#"
ALTER TABLE networks ADD COLUMN recycled_at BIGINT;

CREATE TABLE network_notices (
    network_id TEXT NOT NULL,
    days BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (network_id, days)
)
"#,
    },
    Migration {
        version: 6,
        name: "transaction counts in node samples",
        sql: r#"
ALTER TABLE node_samples ADD COLUMN txs_committed BIGINT;
ALTER TABLE node_samples ADD COLUMN txs_failed BIGINT
"#,
    },
    Migration {
        version: 7,
        name: "ledger exports and purged networks",
        sql: r#"
ALTER TABLE networks ADD COLUMN purged_at BIGINT;

CREATE TABLE ledger_exports (
    network_id TEXT NOT NULL,
    chain_id TEXT NOT NULL,
    node_name TEXT NOT NULL,
    blocks BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    genesis_hash TEXT NOT NULL,
    tip_hash TEXT NOT NULL,
    config_heights TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (network_id, chain_id)
)
"#,
    },
    Migration {
        version: 8,
        name: "nodes on members' own machines",
        sql: r#"
ALTER TABLE nodes ADD COLUMN host TEXT;
ALTER TABLE nodes ADD COLUMN hosting TEXT NOT NULL DEFAULT 'platform'
"#,
    },
    Migration {
        version: 9,
        name: "external trust roots",
        sql: r#"
CREATE TABLE org_trust_roots (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    fingerprint TEXT NOT NULL,
    certificate TEXT NOT NULL,
    subject TEXT NOT NULL,
    not_after BIGINT NOT NULL,
    added_at BIGINT NOT NULL,
    added_by TEXT NOT NULL,
    PRIMARY KEY (org_id, fingerprint)
)
"#,
    },
    Migration {
        version: 10,
        name: "node settings",
        sql: r#"
ALTER TABLE nodes ADD COLUMN settings TEXT
"#,
    },
    Migration {
        version: 11,
        name: "node certificate renewal",
        sql: r#"
ALTER TABLE nodes ADD COLUMN pending_cert_pem TEXT
"#,
    },
];

fn statements(backend: Backend, sql: &str) -> Vec<String> {
    let serial = match backend {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    sql.split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("{serial}", serial))
        .collect()
}

/// Bring the schema up to date. Each migration runs in its own transaction with its record.
pub async fn run(db: &Db) -> Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(db.pool())
    .await?;
    let mut tx = db.write().await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("version"))
        .collect::<Result<_, _>>()?;
    tx.commit().await?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(v) = applied.iter().find(|v| **v > newest) {
        return Err(Error::unavailable(
            "DATABASE_TOO_NEW",
            format!(
                "the database has schema version {v}, newer than this platform knows ({newest}); run a newer covenant"
            ),
        ));
    }
    for m in MIGRATIONS {
        if applied.contains(&m.version) {
            continue;
        }
        let mut tx = db.write().await?;
        // Another platform process may have applied it meanwhile.
        let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_some() {
            continue;
        }
        for stmt in statements(db.backend(), m.sql) {
            sqlx::query(&stmt).execute(&mut *tx).await.map_err(|e| {
                Error::internal(format!("migration {} ({}) failed: {e}", m.version, m.name))
            })?;
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_and_substitute() {
        let s = statements(Backend::Postgres, MIGRATIONS[0].sql);
        assert!(s.iter().any(|x| x.contains("BIGSERIAL PRIMARY KEY")));
        assert!(s.iter().all(|x| !x.contains("{serial}")));
        assert!(s.iter().all(|x| !x.trim_end().ends_with(';')));
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        let mut sorted = versions.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            versions, sorted,
            "migrations are numbered in order, once each"
        );
    }
}
