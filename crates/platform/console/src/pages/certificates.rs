//! The certificate centre: every certificate my org holds with its status and days left,
//! one certificate with its revocation's progress to every chain, and certificate requests
//! (asking, approving, rejecting, downloading).

use axum::{
    extract::{Path, Query, rejection::FormRejection},
    http::Method,
    response::Response,
};
use covenant_platform::action as a;
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Done, Fields, done, refused};
use crate::{
    gateway::enc,
    layout::{self, Nav, badge, confirm_button, csrf, empty, short, text, time},
    viewer::Viewer,
};

type Form = Result<axum::Form<Vec<(String, String)>>, FormRejection>;

const KINDS: [&str; 4] = ["root", "admin", "client", "node"];
const STATUSES: [&str; 4] = ["valid", "expiring", "expired", "revoked"];
const REASONS: [&str; 8] = [
    "unspecified",
    "key-compromise",
    "ca-compromise",
    "affiliation-changed",
    "superseded",
    "cessation-of-operation",
    "certificate-hold",
    "privilege-withdrawn",
];

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    kind: Option<String>,
    status: Option<String>,
    done: Option<String>,
}

/// `GET /certificates`.
pub async fn list(v: Viewer, Query(q): Query<ListQuery>) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let mut uri = "/api/v1/org/certificates?limit=200".to_string();
    let kind = q.kind.as_deref().filter(|k| KINDS.contains(k));
    let status = q.status.as_deref().filter(|s| STATUSES.contains(s));
    if let Some(k) = kind {
        uri.push_str(&format!("&kind={k}"));
    }
    if let Some(s) = status {
        uri.push_str(&format!("&status={s}"));
    }
    let page = v.get(&uri).await?;
    let list = page["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        p.lead { (l.t("certs-intro")) }
        p { a href="/certificates/requests" { (l.t("cert-requests")) } " · " a href="/certificates/trust-roots" { (l.t("trust-roots")) } }
        form.filters method="get" action="/certificates" {
            div.field {
                label for="f-kind" { (l.t("kind")) }
                select #f-kind name="kind" {
                    option value="" { (l.t("any")) }
                    @for k in KINDS { option value=(k) selected[kind == Some(k)] { (l.t(&format!("cert-kind-{k}"))) } }
                }
            }
            div.field {
                label for="f-status" { (l.t("state")) }
                select #f-status name="status" {
                    option value="" { (l.t("any")) }
                    @for s in STATUSES { option value=(s) selected[status == Some(s)] { (l.t(&format!("status-{s}"))) } }
                }
            }
            button.secondary type="submit" { (l.t("filter")) }
        }
        section.card {
            @if list.is_empty() { (empty(l, "empty-certs", None)) } @else {
                table.sortable {
                    thead { tr {
                        th scope="col" { (l.t("name")) } th scope="col" { (l.t("kind")) } th scope="col" { (l.t("state")) }
                        th scope="col" { (l.t("days-left")) } th scope="col" { (l.t("expires")) } th scope="col" { (l.t("fingerprint")) }
                    } }
                    tbody { @for c in &list {
                        @let fp = c["fingerprint"].as_str().unwrap_or_default();
                        tr {
                            td { a href={"/certificates/" (enc(fp))} { (text(&c["name"])) } }
                            td { (l.t(&format!("cert-kind-{}", c["kind"].as_str().unwrap_or("client")))) }
                            td { (badge(l, c["status"].as_str().unwrap_or_default())) }
                            td data-sort=(text(&c["days_left"])) { (text(&c["days_left"])) }
                            td { (text(&c["not_after"])) }
                            td { (short(fp)) }
                        }
                    } }
                }
            }
        }
    };
    Ok(layout::page(
        &v,
        &l.t("nav-certificates"),
        Nav::Certificates,
        body,
    ))
}

