//! The page shell (navigation, header, language switcher, sign-out) and the pieces every page
//! is made of: status badges, times, empty states, tables, pagers, forms with their CSRF token,
//! confirmations, notices and the error page.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use covenant_platform::action as a;
use fluent_bundle::FluentValue;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::Value;

use crate::{
    gateway::{ApiError, enc},
    i18n::{LANGS, Lang},
    viewer::Viewer,
};

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Consortia,
    Events,
    Networks,
    Explorer,
    Certificates,
    Monitoring,
    Audit,
    Accounts,
    Account,
    None,
}

struct NavItem {
    nav: Nav,
    href: &'static str,
    key: &'static str,
    /// The permission needed to see it (`None`: any signed-in account).
    needs: Option<&'static str>,
}

const NAV: &[NavItem] = &[
    NavItem {
        nav: Nav::Overview,
        href: "/",
        key: "nav-overview",
        needs: None,
    },
    NavItem {
        nav: Nav::Consortia,
        href: "/consortia",
        key: "nav-consortia",
        needs: Some(a::CONSORTIUM_READ),
    },
    NavItem {
        nav: Nav::Events,
        href: "/events",
        key: "nav-events",
        needs: Some(a::EVENT_READ),
    },
    NavItem {
        nav: Nav::Networks,
        href: "/networks",
        key: "nav-networks",
        needs: Some(a::NETWORK_READ),
    },
    NavItem {
        nav: Nav::Explorer,
        href: "/explorer",
        key: "nav-explorer",
        needs: Some(a::CHAIN_READ),
    },
    NavItem {
        nav: Nav::Certificates,
        href: "/certificates",
        key: "nav-certificates",
        needs: Some(a::ORG_READ),
    },
    NavItem {
        nav: Nav::Monitoring,
        href: "/monitoring",
        key: "nav-monitoring",
        needs: Some(a::MONITOR_READ),
    },
    NavItem {
        nav: Nav::Audit,
        href: "/audit",
        key: "nav-audit",
        needs: Some(a::AUDIT_READ),
    },
    NavItem {
        nav: Nav::Accounts,
        href: "/accounts",
        key: "nav-accounts",
        needs: Some(a::ACCOUNT_READ),
    },
];

