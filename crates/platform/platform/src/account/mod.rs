//! Accounts: every org has one root account, which creates sub-accounts and groups and grants
//! them permissions per API action ([`crate::action`]). Sub-accounts hold nothing until
//! granted. Passwords are Argon2id ([`password`]); a second factor is TOTP ([`totp`]) with
//! one-time recovery codes.

pub mod group;
pub mod password;
pub mod totp;

use std::collections::BTreeSet;

use serde::Serialize;
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform, action,
    db::{Tx, flag, is_unique_violation},
    error::{Error, Result},
    time::{new_id, now_ms, secret, sha256_hex},
};

/// What the API shows of an account (never its password hash or TOTP secret).
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    pub id: String,
    pub org_id: String,
    pub username: String,
    pub display_name: String,
    pub root: bool,
    pub totp_enabled: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub version: i64,
    /// The console's language for this account (`en`, `zh-CN`; empty: the browser's).
    pub locale: String,
    /// The IANA time zone dates are shown in (empty: the browser's).
    pub time_zone: String,
}

pub(crate) const COLUMNS: &str = "id, org_id, username, display_name, is_root, totp_enabled, disabled, created_at, version, locale, time_zone";

pub(crate) fn view(r: &AnyRow) -> Result<AccountView> {
    Ok(AccountView {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        root: flag(r, "is_root")?,
        totp_enabled: flag(r, "totp_enabled")?,
        disabled: flag(r, "disabled")?,
        created_at: r.try_get("created_at")?,
        version: r.try_get("version")?,
        locale: r.try_get("locale")?,
        time_zone: r.try_get("time_zone")?,
    })
}

/// Check a login name: 3 to 64 of letters, digits, `.`, `_`, `-`, `@`.
pub fn check_username(name: &str) -> Result<()> {
    let ok = (3..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_as(
            "USERNAME_INVALID",
            "a username is 3 to 64 letters, digits, '.', '_', '-' or '@'",
        ))
    }
}

/// Check a display name: 1 to 128 characters, no control characters.
pub fn check_display_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "a display name is 1 to 128 characters without control characters",
        ));
    }
    Ok(())
}

/// Insert an account inside `tx`.
pub(crate) async fn insert(
    tx: &mut Tx,
    org_id: &str,
    username: &str,
    display_name: &str,
    password: &str,
    root: bool,
) -> Result<AccountView> {
    check_username(username)?;
    check_display_name(display_name)?;
    password::check_policy(password)?;
    let hash = password::hash(password)?;
    let id = new_id("acc")?;
    let now = now_ms();
    let r = sqlx::query(
        "INSERT INTO accounts (id, org_id, username, display_name, is_root, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(username)
    .bind(display_name)
    .bind(i64::from(root))
    .bind(hash)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match r {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "USERNAME_TAKEN",
                format!("the username {username} is taken"),
            ));
        }
        other => {
            other?;
        }
    }
    Ok(AccountView {
        id,
        org_id: org_id.to_string(),
        username: username.to_string(),
        display_name: display_name.to_string(),
        root,
        totp_enabled: false,
        disabled: false,
        created_at: now,
        version: 1,
        locale: String::new(),
        time_zone: String::new(),
    })
}

/// Create a sub-account of `org_id`.
pub async fn create(
    p: &Platform,
    org_id: &str,
    username: &str,
    display_name: &str,
    password: &str,
) -> Result<AccountView> {
    let mut tx = p.db().write().await?;
    let v = insert(&mut tx, org_id, username, display_name, password, false).await?;
    tx.commit().await?;
    Ok(v)
}

/// The account `id` of `org_id` (another org's account is not found).
pub async fn get(p: &Platform, org_id: &str, id: &str) -> Result<AccountView> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM accounts WHERE id = $1 AND org_id = $2"
    ))
    .bind(id)
    .bind(org_id)
    .fetch_optional(p.db().pool())
    .await?
    .ok_or_else(|| Error::not_found(format!("no account {id} in this org")))?;
    view(&row)
}

/// The accounts of `org_id`, by username.
pub async fn list(p: &Platform, org_id: &str) -> Result<Vec<AccountView>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM accounts WHERE org_id = $1 ORDER BY username"
    ))
    .bind(org_id)
    .fetch_all(p.db().pool())
    .await?
    .iter()
    .map(view)
    .collect()
}

/// Change a sub-account's display name or disabled flag, if it is still at `version`.
pub async fn update(
    p: &Platform,
    org_id: &str,
    id: &str,
    version: i64,
    display_name: Option<&str>,
    disabled: Option<bool>,
) -> Result<AccountView> {
    if let Some(n) = display_name {
        check_display_name(n)?;
    }
    let mut tx = p.db().write().await?;
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM accounts WHERE id = $1 AND org_id = $2{}",
        p.db().for_update()
    ))
    .bind(id)
    .bind(org_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::not_found(format!("no account {id} in this org")))?;
    let current = view(&row)?;
    if current.root && disabled == Some(true) {
        return Err(Error::conflict(
            "ROOT_ACCOUNT",
            "the root account cannot be disabled",
        ));
    }
    let updated = sqlx::query(
        "UPDATE accounts SET display_name = $1, disabled = $2, version = version + 1 WHERE id = $3 AND version = $4",
    )
    .bind(display_name.unwrap_or(&current.display_name))
    .bind(i64::from(disabled.unwrap_or(current.disabled)))
    .bind(id)
    .bind(version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(Error::VersionMismatch(format!(
            "account {id} is at version {}, not {version}; read it again",
            current.version
        )));
    }
    if disabled == Some(true) {
        end_sessions(&mut tx, id).await?;
    }
    tx.commit().await?;
    get(p, org_id, id).await
}

