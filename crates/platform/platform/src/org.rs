//! Organisations: each has an id (the `O` of its certificates and its name on chains), a CA the
//! platform keeps ([`crate::ca`]), a root account, and signing identities — admins who vote
//! and clients that submit — whose keys the platform keeps sealed (custody) or never sees
//! (the identity was made from a CSR; its owner signs offline).

use covenant_crypto::{PrivateKey, Suite};
use covenant_pki::{Certificate, Csr, Role};
use serde::Serialize;
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform,
    account::{self, AccountView},
    ca::OrgCa,
    db::{Tx, flag, is_unique_violation},
    error::{Error, Result},
    time::{new_id, now_ms},
};

/// What anyone signed in may see of an org.
#[derive(Debug, Clone, Serialize)]
pub struct OrgView {
    pub id: String,
    pub name: String,
    pub suite: String,
    pub verified: bool,
    /// The org's root certificate (PEM): its trust root on chains.
    pub ca_certificate: String,
    pub ca_fingerprint: String,
    /// Whether the platform keeps the CA's key (it can issue node certificates).
    pub ca_kept: bool,
    pub created_at: i64,
}

fn view(r: &AnyRow) -> Result<OrgView> {
    let pem: String = r.try_get("ca_cert")?;
    let fingerprint = Certificate::from_pem(&pem, "org CA")
        .map(|c| c.fingerprint())
        .unwrap_or_default();
    Ok(OrgView {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        suite: r.try_get("suite")?,
        verified: flag(r, "verified")?,
        ca_kept: r.try_get::<Option<String>, _>("ca_key")?.is_some(),
        ca_certificate: pem,
        ca_fingerprint: fingerprint,
        created_at: r.try_get("created_at")?,
    })
}

/// Check an org id: 2 to 32 of lowercase letters, digits and `-`, starting with a letter or
/// digit. It appears in certificates and chain configs.
pub fn check_id(id: &str) -> Result<()> {
    let ok = (2..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && id.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_as(
            "ORG_ID_INVALID",
            "an org id is 2 to 32 lowercase letters, digits or '-', starting with a letter or digit",
        ))
    }
}

/// Where an org's first admin key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Custody {
    /// The platform keeps the key sealed and signs the org's votes when an authorised account
    /// votes.
    Platform,
    /// No admin key at registration: the org adds one from a CSR and signs offline.
    Offline,
}

/// A new org.
#[derive(Debug, Clone)]
pub struct NewOrg {
    pub id: String,
    pub name: String,
    pub suite: Suite,
    pub root_username: String,
    pub root_password: String,
    pub root_display_name: String,
    pub custody: Custody,
}

/// What registering an org made.
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    pub org: OrgView,
    pub root_account: AccountView,
    pub identities: Vec<IdentityView>,
}

async fn insert_org(
    p: &Platform,
    tx: &mut Tx,
    id: &str,
    name: &str,
    suite: Suite,
    ca: &OrgCa,
) -> Result<()> {
    let sealed = p
        .vault()
        .seal(&format!("org:{id}:ca"), ca.key_pem()?.as_bytes())?;
    let r = sqlx::query(
        "INSERT INTO orgs (id, name, suite, ca_cert, ca_key, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(name)
    .bind(suite.name())
    .bind(ca.cert.to_pem())
    .bind(sealed)
    .bind(now_ms())
    .execute(&mut **tx)
    .await;
    match r {
        Err(e) if is_unique_violation(&e) => Err(Error::conflict(
            "ORG_EXISTS",
            format!("an org with id {id} exists already"),
        )),
        other => other.map(drop).map_err(Error::from),
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "an org name is 1 to 128 characters without control characters",
        ));
    }
    Ok(())
}

