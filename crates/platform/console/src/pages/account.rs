//! My account (language and time zone, password, TOTP with recovery codes, API tokens) and,
//! for root accounts, the org's sub-accounts and the permissions granted to each.

use axum::{
    extract::{Path, Query, rejection::FormRejection},
    http::{HeaderValue, Method, header},
    response::{IntoResponse, Redirect, Response},
};
use covenant_platform::action as a;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Done, Fields, done, local_path, refused};
use crate::{
    gateway::enc,
    i18n::{LANGS, Lang},
    layout::{self, Nav, badge, confirm_button, csrf, empty, text, time},
    viewer::{LANG_COOKIE, Viewer},
};

type Form = Result<axum::Form<Vec<(String, String)>>, FormRejection>;

/// Time zones offered in the list (any IANA name may be typed).
const ZONES: &[&str] = &[
    "UTC",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
];

/// `POST /preferences/language`: the switcher in the header. Signed in, it is the account's
/// preference; before, a cookie.
pub async fn set_language(v: Viewer, form: Form) -> Response {
    let f = Fields::from(form);
    let next = local_path(f.get("next")).to_string();
    let Some(lang) = Lang::parse(f.get("locale")) else {
        return Redirect::to(&next).into_response();
    };
    if v.me.is_some() {
        let w = v.with_csrf(f.csrf());
        let tz = v.time_zone.clone();
        if let Err(e) = w
            .send(
                Method::PUT,
                "/api/v1/me/preferences",
                &json!({"locale": lang.tag(), "time_zone": tz}),
            )
            .await
        {
            return refused(&v, &e);
        }
    }
    let mut r = Redirect::to(&next).into_response();
    if let Ok(c) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
        lang.tag()
    )) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

fn actions_checkboxes(
    v: &Viewer,
    catalogue: &[Value],
    granted: &[String],
    only_mine: bool,
) -> Markup {
    let l = v.lang;
    html! {
        fieldset.checks {
            legend { (l.t("permissions")) }
            @for act in catalogue {
                @let name = act["name"].as_str().unwrap_or_default();
                @if !(act["root_only"] == true) && (!only_mine || v.may(name)) {
                    @let id = format!("act-{}", name.replace('.', "-"));
                    div.check {
                        input type="checkbox" id=(id) name="actions" value=(name) checked[granted.iter().any(|g| g == name)];
                        label for=(id) { code { (name) } " " span.muted { (text(&act["description"])) } }
                    }
                }
            }
        }
    }
}

