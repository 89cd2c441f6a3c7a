//! Who is calling: console sessions (a cookie, with a CSRF token for every change) and API
//! tokens (a bearer secret with scopes and an expiry). Both are stored only as SHA-256 hashes
//! of high-entropy secrets. Sign-in checks the Argon2id password, then TOTP when the account
//! has it, and is throttled per username and per client address.

use std::collections::BTreeSet;

use serde::Serialize;
use sqlx::Row;

use crate::{
    Platform,
    account::{self, AccountView},
    action,
    error::{Error, Result},
    time::{new_id, now_ms, secret, sha256_hex},
};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "covenant_session";
/// The header carrying a session's CSRF token on every request that changes something.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
pub const SESSION_MS: i64 = 12 * 3_600_000;
/// Prefix of API tokens (so secret scanners recognise them).
pub const TOKEN_PREFIX: &str = "cvt_";

/// Failures before a username is locked for [`LOCK_MS`].
pub const USER_FAILURES: i64 = 5;
/// Failures from one address before it is locked.
pub const ADDRESS_FAILURES: i64 = 20;
/// The window failures are counted in, and how long a lock lasts.
pub const LOCK_MS: i64 = 15 * 60_000;

/// How the caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Session { csrf: String },
    Token { id: String, scopes: Vec<String> },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: AccountView,
    /// The actions this call may use: the account's, narrowed by a token's scopes.
    pub actions: BTreeSet<String>,
    pub credential: Credential,
}

impl Caller {
    pub fn org(&self) -> &str {
        &self.account.org_id
    }

    pub fn account_id(&self) -> &str {
        &self.account.id
    }

    /// Whether the caller may use `action`.
    pub fn may(&self, action: &str) -> bool {
        self.actions.contains(action)
    }

    /// Refuse unless the caller may use `action`.
    pub fn require(&self, action: &str) -> Result<()> {
        if self.may(action) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "PERMISSION_DENIED",
                format!(
                    "{} does not hold the permission {action}{}",
                    self.account.username,
                    match &self.credential {
                        Credential::Token { .. } => " (or the token's scopes leave it out)",
                        Credential::Session { .. } => "; ask the org's root account to grant it",
                    }
                ),
            ))
        }
    }

    /// Refuse unless the caller is its org's root account.
    pub fn require_root(&self) -> Result<()> {
        self.require(action::ACCOUNT_MANAGE)
    }
}

async fn caller_for(p: &Platform, account_id: &str, credential: Credential) -> Result<Caller> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM accounts WHERE id = $1",
        account::COLUMNS
    ))
    .bind(account_id)
    .fetch_optional(p.db().pool())
    .await?
    .ok_or_else(|| Error::Unauthenticated("the account no longer exists".into()))?;
    let acc = account::view(&row)?;
    if acc.disabled {
        return Err(Error::Unauthenticated("the account is disabled".into()));
    }
    let mut actions = account::permissions(p, &acc).await?;
    if let Credential::Token { scopes, .. } = &credential
        && !scopes.iter().any(|s| s == "*")
    {
        actions.retain(|a| scopes.contains(a));
    }
    Ok(Caller {
        account: acc,
        actions,
        credential,
    })
}

/// The caller of a request with these credentials: a bearer token, or a session cookie (for
/// a request that changes something, with its CSRF token in [`CSRF_HEADER`]). Every
/// credential presented must hold: a request with a valid token and a session cookie that
/// no longer works (or belongs to someone else) is refused, never served on the one that
/// works.
pub async fn authenticate(
    p: &Platform,
    bearer: Option<&str>,
    session: Option<&str>,
    csrf: Option<&str>,
    changes: bool,
) -> Result<Caller> {
    match (bearer, session) {
        (Some(_), Some(_)) => {
            let by_token = authenticate_one(p, bearer, None, None, changes).await?;
            let by_session = authenticate_one(p, None, session, csrf, changes).await?;
            if by_token.account.id != by_session.account.id {
                return Err(Error::Unauthenticated(
                    "the API token and the session cookie belong to different accounts".into(),
                ));
            }
            Ok(by_token)
        }
        _ => authenticate_one(p, bearer, session, csrf, changes).await,
    }
}