/// End every session of `account_id` (its API tokens stay; a disabled account's are refused).
pub(crate) async fn end_sessions(tx: &mut Tx, account_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Set `account_id`'s password (checked by the caller) and end its sessions.
pub async fn set_password(p: &Platform, account_id: &str, new_password: &str) -> Result<()> {
    password::check_policy(new_password)?;
    let hash = password::hash(new_password)?;
    let mut tx = p.db().write().await?;
    sqlx::query("UPDATE accounts SET password_hash = $1, version = version + 1 WHERE id = $2")
        .bind(hash)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    end_sessions(&mut tx, account_id).await?;
    tx.commit().await?;
    Ok(())
}

/// The languages the console speaks.
pub const LOCALES: &[&str] = &["en", "zh-CN"];

/// Check an IANA time zone name's shape (`Asia/Shanghai`, `America/Argentina/Buenos_Aires`,
/// `UTC`, `Etc/GMT+8`); whether the zone exists is the browser's to know.
pub fn check_time_zone(tz: &str) -> Result<()> {
    let part_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+'))
    };
    if tz.is_empty() || (tz.len() <= 64 && tz.split('/').all(part_ok)) {
        Ok(())
    } else {
        Err(Error::invalid_as(
            "TIME_ZONE_INVALID",
            format!("{tz:?} is not an IANA time zone name such as Asia/Shanghai or UTC"),
        ))
    }
}

