//! Accounts and access: registration, sign-in, sessions with CSRF, API tokens with scopes,
//! TOTP with recovery codes, throttling, sub-accounts and their permissions.

use covenant_platform::account::totp;
use serde_json::json;

use crate::{
    both,
    harness::{Backend, PASSWORD, start},
};

async fn sign_in_sessions_and_tokens(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let me = a.root.get("/api/v1/me").await.ok();
    assert_eq!(me["account"]["root"], true);
    assert_eq!(me["org"]["id"], "bank-a");
    assert!(me["actions"].as_array().unwrap().len() > 20);
    // The password hash is never in an answer.
    assert!(!me.to_string().contains("argon2"));

    // Wrong password, unknown user: the same refusal.
    let api = t.api();
    api.post(
        "/api/v1/auth/login",
        json!({"username": "bank-a-root", "password": "nope nope nope"}),
    )
    .await
    .refused(401, "UNAUTHENTICATED");
    api.post(
        "/api/v1/auth/login",
        json!({"username": "nobody", "password": "nope nope nope"}),
    )
    .await
    .refused(401, "UNAUTHENTICATED");

    // A session changes things only with its CSRF token.
    let s = api.login("bank-a-root", PASSWORD).await;
    s.post("/api/v1/me/tokens", json!({"name": "x", "scopes": ["*"]}))
        .await
        .ok();
    let mut no_csrf = s.clone();
    no_csrf.session = Some((s.session.clone().unwrap().0, "wrong".into()));
    no_csrf
        .post("/api/v1/me/tokens", json!({"name": "x", "scopes": ["*"]}))
        .await
        .refused(403, "CSRF_TOKEN_INVALID");
    // Reading needs no CSRF token.
    no_csrf.get("/api/v1/me").await.ok();
    // Signing out ends the session.
    s.post("/api/v1/auth/logout", json!({})).await.ok();
    s.get("/api/v1/me").await.refused(401, "UNAUTHENTICATED");

    // Tokens: listed without their secret, scoped, revocable.
    let scoped = a
        .root
        .post(
            "/api/v1/me/tokens",
            json!({"name": "read-only", "scopes": ["account.read"], "days": 1}),
        )
        .await
        .ok();
    let secret = scoped["token"].as_str().unwrap();
    assert!(secret.starts_with("cvt_"));
    let listed = a.root.get("/api/v1/me/tokens").await.ok();
    assert!(!listed.to_string().contains(secret));
    let ro = t.api().with_token(secret);
    ro.get("/api/v1/accounts").await.ok();
    ro.post("/api/v1/consortia", json!({"name": "c"}))
        .await
        .refused(403, "PERMISSION_DENIED");
    // A token cannot make a token with more than it holds.
    ro.post(
        "/api/v1/me/tokens",
        json!({"name": "more", "scopes": ["*"]}),
    )
    .await
    .refused(403, "PERMISSION_DENIED");
    a.root
        .call(
            "DELETE",
            &format!("/api/v1/me/tokens/{}", scoped["id"].as_str().unwrap()),
            json!({}),
        )
        .await
        .ok();
    ro.get("/api/v1/accounts")
        .await
        .refused(401, "UNAUTHENTICATED");
    t.api()
        .with_token("cvt_forged")
        .get("/api/v1/me")
        .await
        .refused(401, "UNAUTHENTICATED");
}
both!(sign_in_sessions_and_tokens);

async fn failed_sign_ins_are_throttled(b: Backend) {
    let Some(t) = start(b).await else { return };
    t.org("bank-a").await;
    let api = t.api();
    for _ in 0..5 {
        api.post(
            "/api/v1/auth/login",
            json!({"username": "bank-a-root", "password": "wrong password!"}),
        )
        .await
        .refused(401, "UNAUTHENTICATED");
    }
    let r = api
        .post(
            "/api/v1/auth/login",
            json!({"username": "bank-a-root", "password": PASSWORD}),
        )
        .await;
    assert!(r.headers.get("retry-after").is_some());
    r.refused(429, "TOO_MANY_ATTEMPTS");
}
both!(failed_sign_ins_are_throttled);

