//! The certificate centre's routes: the org's certificates, requests and their approval, batch
//! issuance, revocations with their progress to every chain, and the org's CRL.

use axum::{
    http::{Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    Access, Ctx, EmptyBody, JsonBody, JsonPath, JsonQuery, paged, reply,
    routes::{Route, St},
    schema,
};
use crate::{
    action,
    certificate::{self, CertKind, request, revocation},
    error::{Error, Result},
};

pub(super) fn routes() -> Vec<Route> {
    use Access::*;
    use action as a;
    let act = Access::Action;
    vec![
        Route::new(Method::GET, "/api/v1/org/certificates", "listCertificates", "Certificates", "Every certificate the platform knows for your org — its root, admins, clients and nodes — soonest to expire first, with its status (valid, expiring within 30 days, expired, revoked)", act(a::ORG_READ), get(list_certificates))
            .query("kind", json!({"type": "string", "enum": ["root", "admin", "client", "node"]}), "Only this kind")
            .query("status", json!({"type": "string", "enum": ["valid", "expiring", "expired", "revoked"]}), "Only this status")
            .ok(200, schema::page("Certificate")),
        Route::new(Method::GET, "/api/v1/org/certificates/{fingerprint}", "getCertificate", "Certificates", "One of your org's certificates (by SHA-256 fingerprint) with its PEM and its revocation's progress", act(a::ORG_READ), get(get_certificate))
            .ok(200, schema::r("CertificateDetail"))
            .errors(&[404]),
        Route::new(Method::GET, "/api/v1/org/certificates/{fingerprint}/pem", "downloadCertificate", "Certificates", "Download one of your org's certificates (PEM)", act(a::ORG_READ), get(download_certificate))
            .ok(200, json!({"type": "string"}))
            .content("application/x-pem-file")
            .errors(&[404]),
        Route::new(Method::POST, "/api/v1/org/certificates/{fingerprint}/revoke", "revokeCertificate", "Certificates", "Revoke an admin or client certificate: the platform stops signing with it, the org's CA issues a new CRL, and a proposal publishes it on every chain the org is on; follow the revocation until every node refuses the certificate", act(a::CERT_REVOKE), post(revoke_certificate))
            .body(schema::req::revoke())
            .ok(201, schema::r("Revocation"))
            .errors(&[404, 409]),
        Route::new(Method::GET, "/api/v1/org/trust-roots", "listTrustRoots", "Certificates", "Your org's trust roots: its own CA and the external roots it imported", act(a::ORG_READ), get(list_trust_roots))
            .ok(200, json!({"type": "object", "properties": {"items": schema::list("TrustRoot")}})),
        Route::new(Method::POST, "/api/v1/org/trust-roots", "importTrustRoot", "Certificates", "Import an external root (for example a national CA's SM2 root) as a trust root of your org; chains learn it when a chain.update_org_roots proposal passes (or when the org is admitted)", act(a::TRUST_ROOT_MANAGE), post(import_trust_root))
            .body(schema::object(&["certificate"], json!({"certificate": {"type": "string", "maxLength": 65536, "description": "The root certificate (PEM)"}})))
            .ok(201, schema::r("TrustRoot"))
            .errors(&[409]),
        Route::new(Method::DELETE, "/api/v1/org/trust-roots/{fingerprint}", "removeTrustRoot", "Certificates", "Remove an imported root (chains keep it until a chain.update_org_roots proposal passes)", act(a::TRUST_ROOT_MANAGE), delete(remove_trust_root))
            .ok(200, json!({"type": "object"}))
            .errors(&[404, 409]),
        Route::new(Method::POST, "/api/v1/org/certificates/verify", "verifyCertificate", "Certificates", "Whether a certificate chains to one of your org's trust roots now: the root, its kind, the role; or why not", act(a::ORG_READ), post(verify_certificate))
            .body(schema::object(&["certificate"], json!({"certificate": {"type": "string", "maxLength": 65536, "description": "The certificate (PEM)"}})))
            .ok(200, json!({"type": "object", "properties": {"valid": {"type": "boolean"}, "root": {"type": "string", "nullable": true}, "root_kind": {"type": "string"}, "reason": {"type": "string"}}})),
        Route::new(Method::POST, "/api/v1/org/certificates/{fingerprint}/renew", "renewCertificate", "Certificates", "Renew a certificate: an admin or client one is certified again for the same key and name (the old one stays valid until it expires); the org's root (root account only) is certified again with the same key, and a chain.update_org_roots proposal goes to every chain the org is on; a node's (node.manage) is certified again for its key and a chain.renew_node proposal goes to every chain it is on, after which the node restarts with it", act(a::IDENTITY_MANAGE), post(renew_certificate))
            .body(schema::object(&[], json!({"days": {"type": "integer", "minimum": 1, "maximum": 3650, "nullable": true, "description": "Days the new certificate lasts (825 for an identity, 3650 for the root, unless given; an identity lasts at most 825)"}})))
            .ok(200, schema::r("CertificateDetail"))
            .errors(&[404, 409]),
        Route::new(Method::GET, "/api/v1/org/revocations", "listRevocations", "Certificates", "Your org's revocations, newest first, each with its steps per chain", act(a::ORG_READ), get(list_revocations))
            .ok(200, schema::page("Revocation")),
        Route::new(Method::GET, "/api/v1/org/revocations/{id}", "getRevocation", "Certificates", "A revocation: per chain, the proposal and whether the chain's nodes refuse the certificate yet", act(a::ORG_READ), get(get_revocation))
            .ok(200, schema::r("Revocation"))
            .errors(&[404]),
        Route::new(Method::POST, "/api/v1/org/revocations/{id}/retry", "retryRevocation", "Certificates", "Open new proposals with the org's latest CRL for the chains whose step failed (and chains the org joined since)", act(a::CERT_REVOKE), post(retry_revocation))
            .body(schema::req::empty())
            .ok(200, schema::r("Revocation"))
            .errors(&[404, 409]),
        Route::new(Method::GET, "/api/v1/org/crl", "getCrl", "Certificates", "Your org's latest certificate revocation list (PEM), signed by its CA", act(a::ORG_READ), get(get_crl))
            .ok(200, json!({"type": "string"}))
            .content("application/x-pem-file")
            .errors(&[404]),
        Route::new(Method::POST, "/api/v1/org/identities/batch", "issueIdentities", "Certificates", "Issue many identities at once, all or none: each from its CSR (the key stays with its owner) or with a key the platform keeps", act(a::IDENTITY_MANAGE), post(issue_batch))
            .body(schema::req::identity_batch())
            .ok(201, json!({"type": "object", "properties": {"items": schema::list("Identity")}}))
            .idempotent()
            .errors(&[409]),
        Route::new(Method::GET, "/api/v1/org/certificate-requests", "listCertificateRequests", "Certificates", "Certificate requests, newest first: all of your org's with cert.approve, else your own", SignedIn, get(list_requests))
            .query("state", json!({"type": "string", "enum": ["pending", "approved", "rejected"]}), "Only this state")
            .ok(200, schema::page("CertificateRequest"))
            .errors(&[403]),
        Route::new(Method::POST, "/api/v1/org/certificate-requests", "requestCertificate", "Certificates", "Ask your org's CA for a certificate: a role and a name, with a CSR made where the key lives (`covenant ca csr`) or for a key the platform will keep; an account holding cert.approve decides", act(a::CERT_REQUEST), post(create_request))
            .body(schema::req::cert_request())
            .ok(201, schema::r("CertificateRequest"))
            .idempotent()
            .errors(&[409]),
        Route::new(Method::GET, "/api/v1/org/certificate-requests/{id}", "getCertificateRequest", "Certificates", "A certificate request (yours, or any of your org's with cert.approve)", SignedIn, get(get_request))
            .ok(200, schema::r("CertificateRequest"))
            .errors(&[403, 404]),
        Route::new(Method::GET, "/api/v1/org/certificate-requests/{id}/certificate", "downloadRequestedCertificate", "Certificates", "Download the certificate an approved request was issued (PEM)", SignedIn, get(download_requested))
            .ok(200, json!({"type": "string"}))
            .content("application/x-pem-file")
            .errors(&[403, 404, 409]),
        Route::new(Method::POST, "/api/v1/org/certificate-requests/{id}/approve", "approveCertificateRequest", "Certificates", "Approve a pending request: the org's CA issues the certificate", act(a::CERT_APPROVE), post(approve_request))
            .body(schema::req::decision_note())
            .ok(200, schema::r("CertificateRequest"))
            .errors(&[404, 409]),
        Route::new(Method::POST, "/api/v1/org/certificate-requests/{id}/reject", "rejectCertificateRequest", "Certificates", "Reject a pending request", act(a::CERT_APPROVE), post(reject_request))
            .body(schema::req::decision_note())
            .ok(200, schema::r("CertificateRequest"))
            .errors(&[404, 409]),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateBody {
    certificate: String,
}

async fn list_trust_roots(axum::extract::State(p): St, ctx: Ctx) -> Result<Response> {
    let c = ctx.caller()?;
    let items = certificate::trust_root::list(&p, c.org()).await?;
    reply(StatusCode::OK, json!({"items": items}))
}

async fn import_trust_root(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(b): JsonBody<CertificateBody>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::CREATED,
        certificate::trust_root::import(&p, c.org(), &b.certificate, c.account_id()).await?,
    )
}

async fn remove_trust_root(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(fp): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    certificate::trust_root::remove(&p, c.org(), &fp).await?;
    reply(StatusCode::OK, json!({}))
}

async fn verify_certificate(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(b): JsonBody<CertificateBody>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        certificate::trust_root::verify(&p, c.org(), &b.certificate).await?,
    )
}

fn pem(name: &str, text: String) -> Response {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, "application/x-pem-file".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
        ],
        text,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertQuery {
    kind: Option<String>,
    status: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

async fn list_certificates(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<CertQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let f = certificate::Filter {
        kind: q.kind.as_deref().map(CertKind::parse).transpose()?,
        status: q.status,
    };
    paged(
        certificate::list(&p, c.org(), &f).await?,
        q.after.as_deref(),
        q.limit,
        certificate::page_key,
    )
}

async fn get_certificate(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(fp): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::OK, certificate::get(&p, c.org(), &fp).await?)
}

async fn download_certificate(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(fp): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let d = certificate::get(&p, c.org(), &fp).await?;
    Ok(pem(&format!("{}.crt", d.view.name), d.certificate))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeReq {
    reason: Option<String>,
}

async fn revoke_certificate(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(fp): JsonPath<String>,
    JsonBody(r): JsonBody<RevokeReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::CREATED,
        revocation::revoke(&p, c, &fp, r.reason.as_deref()).await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenewReq {
    days: Option<u32>,
}

async fn renew_certificate(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(fp): JsonPath<String>,
    JsonBody(r): JsonBody<RenewReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        certificate::renew(&p, c, &fp, r.days).await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    after: Option<String>,
    limit: Option<i64>,
}

async fn list_revocations(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<PageQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        revocation::list(&p, c.org()).await?,
        q.after.as_deref(),
        q.limit,
        |r| format!("{:020}-{}", i64::MAX - r.created_at, r.id),
    )
}

async fn get_revocation(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::OK, revocation::get(&p, c.org(), &id).await?)
}

async fn retry_revocation(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    _: EmptyBody,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::OK, revocation::retry(&p, c, &id).await?)
}