/// `GET /account`.
pub async fn show(v: Viewer, Query(q): Query<Done>) -> Result<Response, Response> {
    let me = v.me()?.clone();
    let l = v.lang;
    let (tokens, catalogue) = tokio::join!(
        v.try_get("/api/v1/me/tokens?limit=200"),
        v.try_get("/api/v1/actions"),
    );
    let tokens = tokens
        .ok()
        .and_then(|t| t["items"].as_array().cloned())
        .unwrap_or_default();
    let catalogue = catalogue
        .ok()
        .and_then(|c| c.as_array().cloned())
        .unwrap_or_default();
    let acc = &me.account;
    let totp = acc["totp_enabled"] == true;
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        div.grid {
            section.card {
                h2 { (l.t("profile")) }
                dl.facts {
                    dt { (l.t("username")) } dd { (me.username()) }
                    dt { (l.t("display-name")) } dd { (text(&acc["display_name"])) }
                    dt { (l.t("org")) } dd { (text(&me.org["name"])) " (" code { (me.org_id()) } ")" }
                    dt { (l.t("role")) } dd { @if me.root() { (l.t("root-account")) } @else { (l.t("sub-account")) } }
                    dt { (l.t("second-factor")) } dd { @if totp { (badge(l, "active")) } @else { span.muted { (l.t("not-set")) } } }
                }
            }
            section.card {
                h2 { (l.t("preferences")) }
                form method="post" action="/account/preferences" {
                    (csrf(&v))
                    div.field {
                        label for="p-locale" { (l.t("language")) }
                        select #p-locale name="locale" {
                            @for lang in LANGS { option value=(lang.tag()) selected[lang == l] { (lang.own_name()) } }
                        }
                    }
                    div.field {
                        label for="p-tz" { (l.t("time-zone")) }
                        input #p-tz name="time_zone" type="text" list="zones" value=(v.time_zone) placeholder=(l.t("time-zone-browser")) aria-describedby="p-tz-hint" pattern="[A-Za-z0-9_+/\\-]*";
                        datalist #zones { @for z in ZONES { option value=(z) {} } }
                        p.hint #p-tz-hint { (l.t("time-zone-hint")) }
                    }
                    button.primary type="submit" { (l.t("save")) }
                }
            }
            section.card {
                h2 { (l.t("change-password")) }
                form method="post" action="/account/password" {
                    (csrf(&v))
                    div.field { label for="pw-cur" { (l.t("current-password")) } input #pw-cur name="current_password" type="password" required autocomplete="current-password"; }
                    div.field { label for="pw-new" { (l.t("new-password")) } input #pw-new name="new_password" type="password" required minlength="12" autocomplete="new-password" aria-describedby="pw-hint"; p.hint #pw-hint { (l.t("password-hint")) } }
                    button.primary type="submit" { (l.t("change-password")) }
                }
            }
            section.card {
                h2 { (l.t("second-factor")) }
                @if totp { p { (l.t("totp-on")) } } @else {
                    p.hint { (l.t("totp-explain")) }
                    form method="post" action="/account/totp" { (csrf(&v)) button.primary type="submit" { (l.t("totp-start")) } }
                }
            }
        }
        section.card {
            h2 { (l.t("api-tokens")) }
            @if tokens.is_empty() { (empty(l, "empty-tokens", None)) } @else {
                table {
                    thead { tr { th scope="col" { (l.t("name")) } th scope="col" { (l.t("scopes")) } th scope="col" { (l.t("expires")) } th scope="col" { (l.t("last-used")) } th scope="col" { (l.t("state")) } th scope="col" { span.sr-only { (l.t("actions")) } } } }
                    tbody { @for t in &tokens {
                        tr {
                            td { (text(&t["name"])) }
                            td { @for s in t["scopes"].as_array().into_iter().flatten() { code { (text(s)) } " " } }
                            td { (time(t["expires_at"].as_i64().unwrap_or_default())) }
                            td { @if let Some(u) = t["last_used_at"].as_i64() { (time(u)) } @else { span.muted { (l.t("never")) } } }
                            td { @if t["revoked"] == true { (badge(l, "revoked")) } @else { (badge(l, "active")) } }
                            td { @if t["revoked"] != true { (confirm_button(&v, &format!("/account/tokens/{}/revoke", enc(t["id"].as_str().unwrap_or_default())), &l.t("revoke"), &l.t("confirm-revoke-token"), true)) } }
                        }
                    } }
                }
            }
            h3 { (l.t("create-token")) }
            form method="post" action="/account/tokens" {
                (csrf(&v))
                div.field { label for="t-name" { (l.t("name")) } input #t-name name="name" type="text" required maxlength="64"; }
                div.field { label for="t-days" { (l.t("valid-days")) } input #t-days name="days" type="number" min="1" max="365" value="30"; }
                (actions_checkboxes(&v, &catalogue, &[], true))
                button.primary type="submit" { (l.t("create-token")) }
            }
        }
    };
    Ok(layout::page(&v, &l.t("nav-account"), Nav::Account, body))
}

/// `POST /account/preferences`.
pub async fn preferences(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let body = json!({"locale": f.get("locale"), "time_zone": f.get("time_zone")});
    match w.send(Method::PUT, "/api/v1/me/preferences", &body).await {
        Ok(_) => {
            let mut r = done("/account", "preferences-saved");
            if let Some(lang) = Lang::parse(f.get("locale"))
                && let Ok(c) = HeaderValue::from_str(&format!(
                    "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
                    lang.tag()
                ))
            {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            Ok(r)
        }
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `POST /account/password`.
pub async fn password(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let body = json!({"current_password": f.get("current_password"), "new_password": f.get("new_password")});
    match w.send(Method::POST, "/api/v1/me/password", &body).await {
        Ok(_) => Ok(done("/account", "password-changed")),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `POST /account/totp`: the secret to put into an authenticator, and the code to confirm it.
pub async fn totp_begin(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let t = w
        .send(Method::POST, "/api/v1/me/totp", &json!({}))
        .await
        .map_err(|e| refused(&v, &e))?;
    let body = html! {
        section.card.narrow {
            p { (l.t("totp-add")) }
            dl.facts {
                dt { (l.t("totp-secret")) } dd { code.secret { (text(&t["secret"])) } }
                dt { (l.t("totp-uri")) } dd { code.hash { (text(&t["otpauth_uri"])) } }
            }
            form method="post" action="/account/totp/enable" {
                (csrf(&v))
                div.field { label for="code" { (l.t("totp-code")) } input #code name="code" type="text" inputmode="numeric" pattern="[0-9]{6}" required autocomplete="one-time-code"; }
                button.primary type="submit" { (l.t("totp-confirm")) }
            }
        }
    };
    Ok(layout::page(&v, &l.t("second-factor"), Nav::Account, body))
}

/// `POST /account/totp/enable`: the recovery codes, shown once.
pub async fn totp_enable(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let r = w
        .send(
            Method::POST,
            "/api/v1/me/totp/enable",
            &json!({"code": f.get("code").replace(' ', "")}),
        )
        .await
        .map_err(|e| refused(&v, &e))?;
    let body = html! {
        section.card.narrow {
            div.notice.good role="status" { (l.t("totp-enabled")) }
            p { (l.t("recovery-codes-explain")) }
            ol.codes { @for c in r["recovery_codes"].as_array().into_iter().flatten() { li { code { (text(c)) } } } }
            p { a href="/account" { (l.t("back-to-account")) } }
        }
    };
    Ok(layout::page(&v, &l.t("recovery-codes"), Nav::Account, body))
}

/// `POST /account/tokens`: the secret, shown once.
pub async fn token_create(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let days: i64 = f.get("days").parse().unwrap_or(30);
    let body = json!({"name": f.get("name"), "scopes": f.all("actions"), "days": days});
    let t = w
        .send(Method::POST, "/api/v1/me/tokens", &body)
        .await
        .map_err(|e| refused(&v, &e))?;
    let page = html! {
        section.card.narrow {
            div.notice.good role="status" { (l.t("token-created")) }
            p { (l.t("token-once")) }
            pre.secret tabindex="0" { (text(&t["token"])) }
            p { a href="/account" { (l.t("back-to-account")) } }
        }
    };
    Ok(layout::page(&v, &l.t("api-tokens"), Nav::Account, page))
}

/// `POST /account/tokens/{id}/revoke`.
pub async fn token_revoke(
    v: Viewer,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    match w
        .gateway
        .call(
            &w.creds,
            Method::DELETE,
            &format!("/api/v1/me/tokens/{}", enc(&id)),
            None,
        )
        .await
    {
        Ok(_) => Ok(done("/account", "token-revoked")),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `GET /accounts`: the org's accounts (root and those granted `account.read`).
pub async fn accounts(v: Viewer, Query(q): Query<Done>) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let list = v.get("/api/v1/accounts?limit=200").await?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        p.lead { (l.t("accounts-intro")) }
        section.card {
            table.sortable {
                thead { tr { th scope="col" { (l.t("username")) } th scope="col" { (l.t("display-name")) } th scope="col" { (l.t("role")) } th scope="col" { (l.t("second-factor")) } th scope="col" { (l.t("state")) } th scope="col" { (l.t("created")) } } }
                tbody { @for x in &items {
                    tr {
                        td { a href={"/accounts/" (enc(x["id"].as_str().unwrap_or_default()))} { (text(&x["username"])) } }
                        td { (text(&x["display_name"])) }
                        td { @if x["root"] == true { (l.t("root-account")) } @else { (l.t("sub-account")) } }
                        td { @if x["totp_enabled"] == true { (badge(l, "active")) } @else { span.muted { (l.t("not-set")) } } }
                        td { @if x["disabled"] == true { (badge(l, "stopped")) } @else { (badge(l, "active")) } }
                        td { (time(x["created_at"].as_i64().unwrap_or_default())) }
                    }
                } }
            }
        }
        @if v.may(a::ACCOUNT_MANAGE) {
            section.card {
                h2 { (l.t("create-sub-account")) }
                p.hint { (l.t("sub-account-hint")) }
                form method="post" action="/accounts" {
                    (csrf(&v))
                    div.field { label for="a-user" { (l.t("username")) } input #a-user name="username" type="text" required pattern="[A-Za-z0-9._@\\-]{3,64}" autocomplete="off"; }
                    div.field { label for="a-name" { (l.t("display-name")) span.hint { " " (l.t("optional")) } } input #a-name name="display_name" type="text" maxlength="128"; }
                    div.field { label for="a-pw" { (l.t("password")) } input #a-pw name="password" type="password" required minlength="12" autocomplete="new-password" aria-describedby="a-pw-hint"; p.hint #a-pw-hint { (l.t("password-hint")) } }
                    button.primary type="submit" { (l.t("create")) }
                }
            }
        }
    };
    Ok(layout::page(&v, &l.t("nav-accounts"), Nav::Accounts, body))
}

/// `POST /accounts`.
pub async fn account_create(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let display = Some(f.get("display_name")).filter(|s| !s.is_empty());
    let body = json!({"username": f.get("username"), "password": f.get("password"), "display_name": display});
    match w.send(Method::POST, "/api/v1/accounts", &body).await {
        Ok(acc) => Ok(done(
            &format!("/accounts/{}", enc(acc["id"].as_str().unwrap_or_default())),
            "account-created",
        )),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `GET /accounts/{id}`.
pub async fn account_show(
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let acc = v.get(&format!("/api/v1/accounts/{}", enc(&id))).await?;
    let catalogue = v
        .try_get("/api/v1/actions")
        .await
        .ok()
        .and_then(|c| c.as_array().cloned())
        .unwrap_or_default();
    // Granted directly (the checkboxes); `actions` adds what groups give.
    let granted: Vec<String> = acc["granted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        section.card {
            dl.facts {
                dt { (l.t("username")) } dd { (text(&acc["username"])) }
                dt { (l.t("display-name")) } dd { (text(&acc["display_name"])) }
                dt { (l.t("role")) } dd { @if acc["root"] == true { (l.t("root-account")) } @else { (l.t("sub-account")) } }
            }
        }
        @if acc["root"] != true && v.may(a::ACCOUNT_MANAGE) {
            section.card {
                h2 { (l.t("permissions")) }
                p.hint { (l.t("permissions-hint")) }
                form method="post" action={"/accounts/" (enc(&id)) "/permissions"} {
                    (csrf(&v))
                    (actions_checkboxes(&v, &catalogue, &granted, false))
                    button.primary type="submit" { (l.t("save")) }
                }
            }
        } @else if !granted.is_empty() {
            section.card {
                h2 { (l.t("permissions")) }
                ul.plain { @for g in &granted { li { code { (g) } } } }
            }
        }
    };
    Ok(layout::page(
        &v,
        &text(&acc["username"]),
        Nav::Accounts,
        body,
    ))
}

/// `POST /accounts/{id}/permissions`.
pub async fn account_grant(
    v: Viewer,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    match w
        .send(
            Method::PUT,
            &format!("/api/v1/accounts/{}/permissions", enc(&id)),
            &json!({"actions": f.all("actions")}),
        )
        .await
    {
        Ok(_) => Ok(done(
            &format!("/accounts/{}", enc(&id)),
            "permissions-saved",
        )),
        Err(e) => Err(refused(&v, &e)),
    }
}