async fn totp_and_recovery_codes(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let begun = a.root.post("/api/v1/me/totp", json!({})).await.ok();
    let secret = base32_decode(begun["secret"].as_str().unwrap());
    assert!(
        begun["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    a.root
        .post("/api/v1/me/totp/enable", json!({"code": "000000"}))
        .await
        .refused(400, "TOTP_CODE_WRONG");
    let enabled = a
        .root
        .post(
            "/api/v1/me/totp/enable",
            json!({"code": totp::code_at(&secret, now)}),
        )
        .await
        .ok();
    let codes: Vec<String> = enabled["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    let api = t.api();
    api.post(
        "/api/v1/auth/login",
        json!({"username": "bank-a-root", "password": PASSWORD}),
    )
    .await
    .refused(403, "TOTP_REQUIRED");
    // The code used to enable cannot be used again; the next step's can.
    api.post(
        "/api/v1/auth/login",
        json!({"username": "bank-a-root", "password": PASSWORD, "totp": totp::code_at(&secret, now + 30)}),
    )
    .await
    .ok();
    // A recovery code works once.
    api.post(
        "/api/v1/auth/login",
        json!({"username": "bank-a-root", "password": PASSWORD, "recovery_code": codes[0]}),
    )
    .await
    .ok();
    api.post(
        "/api/v1/auth/login",
        json!({"username": "bank-a-root", "password": PASSWORD, "recovery_code": codes[0]}),
    )
    .await
    .refused(401, "UNAUTHENTICATED");
}
both!(totp_and_recovery_codes);

fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

async fn sub_accounts_hold_what_is_granted(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let (clerk, clerk_id) = t.sub_account(&a, "clerk", &[]).await;
    // Nothing by default.
    clerk
        .get("/api/v1/accounts")
        .await
        .refused(403, "PERMISSION_DENIED");
    clerk
        .post("/api/v1/consortia", json!({"name": "c1"}))
        .await
        .refused(403, "PERMISSION_DENIED");
    // Root-only actions cannot be granted.
    a.root
        .call(
            "PUT",
            &format!("/api/v1/accounts/{clerk_id}/permissions"),
            json!({"actions": ["account.manage"]}),
        )
        .await
        .refused(400, "ACTION_ROOT_ONLY");
    // Through a group.
    let g = a
        .root
        .post(
            "/api/v1/groups",
            json!({"name": "founders", "description": "may found consortia"}),
        )
        .await
        .ok();
    let gid = g["id"].as_str().unwrap();
    a.root
        .call(
            "PUT",
            &format!("/api/v1/groups/{gid}/permissions"),
            json!({"actions": ["consortium.create", "consortium.read"]}),
        )
        .await
        .ok();
    a.root
        .post(
            &format!("/api/v1/groups/{gid}/members"),
            json!({"account_id": clerk_id}),
        )
        .await
        .ok();
    clerk
        .post("/api/v1/consortia", json!({"name": "c1"}))
        .await
        .ok();
    // Disabled accounts are refused at once.
    let acc = a
        .root
        .get(&format!("/api/v1/accounts/{clerk_id}"))
        .await
        .ok();
    a.root
        .call(
            "PATCH",
            &format!("/api/v1/accounts/{clerk_id}"),
            json!({"version": acc["version"], "disabled": true}),
        )
        .await
        .ok();
    clerk
        .get("/api/v1/me")
        .await
        .refused(401, "UNAUTHENTICATED");
    // A stale version loses.
    a.root
        .call(
            "PATCH",
            &format!("/api/v1/accounts/{clerk_id}"),
            json!({"version": acc["version"], "disabled": false}),
        )
        .await
        .refused(412, "VERSION_MISMATCH");
}
both!(sub_accounts_hold_what_is_granted);
