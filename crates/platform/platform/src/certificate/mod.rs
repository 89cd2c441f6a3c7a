//! The certificate centre: every certificate the platform knows for an org — its root, the
//! signing identities of its admins and clients, its nodes' certificates — with where each
//! stands (valid, expiring, expired, revoked); requests and their approval ([`request`]);
//! revocation as one tracked flow to every chain ([`revocation`]); expiry warnings
//! ([`expiry`]).

pub mod expiry;
pub mod request;
pub mod revocation;
pub mod trust_root;

use std::time::{SystemTime, UNIX_EPOCH};

use covenant_pki::{Certificate, format_time};
use serde::Serialize;
use sqlx::Row;

use crate::{
    Platform,
    error::{Error, Result},
    time::now_ms,
};

/// A certificate expiring within this many days is `expiring`.
pub const EXPIRING_DAYS: i64 = 30;

const DAY_MS: i64 = 86_400_000;

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// The org's CA: its trust root on chains.
    Root,
    /// An admin identity (votes, governs).
    Admin,
    /// A client identity (sends transactions).
    Client,
    /// A node's certificate (signing and TLS).
    Node,
}

impl CertKind {
    pub fn name(self) -> &'static str {
        match self {
            CertKind::Root => "root",
            CertKind::Admin => "admin",
            CertKind::Client => "client",
            CertKind::Node => "node",
        }
    }

    pub fn parse(s: &str) -> Result<CertKind> {
        Ok(match s {
            "root" => CertKind::Root,
            "admin" => CertKind::Admin,
            "client" => CertKind::Client,
            "node" => CertKind::Node,
            other => {
                return Err(Error::invalid(format!(
                    "kind {other:?} is not one of root, admin, client, node"
                )));
            }
        })
    }
}

/// One certificate the platform knows.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateView {
    pub fingerprint: String,
    pub org_id: String,
    pub kind: CertKind,
    /// The identity's or node's name; the CA's common name for the root.
    pub name: String,
    pub subject: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    /// `not_after` in milliseconds since the epoch.
    pub expires_at: i64,
    /// Whole days left (negative once expired).
    pub days_left: i64,
    /// `valid`, `expiring` (within 30 days), `expired` or `revoked`.
    pub status: String,
    /// Whether the platform keeps the key (false: its owner does).
    pub custodial: bool,
    /// The identity or node it belongs to.
    pub holder_id: Option<String>,
    /// The revocation that retired it, if any.
    pub revocation_id: Option<String>,
}

/// One certificate with its PEM and its revocation's progress.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateDetail {
    #[serde(flatten)]
    pub view: CertificateView,
    pub issuer: String,
    pub certificate: String,
    pub revocation: Option<revocation::RevocationView>,
}

pub(crate) fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The status of a certificate expiring at `expires_at` at `now`.
pub fn status_at(expires_at: i64, revoked: bool, now: i64) -> (&'static str, i64) {
    let left = expires_at - now;
    let days = if left >= 0 {
        left / DAY_MS
    } else {
        -((-left + DAY_MS - 1) / DAY_MS)
    };
    let status = if revoked {
        "revoked"
    } else if left < 0 {
        "expired"
    } else if days < EXPIRING_DAYS {
        "expiring"
    } else {
        "valid"
    };
    (status, days)
}

/// A known certificate and its PEM.
pub(crate) struct Known {
    pub view: CertificateView,
    pub cert: Certificate,
}

/// Who holds a certificate, as the platform records it.
struct Holder {
    kind: CertKind,
    name: String,
    custodial: bool,
    holder_id: Option<String>,
    revocation_id: Option<String>,
}

fn known(org_id: &str, h: Holder, pem: &str, now: i64) -> Option<Known> {
    let Holder {
        kind,
        name,
        custodial,
        holder_id,
        revocation_id,
    } = h;
    // A certificate the platform cannot read is left out of the list, not fatal to it.
    let cert = Certificate::from_pem(pem, "certificate").ok()?;
    let expires_at = millis(cert.not_after());
    let (status, days_left) = status_at(expires_at, revocation_id.is_some(), now);
    Some(Known {
        view: CertificateView {
            fingerprint: cert.fingerprint(),
            org_id: org_id.to_string(),
            kind,
            name,
            subject: cert.subject_string(),
            serial: cert.serial_hex(),
            not_before: format_time(cert.not_before()),
            not_after: format_time(cert.not_after()),
            expires_at,
            days_left,
            status: status.to_string(),
            custodial,
            holder_id,
            revocation_id,
        },
        cert,
    })
}