/// Register an org: its CA, its root account and (with platform custody) an admin identity.
pub async fn register(p: &Platform, new: &NewOrg) -> Result<Registered> {
    check_id(&new.id)?;
    check_name(&new.name)?;
    account::check_username(&new.root_username)?;
    account::password::check_policy(&new.root_password)?;
    let ca = OrgCa::create(&new.id, new.suite)?;
    let admin = match new.custody {
        Custody::Platform => {
            Some(ca.issue(&new.id, Role::Admin, "admin", vec![], crate::ca::LEAF_DAYS)?)
        }
        Custody::Offline => None,
    };
    let mut tx = p.db().write().await?;
    insert_org(p, &mut tx, &new.id, &new.name, new.suite, &ca).await?;
    let root = account::insert(
        &mut tx,
        &new.id,
        &new.root_username,
        &new.root_display_name,
        &new.root_password,
        true,
    )
    .await?;
    let mut identities = Vec::new();
    if let Some((cert, key)) = admin {
        identities.push(
            insert_identity(p, &mut tx, &new.id, "admin", Role::Admin, &cert, Some(&key)).await?,
        );
    }
    tx.commit().await?;
    Ok(Registered {
        org: get(p, &new.id).await?,
        root_account: root,
        identities,
    })
}

/// An org that exists already outside the platform (what `covenant up` made): its CA
/// (certificate and key) and identities (certificate, and the key when the platform is to keep
/// it), with a root account.
pub async fn import(
    p: &Platform,
    id: &str,
    suite: Suite,
    ca: &OrgCa,
    identities: &[(String, Certificate, Option<PrivateKey>)],
    root_username: &str,
    root_password: &str,
) -> Result<Registered> {
    check_id(id)?;
    let mut tx = p.db().write().await?;
    insert_org(p, &mut tx, id, id, suite, ca).await?;
    let root = account::insert(&mut tx, id, root_username, "Root", root_password, true).await?;
    let mut out = Vec::new();
    for (name, cert, key) in identities {
        let role = cert
            .role()
            .ok_or_else(|| Error::invalid(format!("identity {name} has no role")))?;
        out.push(insert_identity(p, &mut tx, id, name, role, cert, key.as_ref()).await?);
    }
    tx.commit().await?;
    Ok(Registered {
        org: get(p, id).await?,
        root_account: root,
        identities: out,
    })
}

/// The org `id`.
pub async fn get(p: &Platform, id: &str) -> Result<OrgView> {
    let row = sqlx::query("SELECT * FROM orgs WHERE id = $1")
        .bind(id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no org {id}")))?;
    view(&row)
}

/// Every org (the directory consortia invite from), by id, from `after`.
pub async fn list(p: &Platform, after: Option<&str>, limit: i64) -> Result<Vec<OrgView>> {
    sqlx::query("SELECT * FROM orgs WHERE id > $1 ORDER BY id LIMIT $2")
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(p.db().pool())
        .await?
        .iter()
        .map(view)
        .collect()
}

/// Mark an org verified (done by the platform's operator).
pub async fn set_verified(p: &Platform, id: &str, verified: bool) -> Result<OrgView> {
    let n = sqlx::query("UPDATE orgs SET verified = $1, version = version + 1 WHERE id = $2")
        .bind(i64::from(verified))
        .bind(id)
        .execute(p.db().pool())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::not_found(format!("no org {id}")));
    }
    get(p, id).await
}

