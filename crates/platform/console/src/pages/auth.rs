//! Signing in (password, then a TOTP or recovery code when the account has one) and out.
//!
//! The sign-in form carries a token that must match a cookie set with the form (so another
//! site cannot sign a visitor into an account of its choosing); the API checks the password,
//! the second factor and the throttling, and sets the session cookie this page passes on.

use axum::{
    extract::{Query, rejection::FormRejection},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::{Fields, local_path};
use crate::{
    gateway::ApiError,
    layout::{self, Nav, field_error},
    viewer::{Viewer, cookie},
};

const LOGIN_COOKIE: &str = "covenant_login";

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

fn fresh_token() -> String {
    // 128 random bits from the platform's generator.
    covenant_platform::time::secret(16)
        .unwrap_or_else(|_| format!("{:x}", covenant_platform::time::now_ms()))
}

fn render(
    v: &Viewer,
    next: &str,
    username: &str,
    error: Option<&ApiError>,
    status: StatusCode,
) -> Response {
    let l = v.lang;
    let token = fresh_token();
    let wants_code = error.is_some_and(|e| e.code == "TOTP_REQUIRED");
    let user_error = error
        .filter(|e| e.code == "INVALID_ARGUMENT" && username.is_empty())
        .map(|_| l.t("field-required"));
    let body = html! {
        div.card.narrow {
            p.lead { (l.t("login-intro")) }
            @if let Some(e) = error.filter(|e| e.code != "TOTP_REQUIRED" || !wants_code) {
                (layout::refusal(l, e))
            }
            @if wants_code {
                div.notice role="status" { (l.t("login-need-code")) }
            }
            form method="post" action="/login" novalidate {
                input type="hidden" name="login_token" value=(token);
                input type="hidden" name="next" value=(next);
                div.field {
                    label for="username" { (l.t("username")) }
                    input #username name="username" type="text" required autocomplete="username"
                        value=(username) autofocus[!wants_code]
                        aria-invalid=[user_error.as_ref().map(|_| "true")]
                        aria-describedby=[user_error.as_ref().map(|_| "username-error")];
                    (field_error("username", user_error.as_deref()))
                }
                div.field {
                    label for="password" { (l.t("password")) }
                    input #password name="password" type="password" required autocomplete="current-password";
                }
                div.field {
                    label for="totp" { (l.t("totp-code")) span.hint { " " (l.t("optional")) } }
                    input #totp name="totp" type="text" inputmode="numeric" pattern="[0-9]{6}"
                        autocomplete="one-time-code" autofocus[wants_code] aria-describedby="totp-hint";
                    p.hint #totp-hint { (l.t("totp-hint")) }
                }
                details {
                    summary { (l.t("use-recovery-code")) }
                    div.field {
                        label for="recovery" { (l.t("recovery-code")) }
                        input #recovery name="recovery_code" type="text" autocomplete="off";
                    }
                }
                button.primary type="submit" { (l.t("sign-in")) }
            }
        }
    };
    let mut r = layout::page_with_status(v, status, &l.t("sign-in"), Nav::None, body);
    if let Ok(c) = HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600"
    )) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// `GET /login`.
pub async fn form(v: Viewer, Query(q): Query<LoginQuery>) -> Response {
    let next = local_path(q.next.as_deref().unwrap_or("/")).to_string();
    if v.me.is_some() {
        return Redirect::to(&next).into_response();
    }
    render(&v, &next, "", None, StatusCode::OK)
}

/// `POST /login`.
pub async fn login(
    v: Viewer,
    headers: axum::http::HeaderMap,
    form: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = Fields::from(form);
    let l = v.lang;
    let next = local_path(f.get("next")).to_string();
    let username = f.get("username").to_string();
    let expected = cookie(&headers, LOGIN_COOKIE);
    if expected.is_none() || expected.as_deref() != Some(f.get("login_token")) {
        let e = ApiError::console(403, "LOGIN_FORM_EXPIRED", l.t("login-form-expired"));
        return render(&v, &next, &username, Some(&e), StatusCode::FORBIDDEN);
    }
    if username.is_empty() || f.get("password").is_empty() {
        let e = ApiError::console(400, "INVALID_ARGUMENT", l.t("login-fill-both"));
        return render(&v, &next, &username, Some(&e), StatusCode::BAD_REQUEST);
    }
    let opt = |k: &str| {
        let s = f.get(k).replace(' ', "");
        if s.is_empty() { None } else { Some(s) }
    };
    let body = json!({
        "username": username,
        "password": f.get("password"),
        "totp": opt("totp"),
        "recovery_code": opt("recovery_code"),
    });
    match v
        .gateway
        .call(&v.creds, Method::POST, "/api/v1/auth/login", Some(&body))
        .await
    {
        Ok(answer) => {
            let mut r = Redirect::to(&next).into_response();
            for c in answer.headers.get_all(header::SET_COOKIE) {
                r.headers_mut().append(header::SET_COOKIE, c.clone());
            }
            if let Ok(c) = HeaderValue::from_str(&format!(
                "{LOGIN_COOKIE}=; Path=/login; HttpOnly; SameSite=Strict; Max-Age=0"
            )) {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            r
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::UNAUTHORIZED);
            render(&v, &next, &username, Some(&e), status)
        }
    }
}

/// `POST /logout`.
pub async fn logout(
    v: Viewer,
    form: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = Fields::from(form);
    let v = v.with_csrf(f.csrf());
    match v
        .gateway
        .call(
            &v.creds,
            Method::POST,
            "/api/v1/auth/logout",
            Some(&json!({})),
        )
        .await
    {
        Ok(answer) => {
            let mut r = Redirect::to("/login?next=%2F").into_response();
            for c in answer.headers.get_all(header::SET_COOKIE) {
                r.headers_mut().append(header::SET_COOKIE, c.clone());
            }
            r
        }
        Err(e) => layout::error_page(&v, &e),
    }
}