/// Every certificate the platform knows for `org_id`.
pub(crate) async fn known_of(p: &Platform, org_id: &str) -> Result<Vec<Known>> {
    let now = now_ms();
    let mut out = Vec::new();
    let org = sqlx::query("SELECT ca_cert, ca_key FROM orgs WHERE id = $1")
        .bind(org_id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no org {org_id}")))?;
    let ca_pem: String = org.try_get("ca_cert")?;
    let ca_kept = org.try_get::<Option<String>, _>("ca_key")?.is_some();
    let root = Holder {
        kind: CertKind::Root,
        name: Certificate::from_pem(&ca_pem, "CA")
            .ok()
            .and_then(|c| c.common_name())
            .unwrap_or_else(|| format!("{org_id} Root CA")),
        custodial: ca_kept,
        holder_id: None,
        revocation_id: None,
    };
    if let Some(k) = known(org_id, root, &ca_pem, now) {
        out.push(k);
    }
    let revoked: std::collections::HashMap<String, String> =
        sqlx::query("SELECT id, fingerprint FROM revocations WHERE org_id = $1")
            .bind(org_id)
            .fetch_all(p.db().pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("fingerprint")?, r.try_get("id")?)))
            .collect::<Result<_>>()?;
    for r in sqlx::query(
        "SELECT id, name, role, cert_pem, fingerprint, key_sealed FROM identities WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_all(p.db().pool())
    .await?
    {
        let role: String = r.try_get("role")?;
        let kind = if role == "admin" {
            CertKind::Admin
        } else {
            CertKind::Client
        };
        let fp: String = r.try_get("fingerprint")?;
        let h = Holder {
            kind,
            name: r.try_get("name")?,
            custodial: r.try_get::<Option<String>, _>("key_sealed")?.is_some(),
            holder_id: Some(r.try_get("id")?),
            revocation_id: revoked.get(&fp).cloned(),
        };
        if let Some(k) = known(org_id, h, &r.try_get::<String, _>("cert_pem")?, now) {
            out.push(k);
        }
    }
    for r in sqlx::query("SELECT id, name, cert_pem, pending_cert_pem FROM nodes WHERE org_id = $1")
        .bind(org_id)
        .fetch_all(p.db().pool())
        .await?
    {
        // A node being renewed has two: the one it runs with and the one its chains are
        // voting on.
        let pending = r.try_get::<Option<String>, _>("pending_cert_pem")?;
        for pem in std::iter::once(r.try_get::<String, _>("cert_pem")?).chain(pending) {
            let h = Holder {
                kind: CertKind::Node,
                name: r.try_get("name")?,
                custodial: true,
                holder_id: Some(r.try_get("id")?),
                revocation_id: None,
            };
            if let Some(k) = known(org_id, h, &pem, now) {
                out.push(k);
            }
        }
    }
    Ok(out)
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<CertKind>,
    pub status: Option<String>,
}

/// The org's certificates, soonest to expire first.
pub async fn list(p: &Platform, org_id: &str, f: &Filter) -> Result<Vec<CertificateView>> {
    if let Some(s) = &f.status
        && !["valid", "expiring", "expired", "revoked"].contains(&s.as_str())
    {
        return Err(Error::invalid(format!(
            "status {s:?} is not one of valid, expiring, expired, revoked"
        )));
    }
    let mut v: Vec<CertificateView> = known_of(p, org_id)
        .await?
        .into_iter()
        .map(|k| k.view)
        .filter(|c| f.kind.is_none_or(|k| c.kind == k))
        .filter(|c| f.status.as_deref().is_none_or(|s| c.status == s))
        .collect();
    v.sort_by(|a, b| (a.expires_at, &a.fingerprint).cmp(&(b.expires_at, &b.fingerprint)));
    Ok(v)
}