/// `GET /certificates/{fingerprint}`: the certificate, its PEM, and its revocation's steps.
pub async fn show(
    v: Viewer,
    Path(fp): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let c = v
        .get(&format!("/api/v1/org/certificates/{}", enc(&fp)))
        .await?;
    let kind = c["kind"].as_str().unwrap_or_default();
    let revocable = matches!(kind, "admin" | "client") && c["status"] != "revoked";
    // Who may renew what: identities by identity.manage, the root by the root account's
    // trust_root.manage, a node by node.manage (its chains then vote on the new one).
    let renewable = c["status"] != "revoked"
        && match kind {
            "admin" | "client" => v.may(a::IDENTITY_MANAGE),
            "root" => v.may(a::IDENTITY_MANAGE) && v.may(a::TRUST_ROOT_MANAGE),
            "node" => v.may(a::IDENTITY_MANAGE) && v.may(a::NODE_MANAGE),
            _ => false,
        };
    let (renew_hint, max_days) = match kind {
        "root" => ("renew-root-hint", 3650),
        "node" => ("renew-node-hint", 825),
        _ => ("renew-cert-hint", 825),
    };
    let r = &c["revocation"];
    let in_progress = r["state"] == "in_progress";
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        section.card {
            dl.facts {
                dt { (l.t("kind")) } dd { (l.t(&format!("cert-kind-{kind}"))) }
                dt { (l.t("state")) } dd { (badge(l, c["status"].as_str().unwrap_or_default())) }
                dt { (l.t("subject")) } dd { code { (text(&c["subject"])) } }
                dt { (l.t("issuer")) } dd { code { (text(&c["issuer"])) } }
                dt { (l.t("serial")) } dd { code { (text(&c["serial"])) } }
                dt { (l.t("valid-from")) } dd { (text(&c["not_before"])) }
                dt { (l.t("expires")) } dd { (text(&c["not_after"])) " (" (l.ta("days-left-n", &[("days", c["days_left"].as_i64().unwrap_or(0).into())])) ")" }
                dt { (l.t("key-kept")) } dd { @if c["custodial"] == true { (l.t("key-kept-platform")) } @else { (l.t("key-kept-owner")) } }
                dt { (l.t("fingerprint")) } dd { code.wrap { (fp) } }
            }
            a.button.secondary href={"/api/v1/org/certificates/" (enc(&fp)) "/pem"} download { (l.t("download")) }
        }
        @if r.is_object() {
            section.card {
                h2 { (l.t("revocation")) " " (badge(l, r["state"].as_str().unwrap_or_default())) }
                p.hint { (l.t("revocation-hint")) }
                @if in_progress { p { a href={"/certificates/" (enc(&fp))} { (l.t("refresh")) } } }
                dl.facts {
                    dt { (l.t("reason")) } dd { (text(&r["reason"])) }
                    dt { (l.t("crl-number")) } dd { (text(&r["crl_number"])) }
                    dt { (l.t("when")) } dd { (time(r["created_at"].as_i64().unwrap_or_default())) }
                }
                @let steps = r["steps"].as_array().cloned().unwrap_or_default();
                @if steps.is_empty() { p { (l.t("revocation-no-chains")) } } @else {
                    table {
                        thead { tr { th scope="col" { (l.t("chain")) } th scope="col" { (l.t("state")) } th scope="col" { (l.t("proposal")) } th scope="col" { (l.t("detail")) } th scope="col" { (l.t("updated")) } } }
                        tbody { @for s in &steps {
                            tr {
                                td { a href={"/chains/" (enc(s["chain_id"].as_str().unwrap_or_default()))} { (text(&s["chain_id"])) } }
                                td { (badge(l, s["state"].as_str().unwrap_or_default())) " " span.muted { (l.t(&format!("step-{}", s["state"].as_str().unwrap_or("failed").replace('_', "-")))) } }
                                td { @if let Some(p) = s["proposal_id"].as_str() { a href={"/proposals/" (enc(p))} { (short(p)) } } }
                                td { (text(&s["detail"])) }
                                td { (time(s["updated_at"].as_i64().unwrap_or_default())) }
                            }
                        } }
                    }
                }
                @if r["state"] == "incomplete" && v.may(a::CERT_REVOKE) {
                    form method="post" action={"/revocations/" (enc(r["id"].as_str().unwrap_or_default())) "/retry"} {
                        (csrf(&v))
                        input type="hidden" name="fingerprint" value=(fp);
                        button.primary type="submit" { (l.t("retry")) }
                    }
                }
            }
        }
        @if renewable {
            section.card {
                h2 { (l.t("renew-cert")) }
                p.hint { (l.t(renew_hint)) }
                form method="post" action={"/certificates/" (enc(&fp)) "/renew"} data-confirm=[(kind != "client" && kind != "admin").then(|| l.t("confirm-renew-governed"))] {
                    (csrf(&v))
                    div.field { label for="n-days" { (l.t("valid-days")) } input #n-days name="days" type="number" min="1" max=(max_days) value=(max_days); }
                    button.primary type="submit" { (l.t("renew")) }
                }
            }
        }
        @if revocable && v.may(a::CERT_REVOKE) {
            section.card {
                h2 { (l.t("revoke-cert")) }
                p.hint { (l.t("revoke-cert-hint")) }
                form method="post" action={"/certificates/" (enc(&fp)) "/revoke"} data-confirm=(l.t("confirm-revoke-cert")) {
                    (csrf(&v))
                    div.field {
                        label for="r-reason" { (l.t("reason")) }
                        select #r-reason name="reason" { @for x in REASONS { option value=(x) { (x) } } }
                    }
                    button.danger type="submit" { (l.t("revoke")) }
                }
            }
        }
        section.card {
            h2 { "PEM" }
            pre.log tabindex="0" { (text(&c["certificate"])) }
        }
    };
    Ok(layout::page(
        &v,
        &l.ta("cert-title", &[("name", text(&c["name"]).into())]),
        Nav::Certificates,
        body,
    ))
}