async fn get_crl(axum::extract::State(p): St, ctx: Ctx) -> Result<Response> {
    let c = ctx.caller()?;
    let (number, text) = revocation::latest_crl(&p, c.org())
        .await?
        .ok_or_else(|| Error::not_found("your org has revoked nothing: it has no CRL yet"))?;
    Ok(pem(&format!("{}-crl-{number}.pem", c.org()), text))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchReq {
    identities: Vec<request::NewRequest>,
}

async fn issue_batch(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<BatchReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let items = request::issue_batch(&p, c, &r.identities).await?;
    reply(StatusCode::CREATED, json!({"items": items}))
}

/// Requests are for accounts that may ask for or decide on certificates.
fn may_see_requests(c: &crate::auth::Caller) -> Result<()> {
    if c.may(action::CERT_REQUEST) || c.may(action::CERT_APPROVE) {
        Ok(())
    } else {
        c.require(action::CERT_REQUEST)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestQuery {
    state: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

async fn list_requests(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<RequestQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    may_see_requests(c)?;
    paged(
        request::list(&p, c, q.state.as_deref()).await?,
        q.after.as_deref(),
        q.limit,
        |r| format!("{:020}-{}", i64::MAX - r.created_at, r.id),
    )
}

async fn create_request(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<request::NewRequest>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::CREATED, request::create(&p, c, &r).await?)
}

async fn get_request(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    may_see_requests(c)?;
    reply(StatusCode::OK, request::get(&p, c, &id).await?)
}

async fn download_requested(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    may_see_requests(c)?;
    let (name, text) = request::certificate(&p, c, &id).await?;
    Ok(pem(&format!("{name}.crt"), text))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionReq {
    note: Option<String>,
}

async fn approve_request(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(r): JsonBody<DecisionReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        request::decide(&p, c, &id, true, r.note.as_deref()).await?,
    )
}

async fn reject_request(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(r): JsonBody<DecisionReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        request::decide(&p, c, &id, false, r.note.as_deref()).await?,
    )
}