/// The page key of a certificate: by expiry, then fingerprint.
pub fn page_key(c: &CertificateView) -> String {
    format!("{:020}-{}", c.expires_at.max(0), c.fingerprint)
}

fn check_fingerprint(fp: &str) -> Result<String> {
    if fp.len() == 64 && fp.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(fp.to_ascii_lowercase())
    } else {
        Err(Error::invalid(
            "a certificate is named by its SHA-256 fingerprint: 64 hex digits",
        ))
    }
}

/// One of the org's certificates by fingerprint.
pub(crate) async fn find(p: &Platform, org_id: &str, fingerprint: &str) -> Result<Known> {
    let fp = check_fingerprint(fingerprint)?;
    known_of(p, org_id)
        .await?
        .into_iter()
        .find(|k| k.view.fingerprint == fp)
        .ok_or_else(|| Error::not_found(format!("your org has no certificate {fp}")))
}

/// One of the org's certificates with its PEM and revocation.
pub async fn get(p: &Platform, org_id: &str, fingerprint: &str) -> Result<CertificateDetail> {
    let k = find(p, org_id, fingerprint).await?;
    let revocation = match &k.view.revocation_id {
        Some(id) => Some(revocation::get(p, org_id, id).await?),
        None => None,
    };
    Ok(CertificateDetail {
        issuer: k.cert.issuer_string(),
        certificate: k.cert.to_pem(),
        view: k.view,
        revocation,
    })
}

/// Renew an admin or client certificate: the org's CA certifies the same key again, under the
/// same name, for `days` (the longest by default). The identity keeps its id and key (kept or
/// its owner's); the old certificate stays valid until it expires, so nothing that holds it
/// stops working meanwhile. Answers the new certificate.
pub async fn renew(
    p: &Platform,
    caller: &crate::auth::Caller,
    fingerprint: &str,
    days: Option<u32>,
) -> Result<CertificateDetail> {
    caller.require(crate::action::IDENTITY_MANAGE)?;
    let k = find(p, caller.org(), fingerprint).await?;
    let role = match k.view.kind {
        CertKind::Admin => covenant_pki::Role::Admin,
        CertKind::Client => covenant_pki::Role::Client,
        CertKind::Root => return renew_root(p, caller, &k, days).await,
        CertKind::Node => return renew_node(p, caller, &k, days).await,
    };
    if k.view.revocation_id.is_some() {
        return Err(Error::conflict(
            "CERT_REVOKED",
            "the certificate is revoked; request a new one instead",
        ));
    }
    let days = days.unwrap_or(crate::ca::LEAF_DAYS);
    crate::ca::check_days(days)?;
    let ca = crate::org::ca(p, caller.org()).await?;
    let key = k.cert.public_key()?;
    let cert = ca.certify(caller.org(), role, &k.view.name, &key, vec![], days)?;
    let holder = k
        .view
        .holder_id
        .clone()
        .ok_or_else(|| Error::internal("an identity certificate without its identity"))?;
    let mut tx = p.db().write().await?;
    let n = sqlx::query(
        "UPDATE identities SET cert_pem = $1, fingerprint = $2 WHERE id = $3 AND org_id = $4 AND fingerprint = $5 AND revoked_at IS NULL",
    )
    .bind(cert.to_pem())
    .bind(cert.fingerprint())
    .bind(&holder)
    .bind(caller.org())
    .bind(&k.view.fingerprint)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::conflict(
            "CERT_CHANGED",
            "the certificate was renewed or revoked meanwhile; read it again",
        ));
    }
    let notices = crate::event::add_in(
        &mut tx,
        &[caller.org().to_string()],
        &crate::event::New {
            kind: "cert.renewed",
            title: format!(
                "Certificate renewed: {} ({}) until {}",
                k.view.name,
                k.view.kind.name(),
                format_time(cert.not_after())
            ),
            subject_kind: "certificate",
            subject_id: &cert.fingerprint(),
            data: serde_json::json!({"previous": k.view.fingerprint, "fingerprint": cert.fingerprint(), "identity_id": holder}),
        },
    )
    .await?;
    tx.commit().await?;
    crate::event::push(p, notices);
    get(p, caller.org(), &cert.fingerprint()).await
}