/// `POST /certificates/{fingerprint}/revoke`.
pub async fn revoke(v: Viewer, Path(fp): Path<String>, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let reason = Some(f.get("reason")).filter(|r| !r.is_empty());
    match w
        .send(
            Method::POST,
            &format!("/api/v1/org/certificates/{}/revoke", enc(&fp)),
            &json!({"reason": reason}),
        )
        .await
    {
        Ok(_) => Ok(done(
            &format!("/certificates/{}", enc(&fp)),
            "cert-revoking",
        )),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `POST /revocations/{id}/retry`.
pub async fn retry(v: Viewer, Path(id): Path<String>, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    match w
        .send(
            Method::POST,
            &format!("/api/v1/org/revocations/{}/retry", enc(&id)),
            &json!({}),
        )
        .await
    {
        Ok(_) => Ok(done(
            &format!("/certificates/{}", enc(f.get("fingerprint"))),
            "cert-revoking",
        )),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `GET /certificates/requests`.
pub async fn requests(v: Viewer, Query(q): Query<Done>) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let may_ask = v.may(a::CERT_REQUEST);
    let may_decide = v.may(a::CERT_APPROVE);
    if !may_ask && !may_decide {
        return Err(layout::forbidden(&v, a::CERT_REQUEST));
    }
    let page = v.get("/api/v1/org/certificate-requests?limit=200").await?;
    let list = page["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        p.lead { (l.t("cert-requests-intro")) }
        section.card {
            @if list.is_empty() { (empty(l, "empty-cert-requests", None)) } @else {
                table {
                    thead { tr {
                        th scope="col" { (l.t("name")) } th scope="col" { (l.t("role")) } th scope="col" { (l.t("requested-by")) }
                        th scope="col" { (l.t("when")) } th scope="col" { (l.t("state")) } th scope="col" { (l.t("note")) } th scope="col" { span.sr-only { (l.t("actions")) } }
                    } }
                    tbody { @for r in &list {
                        @let id = r["id"].as_str().unwrap_or_default();
                        tr {
                            td { (text(&r["name"])) @if r["with_csr"] == true { " " span.muted { "(CSR)" } } }
                            td { (l.t(&format!("role-{}", r["role"].as_str().unwrap_or("client")))) }
                            td { (text(&r["requester"])) }
                            td { (time(r["created_at"].as_i64().unwrap_or_default())) }
                            td { (badge(l, r["state"].as_str().unwrap_or_default())) }
                            td { (text(&r["note"])) @if let Some(n) = r["decision_note"].as_str() { br; span.muted { (n) } } }
                            td {
                                @if r["state"] == "pending" && may_decide {
                                    form.inline method="post" action={"/certificates/requests/" (enc(id)) "/approve"} { (csrf(&v)) button.primary type="submit" { (l.t("approve")) } }
                                    " "
                                    (confirm_button(&v, &format!("/certificates/requests/{}/reject", enc(id)), &l.t("reject"), &l.t("confirm-reject-request"), true))
                                }
                                @if r["state"] == "approved" {
                                    a href={"/api/v1/org/certificate-requests/" (enc(id)) "/certificate"} download { (l.t("download")) }
                                }
                            }
                        }
                    } }
                }
            }
        }
        @if may_ask {
            section.card {
                h2 { (l.t("request-cert")) }
                form method="post" action="/certificates/requests" {
                    (csrf(&v))
                    div.field { label for="q-name" { (l.t("name")) } input #q-name name="name" type="text" required maxlength="64" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]*"; }
                    div.field {
                        label for="q-role" { (l.t("role")) }
                        select #q-role name="role" { option value="client" { (l.t("role-client")) } option value="admin" { (l.t("role-admin")) } }
                    }
                    div.field { label for="q-days" { (l.t("valid-days")) } input #q-days name="days" type="number" min="1" max="825" value="365"; }
                    div.field {
                        label for="q-csr" { (l.t("csr-optional")) }
                        textarea #q-csr name="csr" rows="6" aria-describedby="q-csr-hint" {}
                        p.hint #q-csr-hint { (l.t("csr-hint")) }
                    }
                    div.field { label for="q-note" { (l.t("note")) } input #q-note name="note" type="text" maxlength="500"; }
                    button.primary type="submit" { (l.t("request-cert")) }
                }
            }
        }
    };
    Ok(layout::page(
        &v,
        &l.t("cert-requests"),
        Nav::Certificates,
        body,
    ))
}

/// `POST /certificates/requests`.
pub async fn request(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let mut body = json!({"name": f.get("name"), "role": f.get("role")});
    if let Ok(d) = f.get("days").parse::<u32>() {
        body["days"] = json!(d);
    }
    if !f.get("csr").is_empty() {
        body["csr"] = json!(f.get("csr"));
    }
    if !f.get("note").is_empty() {
        body["note"] = json!(f.get("note"));
    }
    match w
        .send(Method::POST, "/api/v1/org/certificate-requests", &body)
        .await
    {
        Ok(_) => Ok(done("/certificates/requests", "cert-requested")),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `POST /certificates/requests/{id}/{approve|reject}`.
pub async fn decide(
    v: Viewer,
    Path((id, decision)): Path<(String, String)>,
    form: Form,
) -> Result<Response, Response> {
    v.me()?;
    if decision != "approve" && decision != "reject" {
        return Err(layout::not_found(&v));
    }
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let note: Value = Some(f.get("note"))
        .filter(|n| !n.is_empty())
        .map_or(Value::Null, |n| json!(n));
    match w
        .send(
            Method::POST,
            &format!("/api/v1/org/certificate-requests/{}/{decision}", enc(&id)),
            &json!({"note": note}),
        )
        .await
    {
        Ok(_) => Ok(done(
            "/certificates/requests",
            if decision == "approve" {
                "cert-issued"
            } else {
                "cert-request-rejected"
            },
        )),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `POST /certificates/{fingerprint}/renew`: on to the new certificate's page.
pub async fn renew(v: Viewer, Path(fp): Path<String>, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let days: Value = f
        .get("days")
        .parse::<u32>()
        .map_or(Value::Null, |d| json!(d));
    match w
        .send(
            Method::POST,
            &format!("/api/v1/org/certificates/{}/renew", enc(&fp)),
            &json!({"days": days}),
        )
        .await
    {
        Ok(c) => Ok(done(
            &format!(
                "/certificates/{}",
                enc(c["fingerprint"].as_str().unwrap_or_default())
            ),
            "cert-renewed",
        )),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `GET /certificates/trust-roots`: the org's own CA and the external roots it imported, an
/// import form, and a check of any certificate against them.
pub async fn trust_roots(v: Viewer, Query(q): Query<Done>) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let roots = v.get("/api/v1/org/trust-roots").await?;
    let items = roots["items"].as_array().cloned().unwrap_or_default();
    let manage = v.may(a::TRUST_ROOT_MANAGE);
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        p.lead { (l.t("trust-roots-intro")) }
        section.card {
            table {
                thead { tr {
                    th scope="col" { (l.t("subject")) } th scope="col" { (l.t("kind")) } th scope="col" { (l.t("expires")) }
                    th scope="col" { (l.t("fingerprint")) } th scope="col" {}
                } }
                tbody { @for r in &items {
                    @let fp = r["fingerprint"].as_str().unwrap_or_default();
                    tr {
                        td { (text(&r["subject"])) }
                        td { (l.t(&format!("root-kind-{}", r["kind"].as_str().unwrap_or("external")))) }
                        td { (time(r["not_after"].as_i64().unwrap_or_default())) }
                        td { (short(fp)) }
                        td { @if manage && r["kind"] == "external" {
                            (confirm_button(&v, &format!("/certificates/trust-roots/{}/remove", enc(fp)), &l.t("remove"), &l.t("confirm-remove-root"), true))
                        } }
                    }
                } }
            }
            p.hint { (l.t("trust-roots-chains-hint")) }
        }
        @if manage {
            section.card {
                h2 { (l.t("import-root")) }
                form method="post" action="/certificates/trust-roots" {
                    (csrf(&v))
                    div.field {
                        label for="tr-pem" { (l.t("root-pem")) }
                        textarea #tr-pem name="certificate" rows="8" required aria-describedby="tr-pem-hint" {}
                        p.hint #tr-pem-hint { (l.t("root-pem-hint")) }
                    }
                    button.primary type="submit" { (l.t("import-root")) }
                }
            }
        }
        section.card {
            h2 { (l.t("verify-cert")) }
            form method="post" action="/certificates/verify" {
                (csrf(&v))
                div.field {
                    label for="vc-pem" { (l.t("cert-pem")) }
                    textarea #vc-pem name="certificate" rows="8" required {}
                }
                button.secondary type="submit" { (l.t("verify")) }
            }
        }
    };
    Ok(layout::page(
        &v,
        &l.t("trust-roots"),
        Nav::Certificates,
        body,
    ))
}

/// `POST /certificates/trust-roots`.
pub async fn import_root(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    match w
        .send(
            Method::POST,
            "/api/v1/org/trust-roots",
            &json!({"certificate": f.get("certificate")}),
        )
        .await
    {
        Ok(_) => Ok(done("/certificates/trust-roots", "root-imported")),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `POST /certificates/trust-roots/{fingerprint}/remove`.
pub async fn remove_root(
    v: Viewer,
    Path(fp): Path<String>,
    form: Form,
) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    match w
        .send(
            Method::DELETE,
            &format!("/api/v1/org/trust-roots/{}", enc(&fp)),
            &json!({}),
        )
        .await
    {
        Ok(_) => Ok(done("/certificates/trust-roots", "root-removed")),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `POST /certificates/verify`: the answer on a page of its own.
pub async fn verify(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let r = match w
        .send(
            Method::POST,
            "/api/v1/org/certificates/verify",
            &json!({"certificate": f.get("certificate")}),
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return Err(refused(&v, &e)),
    };
    let body = html! {
        section.card {
            @if r["valid"] == true {
                div.notice.good role="status" { (l.t("cert-verifies")) }
            } @else {
                div.notice.bad role="status" { (l.t("cert-does-not-verify")) " " code { (text(&r["reason"])) } }
            }
            dl.facts {
                dt { (l.t("subject")) } dd { (text(&r["subject"])) }
                dt { (l.t("fingerprint")) } dd { code.hash { (text(&r["fingerprint"])) } }
                dt { (l.t("expires")) } dd { (text(&r["not_after"])) }
                @if r["valid"] == true {
                    dt { (l.t("root")) } dd { (l.t(&format!("root-kind-{}", r["root_kind"].as_str().unwrap_or("platform")))) " " code { (short(r["root"].as_str().unwrap_or_default())) } }
                    dt { (l.t("role")) } dd { (text(&r["role"])) }
                } @else {
                    dt { (l.t("reason")) } dd { (text(&r["message"])) }
                }
            }
            p { a href="/certificates/trust-roots" { (l.t("trust-roots")) } }
        }
    };
    Ok(layout::page(
        &v,
        &l.t("verify-cert"),
        Nav::Certificates,
        body,
    ))
}
