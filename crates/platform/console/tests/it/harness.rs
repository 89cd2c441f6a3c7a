//! A platform with the console in this process on a free port (SQLite, or a throwaway
//! PostgreSQL database), two registered orgs, and a small browser: cookies, forms, no
//! automatic redirects.

use std::collections::BTreeMap;

use covenant_platform::{Config, Platform, vault::Vault};

use covenant_test_utils::postgres::{self, Database};
use serde_json::json;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestPlatform {
    pub base: String,
    /// The platform itself, for what a test sets up underneath the pages (an expired network).
    pub platform: Platform,
    _dir: tempfile::TempDir,
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

/// A platform serving the console, with orgs `bank-a` (root `bank-root`) and `port-b`
/// (root `port-root`); `None` when PostgreSQL is left out on this machine.
pub async fn start(b: Backend) -> Option<TestPlatform> {
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
        private_alert_targets: true,
        node_host: "127.0.0.1".into(),
    };
    let vault = Vault::from_hex(&"5a".repeat(32)).unwrap();
    let p = Platform::open(config, vault).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = watch::channel(false);
    let p2 = p.clone();
    let server = tokio::spawn(async move {
        let app = covenant_console::app(p2.clone());
        covenant_platform::server::serve_app(p2, listener, rx, app)
            .await
            .unwrap();
    });
    let http = reqwest::Client::new();
    for (id, name, user) in [
        ("bank-a", "Bank A", "bank-root"),
        ("port-b", "Port B", "port-root"),
    ] {
        let r = http
            .post(format!("{base}/api/v1/orgs"))
            .json(
                &json!({"id": id, "name": name, "root_username": user, "root_password": PASSWORD}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    }
    Some(TestPlatform {
        base,
        platform: p,
        _dir: dir,
        _db: db,
        stop,
        server,
    })
}

/// What a page answered.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.header("location")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// A browser of the console: keeps cookies, sends forms, follows nothing by itself.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
    pub accept_language: Option<String>,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            accept_language: None,
        }
    }

    async fn send(&mut self, rb: reqwest::RequestBuilder) -> Page {
        let mut rb = rb;
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            rb = rb.header("cookie", c.join("; "));
        }
        if let Some(l) = &self.accept_language {
            rb = rb.header("accept-language", l);
        }
        let r = rb.send().await.unwrap();
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        Page {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let rb = self.http.get(format!("{}{path}", self.base));
        self.send(rb).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    covenant_console::gateway::enc(k),
                    covenant_console::gateway::enc(v)
                )
            })
            .collect();
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"));
        self.send(rb).await
    }

    /// A body of any content type.
    pub async fn post_raw(&mut self, path: &str, content_type: &str, body: String) -> Page {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        self.send(rb).await
    }

    /// Open the sign-in form (for its token) and send it.
    pub async fn sign_in(&mut self, username: &str, password: &str, next: &str) -> Page {
        let form = self.get("/login").await;
        let token = between(&form.body, "name=\"login_token\" value=\"", "\"");
        self.post(
            "/login",
            &[
                ("login_token", &token),
                ("username", username),
                ("password", password),
                ("next", next),
            ],
        )
        .await
    }

    /// The CSRF token the pages put in forms.
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/account").await;
        between(&page.body, "name=\"csrf\" value=\"", "\"")
    }
}

/// The text between `start` and the next `end`.
pub fn between(text: &str, start: &str, end: &str) -> String {
    text.split(start)
        .nth(1)
        .and_then(|s| s.split(end).next())
        .unwrap_or_default()
        .to_string()
}