/// Renew a node's certificate: the org's CA certifies the node's key again under the same
/// name for `days`. A node's certificate is its identity in its chains' consensus, so the new
/// one is kept beside the old and a `chain.renew_node` proposal goes to every chain the node
/// is on (`sys.config` `replace_node_certificate`); when the last one passes the node
/// switches to it (`network::renewed_on`) while the other nodes keep the chains committing.
/// A node on no chain switches at once.
async fn renew_node(
    p: &Platform,
    caller: &crate::auth::Caller,
    k: &Known,
    days: Option<u32>,
) -> Result<CertificateDetail> {
    caller.require(crate::action::NODE_MANAGE)?;
    let org = caller.org();
    let node_id = k
        .view
        .holder_id
        .clone()
        .ok_or_else(|| Error::internal("a node certificate without its node"))?;
    let node = crate::network::node(p, &node_id).await?;
    if node.org_id != org {
        return Err(Error::not_found(format!("your org has no node {node_id}")));
    }
    if crate::network::pending_certificate(p, &node.id)
        .await?
        .is_some()
    {
        if live_renewals(p, &node.id).await? {
            return Err(Error::conflict(
                "NODE_RENEWING",
                format!(
                    "node {} is being renewed already: its chains are voting on its new certificate",
                    node.name
                ),
            ));
        }
        // The last renewal's proposals are over. If every chain took its certificate the
        // node switches to it now (the switch could not be made when the last one passed);
        // otherwise (one was rejected, expired or failed) this renewal replaces it.
        let r = crate::network::renewed_on(p, &node.id).await?;
        if let Some(fp) = r["fingerprint"].as_str().filter(|_| r["switched"] == true) {
            return get(p, org, fp).await;
        }
    }
    let days = days.unwrap_or(crate::ca::LEAF_DAYS);
    crate::ca::check_days(days)?;
    let ca = crate::org::ca(p, org).await?;
    let key = k.cert.public_key()?;
    // The same names and addresses the node is reached by.
    let hosts: Vec<covenant_pki::Host> = k
        .cert
        .hosts()
        .iter()
        .filter_map(|h| h.parse().ok())
        .collect();
    let cert = ca.certify(
        org,
        covenant_pki::Role::Node,
        &k.view.name,
        &key,
        hosts,
        days,
    )?;
    let pem = cert.to_pem();
    crate::network::set_pending_certificate(p, &node.id, &pem).await?;
    if node.chains.is_empty() {
        crate::network::switch_certificate(p, &node, &pem).await?;
    }
    let mut targets = Vec::new();
    for chain in &node.chains {
        let consortium = crate::network::chain_row(p, chain)
            .await
            .map(|c| c.consortium_id);
        targets.push((chain.clone(), consortium));
    }
    let proposals = propose_per_chain(
        p,
        caller,
        targets,
        "chain.renew_node",
        |chain| serde_json::json!({"chain_id": chain, "node_id": node.id}),
        |chain| format!("Renew node {}'s certificate on chain {chain}", node.name),
    )
    .await;
    crate::event::publish(
        p,
        &[org.to_string()],
        &crate::event::New {
            kind: "cert.renewed",
            title: format!(
                "Node {}'s certificate was renewed until {}; proposals put it on {} chain(s)",
                node.name,
                format_time(cert.not_after()),
                proposals.len()
            ),
            subject_kind: "certificate",
            subject_id: &cert.fingerprint(),
            data: serde_json::json!({"previous": k.view.fingerprint, "fingerprint": cert.fingerprint(), "node": node.id, "proposals": proposals}),
        },
    )
    .await?;
    get(p, org, &cert.fingerprint()).await
}

/// Open a proposal of `kind` on each chain of `targets` (a chain and its consortium, or why the
/// chain cannot be reached); what happened on each, for a renewal's event: its proposal's id or
/// the error.
async fn propose_per_chain(
    p: &Platform,
    caller: &crate::auth::Caller,
    targets: Vec<(String, Result<String>)>,
    kind: &str,
    params: impl Fn(&str) -> serde_json::Value,
    title: impl Fn(&str) -> String,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (chain, consortium) in targets {
        let opened = match consortium {
            Ok(consortium) => crate::proposal::create(
                p,
                caller,
                &consortium,
                kind,
                params(&chain),
                Some(title(&chain)),
            )
            .await
            .map(|v| v.id),
            Err(e) => Err(e),
        };
        out.push(match opened {
            Ok(id) => serde_json::json!({"chain_id": chain, "proposal_id": id}),
            Err(e) => serde_json::json!({"chain_id": chain, "error": {"code": e.code(), "message": e.public_message()}}),
        });
    }
    out
}

