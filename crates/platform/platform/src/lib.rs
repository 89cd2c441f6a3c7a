//! The Covenant platform: the control plane organisations sign in to.
//!
//! It keeps accounts, orgs and their CAs, consortia, the event centre with one proposal engine
//! for every governed action, networks and chains it deployed, long operations and an
//! append-only, hash-chained audit log in a SQL database ([`db`]: SQLite by default,
//! PostgreSQL by URL), and serves them as REST/JSON under `/api/v1` ([`api`]).
//!
//! The platform is not trusted by the chains it builds: a vote is an org admin's signature,
//! and a proposal that changes a chain is executed as the chain's own multi-signed `sys.*`
//! transaction built from those signatures, which every node checks against the chain's
//! policy. It talks to nodes only through their public API (the client SDK).

#![forbid(unsafe_code)]

pub mod account;
pub mod action;
pub mod anchor;
pub mod api;
pub mod audit;
pub mod auth;
pub mod bundle;
pub mod ca;
pub mod certificate;
pub mod consortium;
pub mod contract;
pub mod contract_source;
pub mod db;
pub mod error;
pub mod event;
pub mod explorer;
pub mod invoke;
pub mod local;
pub mod migrations;
pub mod monitor;
pub mod network;
pub mod node_settings;
pub mod operation;
pub mod org;
pub mod proposal;
pub mod recycle;
pub mod server;
pub mod telemetry;
pub mod time;
pub mod vault;

use std::{path::PathBuf, sync::Arc};

use tokio::sync::broadcast;

pub use error::{Error, Result};

/// How a platform runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the platform keeps its files (the SQLite database by default, deployed nodes).
    pub dir: PathBuf,
    /// `sqlite:PATH` or `postgres://…`; `None` for `DIR/platform.db`.
    pub database_url: Option<String>,
    /// Whether anyone may register an org through the API (else only `covenant platform org
    /// create` on the platform's machine).
    pub open_registration: bool,
    /// The `covenant` executable nodes run as.
    pub node_exe: PathBuf,
    /// First port for deployed nodes (each takes three).
    pub node_base_port: u16,
    /// The name shown in authenticator apps and pages.
    pub name: String,
    /// Anchor the audit log's head on a chain.
    pub anchor: Option<audit::AnchorConfig>,
    /// Whether alert channels may point at loopback, private or internal addresses (off: an
    /// org could otherwise make the platform reach services on the platform's own network).
    pub private_alert_targets: bool,
    /// The address the nodes the platform runs listen on and are reached at (their peers on
    /// other machines must reach it): `127.0.0.1` for a platform whose members all use it.
    pub node_host: String,
}

impl Config {
    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.dir.join("platform.db").display()))
    }
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) db: db::Db,
    pub(crate) vault: vault::Vault,
    pub(crate) events: broadcast::Sender<event::Notice>,
    pub(crate) deploy_lock: tokio::sync::Mutex<()>,
    pub(crate) operations: tokio::sync::Notify,
    pub(crate) requests: telemetry::Requests,
    /// For polling the nodes' status and metrics: one pool, and short timeouts so a stopped
    /// or paused node delays a poll by seconds, not minutes.
    pub(crate) poll_http: reqwest::Client,
}

/// A running platform's state; cheap to clone.
#[derive(Clone)]
pub struct Platform {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("dir", &self.inner.config.dir)
            .field("backend", &self.inner.db.backend())
            .finish()
    }
}

impl Platform {
    /// Open the database (migrating it) and check the master key.
    pub async fn open(config: Config, vault: vault::Vault) -> Result<Platform> {
        std::fs::create_dir_all(&config.dir)
            .map_err(|e| Error::internal(format!("cannot create {}: {e}", config.dir.display())))?;
        let db = db::Db::open(&config.database_url()).await?;
        vault.check(&db).await?;
        let (events, _) = broadcast::channel(1024);
        let poll_http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(3))
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| Error::internal(format!("cannot set up an HTTP client: {e}")))?;
        let p = Platform {
            inner: Arc::new(Inner {
                config,
                db,
                vault,
                events,
                deploy_lock: tokio::sync::Mutex::new(()),
                operations: tokio::sync::Notify::new(),
                requests: telemetry::Requests::default(),
                poll_http,
            }),
        };
        operation::interrupted(&p).await?;
        Ok(p)
    }

    pub fn db(&self) -> &db::Db {
        &self.inner.db
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn vault(&self) -> &vault::Vault {
        &self.inner.vault
    }
}
