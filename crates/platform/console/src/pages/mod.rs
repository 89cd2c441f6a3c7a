//! The console's pages, one module per section of the navigation.

pub mod account;
pub mod audit;
pub mod auth;
pub mod certificates;
pub mod consortia;
pub mod editor;
pub mod events;
pub mod explorer;
pub mod monitoring;
pub mod networks;
pub mod overview;
pub mod proposals;

use axum::{
    Router,
    extract::rejection::FormRejection,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};

use crate::{Console, gateway::ApiError, layout, viewer::Viewer};

/// Every page and form of the console.
pub fn routes() -> Router<Console> {
    Router::new()
        .route("/", get(overview::show))
        .route("/login", get(auth::form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/account", get(account::show))
        .route("/account/password", post(account::password))
        .route("/account/preferences", post(account::preferences))
        .route("/account/totp", post(account::totp_begin))
        .route("/account/totp/enable", post(account::totp_enable))
        .route("/account/tokens", post(account::token_create))
        .route("/account/tokens/{id}/revoke", post(account::token_revoke))
        .route(
            "/accounts",
            get(account::accounts).post(account::account_create),
        )
        .route("/accounts/{id}", get(account::account_show))
        .route("/accounts/{id}/permissions", post(account::account_grant))
        .route("/consortia", get(consortia::list).post(consortia::create))
        .route("/consortia/{id}", get(consortia::show))
        .route("/consortia/{id}/invite", post(consortia::invite))
        .route("/consortia/{id}/leave", post(consortia::leave))
        .route("/invitations/{id}/{answer}", post(consortia::respond))
        .route("/events", get(events::list))
        .route("/events/read-all", post(events::read_all))
        .route("/proposals/{id}", get(events::proposal))
        .route("/proposals/{id}/vote", post(events::vote))
        .route(
            "/proposals/{id}/signing-request",
            get(events::signing_request),
        )
        .route("/proposals/{id}/signature", post(events::signature))
        .route("/networks", get(networks::list))
        .route("/networks/{id}", get(networks::network))
        .route("/chains/{id}", get(networks::chain))
        .route("/explorer", get(explorer::index))
        .route("/explorer/{chain}", get(explorer::chain))
        .route("/explorer/{chain}/live", get(explorer::live))
        .route("/explorer/{chain}/blocks", get(explorer::blocks))
        .route("/explorer/{chain}/blocks/{at}", get(explorer::block))
        .route("/explorer/{chain}/txs/{id}", get(explorer::tx))
        .route(
            "/explorer/{chain}/contracts/{name}",
            get(explorer::contract),
        )
        .route("/explorer/{chain}/search", get(explorer::search))
        .route("/audit", get(audit::list))
        .route("/certificates", get(certificates::list))
        .route(
            "/certificates/requests",
            get(certificates::requests).post(certificates::request),
        )
        .route(
            "/certificates/requests/{id}/{decision}",
            post(certificates::decide),
        )
        .route(
            "/certificates/trust-roots",
            get(certificates::trust_roots).post(certificates::import_root),
        )
        .route(
            "/certificates/trust-roots/{fp}/remove",
            post(certificates::remove_root),
        )
        .route("/certificates/verify", post(certificates::verify))
        .route("/certificates/{fp}", get(certificates::show))
        .route("/certificates/{fp}/revoke", post(certificates::revoke))
        .route("/certificates/{fp}/renew", post(certificates::renew))
        .route("/revocations/{id}/retry", post(certificates::retry))
        .route("/monitoring", get(monitoring::show))
        .route("/monitoring/rules", post(monitoring::create_rule))
        .route("/monitoring/channels", post(monitoring::create_channel))
        .route("/monitoring/{what}/{id}/{action}", post(monitoring::act))
        .route("/nodes/{id}", get(networks::node))
        .route("/nodes/{id}/settings", post(networks::settings))
        .route("/nodes/{id}/{action}", post(networks::control))
        .route("/propose", post(proposals::propose_simple))
        .route(
            "/explorer/{chain}/contracts/{name}/call",
            post(explorer::call),
        )
        .route("/consortia/{id}/networks", post(proposals::propose_network))
        .route("/networks/{id}/chains", post(proposals::propose_chain))
        .route("/networks/{id}/nodes", post(networks::add_node))
        .route("/networks/{id}/{action}", post(networks::recycle_action))
        .route(
            "/chains/{id}/contracts",
            post(proposals::propose_contract).layer(axum::extract::DefaultBodyLimit::max(
                proposals::MAX_MODULE_BYTES + 64 * 1024,
            )),
        )
        .route(
            "/chains/{id}/contracts/source",
            get(editor::page)
                .post(editor::submit)
                .layer(axum::extract::DefaultBodyLimit::max(
                    2 * proposals::MAX_MODULE_BYTES,
                )),
        )
        .route(
            "/chains/{id}/contracts/{name}/{action}",
            post(proposals::propose_contract_action),
        )
        .route("/operations/{id}", get(proposals::operation))
        .route("/operations/{id}/live", get(proposals::operation_live))
}

/// The fields of a submitted form.
#[derive(Debug, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// Read a form body; a malformed one is an empty form (its checks then say what is
    /// missing).
    pub fn from(form: Result<axum::Form<Vec<(String, String)>>, FormRejection>) -> Fields {
        match form {
            Ok(axum::Form(f)) => Fields(f),
            Err(e) => {
                tracing::debug!(error = %e, "a form could not be read");
                Fields::default()
            }
        }
    }

    /// The first value of `name`, trimmed (`""` when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The CSRF token the form carried.
    pub fn csrf(&self) -> Option<&str> {
        Some(self.get("csrf")).filter(|s| !s.is_empty())
    }
}

/// A path inside the console to go back to (never another site).
pub fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

/// After a change: back to `to` with a notice.
pub fn done(to: &str, what: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{}{sep}done={what}", local_path(to))).into_response()
}

/// A refused change shown on its own page (forms that have no page of their own to return to).
pub fn refused(v: &Viewer, e: &ApiError) -> Response {
    layout::error_page(v, e)
}

/// The `done` notice of a page's query.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    pub done: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/consortia"), "/consortia");
        assert_eq!(local_path("//evil.example"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
        assert_eq!(local_path("https://evil.example"), "/");
        assert_eq!(local_path(""), "/");
    }
}