/// An HTML answer with the headers every page carries.
pub fn html_response(status: StatusCode, body: Markup) -> Response {
    let mut r = (status, body.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    r
}

/// A whole page: the shell around `body`.
pub fn page(v: &Viewer, title: &str, nav: Nav, body: Markup) -> Response {
    page_with_status(v, StatusCode::OK, title, nav, body)
}

/// A whole page with a status other than 200.
pub fn page_with_status(
    v: &Viewer,
    status: StatusCode,
    title: &str,
    nav: Nav,
    body: Markup,
) -> Response {
    let l = v.lang;
    let markup = html! {
        (DOCTYPE)
        html lang=(l.tag()) data-tz=(v.time_zone) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (v.name) }
                link rel="stylesheet" href="/static/console.css";
                script src="/static/console.js" defer {}
            }
            body {
                a.skip href="#main" { (l.t("skip-to-content")) }
                header.top {
                    a.brand href="/" { span.logo aria-hidden="true" { "◆" } (v.name) }
                    div.top-right {
                        (lang_switch(v))
                        @if let Some(me) = &v.me {
                            a.who href="/account" title=(l.t("nav-account")) {
                                (me.username()) span.org { " · " (me.org["name"].as_str().unwrap_or_default()) }
                            }
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(me.csrf);
                                button.link type="submit" { (l.t("sign-out")) }
                            }
                        }
                    }
                }
                div.frame {
                    @if v.me.is_some() {
                        nav.side aria-label=(l.t("nav-label")) {
                            ul {
                                @for item in NAV {
                                    @if item.needs.is_none_or(|n| v.may(n)) {
                                        li {
                                            a href=(item.href) aria-current=[(item.nav == nav).then_some("page")] {
                                                (l.t(item.key))
                                                @if item.nav == Nav::Events {
                                                    @if let Some(me) = &v.me {
                                                        @if me.unread_events > 0 {
                                                            " " span.count aria-label=(l.ta("unread-count", &[("count", FluentValue::from(me.unread_events))])) { (me.unread_events) }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                                li { a href="/account" aria-current=[(nav == Nav::Account).then_some("page")] { (l.t("nav-account")) } }
                                li { a href="/api/docs" { (l.t("nav-api")) } }
                            }
                        }
                    }
                    main #main tabindex="-1" {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
    };
    html_response(status, markup)
}

fn lang_switch(v: &Viewer) -> Markup {
    let l = v.lang;
    html! {
        form.inline.lang method="post" action="/preferences/language" {
            @if let Some(me) = &v.me { input type="hidden" name="csrf" value=(me.csrf); }
            input type="hidden" name="next" value=(v.path);
            label for="lang-select" class="sr-only" { (l.t("language")) }
            select #lang-select name="locale" data-autosubmit="" {
                @for lang in LANGS {
                    option value=(lang.tag()) selected[lang == l] { (lang.own_name()) }
                }
            }
            noscript { button type="submit" { (l.t("apply")) } }
        }
    }
}

/// A status badge; the colour follows what the word means.
pub fn badge(l: Lang, status: &str) -> Markup {
    let class = match status {
        "running" | "active" | "approved" | "executed" | "accepted" | "ok" | "OK" | "succeeded"
        | "up" | "done" | "member" | "valid" | "enforced" | "delivered" | "resolved" => "good",
        "open" | "pending" | "deploying" | "executing" | "queued" | "starting" | "expiring"
        | "in_progress" | "voting" | "committing" | "on_chain" | "incomplete" => "warn",
        "failed" | "rejected" | "declined" | "expired" | "revoked" | "down" | "stopped"
        | "error" | "frozen" | "left" | "firing" | "recycled" | "purged" => "bad",
        _ => "neutral",
    };
    let key = format!("status-{}", status.to_ascii_lowercase().replace('_', "-"));
    let text = l.t(&key);
    let text = if text == key {
        status.to_string()
    } else {
        text
    };
    html! { span class={"badge " (class)} { (text) } }
}

/// A code's name in the viewer's language (`prefix-code` in the catalogue, dots and
/// underscores as hyphens), shown with the code itself for those who know the codes; the code
/// alone when the catalogue has no name for it.
pub fn label(l: Lang, prefix: &str, code: &str) -> Markup {
    let key = format!("{prefix}-{}", code.replace(['.', '_'], "-"));
    let text = l.t(&key);
    html! {
        @if text == key { code { (code) } } @else { (text) " " code.muted { (code) } }
    }
}

/// A moment, shown in the viewer's time zone by the page script (UTC without it).
pub fn time(ms: i64) -> Markup {
    let (iso, text) = utc(ms);
    html! { time datetime=(iso) data-ms=(ms) { (text) } }
}

/// A moment in ms since the epoch as ISO 8601 and as readable UTC text.
pub fn utc(ms: i64) -> (String, String) {
    let c = covenant_platform::time::civil(ms.div_euclid(1000));
    let (y, m, d, hh, mm, ss) = (c.year, c.month, c.day, c.hour, c.minute, c.second);
    (
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z"),
        format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC"),
    )
}

/// An empty state: what would be here, and what to do about it.
pub fn empty(l: Lang, what: &str, hint: Option<Markup>) -> Markup {
    html! {
        div.empty role="status" {
            p.empty-title { (l.t(what)) }
            @if let Some(h) = hint { p { (h) } }
        }
    }
}

/// A notice after a change (`?done=…`), from the catalogue.
pub fn notice(l: Lang, done: Option<&str>) -> Markup {
    html! {
        @if let Some(d) = done {
            @let key = format!("done-{d}");
            @let text = l.t(&key);
            @if text != key {
                div.notice.good role="status" { (text) }
            }
        }
    }
}

/// An API refusal shown in place.
pub fn refusal(l: Lang, e: &ApiError) -> Markup {
    html! {
        div.notice.bad role="alert" {
            strong { (l.t(refusal_key(e))) }
            " " (e.message) " "
            code { (e.code) }
        }
    }
}

fn refusal_key(e: &ApiError) -> &'static str {
    match e.status {
        401 => "error-signed-out",
        403 => "error-forbidden",
        404 => "error-not-found",
        409 | 412 => "error-conflict",
        429 => "error-throttled",
        400 | 413 | 415 | 422 => "error-invalid",
        _ => "error-unavailable",
    }
}

/// The page for an API refusal of what the page needs.
pub fn error_page(v: &Viewer, e: &ApiError) -> Response {
    if e.status == 401 {
        return axum::response::Redirect::to(&format!("/login?next={}", enc(&v.path)))
            .into_response();
    }
    let l = v.lang;
    let status = match e.status {
        403 => StatusCode::FORBIDDEN,
        404 => StatusCode::NOT_FOUND,
        400 | 413 | 415 | 422 => StatusCode::BAD_REQUEST,
        409 | 412 => StatusCode::CONFLICT,
        429 => StatusCode::TOO_MANY_REQUESTS,
        // A node or the platform being unavailable is not the console's failure.
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    page_with_status(
        v,
        status,
        &l.t(refusal_key(e)),
        Nav::None,
        html! {
            (refusal(l, e))
            p { a href="/" { (l.t("back-to-overview")) } }
        },
    )
}

/// The page for a section the account holds no permission to read.
pub fn forbidden(v: &Viewer, action: &str) -> Response {
    let who =
        v.me.as_ref()
            .map(|m| m.username().to_string())
            .unwrap_or_default();
    error_page(
        v,
        &ApiError {
            status: 403,
            code: "PERMISSION_DENIED".into(),
            message: format!(
                "{who} does not hold the permission {action}; ask the org's root account to grant it"
            ),
        },
    )
}

/// The page for a path the console does not have.
pub fn not_found(v: &Viewer) -> Response {
    let l = v.lang;
    page_with_status(
        v,
        StatusCode::NOT_FOUND,
        &l.t("error-not-found"),
        Nav::None,
        html! {
            p { (l.t("page-not-found")) }
            p { a href="/" { (l.t("back-to-overview")) } }
        },
    )
}

/// The hidden CSRF field of a form.
pub fn csrf(v: &Viewer) -> Markup {
    html! {
        @if let Some(me) = &v.me { input type="hidden" name="csrf" value=(me.csrf); }
    }
}

/// A one-button form that asks before it acts (destructive actions).
pub fn confirm_button(
    v: &Viewer,
    action: &str,
    label: &str,
    question: &str,
    danger: bool,
) -> Markup {
    html! {
        form.inline method="post" action=(action) data-confirm=(question) {
            (csrf(v))
            button type="submit" class=(if danger { "danger" } else { "secondary" }) { (label) }
        }
    }
}

/// A "next page" link carrying the API's cursor.
pub fn pager(l: Lang, base: &str, next: &Value) -> Markup {
    let cursor = match next {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    html! {
        @if let Some(c) = cursor {
            nav.pager aria-label=(l.t("pages")) {
                a href={(base) (sep) "after=" (enc(&c))} rel="next" { (l.t("next-page")) " →" }
            }
        }
    }
}

/// A short form of a long hash or id, with the whole in its title.
pub fn short(s: &str) -> Markup {
    let shown = if s.len() > 16 && s.is_ascii() {
        format!("{}…{}", &s[..8], &s[s.len() - 6..])
    } else {
        s.to_string()
    };
    html! { code.short title=(s) { (shown) } }
}

/// A value of a JSON answer as text.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A field's validation message, tied to the field by id.
pub fn field_error(id: &str, message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            p.field-error id={(id) "-error"} role="alert" { (m) }
        }
    }
}

/// Pretty JSON for a `pre`.
pub fn pretty(v: &Value) -> PreEscaped<String> {
    let s = serde_json::to_string_pretty(v).unwrap_or_default();
    PreEscaped(maud::html! { (s) }.into_string())
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_text_of_known_moments() {
        assert_eq!(utc(0).0, "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400_000).0, "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_796_047_807_000).1, "2026-11-30 14:10:07 UTC");
        assert_eq!(utc(-1000).0, "1969-12-31T23:59:59Z");
    }
}

#[cfg(test)]
mod label_tests {
    use super::*;

    #[test]
    fn every_kind_of_proposal_has_a_name_in_both_languages() {
        for kind in covenant_platform::proposal::kind::KINDS {
            for l in crate::i18n::LANGS {
                let m = label(l, "proposal-kind", kind.name()).into_string();
                assert!(
                    m.contains("<code class=\"muted\">"),
                    "{} has no name in {}: {m}",
                    kind.name(),
                    l.tag()
                );
            }
        }
    }

    #[test]
    fn unknown_codes_show_as_themselves() {
        assert_eq!(
            label(Lang::En, "event-kind", "x.y").into_string(),
            "<code>x.y</code>"
        );
    }
}
