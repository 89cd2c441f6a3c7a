//! An org's trust roots: its own CA (made by the platform) and external roots it imports —
//! a national or commercial CA (CFCA-style SM2 roots) whose certificates the org's people
//! already hold. Chains learn an org's roots when it is admitted (`chain.admit_org`) and when
//! a `chain.update_org_roots` proposal passes (`sys.config` `set_trust_roots`); from then on
//! certificates any of them issued sign for the org on that chain.

use std::time::SystemTime;

use covenant_pki::{Certificate, TrustStore, VerifyOptions, format_time};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::{
    Platform,
    error::{Error, Result},
    org,
    time::now_ms,
};

/// One trust root of an org.
#[derive(Debug, Clone, Serialize)]
pub struct TrustRootView {
    pub fingerprint: String,
    /// `platform` (the org's own CA) or `external` (imported).
    pub kind: &'static str,
    pub subject: String,
    pub not_after: i64,
    pub certificate: String,
    pub added_at: Option<i64>,
    pub added_by: Option<String>,
}

fn view(cert: &Certificate, kind: &'static str) -> TrustRootView {
    TrustRootView {
        fingerprint: cert.fingerprint(),
        kind,
        subject: cert.subject_string(),
        not_after: super::millis(cert.not_after()),
        certificate: cert.to_pem(),
        added_at: None,
        added_by: None,
    }
}

/// Every trust root of `org_id`: its own CA first, then the imported ones by age.
pub async fn list(p: &Platform, org_id: &str) -> Result<Vec<TrustRootView>> {
    let o = org::get(p, org_id).await?;
    let own = Certificate::from_pem(&o.ca_certificate, "the org's CA")
        .map_err(|e| Error::internal(e.to_string()))?;
    let mut out = vec![view(&own, "platform")];
    let rows = sqlx::query(
        "SELECT certificate, added_at, added_by FROM org_trust_roots WHERE org_id = $1 ORDER BY added_at, fingerprint",
    )
    .bind(org_id)
    .fetch_all(p.db().pool())
    .await?;
    for r in rows {
        let pem: String = r.try_get("certificate")?;
        let cert = Certificate::from_pem(&pem, "stored trust root")
            .map_err(|e| Error::internal(e.to_string()))?;
        let mut v = view(&cert, "external");
        v.added_at = Some(r.try_get("added_at")?);
        v.added_by = Some(r.try_get("added_by")?);
        out.push(v);
    }
    Ok(out)
}

/// The PEM of every trust root of `org_id`, as a chain's configuration lists them.
pub async fn pems(p: &Platform, org_id: &str) -> Result<Vec<String>> {
    Ok(list(p, org_id)
        .await?
        .into_iter()
        .map(|r| r.certificate)
        .collect())
}

/// Import an external root for `org_id`.
pub async fn import(p: &Platform, org_id: &str, pem: &str, account: &str) -> Result<TrustRootView> {
    let cert = Certificate::from_pem(pem, "trust root")
        .map_err(|e| Error::invalid_as("TRUST_ROOT_INVALID", e.to_string()))?;
    covenant_pki::check_trust_root(&cert, SystemTime::now())
        .map_err(|e| Error::invalid_as("TRUST_ROOT_INVALID", e.to_string()))?;
    let fp = cert.fingerprint();
    if list(p, org_id).await?.iter().any(|r| r.fingerprint == fp) {
        return Err(Error::conflict(
            "TRUST_ROOT_EXISTS",
            format!(
                "{} is a trust root of {org_id} already",
                cert.subject_string()
            ),
        ));
    }
    let now = now_ms();
    sqlx::query(
        "INSERT INTO org_trust_roots (org_id, fingerprint, certificate, subject, not_after, added_at, added_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(org_id)
    .bind(&fp)
    .bind(cert.to_pem())
    .bind(cert.subject_string())
    .bind(super::millis(cert.not_after()))
    .bind(now)
    .bind(account)
    .execute(p.db().pool())
    .await?;
    let mut v = view(&cert, "external");
    v.added_at = Some(now);
    v.added_by = Some(account.to_string());
    Ok(v)
}

/// Remove an imported root (the org's own CA stays). Chains keep it until a
/// `chain.update_org_roots` proposal passes.
pub async fn remove(p: &Platform, org_id: &str, fingerprint: &str) -> Result<()> {
    let own = list(p, org_id).await?;
    if own
        .first()
        .is_some_and(|r| r.fingerprint.eq_ignore_ascii_case(fingerprint))
    {
        return Err(Error::conflict(
            "TRUST_ROOT_OWN",
            "the org's own CA stays its trust root",
        ));
    }
    let n = sqlx::query("DELETE FROM org_trust_roots WHERE org_id = $1 AND fingerprint = $2")
        .bind(org_id)
        .bind(fingerprint.to_ascii_lowercase())
        .execute(p.db().pool())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::not_found(format!(
            "{org_id} has no imported trust root {fingerprint}"
        )));
    }
    Ok(())
}

/// Whether `pem` chains to one of `org_id`'s trust roots now: the root it chains to, its
/// subject, role and validity, or why not.
pub async fn verify(p: &Platform, org_id: &str, pem: &str) -> Result<Value> {
    let cert = Certificate::from_pem(pem, "certificate")
        .map_err(|e| Error::invalid_as("CERTIFICATE_INVALID", e.to_string()))?;
    let roots = list(p, org_id).await?;
    let mut store = TrustStore::new();
    for r in &roots {
        if let Ok(c) = Certificate::from_pem(&r.certificate, "trust root") {
            store.add_anchor(c);
        }
    }
    let options = VerifyOptions {
        at: SystemTime::now(),
        role: None,
        max_depth: 8,
    };
    let base = json!({
        "subject": cert.subject_string(),
        "fingerprint": cert.fingerprint(),
        "not_after": format_time(cert.not_after()),
    });
    Ok(match store.verify(&cert, &[], &options) {
        Ok(chain) => {
            let root = chain.certificates.last().map(Certificate::fingerprint);
            let kind = roots
                .iter()
                .find(|r| Some(&r.fingerprint) == root.as_ref())
                .map_or("platform", |r| r.kind);
            let mut v = base;
            v["valid"] = json!(true);
            v["root"] = json!(root);
            v["root_kind"] = json!(kind);
            v["role"] = json!(cert.role().map(|r| r.name()));
            v
        }
        Err(r) => {
            let mut v = base;
            v["valid"] = json!(false);
            v["reason"] = json!(r.reason());
            v["message"] = json!(r.to_string());
            v
        }
    })
}
