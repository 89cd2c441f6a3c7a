//! Who is looking at a page: their language and time zone, their session, and — when signed
//! in — their account, org and permissions as the API reports them (`GET /api/v1/me`).

use std::collections::BTreeSet;

use axum::{
    extract::FromRequestParts,
    http::{Method, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use covenant_platform::auth;
use serde_json::Value;

use crate::{
    Console,
    gateway::{ApiError, Credentials, Gateway},
    i18n::Lang,
    layout,
};

/// The cookie holding a visitor's language before they sign in.
pub const LANG_COOKIE: &str = "covenant_lang";

/// A signed-in account, as the API describes it.
#[derive(Debug, Clone)]
pub struct Me {
    pub account: Value,
    pub org: Value,
    pub actions: BTreeSet<String>,
    pub unread_events: i64,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
}

impl Me {
    pub fn username(&self) -> &str {
        self.account["username"].as_str().unwrap_or_default()
    }

    pub fn org_id(&self) -> &str {
        self.org["id"].as_str().unwrap_or_default()
    }

    pub fn root(&self) -> bool {
        self.account["root"].as_bool().unwrap_or(false)
    }
}

/// The visitor of a page.
#[derive(Clone)]
pub struct Viewer {
    pub lang: Lang,
    /// An IANA zone, or empty for the browser's.
    pub time_zone: String,
    pub creds: Credentials,
    pub me: Option<Me>,
    /// The path and query asked for, to come back to after signing in.
    pub path: String,
    pub gateway: Gateway,
    pub name: String,
}

pub(crate) fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<Console> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, c: &Console) -> Result<Self, Self::Rejection> {
        let session = cookie(&parts.headers, auth::SESSION_COOKIE).filter(|s| !s.is_empty());
        let remote = parts.extensions.get::<covenant_http::RemoteAddr>().copied();
        let mut lang = cookie(&parts.headers, LANG_COOKIE)
            .and_then(|l| Lang::parse(&l))
            .unwrap_or_else(|| {
                Lang::negotiate(
                    parts
                        .headers
                        .get(header::ACCEPT_LANGUAGE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(""),
                )
            });
        let creds = Credentials {
            session: session.clone(),
            csrf: None,
            remote,
        };
        let mut me = None;
        let mut time_zone = String::new();
        if session.is_some() {
            match c.gateway.get(&creds, "/api/v1/me").await {
                Ok(v) => {
                    let account = v["account"].clone();
                    if let Some(l) = account["locale"].as_str().and_then(Lang::parse) {
                        lang = l;
                    }
                    time_zone = account["time_zone"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    me = Some(Me {
                        account,
                        org: v["org"].clone(),
                        actions: v["actions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|a| a.as_str().map(str::to_string))
                            .collect(),
                        unread_events: v["unread_events"].as_i64().unwrap_or(0),
                        csrf: v["csrf_token"].as_str().unwrap_or_default().to_string(),
                    });
                }
                Err(e) if e.status == 401 => {}
                Err(e) => {
                    tracing::warn!(code = %e.code, "cannot read the signed-in account");
                }
            }
        }
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        Ok(Viewer {
            lang,
            time_zone,
            creds,
            me,
            path,
            gateway: c.gateway.clone(),
            name: c.name.clone(),
        })
    }
}

impl Viewer {
    /// The signed-in account, or a redirect to the sign-in page that comes back here.
    pub fn me(&self) -> Result<&Me, Response> {
        self.me.as_ref().ok_or_else(|| {
            let next = if self.path.starts_with('/') && !self.path.starts_with("//") {
                self.path.clone()
            } else {
                "/".into()
            };
            Redirect::to(&format!("/login?next={}", crate::gateway::enc(&next))).into_response()
        })
    }

    /// Whether the account holds `action`.
    pub fn may(&self, action: &str) -> bool {
        self.me.as_ref().is_some_and(|m| m.actions.contains(action))
    }

    /// The same visitor, changing something with the CSRF token its form carried.
    pub fn with_csrf(&self, csrf: Option<&str>) -> Viewer {
        let mut v = self.clone();
        v.creds.csrf = csrf.map(str::to_string);
        v
    }

    /// Read from the API; a refusal becomes the error page.
    pub async fn get(&self, uri: &str) -> Result<Value, Response> {
        self.gateway
            .get(&self.creds, uri)
            .await
            .map_err(|e| layout::error_page(self, &e))
    }

    /// Read from the API, keeping a refusal for the page to show in place.
    pub async fn try_get(&self, uri: &str) -> Result<Value, ApiError> {
        self.gateway.get(&self.creds, uri).await
    }

    /// Change something through the API.
    pub async fn send(&self, method: Method, uri: &str, body: &Value) -> Result<Value, ApiError> {
        self.gateway.send(&self.creds, method, uri, body).await
    }
}