async fn authenticate_one(
    p: &Platform,
    bearer: Option<&str>,
    session: Option<&str>,
    csrf: Option<&str>,
    changes: bool,
) -> Result<Caller> {
    if let Some(token) = bearer {
        let hash = sha256_hex(token.trim().as_bytes());
        let row = sqlx::query(
            "SELECT id, account_id, scopes, expires_at, revoked_at, last_used_at FROM api_tokens WHERE token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::Unauthenticated("the API token is not valid".into()))?;
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        let expires: i64 = row.try_get("expires_at")?;
        let now = now_ms();
        if revoked.is_some() {
            return Err(Error::Unauthenticated("the API token was revoked".into()));
        }
        if expires <= now {
            return Err(Error::Unauthenticated("the API token expired".into()));
        }
        let id: String = row.try_get("id")?;
        let last: Option<i64> = row.try_get("last_used_at")?;
        if last.is_none_or(|l| now - l > 60_000) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&id)
                .execute(p.db().pool())
                .await?;
        }
        let scopes: String = row.try_get("scopes")?;
        let account_id: String = row.try_get("account_id")?;
        return caller_for(
            p,
            &account_id,
            Credential::Token {
                id,
                scopes: scopes.split(' ').map(str::to_string).collect(),
            },
        )
        .await;
    }
    let Some(session) = session else {
        return Err(Error::Unauthenticated(
            "sign in (POST /api/v1/auth/login) or send an API token as `Authorization: Bearer …`"
                .into(),
        ));
    };
    let row = sqlx::query("SELECT account_id, csrf, expires_at FROM sessions WHERE id_hash = $1")
        .bind(sha256_hex(session.as_bytes()))
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::Unauthenticated("the session ended; sign in again".into()))?;
    let expires: i64 = row.try_get("expires_at")?;
    if expires <= now_ms() {
        return Err(Error::Unauthenticated(
            "the session expired; sign in again".into(),
        ));
    }
    let expected: String = row.try_get("csrf")?;
    if changes {
        let given = csrf.unwrap_or("");
        let same = given.len() == expected.len()
            && given
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0;
        if !same {
            return Err(Error::forbidden(
                "CSRF_TOKEN_INVALID",
                format!(
                    "a change made with a session needs its CSRF token in the {CSRF_HEADER} header"
                ),
            ));
        }
    }
    let account_id: String = row.try_get("account_id")?;
    caller_for(p, &account_id, Credential::Session { csrf: expected }).await
}

/// What a successful sign-in returns.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// The cookie value (set as an HttpOnly cookie; never shown in a body).
    #[serde(skip)]
    pub secret: String,
    pub csrf_token: String,
    pub expires_at: i64,
    pub account: AccountView,
}

/// A sign-in attempt.
#[derive(Debug, Clone, Default)]
pub struct Login<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub totp: Option<&'a str>,
    pub recovery_code: Option<&'a str>,
    /// The client's address, for throttling.
    pub address: Option<String>,
}

async fn throttled(p: &Platform, key: &str) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT locked_until FROM login_failures WHERE key = $1")
        .bind(key)
        .fetch_optional(p.db().pool())
        .await?;
    let now = now_ms();
    Ok(match row {
        Some(r) => {
            let until: i64 = r.try_get("locked_until")?;
            (until > now).then_some(until - now)
        }
        None => None,
    })
}

