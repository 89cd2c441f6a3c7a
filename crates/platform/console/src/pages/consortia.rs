//! Consortia: mine, creating one, its members and invitations, inviting an org (a proposal the
//! members vote on), leaving; and the invitations to my org, to accept or decline.

use axum::{
    extract::{Path, Query, rejection::FormRejection},
    http::{Method, StatusCode},
    response::Response,
};
use covenant_platform::action as a;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Done, Fields, done, refused};
use crate::{
    gateway::{ApiError, enc},
    layout::{self, Nav, badge, confirm_button, csrf, empty, field_error, text, time},
    viewer::Viewer,
};

type Form = Result<axum::Form<Vec<(String, String)>>, FormRejection>;

fn create_form(v: &Viewer, name: &str, description: &str, error: Option<&ApiError>) -> Markup {
    let l = v.lang;
    let name_error = error.map(|e| e.message.clone());
    html! {
        section.card {
            h2 { (l.t("create-consortium")) }
            p.hint { (l.t("create-consortium-hint")) }
            form method="post" action="/consortia" {
                (csrf(v))
                div.field {
                    label for="c-name" { (l.t("name")) }
                    input #c-name name="name" type="text" required maxlength="64" value=(name)
                        aria-invalid=[name_error.as_ref().map(|_| "true")]
                        aria-describedby=[name_error.as_ref().map(|_| "c-name-error")];
                    (field_error("c-name", name_error.as_deref()))
                }
                div.field {
                    label for="c-desc" { (l.t("description")) span.hint { " " (l.t("optional")) } }
                    textarea #c-desc name="description" rows="2" maxlength="500" { (description) }
                }
                div.field.check {
                    input #c-verified name="require_verified" type="checkbox" value="true";
                    label for="c-verified" { (l.t("require-verified")) }
                }
                button.primary type="submit" { (l.t("create")) }
            }
        }
    }
}

async fn list_page(
    v: &Viewer,
    q: &Done,
    form: Option<Markup>,
    status: StatusCode,
) -> Result<Response, Response> {
    v.me()?;
    let l = v.lang;
    let list = v.get("/api/v1/consortia?limit=200").await?;
    let invitations = if v.may(a::INVITATION_RESPOND) {
        v.try_get("/api/v1/invitations?state=pending&limit=200")
            .await
            .ok()
    } else {
        None
    };
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        p.lead { (l.t("consortia-intro")) }
        @if let Some(inv) = &invitations {
            @let pending = inv["items"].as_array().cloned().unwrap_or_default();
            @if !pending.is_empty() {
                section.card.attention {
                    h2 { (l.t("invitations-to-us")) }
                    table {
                        thead { tr { th scope="col" { (l.t("nav-consortia")) } th scope="col" { (l.t("message")) } th scope="col" { (l.t("received")) } th scope="col" { span.sr-only { (l.t("actions")) } } } }
                        tbody { @for i in &pending {
                            @let id = i["id"].as_str().unwrap_or_default();
                            tr {
                                td { (text(&i["consortium_name"])) }
                                td { (text(&i["message"])) }
                                td { (time(i["created_at"].as_i64().unwrap_or_default())) }
                                td.actions {
                                    form.inline method="post" action={"/invitations/" (enc(id)) "/accept"} { (csrf(v)) button.primary type="submit" { (l.t("accept")) } }
                                    " "
                                    (confirm_button(v, &format!("/invitations/{}/decline", enc(id)), &l.t("decline"), &l.t("confirm-decline"), true))
                                }
                            }
                        } }
                    }
                }
            }
        }
        section.card {
            h2 { (l.t("our-consortia")) }
            @if items.is_empty() {
                (empty(l, "empty-consortia", None))
            } @else {
                table.sortable {
                    thead { tr { th scope="col" { (l.t("name")) } th scope="col" { (l.t("members")) } th scope="col" { (l.t("founder")) } th scope="col" { (l.t("created")) } } }
                    tbody { @for c in &items {
                        tr {
                            td { a href={"/consortia/" (enc(c["id"].as_str().unwrap_or_default()))} { (text(&c["name"])) } }
                            td { (c["members"].as_array().map_or(0, Vec::len)) }
                            td { (text(&c["founder_org"])) }
                            td data-sort=(c["created_at"].as_i64().unwrap_or_default()) { (time(c["created_at"].as_i64().unwrap_or_default())) }
                        }
                    } }
                }
                (layout::pager(l, "/consortia", &list["next"]))
            }
        }
        @if v.may(a::CONSORTIUM_CREATE) {
            @if let Some(f) = form { (f) } @else { (create_form(v, "", "", None)) }
        }
    };
    Ok(layout::page_with_status(
        v,
        status,
        &l.t("nav-consortia"),
        Nav::Consortia,
        body,
    ))
}