/// The org's CA, its key opened.
pub async fn ca(p: &Platform, id: &str) -> Result<OrgCa> {
    let row = sqlx::query("SELECT ca_cert, ca_key FROM orgs WHERE id = $1")
        .bind(id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no org {id}")))?;
    let cert: String = row.try_get("ca_cert")?;
    let sealed: Option<String> = row.try_get("ca_key")?;
    let sealed = sealed.ok_or_else(|| {
        Error::conflict(
            "CA_NOT_KEPT",
            format!("the platform does not keep org {id}'s CA key"),
        )
    })?;
    let key = p.vault().open(&format!("org:{id}:ca"), &sealed)?;
    let key = String::from_utf8(key.to_vec())
        .map_err(|_| Error::internal(format!("org {id}'s CA key is damaged")))?;
    OrgCa::from_parts(&cert, &key)
}

/// A signing identity of an org (its key never shown).
#[derive(Debug, Clone, Serialize)]
pub struct IdentityView {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub role: String,
    pub certificate: String,
    pub fingerprint: String,
    /// Whether the platform keeps the key (else its owner signs offline).
    pub custodial: bool,
    pub not_after: String,
    pub created_at: i64,
    /// When its certificate was revoked (the platform signs nothing more with it).
    pub revoked_at: Option<i64>,
}

fn identity_view(r: &AnyRow) -> Result<IdentityView> {
    let pem: String = r.try_get("cert_pem")?;
    let not_after = Certificate::from_pem(&pem, "identity")
        .map(|c| covenant_pki::format_time(c.not_after()))
        .unwrap_or_default();
    Ok(IdentityView {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        certificate: pem,
        fingerprint: r.try_get("fingerprint")?,
        custodial: r.try_get::<Option<String>, _>("key_sealed")?.is_some(),
        not_after,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// Record an identity inside `tx` (its key sealed, if the platform keeps it).
pub(crate) async fn insert_identity(
    p: &Platform,
    tx: &mut Tx,
    org_id: &str,
    name: &str,
    role: Role,
    cert: &Certificate,
    key: Option<&PrivateKey>,
) -> Result<IdentityView> {
    let id = new_id("idn")?;
    let sealed = match key {
        Some(k) => Some(
            p.vault()
                .seal(&format!("identity:{id}"), k.to_pkcs8_pem()?.as_bytes())?,
        ),
        None => None,
    };
    let now = now_ms();
    let r = sqlx::query(
        "INSERT INTO identities (id, org_id, name, role, cert_pem, fingerprint, key_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(name)
    .bind(role.name())
    .bind(cert.to_pem())
    .bind(cert.fingerprint())
    .bind(&sealed)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match r {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "IDENTITY_EXISTS",
                format!("org {org_id} has an identity named {name} (or this certificate) already"),
            ));
        }
        other => {
            other?;
        }
    }
    Ok(IdentityView {
        id,
        org_id: org_id.to_string(),
        name: name.to_string(),
        role: role.name().to_string(),
        certificate: cert.to_pem(),
        fingerprint: cert.fingerprint(),
        custodial: sealed.is_some(),
        not_after: covenant_pki::format_time(cert.not_after()),
        created_at: now,
        revoked_at: None,
    })
}

/// What issuing an identity needs, checked: its role, name and validity.
pub fn identity_role(role: &str) -> Result<Role> {
    match role {
        "admin" => Ok(Role::Admin),
        "client" => Ok(Role::Client),
        other => Err(Error::invalid(format!(
            "role {other:?} is not one of admin, client (nodes get theirs with their network)"
        ))),
    }
}

/// Check an identity's name.
pub fn check_identity_name(name: &str) -> Result<()> {
    covenant_pki::authority::validate_name(name)
        .map_err(|_| Error::invalid("an identity name is 1 to 64 letters, digits, '.', '_' or '-'"))
}

/// Certify `name` as `role` for `days` with `ca`: from a CSR (the key stays with its owner;
/// its common name must be `name`), or with a new key the platform will keep.
pub fn certify_identity(
    ca: &OrgCa,
    org_id: &str,
    name: &str,
    role: Role,
    csr_pem: Option<&str>,
    days: u32,
) -> Result<(Certificate, Option<PrivateKey>)> {
    check_identity_name(name)?;
    Ok(match csr_pem {
        Some(pem) => {
            let csr = Csr::from_pem(pem, "CSR")
                .map_err(|e| Error::invalid_as("CSR_INVALID", e.to_string()))?;
            if csr.common_name().as_deref() != Some(name) {
                return Err(Error::invalid_as(
                    "CSR_INVALID",
                    format!("the CSR's common name is not {name:?}"),
                ));
            }
            (ca.sign_csr(org_id, role, &csr, days)?, None)
        }
        None => {
            let (c, k) = ca.issue(org_id, role, name, vec![], days)?;
            (c, Some(k))
        }
    })
}

/// Add a signing identity to `org_id`: from a CSR (the key stays with its owner) or with a
/// new key the platform keeps; valid for `days` (the longest by default).
pub async fn add_identity(
    p: &Platform,
    org_id: &str,
    name: &str,
    role: &str,
    csr_pem: Option<&str>,
    days: Option<u32>,
) -> Result<IdentityView> {
    let role = identity_role(role)?;
    check_identity_name(name)?;
    let days = days.unwrap_or(crate::ca::LEAF_DAYS);
    crate::ca::check_days(days)?;
    let ca = ca(p, org_id).await?;
    let (cert, key) = certify_identity(&ca, org_id, name, role, csr_pem, days)?;
    let mut tx = p.db().write().await?;
    let v = insert_identity(p, &mut tx, org_id, name, role, &cert, key.as_ref()).await?;
    tx.commit().await?;
    Ok(v)
}

/// The identities of `org_id`.
pub async fn identities(p: &Platform, org_id: &str) -> Result<Vec<IdentityView>> {
    sqlx::query("SELECT * FROM identities WHERE org_id = $1 ORDER BY name")
        .bind(org_id)
        .fetch_all(p.db().pool())
        .await?
        .iter()
        .map(identity_view)
        .collect()
}

/// An identity of `org_id` by name or id.
pub async fn identity(p: &Platform, org_id: &str, name_or_id: &str) -> Result<IdentityView> {
    let row = sqlx::query("SELECT * FROM identities WHERE org_id = $1 AND (id = $2 OR name = $2)")
        .bind(org_id)
        .bind(name_or_id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("org {org_id} has no identity {name_or_id}")))?;
    identity_view(&row)
}

/// The identity whose certificate has this fingerprint, if any.
pub async fn identity_by_fingerprint(
    p: &Platform,
    fingerprint: &str,
) -> Result<Option<IdentityView>> {
    sqlx::query("SELECT * FROM identities WHERE fingerprint = $1")
        .bind(fingerprint)
        .fetch_optional(p.db().pool())
        .await?
        .as_ref()
        .map(identity_view)
        .transpose()
}

/// The certificate and opened key of a custodial identity.
pub async fn signer(p: &Platform, identity: &IdentityView) -> Result<(Certificate, PrivateKey)> {
    if identity.revoked_at.is_some() {
        return Err(Error::conflict(
            "IDENTITY_REVOKED",
            format!(
                "the certificate of {} is revoked; the platform signs nothing more with it",
                identity.name
            ),
        ));
    }
    let row = sqlx::query("SELECT key_sealed FROM identities WHERE id = $1")
        .bind(&identity.id)
        .fetch_one(p.db().pool())
        .await?;
    let sealed: Option<String> = row.try_get("key_sealed")?;
    let sealed = sealed.ok_or_else(|| {
        Error::conflict(
            "IDENTITY_OFFLINE",
            format!(
                "the platform does not keep the key of {}; its owner signs offline",
                identity.name
            ),
        )
    })?;
    let pem = p
        .vault()
        .open(&format!("identity:{}", identity.id), &sealed)?;
    let pem = std::str::from_utf8(&pem).map_err(|_| Error::internal("a kept key is damaged"))?;
    let key = PrivateKey::from_pkcs8_pem(pem)
        .map_err(|e| Error::internal(format!("a kept key does not load: {e}")))?;
    let cert = Certificate::from_pem(&identity.certificate, "identity")?;
    Ok((cert, key))
}

/// The first custodial identity of `org_id` with `role`, if any.
pub async fn custodial(p: &Platform, org_id: &str, role: &str) -> Result<Option<IdentityView>> {
    sqlx::query(
        "SELECT * FROM identities WHERE org_id = $1 AND role = $2 AND key_sealed IS NOT NULL AND revoked_at IS NULL ORDER BY created_at, name LIMIT 1",
    )
    .bind(org_id)
    .bind(role)
    .fetch_optional(p.db().pool())
    .await?
    .as_ref()
    .map(identity_view)
    .transpose()
}