async fn note_failure(p: &Platform, key: &str, limit: i64) -> Result<()> {
    let now = now_ms();
    let mut tx = p.db().write().await?;
    let row = sqlx::query(&format!(
        "SELECT failures, window_start FROM login_failures WHERE key = $1{}",
        p.db().for_update()
    ))
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?;
    let (failures, start) = match row {
        Some(r) => {
            let f: i64 = r.try_get("failures")?;
            let s: i64 = r.try_get("window_start")?;
            if now - s > LOCK_MS {
                (1, now)
            } else {
                (f + 1, s)
            }
        }
        None => (1, now),
    };
    let locked_until = if failures >= limit { now + LOCK_MS } else { 0 };
    sqlx::query(
        "INSERT INTO login_failures (key, failures, window_start, locked_until) VALUES ($1, $2, $3, $4)
         ON CONFLICT (key) DO UPDATE SET failures = $2, window_start = $3, locked_until = $4",
    )
    .bind(key)
    .bind(failures)
    .bind(start)
    .bind(locked_until)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn clear_failures(p: &Platform, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE key = $1")
        .bind(key)
        .execute(p.db().pool())
        .await?;
    Ok(())
}

/// Sign in: a new session, or a refusal that does not say whether the username exists.
pub async fn login(p: &Platform, l: &Login<'_>) -> Result<Session> {
    let user_key = format!("user:{}", l.username.to_ascii_lowercase());
    let addr_key = l.address.as_ref().map(|a| format!("addr:{a}"));
    for key in std::iter::once(&user_key).chain(addr_key.as_ref()) {
        if let Some(wait) = throttled(p, key).await? {
            let s = (wait / 1000).max(1) as u64;
            return Err(Error::Throttled {
                message: format!("too many failed sign-ins; try again in {s} s"),
                retry_after_s: s,
            });
        }
    }
    let row = sqlx::query(
        "SELECT id, password_hash, totp_enabled, disabled FROM accounts WHERE username = $1",
    )
    .bind(l.username)
    .fetch_optional(p.db().pool())
    .await?;
    let (account_id, ok, totp_on, disabled) = match &row {
        Some(r) => {
            let hash: String = r.try_get("password_hash")?;
            (
                Some(r.try_get::<String, _>("id")?),
                account::password::verify(l.password, &hash),
                crate::db::flag(r, "totp_enabled")?,
                crate::db::flag(r, "disabled")?,
            )
        }
        None => {
            // As slow as a wrong password: timing does not tell which names exist.
            account::password::verify(l.password, account::password::decoy_hash());
            (None, false, false, false)
        }
    };
    let fail = |p: Platform, user_key: String, addr_key: Option<String>| async move {
        note_failure(&p, &user_key, USER_FAILURES).await?;
        if let Some(k) = addr_key {
            note_failure(&p, &k, ADDRESS_FAILURES).await?;
        }
        Ok::<(), Error>(())
    };
    let Some(account_id) = account_id.filter(|_| ok) else {
        fail(p.clone(), user_key, addr_key).await?;
        return Err(Error::Unauthenticated(
            "the username or password is wrong".into(),
        ));
    };
    if disabled {
        return Err(Error::Unauthenticated("the account is disabled".into()));
    }
    if totp_on {
        let passed = match (l.totp, l.recovery_code) {
            (Some(code), _) => account::totp_check(p, &account_id, code).await?,
            (None, Some(code)) => account::use_recovery_code(p, &account_id, code).await?,
            (None, None) => {
                return Err(Error::forbidden(
                    "TOTP_REQUIRED",
                    "this account has a second factor: send `totp` (or a `recovery_code`)",
                ));
            }
        };
        if !passed {
            fail(p.clone(), user_key, addr_key).await?;
            return Err(Error::Unauthenticated(
                "the one-time code is wrong or was used already".into(),
            ));
        }
    }
    clear_failures(p, &user_key).await?;
    let secret_value = secret(32)?;
    let csrf = secret(24)?;
    let now = now_ms();
    let expires_at = now + SESSION_MS;
    let mut tx = p.db().write().await?;
    // Sessions ended long ago are dropped as new ones start.
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (id_hash, account_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(sha256_hex(secret_value.as_bytes()))
    .bind(&account_id)
    .bind(&csrf)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let caller = caller_for(p, &account_id, Credential::Session { csrf: csrf.clone() }).await?;
    Ok(Session {
        secret: secret_value,
        csrf_token: csrf,
        expires_at,
        account: caller.account,
    })
}

/// End the session with this cookie value.
pub async fn logout(p: &Platform, session: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(sha256_hex(session.as_bytes()))
        .execute(p.db().pool())
        .await?;
    Ok(())
}

/// An API token as listed (its secret is shown only when created).
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked: bool,
    /// Only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Longest life of an API token.
pub const MAX_TOKEN_DAYS: i64 = 365;

/// A new API token for the caller, with `scopes` (action names, or `*` for everything the
/// account holds) and a life of `days`.
pub async fn create_token(
    p: &Platform,
    caller: &Caller,
    name: &str,
    scopes: &[String],
    days: i64,
) -> Result<TokenView> {
    if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(Error::invalid("a token name is 1 to 64 characters"));
    }
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(Error::invalid(format!(
            "a token lasts 1 to {MAX_TOKEN_DAYS} days"
        )));
    }
    if scopes.is_empty() {
        return Err(Error::invalid(
            "give the token at least one scope (an action name, or \"*\")",
        ));
    }
    for s in scopes {
        if s != "*" && action::find(s).is_none() {
            return Err(Error::invalid_as(
                "UNKNOWN_ACTION",
                format!("{s:?} is not an action (GET /api/v1/actions lists them)"),
            ));
        }
        if s != "*" && !caller.account.root && !caller.may(s) {
            return Err(Error::forbidden(
                "PERMISSION_DENIED",
                format!("a token cannot hold {s}: the account does not"),
            ));
        }
    }
    if let Credential::Token { scopes: own, .. } = &caller.credential
        && !own.iter().any(|s| s == "*")
        && scopes.iter().any(|s| s == "*" || !own.contains(s))
    {
        return Err(Error::forbidden(
            "PERMISSION_DENIED",
            "a token can only make tokens with a subset of its own scopes",
        ));
    }
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let id = new_id("tok")?;
    let token = format!("{TOKEN_PREFIX}{}", secret(32)?);
    let now = now_ms();
    let expires_at = now + days * 86_400_000;
    sqlx::query(
        "INSERT INTO api_tokens (id, account_id, name, token_hash, scopes, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(caller.account_id())
    .bind(name)
    .bind(sha256_hex(token.as_bytes()))
    .bind(scopes.join(" "))
    .bind(expires_at)
    .bind(now)
    .execute(p.db().pool())
    .await?;
    Ok(TokenView {
        id,
        name: name.to_string(),
        scopes,
        expires_at,
        created_at: now,
        last_used_at: None,
        revoked: false,
        token: Some(token),
    })
}

/// The caller's API tokens.
pub async fn tokens(p: &Platform, account_id: &str) -> Result<Vec<TokenView>> {
    let rows = sqlx::query(
        "SELECT id, name, scopes, expires_at, created_at, last_used_at, revoked_at FROM api_tokens WHERE account_id = $1 ORDER BY created_at, id",
    )
    .bind(account_id)
    .fetch_all(p.db().pool())
    .await?;
    rows.iter()
        .map(|r| {
            let scopes: String = r.try_get("scopes")?;
            Ok(TokenView {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                scopes: scopes.split(' ').map(str::to_string).collect(),
                expires_at: r.try_get("expires_at")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
                revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                token: None,
            })
        })
        .collect()
}

/// Revoke one of the account's tokens.
pub async fn revoke_token(p: &Platform, account_id: &str, id: &str) -> Result<()> {
    let n = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(id)
    .bind(account_id)
    .execute(p.db().pool())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::not_found(format!(
            "no live token {id} of this account"
        )));
    }
    Ok(())
}
