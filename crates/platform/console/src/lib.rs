//! The Covenant web console and blockchain explorer.
//!
//! Pages are rendered on the server from compile-time checked templates (maud), with strings
//! from Project Fluent catalogues in English and Simplified Chinese, charts drawn as SVG, and a
//! little script of our own (time zones, live explorer tables, confirmations, table sorting)
//! served from the binary: no front-end toolchain, nothing fetched from the internet.
//!
//! The console holds no state and no authority of its own: every page reads the platform's
//! REST API in process ([`gateway`]) with the visitor's session, and every form changes
//! through it with the form's CSRF token. What an account may see and do is exactly what the
//! API lets it, and each change is audited like any API call.

#![forbid(unsafe_code)]
// Handlers answer `Result<Response, Response>` (a page or the page explaining a refusal), the
// usual axum shape; a response is large, and boxing it would buy nothing here.
#![allow(clippy::result_large_err)]

pub mod chart;
pub mod gateway;
pub mod i18n;
pub mod layout;
pub mod pages;
pub mod viewer;

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use covenant_platform::Platform;
use tower::ServiceExt;

use crate::gateway::Gateway;

/// What every console handler shares.
#[derive(Clone)]
pub struct Console {
    pub gateway: Gateway,
    pub name: String,
}

const CSS: &str = include_str!("../static/console.css");
const JS: &str = include_str!("../static/console.js");

/// The platform's whole web face: the console's pages, its static files, and the API (which
/// also answers every path the console does not have under `/api`, `/healthz` and `/metrics`).
pub fn app(p: Platform) -> Router {
    let api = covenant_platform::api::router(p.clone());
    let console = Console {
        gateway: Gateway::new(api.clone()),
        name: p.config().name.clone(),
    };
    pages::routes()
        .route(
            "/static/console.css",
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/static/console.js",
            get(|| async { asset(JS, "text/javascript; charset=utf-8") }),
        )
        .route("/preferences/language", post(pages::account::set_language))
        .fallback(fallback)
        .with_state(console)
        .layer(axum::Extension(ApiRouter(api)))
}

#[derive(Clone)]
struct ApiRouter(Router);

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The API's paths go to the API (its own JSON errors included); anything else is the
/// console's "no such page".
async fn fallback(
    State(c): State<Console>,
    axum::Extension(ApiRouter(api)): axum::Extension<ApiRouter>,
    req: Request,
) -> Response {
    let path = req.uri().path();
    if path == "/api" || path.starts_with("/api/") || path == "/healthz" || path == "/metrics" {
        return match api.oneshot(req.map(Body::new)).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
    }
    let (mut parts, _) = req.into_parts();
    match <viewer::Viewer as axum::extract::FromRequestParts<Console>>::from_request_parts(
        &mut parts, &c,
    )
    .await
    {
        Ok(v) => layout::not_found(&v),
        Err(r) => r,
    }
}
