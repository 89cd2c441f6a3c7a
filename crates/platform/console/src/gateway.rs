//! The console's only way to the platform: the platform's own REST API, called in process.
//!
//! Every page reads through the API and every form changes through it, carrying the visitor's
//! session cookie, its CSRF token and its address. So a page can show only what the API lets
//! the account read, every change is checked against the same permissions and CSRF token,
//! validated the same way, and written to the audit log like any API call.

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header},
};
use covenant_platform::auth;
use serde_json::Value;
use tower::ServiceExt;

/// What the API refused, with its stable code.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub(crate) fn console(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// Who a call is made for.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub session: Option<String>,
    pub csrf: Option<String>,
    pub remote: Option<covenant_http::RemoteAddr>,
}

/// An answer of the API.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// The platform's API router, called in process.
#[derive(Clone)]
pub struct Gateway {
    api: Router,
}

/// The largest answer the console reads (an audit page, a block with its transactions).
const MAX_ANSWER: usize = 64 * 1024 * 1024;

impl Gateway {
    pub fn new(api: Router) -> Gateway {
        Gateway { api }
    }

    /// Call the API; a refusal comes back as the API's coded error.
    pub async fn call(
        &self,
        who: &Credentials,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ApiError> {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(s) = &who.session
            && let Ok(v) = HeaderValue::from_str(&format!("{}={s}", auth::SESSION_COOKIE))
        {
            req = req.header(header::COOKIE, v);
        }
        if let Some(c) = &who.csrf
            && let Ok(v) = HeaderValue::from_str(c)
        {
            req = req.header(auth::CSRF_HEADER, v);
        }
        let payload = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req
            .body(payload)
            .map_err(|e| ApiError::console(400, "BAD_REQUEST", e.to_string()))?;
        if let Some(r) = who.remote {
            req.extensions_mut().insert(r);
        }
        let resp = match self.api.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_ANSWER)
            .await
            .map_err(|e| ApiError::console(502, "ANSWER_UNREADABLE", e.to_string()))?;
        let json: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        if parts.status.is_success() {
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body: json,
            })
        } else {
            Err(ApiError {
                status: parts.status.as_u16(),
                code: json["error"]["code"]
                    .as_str()
                    .unwrap_or("UNKNOWN")
                    .to_string(),
                message: json["error"]["message"]
                    .as_str()
                    .unwrap_or("the platform refused")
                    .to_string(),
            })
        }
    }

    /// `GET uri`.
    pub async fn get(&self, who: &Credentials, uri: &str) -> Result<Value, ApiError> {
        Ok(self.call(who, Method::GET, uri, None).await?.body)
    }

    /// A change (`POST`, `PUT`, `PATCH`, `DELETE`) with a JSON body.
    pub async fn send(
        &self,
        who: &Credentials,
        method: Method,
        uri: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        Ok(self.call(who, method, uri, Some(body)).await?.body)
    }
}

/// A path segment or query value, percent-encoded.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::enc;

    #[test]
    fn encodes_what_a_url_cannot_carry() {
        assert_eq!(enc("a b/c?d&e=f"), "a%20b%2Fc%3Fd%26e%3Df");
        assert_eq!(enc("链"), "%E9%93%BE");
        assert_eq!(enc("bank-a_1.x~"), "bank-a_1.x~");
    }
}
