//! A platform in this process on a free port, on SQLite or a throwaway PostgreSQL database,
//! and a small HTTP client for its API.

use std::time::Duration;

use covenant_platform::{Config, Platform, vault::Vault};
use covenant_test_utils::postgres::{self, Database};
use serde_json::{Value, json};
use tokio::sync::watch;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Run a test body on both databases: `both!(name);` makes `name::sqlite` and
/// `name::postgres` from `async fn name(b: Backend)`.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::harness::Backend::Postgres).await
            }
        }
    };
}

pub const PASSWORD: &str = "correct horse battery staple";

/// A running platform.
pub struct TestPlatform {
    pub base: String,
    pub p: Platform,
    pub dir: tempfile::TempDir,
    _db: Option<Database>,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestPlatform {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.server.abort();
    }
}

/// Start a platform; `None` when PostgreSQL is left out on this machine. Alert channels may
/// point at loopback (the tests' receivers listen there).
pub async fn start(b: Backend) -> Option<TestPlatform> {
    start_with(b, true).await
}

/// Start a platform, choosing whether alert channels may point at internal addresses.
pub async fn start_with(b: Backend, private_alert_targets: bool) -> Option<TestPlatform> {
    let dir = tempfile::tempdir().unwrap();
    let db = match b {
        Backend::Sqlite => None,
        Backend::Postgres => Some(postgres::throwaway()?),
    };
    let config = Config {
        dir: dir.path().to_path_buf(),
        database_url: db.as_ref().map(|d| d.url.clone()),
        open_registration: true,
        node_exe: "covenant".into(),
        node_base_port: 20000,
        name: "Covenant test".into(),
        anchor: None,
        private_alert_targets,
        node_host: "127.0.0.1".into(),
    };
    let vault = Vault::from_hex(&"5a".repeat(32)).unwrap();
    let p = Platform::open(config, vault).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = watch::channel(false);
    let p2 = p.clone();
    let server = tokio::spawn(async move {
        covenant_platform::server::serve(p2, listener, rx)
            .await
            .unwrap();
    });
    Some(TestPlatform {
        base,
        p,
        dir,
        _db: db,
        stop,
        server,
    })
}

/// A client of the API.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    http: reqwest::Client,
    pub token: Option<String>,
    /// Session cookie and CSRF token.
    pub session: Option<(String, String)>,
}

/// An answer: status and JSON body (Null if none).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {} {}",
            self.status,
            self.body
        );
        self.body
    }

    #[track_caller]
    pub fn refused(self, status: u16, code: &str) -> Value {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected answer: {}",
            self.body
        );
        self.body
    }
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            token: None,
            session: None,
        }
    }

    pub fn with_token(&self, token: &str) -> Api {
        let mut a = self.clone();
        a.token = Some(token.to_string());
        a.session = None;
        a
    }

    /// Send a raw request.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        if let Some((cookie, csrf)) = &self.session {
            r = r
                .header("cookie", format!("covenant_session={cookie}"))
                .header("x-csrf-token", csrf);
        }
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(body.to_string().into_bytes()), &[])
            .await
    }

    pub async fn call(&self, method: &str, path: &str, body: Value) -> Answer {
        self.send(method, path, Some(body.to_string().into_bytes()), &[])
            .await
    }

    /// Sign in with a password; keeps the session.
    pub async fn login(&self, username: &str, password: &str) -> Api {
        let r = self
            .post(
                "/api/v1/auth/login",
                json!({"username": username, "password": password}),
            )
            .await;
        let cookie = r
            .headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.split_once('='))
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        let body = r.ok();
        let mut a = self.clone();
        a.token = None;
        a.session = Some((cookie, body["csrf_token"].as_str().unwrap().to_string()));
        a
    }
}

/// An org registered through the API, with its root signed in through an API token.
#[derive(Clone)]
pub struct Org {
    pub id: String,
    pub root: Api,
    pub root_account: String,
}

impl TestPlatform {
    pub fn api(&self) -> Api {
        Api::new(&self.base)
    }

    /// Register org `id` (admin key kept by the platform unless `offline`).
    pub async fn org_with(&self, id: &str, offline: bool) -> Org {
        let reg = self
            .api()
            .post(
                "/api/v1/orgs",
                json!({
                    "id": id, "name": format!("Org {id}"), "root_username": format!("{id}-root"),
                    "root_password": PASSWORD, "admin_key": if offline { "offline" } else { "platform" }
                }),
            )
            .await
            .ok();
        let session = self.api().login(&format!("{id}-root"), PASSWORD).await;
        let token = session
            .post(
                "/api/v1/me/tokens",
                json!({"name": "tests", "scopes": ["*"], "days": 1}),
            )
            .await
            .ok();
        Org {
            id: id.to_string(),
            root: self.api().with_token(token["token"].as_str().unwrap()),
            root_account: reg["root_account"]["id"].as_str().unwrap().to_string(),
        }
    }

    pub async fn org(&self, id: &str) -> Org {
        self.org_with(id, false).await
    }

    /// A sub-account of `org` holding `actions`, signed in through a token.
    pub async fn sub_account(&self, org: &Org, name: &str, actions: &[&str]) -> (Api, String) {
        let acc = org
            .root
            .post(
                "/api/v1/accounts",
                json!({"username": name, "password": PASSWORD}),
            )
            .await
            .ok();
        let id = acc["id"].as_str().unwrap().to_string();
        if !actions.is_empty() {
            org.root
                .call(
                    "PUT",
                    &format!("/api/v1/accounts/{id}/permissions"),
                    json!({"actions": actions}),
                )
                .await
                .ok();
        }
        let session = self.api().login(name, PASSWORD).await;
        let scopes: Vec<&str> = if actions.is_empty() {
            vec!["event.read"]
        } else {
            actions.to_vec()
        };
        let t = session
            .post(
                "/api/v1/me/tokens",
                json!({"name": "t", "scopes": ["*"], "days": 1}),
            )
            .await;
        let _ = scopes;
        let t = t.ok();
        (self.api().with_token(t["token"].as_str().unwrap()), id)
    }
}
