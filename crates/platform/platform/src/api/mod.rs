//! The platform's REST/JSON API under `/api/v1`.
//!
//! Every route is declared once in [`routes::table`] with the access it needs (public, any
//! signed-in account, or a permission), its schemas and the statuses it answers; the router,
//! the authorisation and the OpenAPI document ([`openapi`]) are all made from that table.
//!
//! One guard runs around every route: it gives the request an id (`X-Request-Id`),
//! authenticates the caller, checks the route's permission, replays a creating call sent again
//! with the same `Idempotency-Key`, and writes the audit entry of every call that changes
//! something (successful or not). Every refusal is `{"error": {"code", "message",
//! "request_id"}}` with a stable code — the framework's own (unknown route, wrong method, bad
//! path or query, oversized body, wrong content type) included.

pub mod certificates;
pub mod contracts;
pub mod docs;
pub mod monitoring;
pub mod openapi;
pub mod recycle;
pub mod routes;
pub mod schema;

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{FromRequest, FromRequestParts, MatchedPath, Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::{Next, from_fn_with_state},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sqlx::Row;

use crate::{
    Platform, audit,
    auth::{self, Caller},
    error::Error,
    time::{new_id, now_ms, sha256_hex},
};

/// The largest request body: 16 MiB (a contract module travels in a proposal).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in account (its own things).
    SignedIn,
    /// Accounts holding this permission.
    Action(&'static str),
}

/// What the guard knows of the route it runs for.
#[derive(Debug, Clone)]
pub struct RouteMeta {
    pub id: &'static str,
    pub access: Access,
    /// A repeated creating call with the same `Idempotency-Key` gets the first answer.
    pub idempotent: bool,
}

/// The request's context, for handlers.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub request_id: String,
    pub caller: Option<Caller>,
    /// The client's address.
    pub address: Option<String>,
    /// The session cookie sent, if any.
    pub session: Option<String>,
}

impl Ctx {
    /// The signed-in caller.
    pub fn caller(&self) -> Result<&Caller, Error> {
        self.caller
            .as_ref()
            .ok_or_else(|| Error::Unauthenticated("sign in first".into()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| Error::internal("the request passed no guard"))
    }
}

/// A stable error code on a response, for the audit log.
#[derive(Debug, Clone, Copy)]
struct ErrorCode(&'static str);

/// Extra audit detail a handler attaches to its response (who signed in, what org was made).
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub account_id: Option<String>,
    pub org_id: Option<String>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if matches!(self, Error::Database(_) | Error::Internal(_)) {
            tracing::error!(error = %self, "request failed");
        }
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = self.code();
        let body = json!({"error": {"code": code, "message": self.public_message()}});
        let mut r = (status, axum::Json(body)).into_response();
        match &self {
            Error::Throttled { retry_after_s, .. } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            Error::MethodNotAllowed { allow, .. } if !allow.is_empty() => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    r.headers_mut().insert(header::ALLOW, v);
                }
            }
            _ => {}
        }
        r.extensions_mut().insert(ErrorCode(code));
        r
    }
}

/// A JSON body: `application/json` (or no content type), within [`MAX_BODY_BYTES`], of the
/// route's shape (unknown fields refused).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.to_ascii_lowercase());
        if let Some(ct) = &ct
            && ct.split(';').next().map(str::trim) != Some("application/json")
        {
            return Err(Error::UnsupportedMediaType(
                "send the body as application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::TooLarge(format!(
                    "the body is over the limit of {MAX_BODY_BYTES} bytes"
                ))
            } else {
                Error::invalid(format!("cannot read the body: {}", e.body_text()))
            }
        })?;
        let bytes = if bytes.is_empty() {
            Bytes::from_static(b"{}")
        } else {
            bytes
        };
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            let code = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    "INVALID_JSON"
                }
                _ => "INVALID_ARGUMENT",
            };
            Error::invalid_as(code, format!("the body is not right: {e}"))
        })
    }
}

/// A body that says nothing: none at all, or `{}`.
pub struct EmptyBody;