/// Set an account's own console preferences; empty strings mean "the browser's".
pub async fn set_preferences(
    p: &Platform,
    account_id: &str,
    locale: &str,
    time_zone: &str,
) -> Result<()> {
    if !locale.is_empty() && !LOCALES.contains(&locale) {
        return Err(Error::invalid_as(
            "LOCALE_UNSUPPORTED",
            format!(
                "the console speaks {}; not {locale:?}",
                LOCALES.join(" and ")
            ),
        ));
    }
    check_time_zone(time_zone)?;
    let mut tx = p.db().write().await?;
    sqlx::query("UPDATE accounts SET locale = $1, time_zone = $2 WHERE id = $3")
        .bind(locale)
        .bind(time_zone)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `password` is `account_id`'s.
pub async fn check_password(p: &Platform, account_id: &str, password: &str) -> Result<bool> {
    let row = sqlx::query("SELECT password_hash FROM accounts WHERE id = $1")
        .bind(account_id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found("no such account"))?;
    let hash: String = row.try_get("password_hash")?;
    Ok(password::verify(password, &hash))
}

/// The actions `account_id` holds: everything but nothing root-only is granted to a
/// sub-account; a root account holds all.
pub async fn permissions(p: &Platform, account: &AccountView) -> Result<BTreeSet<String>> {
    if account.root {
        return Ok(action::ACTIONS.iter().map(|a| a.name.to_string()).collect());
    }
    let rows = sqlx::query(
        "SELECT action FROM grants WHERE subject_kind = 'account' AND subject_id = $1
         UNION SELECT g.action FROM grants g JOIN group_members m ON g.subject_kind = 'group' AND g.subject_id = m.group_id WHERE m.account_id = $1",
    )
    .bind(&account.id)
    .fetch_all(p.db().pool())
    .await?;
    let mut out = BTreeSet::new();
    for r in rows {
        let a: String = r.try_get("action")?;
        out.insert(a);
    }
    Ok(out)
}

/// Check action names for a grant: each exists and may be granted.
pub fn check_grantable(actions: &[String]) -> Result<()> {
    for name in actions {
        match action::find(name) {
            None => {
                return Err(Error::invalid_as(
                    "UNKNOWN_ACTION",
                    format!("{name:?} is not an action (GET /api/v1/actions lists them)"),
                ));
            }
            Some(a) if a.root_only => {
                return Err(Error::invalid_as(
                    "ACTION_ROOT_ONLY",
                    format!("{name} belongs to the root account and cannot be granted"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Replace the actions granted directly to `subject` (an account or a group of `org_id`).
pub(crate) async fn set_grants(
    p: &Platform,
    org_id: &str,
    subject_kind: &str,
    subject_id: &str,
    actions: &[String],
) -> Result<Vec<String>> {
    check_grantable(actions)?;
    let mut wanted: Vec<String> = actions.to_vec();
    wanted.sort();
    wanted.dedup();
    let mut tx = p.db().write().await?;
    sqlx::query("DELETE FROM grants WHERE subject_kind = $1 AND subject_id = $2")
        .bind(subject_kind)
        .bind(subject_id)
        .execute(&mut *tx)
        .await?;
    let now = now_ms();
    for a in &wanted {
        sqlx::query(
            "INSERT INTO grants (subject_kind, subject_id, action, org_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(subject_kind)
        .bind(subject_id)
        .bind(a)
        .bind(org_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(wanted)
}

/// The actions granted directly to a subject.
pub async fn grants_of(p: &Platform, subject_kind: &str, subject_id: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT action FROM grants WHERE subject_kind = $1 AND subject_id = $2 ORDER BY action",
    )
    .bind(subject_kind)
    .bind(subject_id)
    .fetch_all(p.db().pool())
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>("action").map_err(Error::from))
        .collect()
}

/// Grant directly to an account of `org_id` (not the root: it holds everything).
pub async fn grant_account(
    p: &Platform,
    org_id: &str,
    account_id: &str,
    actions: &[String],
) -> Result<Vec<String>> {
    let a = get(p, org_id, account_id).await?;
    if a.root {
        return Err(Error::conflict(
            "ROOT_ACCOUNT",
            "the root account holds every action already",
        ));
    }
    set_grants(p, org_id, "account", account_id, actions).await
}

/// Begin TOTP enrolment: a new secret, sealed, not yet enabled. Returns the secret (base32)
/// and the `otpauth://` URI — shown once.
pub async fn totp_begin(p: &Platform, account: &AccountView) -> Result<(String, String)> {
    if account.totp_enabled {
        return Err(Error::conflict(
            "TOTP_ENABLED",
            "TOTP is on already; turn it off first to enrol a new device",
        ));
    }
    let secret_bytes = crate::time::random(20)?;
    let sealed = p
        .vault()
        .seal(&format!("account:{}:totp", account.id), &secret_bytes)?;
    sqlx::query("UPDATE accounts SET totp_secret = $1 WHERE id = $2")
        .bind(sealed)
        .bind(&account.id)
        .execute(p.db().pool())
        .await?;
    Ok((
        totp::base32(&secret_bytes),
        totp::uri(&p.config().name, &account.username, &secret_bytes),
    ))
}

/// Check `code` against the account's TOTP secret and record the step (a code works once).
pub(crate) async fn totp_check(p: &Platform, account_id: &str, code: &str) -> Result<bool> {
    let mut tx = p.db().write().await?;
    let row = sqlx::query(&format!(
        "SELECT totp_secret, totp_last_step FROM accounts WHERE id = $1{}",
        p.db().for_update()
    ))
    .bind(account_id)
    .fetch_one(&mut *tx)
    .await?;
    let sealed: Option<String> = row.try_get("totp_secret")?;
    let last: i64 = row.try_get("totp_last_step")?;
    let Some(sealed) = sealed else {
        return Ok(false);
    };
    let secret_bytes = p
        .vault()
        .open(&format!("account:{account_id}:totp"), &sealed)?;
    let now_s = (now_ms() / 1000) as u64;
    let Some(step) = totp::check(&secret_bytes, code, now_s, last.max(0) as u64) else {
        return Ok(false);
    };
    sqlx::query("UPDATE accounts SET totp_last_step = $1 WHERE id = $2")
        .bind(step as i64)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Finish enrolment with a code from the device: TOTP is on, and ten recovery codes are
/// returned (shown once; stored hashed).
pub async fn totp_enable(p: &Platform, account: &AccountView, code: &str) -> Result<Vec<String>> {
    if account.totp_enabled {
        return Err(Error::conflict("TOTP_ENABLED", "TOTP is on already"));
    }
    if !totp_check(p, &account.id, code).await? {
        return Err(Error::invalid_as(
            "TOTP_CODE_WRONG",
            "the code does not match; check the device's clock and enter the current code",
        ));
    }
    let mut codes = Vec::new();
    let mut tx = p.db().write().await?;
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(&account.id)
        .execute(&mut *tx)
        .await?;
    for _ in 0..10 {
        let c = secret(10)?;
        sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)")
            .bind(&account.id)
            .bind(sha256_hex(c.as_bytes()))
            .execute(&mut *tx)
            .await?;
        codes.push(c);
    }
    sqlx::query("UPDATE accounts SET totp_enabled = 1, version = version + 1 WHERE id = $1")
        .bind(&account.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Turn TOTP off.
pub async fn totp_disable(p: &Platform, account_id: &str) -> Result<()> {
    let mut tx = p.db().write().await?;
    sqlx::query(
        "UPDATE accounts SET totp_enabled = 0, totp_secret = NULL, totp_last_step = 0, version = version + 1 WHERE id = $1",
    )
    .bind(account_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Use a recovery code (once).
pub(crate) async fn use_recovery_code(p: &Platform, account_id: &str, code: &str) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now_ms())
    .bind(account_id)
    .bind(sha256_hex(code.trim().as_bytes()))
    .execute(p.db().pool())
    .await?
    .rows_affected();
    Ok(n == 1)
}
