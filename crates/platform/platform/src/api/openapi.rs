//! The OpenAPI 3 document, made from the route table: every route with the permission it
//! needs (`x-covenant-action`), its parameters, bodies and every status it can answer; the
//! permissions themselves under `x-covenant-actions`.

use serde_json::{Map, Value, json};

use super::{Access, routes, schema};
use crate::action::ACTIONS;

fn why(status: u16) -> &'static str {
    match status {
        400 => {
            "Bad input: a malformed body, path or query string, or values the platform refuses (the code says which)"
        }
        401 => "Not signed in: no valid session cookie or API token",
        403 => {
            "Signed in, but not allowed (the permission is missing, the CSRF token is wrong, or the action is refused)"
        }
        404 => "No such resource, or one your org cannot see",
        405 => "The endpoint does not take this method",
        409 => "The resource's state does not allow this, or it exists already",
        412 => "The resource changed since you read it (`version`)",
        413 => "The body is over the 16 MiB limit",
        415 => "The body is not application/json",
        429 => "Too many failed sign-ins: retry after Retry-After seconds",
        503 => "A node or the deploy driver cannot do it now",
        _ => "The platform failed",
    }
}

/// The document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in routes::table() {
        let mut op = Map::new();
        op.insert("operationId".into(), json!(r.id));
        op.insert("summary".into(), json!(r.summary));
        op.insert("tags".into(), json!([r.tag]));
        let (security, action_text) = match r.access {
            Access::Public => (json!([]), "Anyone".to_string()),
            Access::SignedIn => (
                json!([{"session": []}, {"token": []}]),
                "Any signed-in account".to_string(),
            ),
            Access::Action(a) => {
                op.insert("x-covenant-action".into(), json!(a));
                (
                    json!([{"session": []}, {"token": []}]),
                    format!("Needs the permission `{a}`"),
                )
            }
        };
        op.insert("security".into(), security);
        op.insert(
            "description".into(),
            json!(format!(
                "{}.{}",
                action_text,
                if r.idempotent {
                    " Send an `Idempotency-Key` header to make a retry safe."
                } else {
                    ""
                }
            )),
        );
        let mut params = Vec::new();
        for seg in r.path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let schema = if name == "id" && r.path.starts_with("/api/v1/events/") {
                    json!({"type": "integer", "minimum": 0})
                } else {
                    json!({"type": "string", "minLength": 1, "maxLength": 128})
                };
                params
                    .push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
            }
        }
        for (name, s, what) in &r.query {
            params.push(json!({"name": name, "in": "query", "required": false, "schema": s, "description": what}));
        }
        if r.idempotent {
            params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "minLength": 1, "maxLength": 128}, "description": "Repeat the request with the same key to get the first answer again"}));
        }
        if !params.is_empty() {
            op.insert("parameters".into(), json!(params));
        }
        let mut statuses: Vec<u16> = r.errors.clone();
        if let Some(body) = &r.body {
            // A body with nothing required in it may be left out (it reads as `{}`).
            let empty = body["properties"].as_object().is_none_or(|m| m.is_empty())
                || body["required"].as_array().is_none_or(|r| r.is_empty());
            op.insert(
                "requestBody".into(),
                json!({"required": !empty, "content": {"application/json": {"schema": body}}}),
            );
            statuses.extend([400, 413, 415]);
        }
        if !r.query.is_empty() || r.path.contains('{') {
            statuses.push(400);
        }
        if r.access != Access::Public {
            statuses.push(401);
        }
        if matches!(r.access, Access::Action(_)) || (r.body.is_some() && r.access != Access::Public)
        {
            statuses.push(403);
        }
        statuses.push(405);
        statuses.sort_unstable();
        statuses.dedup();
        let mut responses = Map::new();
        responses.insert(
            r.ok.0.to_string(),
            json!({"description": "Done", "content": {r.content: {"schema": r.ok.1}}}),
        );
        for s in statuses {
            responses.insert(
                s.to_string(),
                json!({"description": why(s), "content": {"application/json": {"schema": schema::r("Error")}}}),
            );
        }
        op.insert("responses".into(), Value::Object(responses));
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        if let Value::Object(m) = entry {
            m.insert(r.method.as_str().to_ascii_lowercase(), Value::Object(op));
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Covenant platform API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The control plane of a Covenant consortium: accounts and permissions, orgs, consortia, the event centre with its proposals and votes, networks and chains, long operations and the audit log. Sign in with POST /api/v1/auth/login (a session cookie plus a CSRF token for every change), or send an API token as `Authorization: Bearer cvt_…`. Every error is JSON with a stable code. The interactive page is at /api/docs."
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schema::components(),
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "An API token (`cvt_…`) from POST /api/v1/me/tokens. The console signs in instead with the `covenant_session` cookie that POST /api/v1/auth/login sets, and sends its CSRF token in `X-CSRF-Token` with every change; every credential a request presents must be valid."}
            }
        },
        "x-covenant-actions": ACTIONS.iter().map(|a| json!({"name": a.name, "description": a.description, "root_only": a.root_only})).collect::<Vec<_>>(),
    })
}