/// `GET /consortia`.
pub async fn list(v: Viewer, Query(q): Query<Done>) -> Result<Response, Response> {
    list_page(&v, &q, None, StatusCode::OK).await
}

/// `POST /consortia`.
pub async fn create(v: Viewer, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let body = json!({
        "name": f.get("name"),
        "description": f.get("description"),
        "require_verified": f.get("require_verified") == "true",
    });
    if f.get("name").is_empty() {
        let e = ApiError::console(400, "INVALID_ARGUMENT", v.lang.t("field-required"));
        let form = create_form(&v, "", f.get("description"), Some(&e));
        return list_page(&v, &Done::default(), Some(form), StatusCode::BAD_REQUEST).await;
    }
    match w.send(Method::POST, "/api/v1/consortia", &body).await {
        Ok(c) => Ok(done(
            &format!("/consortia/{}", enc(c["id"].as_str().unwrap_or_default())),
            "consortium-created",
        )),
        Err(e) if e.status == 400 || e.status == 409 => {
            let form = create_form(&v, f.get("name"), f.get("description"), Some(&e));
            list_page(
                &v,
                &Done::default(),
                Some(form),
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            )
            .await
        }
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `GET /consortia/{id}`.
pub async fn show(
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, Response> {
    let me = v.me()?.clone();
    let l = v.lang;
    let c = v.get(&format!("/api/v1/consortia/{}", enc(&id))).await?;
    let invitations = v
        .try_get(&format!(
            "/api/v1/consortia/{}/invitations?limit=200",
            enc(&id)
        ))
        .await
        .ok();
    let orgs = if v.may(a::CONSORTIUM_INVITE) {
        v.try_get("/api/v1/orgs?limit=200").await.ok()
    } else {
        None
    };
    let members: Vec<Value> = c["members"].as_array().cloned().unwrap_or_default();
    let member_ids: Vec<&str> = members
        .iter()
        .filter_map(|m| m["org_id"].as_str())
        .collect();
    let candidates: Vec<Value> = orgs
        .as_ref()
        .and_then(|o| o["items"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|o| !member_ids.contains(&o["id"].as_str().unwrap_or_default()))
        .collect();
    let name = text(&c["name"]);
    let body = html! {
        (layout::notice(l, q.done.as_deref()))
        @if !text(&c["description"]).is_empty() { p.lead { (text(&c["description"])) } }
        div.grid {
            section.card {
                h2 { (l.t("members")) }
                table.sortable {
                    thead { tr { th scope="col" { (l.t("org")) } th scope="col" { (l.t("org-id")) } th scope="col" { (l.t("joined")) } } }
                    tbody { @for m in &members {
                        tr {
                            td { (text(&m["name"])) @if m["org_id"] == c["founder_org"] { " " span.badge.neutral { (l.t("founder")) } } @if m["org_id"].as_str() == Some(me.org_id()) { " " span.badge.good { (l.t("you")) } } }
                            td { code { (text(&m["org_id"])) } }
                            td { (time(m["joined_at"].as_i64().unwrap_or_default())) }
                        }
                    } }
                }
            }
            @if let Some(inv) = &invitations {
                @let list = inv["items"].as_array().cloned().unwrap_or_default();
                section.card {
                    h2 { (l.t("invitations")) }
                    @if list.is_empty() { (empty(l, "empty-invitations", None)) } @else {
                        table {
                            thead { tr { th scope="col" { (l.t("org-id")) } th scope="col" { (l.t("state")) } th scope="col" { (l.t("proposal")) } th scope="col" { (l.t("created")) } } }
                            tbody { @for i in &list {
                                tr {
                                    td { code { (text(&i["org_id"])) } }
                                    td { (badge(l, i["state"].as_str().unwrap_or_default())) }
                                    td { @if let Some(p) = i["proposal_id"].as_str() { a href={"/proposals/" (enc(p))} { (l.t("view-vote")) } } }
                                    td { (time(i["created_at"].as_i64().unwrap_or_default())) }
                                }
                            } }
                        }
                    }
                }
            }
        }
        @if v.may(a::CONSORTIUM_INVITE) {
            section.card {
                h2 { (l.t("invite-org")) }
                p.hint { (l.t("invite-hint")) }
                @if candidates.is_empty() { (empty(l, "empty-candidates", None)) } @else {
                    form method="post" action={"/consortia/" (enc(&id)) "/invite"} {
                        (csrf(&v))
                        div.field {
                            label for="inv-org" { (l.t("org")) }
                            select #inv-org name="org_id" required {
                                @for o in &candidates {
                                    option value=(text(&o["id"])) { (text(&o["name"])) " (" (text(&o["id"])) ")" @if o["verified"] == true { " ✓" } }
                                }
                            }
                        }
                        div.field {
                            label for="inv-msg" { (l.t("message")) span.hint { " " (l.t("optional")) } }
                            input #inv-msg name="message" type="text" maxlength="500";
                        }
                        button.primary type="submit" { (l.t("propose-invitation")) }
                    }
                }
            }
        }
        @if v.may(a::NETWORK_CREATE) {
            (super::proposals::network_form(&v, &id, &members))
        }
        @if v.may(a::CONSORTIUM_LEAVE) {
            section.card.danger-zone {
                h2 { (l.t("leave-consortium")) }
                p.hint { (l.t("leave-hint")) }
                (confirm_button(&v, &format!("/consortia/{}/leave", enc(&id)), &l.t("leave-consortium"), &l.ta("confirm-leave", &[("name", name.clone().into())]), true))
            }
        }
    };
    Ok(layout::page(&v, &name, Nav::Consortia, body))
}

/// `POST /consortia/{id}/invite`.
pub async fn invite(v: Viewer, Path(id): Path<String>, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    let body = json!({"org_id": f.get("org_id"), "message": f.get("message")});
    match w
        .send(
            Method::POST,
            &format!("/api/v1/consortia/{}/invitations", enc(&id)),
            &body,
        )
        .await
    {
        Ok(p) => Ok(done(
            &format!("/proposals/{}", enc(p["id"].as_str().unwrap_or_default())),
            "invitation-proposed",
        )),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `POST /consortia/{id}/leave`.
pub async fn leave(v: Viewer, Path(id): Path<String>, form: Form) -> Result<Response, Response> {
    v.me()?;
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    match w
        .send(
            Method::POST,
            &format!("/api/v1/consortia/{}/leave", enc(&id)),
            &json!({}),
        )
        .await
    {
        Ok(_) => Ok(done("/consortia", "left")),
        Err(e) => Err(refused(&v, &e)),
    }
}

/// `POST /invitations/{id}/accept|decline`.
pub async fn respond(
    v: Viewer,
    Path((id, answer)): Path<(String, String)>,
    form: Form,
) -> Result<Response, Response> {
    v.me()?;
    if answer != "accept" && answer != "decline" {
        return Err(layout::not_found(&v));
    }
    let f = Fields::from(form);
    let w = v.with_csrf(f.csrf());
    match w
        .send(
            Method::POST,
            &format!("/api/v1/invitations/{}/{answer}", enc(&id)),
            &json!({}),
        )
        .await
    {
        Ok(i) => {
            if answer == "accept" {
                Ok(done(
                    &format!(
                        "/consortia/{}",
                        enc(i["consortium_id"].as_str().unwrap_or_default())
                    ),
                    "invitation-accepted",
                ))
            } else {
                Ok(done("/consortia", "invitation-declined"))
            }
        }
        Err(e) => Err(refused(&v, &e)),
    }
}