impl<S: Send + Sync> FromRequest<S> for EmptyBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonBody(v) = JsonBody::<Value>::from_request(req, state).await?;
        match v {
            Value::Object(m) if m.is_empty() => Ok(EmptyBody),
            _ => Err(Error::invalid(
                "this call takes no parameters: send no body, or {}",
            )),
        }
    }
}

/// Path parameters; a bad one is a coded 400.
pub struct JsonPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for JsonPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| JsonPath(v))
            .map_err(|e| Error::invalid(format!("bad path: {}", e.body_text())))
    }
}

/// The query string; a bad one is a coded 400.
pub struct JsonQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for JsonQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| JsonQuery(v))
            .map_err(|e| Error::invalid(format!("bad query string: {}", e.body_text())))
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string())
}

struct GuardState {
    p: Platform,
    routes: HashMap<(Method, String), RouteMeta>,
}

/// The router of the whole API, with its guard.
pub fn router(p: Platform) -> Router {
    let table = routes::table();
    let mut metas = HashMap::new();
    let mut router: Router<Platform> = Router::new();
    let mut by_path: Vec<(&'static str, axum::routing::MethodRouter<Platform>)> = Vec::new();
    for r in table {
        metas.insert(
            (r.method.clone(), r.path.to_string()),
            RouteMeta {
                id: r.id,
                access: r.access,
                idempotent: r.idempotent,
            },
        );
        match by_path.iter_mut().find(|(p, _)| *p == r.path) {
            Some((_, mr)) => {
                let merged = std::mem::take(mr).merge(r.handler);
                *mr = merged;
            }
            None => by_path.push((r.path, r.handler)),
        }
    }
    for (path, mr) in by_path {
        router = router.route(path, mr);
    }
    let state = Arc::new(GuardState {
        p: p.clone(),
        routes: metas,
    });
    router
        .route_layer(from_fn_with_state(state, guard))
        .fallback(|| async { Error::not_found("no such endpoint; see /api/v1/openapi.json") })
        .method_not_allowed_fallback(|req: Request| async move {
            let _ = req;
            Error::MethodNotAllowed {
                message: "this endpoint does not take that method; see /api/v1/openapi.json".into(),
                allow: String::new(),
            }
        })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(p)
}

fn changes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

async fn guard(State(g): State<Arc<GuardState>>, req: Request, next: Next) -> Response {
    let request_id = new_id("req").unwrap_or_else(|_| format!("req_{}", now_ms()));
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(none)".to_string(), |m| m.as_str().to_string());
    let mut resp = guarded(&g, &request_id, req, next)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    g.p.inner
        .requests
        .count(&method, &route, resp.status().as_u16());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

async fn guarded(
    g: &GuardState,
    request_id: &str,
    req: Request,
    next: Next,
) -> Result<Response, Response> {
    let p = &g.p;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let meta = g
        .routes
        .get(&(method.clone(), matched))
        .cloned()
        .ok_or_else(|| Error::not_found("no such endpoint").into_response())?;
    let address = req
        .extensions()
        .get::<covenant_http::RemoteAddr>()
        .and_then(|a| a.0)
        .map(|a| a.ip().to_string());
    // PostgreSQL's text cannot hold NUL; no name, id or filter needs one.
    let raw_query = req.uri().query().unwrap_or("");
    if path.to_ascii_lowercase().contains("%00") || raw_query.to_ascii_lowercase().contains("%00") {
        return Err(
            Error::invalid_as("NUL_CHARACTER", "NUL characters are not accepted").into_response(),
        );
    }
    let (mut parts, body) = req.into_parts();
    let mutating = changes(&method);
    // The body is read here (within the limit) so its digest goes into the audit entry and the
    // idempotency record; the handler gets the same bytes.
    let bytes = if mutating {
        match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(b) => b,
            Err(_) => {
                return Err(Error::TooLarge(format!(
                    "the body is over the limit of {MAX_BODY_BYTES} bytes"
                ))
                .into_response());
            }
        }
    } else {
        Bytes::new()
    };
    if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Err(
            Error::invalid_as("NUL_CHARACTER", "NUL characters are not accepted").into_response(),
        );
    }
    let digest = sha256_hex(&bytes);
    let session = cookie(&parts.headers, auth::SESSION_COOKIE);
    let token = bearer(&parts.headers);
    let csrf = parts
        .headers
        .get(auth::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let caller = match meta.access {
        Access::Public => {
            // A public route still knows who calls when credentials come along (sign-out).
            if token.is_some() || session.is_some() {
                auth::authenticate(
                    p,
                    token.as_deref(),
                    session.as_deref(),
                    csrf.as_deref(),
                    mutating,
                )
                .await
                .ok()
            } else {
                None
            }
        }
        Access::SignedIn | Access::Action(_) => {
            match auth::authenticate(
                p,
                token.as_deref(),
                session.as_deref(),
                csrf.as_deref(),
                mutating,
            )
            .await
            {
                Ok(c) => Some(c),
                Err(e) => {
                    let r = e.into_response();
                    if mutating {
                        audit_call(
                            p,
                            request_id,
                            &meta,
                            None,
                            &path,
                            &digest,
                            Outcome::of(&r),
                            None,
                        )
                        .await;
                    }
                    return Err(r);
                }
            }
        }
    };
    if let (Access::Action(a), Some(c)) = (meta.access, &caller)
        && let Err(e) = c.require(a)
    {
        let r = e.into_response();
        if mutating {
            audit_call(
                p,
                request_id,
                &meta,
                caller.as_ref(),
                &path,
                &digest,
                Outcome::of(&r),
                None,
            )
            .await;
        }
        return Err(r);
    }
    let idem_key = parts
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let idem = match (&idem_key, &caller, meta.idempotent && mutating) {
        (Some(key), Some(c), true) => {
            if key.is_empty() || key.len() > 128 {
                return Err(Error::invalid_as(
                    "IDEMPOTENCY_KEY_INVALID",
                    "an Idempotency-Key is 1 to 128 characters",
                )
                .into_response());
            }
            match idempotency_begin(p, c.account_id(), key, &digest).await {
                Ok(Some(replay)) => return Ok(replay),
                Ok(None) => Some((c.account_id().to_string(), key.clone())),
                Err(e) => return Err(e.into_response()),
            }
        }
        _ => None,
    };
    parts.extensions.insert(Ctx {
        request_id: request_id.to_string(),
        caller: caller.clone(),
        address,
        session,
    });
    let req = Request::from_parts(parts, Body::from(bytes));
    let resp = next.run(req).await;
    if !mutating {
        return Ok(resp);
    }
    let (rparts, rbody) = resp.into_parts();
    let rbytes = axum::body::to_bytes(rbody, usize::MAX)
        .await
        .unwrap_or_default();
    let resp = Response::from_parts(rparts, Body::from(rbytes.clone()));
    let note = resp.extensions().get::<AuditNote>().cloned();
    let outcome = Outcome::of(&resp);
    audit_call(
        p,
        request_id,
        &meta,
        caller.as_ref(),
        &path,
        &digest,
        outcome,
        note.as_ref(),
    )
    .await;
    if let Some((account, key)) = idem {
        idempotency_end(p, &account, &key, outcome.status, &rbytes).await;
    }
    Ok(resp)
}

/// How a call ended, for its audit entry.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    status: u16,
    code: Option<&'static str>,
}