/// Whether a `chain.renew_node` proposal for `node_id` is still open, approved or executing.
async fn live_renewals(p: &Platform, node_id: &str) -> Result<bool> {
    let rows = sqlx::query(
        "SELECT params FROM proposals WHERE kind = 'chain.renew_node' AND state IN ('open', 'approved', 'executing')",
    )
    .fetch_all(p.db().pool())
    .await?;
    for r in rows {
        let params: String = r.try_get("params")?;
        let v: serde_json::Value = serde_json::from_str(&params).unwrap_or_default();
        if v["node_id"] == node_id {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Renew the org's root: the same key and subject certified again for `days` (ten years by
/// default). Everything the old root issued verifies under the new one, so nothing stops;
/// a `chain.update_org_roots` proposal goes to every chain the org is on so the chains hold
/// the new root before the old one expires.
async fn renew_root(
    p: &Platform,
    caller: &crate::auth::Caller,
    k: &Known,
    days: Option<u32>,
) -> Result<CertificateDetail> {
    caller.require(crate::action::TRUST_ROOT_MANAGE)?;
    let org = caller.org();
    let ca = crate::org::ca(p, org).await?;
    let cert = ca.renew_root(org, days.unwrap_or(crate::ca::ROOT_DAYS))?;
    let n = sqlx::query("UPDATE orgs SET ca_cert = $1 WHERE id = $2 AND ca_cert = $3")
        .bind(cert.to_pem())
        .bind(org)
        .bind(k.cert.to_pem())
        .execute(p.db().pool())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::conflict(
            "CERT_CHANGED",
            "the org's root was renewed meanwhile; read it again",
        ));
    }
    let targets = revocation::chains_of(p, org)
        .await?
        .into_iter()
        .map(|(chain, consortium, reachable)| (chain, reachable.map(|()| consortium)))
        .collect();
    let proposals = propose_per_chain(
        p,
        caller,
        targets,
        "chain.update_org_roots",
        |chain| serde_json::json!({"chain_id": chain, "org_id": org}),
        |chain| format!("Update {org}'s trust roots on chain {chain} (renewed root)"),
    )
    .await;
    crate::event::publish(
        p,
        &[org.to_string()],
        &crate::event::New {
            kind: "cert.renewed",
            title: format!(
                "The org's root was renewed until {}; proposals update it on {} chain(s)",
                format_time(cert.not_after()),
                proposals.len()
            ),
            subject_kind: "certificate",
            subject_id: &cert.fingerprint(),
            data: serde_json::json!({"previous": k.view.fingerprint, "fingerprint": cert.fingerprint(), "root": true, "proposals": proposals}),
        },
    )
    .await?;
    get(p, org, &cert.fingerprint()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_days_left() {
        let now = 1_000 * DAY_MS;
        assert_eq!(status_at(now + 400 * DAY_MS, false, now), ("valid", 400));
        assert_eq!(status_at(now + 30 * DAY_MS, false, now), ("valid", 30));
        assert_eq!(
            status_at(now + 29 * DAY_MS + 1, false, now),
            ("expiring", 29)
        );
        assert_eq!(status_at(now + 1, false, now), ("expiring", 0));
        assert_eq!(status_at(now - 1, false, now), ("expired", -1));
        assert_eq!(status_at(now - 2 * DAY_MS, false, now), ("expired", -2));
        assert_eq!(status_at(now + 400 * DAY_MS, true, now).0, "revoked");
    }

    #[test]
    fn fingerprints_are_checked() {
        assert!(check_fingerprint(&"A".repeat(64)).is_ok());
        assert_eq!(check_fingerprint(&"A".repeat(64)).unwrap(), "a".repeat(64));
        assert!(check_fingerprint("abc").is_err());
        assert!(check_fingerprint(&"g".repeat(64)).is_err());
    }
}