impl Outcome {
    fn of(r: &Response) -> Outcome {
        Outcome {
            status: r.status().as_u16(),
            code: r.extensions().get::<ErrorCode>().map(|c| c.0),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn audit_call(
    p: &Platform,
    request_id: &str,
    meta: &RouteMeta,
    caller: Option<&Caller>,
    path: &str,
    digest: &str,
    outcome: Outcome,
    note: Option<&AuditNote>,
) {
    let status = outcome.status;
    let result = match outcome.code {
        Some(code) => format!("error {status} {code}"),
        None => format!("ok {status}"),
    };
    let action = match meta.access {
        Access::Action(a) => a.to_string(),
        _ => meta.id.to_string(),
    };
    let record = audit::Record {
        request_id: request_id.to_string(),
        account_id: caller
            .map(|c| c.account_id().to_string())
            .or_else(|| note.and_then(|n| n.account_id.clone()))
            .unwrap_or_else(|| "anonymous".into()),
        org_id: caller
            .map(|c| c.org().to_string())
            .or_else(|| note.and_then(|n| n.org_id.clone()))
            .unwrap_or_default(),
        action,
        target: path.to_string(),
        params_digest: digest.to_string(),
        result,
    };
    if let Err(e) = audit::append(p, &record).await {
        tracing::error!(error = %e, request = request_id, "cannot write the audit entry");
    }
}

/// A stored answer to replay, or `None` after recording that this key is now in progress.
async fn idempotency_begin(
    p: &Platform,
    account: &str,
    key: &str,
    digest: &str,
) -> Result<Option<Response>, Error> {
    let existing = sqlx::query(
        "SELECT request_digest, status, response FROM idempotency_keys WHERE account_id = $1 AND key = $2",
    )
    .bind(account)
    .bind(key)
    .fetch_optional(p.db().pool())
    .await?;
    if let Some(r) = existing {
        let d: String = r.try_get("request_digest")?;
        let status: i64 = r.try_get("status")?;
        if d != digest {
            return Err(Error::conflict(
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was used for a different request",
            ));
        }
        if status == 0 {
            return Err(Error::conflict(
                "IDEMPOTENCY_IN_PROGRESS",
                "a request with this Idempotency-Key is still running",
            ));
        }
        let body: String = r.try_get("response")?;
        let mut resp = (
            StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(Some(resp));
    }
    let r = sqlx::query(
        "INSERT INTO idempotency_keys (account_id, key, request_digest, status, response, created_at) VALUES ($1, $2, $3, 0, '', $4)",
    )
    .bind(account)
    .bind(key)
    .bind(digest)
    .bind(now_ms())
    .execute(p.db().pool())
    .await;
    match r {
        Err(e) if crate::db::is_unique_violation(&e) => Err(Error::conflict(
            "IDEMPOTENCY_IN_PROGRESS",
            "a request with this Idempotency-Key is still running",
        )),
        Err(e) => Err(e.into()),
        Ok(_) => Ok(None),
    }
}

async fn idempotency_end(p: &Platform, account: &str, key: &str, status: u16, body: &[u8]) {
    // A failure of the platform itself is not worth replaying: the key is freed.
    let r = if status >= 500 {
        sqlx::query("DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2")
            .bind(account)
            .bind(key)
            .execute(p.db().pool())
            .await
    } else {
        sqlx::query("UPDATE idempotency_keys SET status = $1, response = $2 WHERE account_id = $3 AND key = $4")
            .bind(i64::from(status))
            .bind(String::from_utf8_lossy(body).into_owned())
            .bind(account)
            .bind(key)
            .execute(p.db().pool())
            .await
    };
    if let Err(e) = r {
        tracing::error!(error = %e, "cannot record an idempotent answer");
    }
}

/// A JSON answer with a status.
pub fn reply(status: StatusCode, v: impl serde::Serialize) -> Result<Response, Error> {
    let body = serde_json::to_value(v)
        .map_err(|e| Error::internal(format!("cannot encode the answer: {e}")))?;
    Ok((status, axum::Json(body)).into_response())
}

/// A page of a list: `{"items": [...], "next": cursor or null}`.
pub fn page<T: serde::Serialize>(
    items: Vec<T>,
    limit: i64,
    cursor: impl Fn(&T) -> Value,
) -> Result<Response, Error> {
    let next = if items.len() as i64 >= limit {
        items.last().map(&cursor).unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    reply(StatusCode::OK, json!({"items": items, "next": next}))
}

/// A page of a list held in memory (the lists an org owns are short): items with a key
/// greater than `after`, in key order, at most `limit` (default 50, at most 200).
pub fn paged<T: serde::Serialize>(
    mut items: Vec<T>,
    after: Option<&str>,
    limit: Option<i64>,
    key: impl Fn(&T) -> String,
) -> Result<Response, Error> {
    let limit = limit.unwrap_or(50).clamp(1, 200);
    items.sort_by_key(|i| key(i));
    let items: Vec<T> = items
        .into_iter()
        .filter(|i| after.is_none_or(|a| key(i).as_str() > a))
        .take(limit as usize)
        .collect();
    page(items, limit, |i| Value::String(key(i)))
}
