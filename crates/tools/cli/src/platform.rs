//! `covenant platform`: run the control plane, and the operator's commands that work on its
//! database directly (register an org when registration is closed, verify and export the
//! audit log).

use std::{
    io::Write as _,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use covenant_platform::{Config, Platform, audit, org, vault::Vault};
use serde_json::json;

use crate::{
    failure::Failure,
    output::{Format, emit},
};

#[derive(Debug, Args)]
#[command(
    about = "Run the platform (accounts, consortia, proposals, networks, chains, audit log) and its API",
    long_about = "The Covenant platform is the control plane organisations sign in to: accounts \
and permissions, consortia formed by invitation, the event centre with one proposal engine for \
every governed action, networks of nodes and chains it deploys on this machine, long operations \
and a hash-chained audit log. It keeps them in SQLite (a file in its directory, the default) or \
PostgreSQL (--db postgres://…), and serves REST/JSON under /api/v1 with an OpenAPI document and an \
interactive page at /api/docs.",
    after_help = "Examples:\n  covenant platform serve --dir platform --open-registration\n  \
covenant platform serve --db postgres://covenant:secret@127.0.0.1/covenant --listen 0.0.0.0:8080\n  \
covenant platform org create --dir platform --id bank-a --name \"Bank A\" --root-username alice\n  \
covenant platform audit verify --dir platform"
)]
pub struct PlatformCommand {
    #[command(subcommand)]
    command: PlatformSub,
}

/// Where the platform keeps its things.
#[derive(Debug, Clone, Args)]
pub struct PlatformPlace {
    /// The platform's directory (its SQLite database, master key and deployed nodes).
    #[arg(long, default_value = "platform")]
    dir: PathBuf,
    /// Database URL: sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB (default: DIR/platform.db).
    #[arg(long, env = "COVENANT_PLATFORM_DB")]
    db: Option<String>,
    /// File holding the master key (64 hex digits) that seals the keys the platform keeps;
    /// created in DIR/master.key on first start when not given (back it up).
    #[arg(long, env = "COVENANT_PLATFORM_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum PlatformSub {
    /// Serve the API until stopped (Ctrl-C or SIGTERM).
    Serve(ServeArgs),
    /// Operator commands on orgs (direct database access).
    Org {
        #[command(subcommand)]
        command: OrgSub,
    },
    /// Check and export the audit log (direct database access).
    Audit {
        #[command(subcommand)]
        command: AuditSub,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    place: PlatformPlace,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Let anyone register an org through the API (POST /api/v1/orgs).
    #[arg(long)]
    open_registration: bool,
    /// First port of the nodes the platform deploys (each takes three).
    #[arg(long, default_value_t = 7300)]
    node_base_port: u16,
    /// Anchor the audit log's head on this chain (one the platform knows), as evidence.
    #[arg(long, requires = "anchor_org")]
    anchor_chain: Option<String>,
    /// The org whose client identity (kept by the platform) submits the anchors.
    #[arg(long)]
    anchor_org: Option<String>,
    /// The evidence contract on the anchor chain (`put {hash, meta}`, `get {hash}`).
    #[arg(long, default_value = "evidence")]
    anchor_contract: String,
    /// Seconds between anchors.
    #[arg(long, default_value_t = 600)]
    anchor_interval: u64,
    /// Write the address actually listened on to this file once serving (for scripts).
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Let alert channels (webhooks, SMTP relays) point at loopback, private and internal
    /// addresses. Off by default: otherwise any org could make the platform reach services on
    /// the platform's own network.
    #[arg(long)]
    allow_private_alert_targets: bool,
    /// The address the nodes the platform deploys listen on and advertise to their peers.
    /// Keep 127.0.0.1 when every member uses this platform; give an address of this machine
    /// that other members' machines reach when some run their nodes themselves (from a
    /// bundle).
    #[arg(long, default_value = "127.0.0.1")]
    node_host: String,
}

#[derive(Debug, Subcommand)]
enum OrgSub {
    /// Register an org with its CA and root account.
    Create(OrgCreateArgs),
    /// Mark an org verified (consortia that admit verified orgs only accept it then).
    Verify {
        #[command(flatten)]
        place: PlatformPlace,
        /// The org's id.
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Args)]
struct OrgCreateArgs {
    #[command(flatten)]
    place: PlatformPlace,
    /// The org's id (its name on chains): lowercase letters, digits and '-'.
    #[arg(long)]
    id: String,
    /// The org's display name.
    #[arg(long)]
    name: String,
    /// Algorithm suite of its CA: sm or intl.
    #[arg(long, default_value = "sm")]
    suite: String,
    /// Login name of the org's root account.
    #[arg(long)]
    root_username: String,
    /// File holding the root account's password (else COVENANT_ROOT_PASSWORD).
    #[arg(long)]
    root_password_file: Option<PathBuf>,
    /// Keep no admin key in the platform: the org adds one from a CSR and signs offline.
    #[arg(long)]
    offline_admin: bool,
}

#[derive(Debug, Subcommand)]
enum AuditSub {
    /// Check the hash chain, the head and every anchor against its chain; exit 1 on a finding.
    Verify {
        #[command(flatten)]
        place: PlatformPlace,
        /// The evidence contract the anchors were put in.
        #[arg(long, default_value = "evidence")]
        anchor_contract: String,
    },
    /// Print an org's audit log as JSON Lines (entries with their hashes, then anchors).
    Export {
        #[command(flatten)]
        place: PlatformPlace,
        /// The org whose entries to export.
        #[arg(long)]
        org: String,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn vault(place: &PlatformPlace) -> Result<Vault> {
    if let Ok(hex) = std::env::var("COVENANT_PLATFORM_MASTER_KEY") {
        return Ok(Vault::from_hex(&hex)?);
    }
    let (path, create) = match &place.master_key_file {
        Some(p) => (p.clone(), false),
        None => (place.dir.join("master.key"), true),
    };
    if create {
        std::fs::create_dir_all(&place.dir)
            .with_context(|| format!("cannot create {}", place.dir.display()))?;
    }
    Ok(Vault::from_file(&path, create)?)
}

fn config(place: &PlatformPlace) -> Config {
    Config {
        dir: place.dir.clone(),
        database_url: place.db.clone(),
        open_registration: false,
        node_exe: std::env::current_exe().unwrap_or_else(|_| "covenant".into()),
        node_base_port: 7300,
        name: "Covenant".into(),
        anchor: None,
        private_alert_targets: false,
        node_host: "127.0.0.1".into(),
    }
}

async fn open(place: &PlatformPlace, config: Config) -> Result<Platform> {
    let v = vault(place)?;
    Ok(Platform::open(config, v).await?)
}

pub fn run(cmd: PlatformCommand, format: Format) -> Result<u8> {
    match cmd.command {
        PlatformSub::Serve(a) => serve(a, format),
        PlatformSub::Org {
            command: OrgSub::Create(a),
        } => org_create(a, format),
        PlatformSub::Org {
            command: OrgSub::Verify { place, id },
        } => runtime()?.block_on(async {
            let p = open(&place, config(&place)).await?;
            let o = org::set_verified(&p, &id, true).await?;
            emit(format, &o, || format!("Org {id} is verified"))?;
            Ok(0)
        }),
        PlatformSub::Audit {
            command:
                AuditSub::Verify {
                    place,
                    anchor_contract,
                },
        } => audit_verify(&place, &anchor_contract, format),
        PlatformSub::Audit {
            command: AuditSub::Export { place, org },
        } => runtime()?.block_on(async {
            let p = open(&place, config(&place)).await?;
            let mut out = std::io::stdout().lock();
            let mut after = 0;
            loop {
                let batch = audit::list(
                    &p,
                    &org,
                    &audit::Filter {
                        after: Some(after),
                        limit: Some(1000),
                        ..Default::default()
                    },
                )
                .await?;
                if batch.is_empty() {
                    break;
                }
                for e in &batch {
                    writeln!(out, "{}", json!({"type": "entry", "entry": e}))?;
                }
                after = batch.last().map_or(after, |e| e.seq);
            }
            for a in audit::anchors(&p).await? {
                writeln!(out, "{}", json!({"type": "anchor", "anchor": a}))?;
            }
            Ok(0)
        }),
    }
}

fn serve(a: ServeArgs, format: Format) -> Result<u8> {
    logging();
    let mut cfg = config(&a.place);
    cfg.open_registration = a.open_registration;
    cfg.node_base_port = a.node_base_port;
    cfg.private_alert_targets = a.allow_private_alert_targets;
    cfg.node_host = a.node_host.clone();
    if let (Some(chain), Some(org_id)) = (&a.anchor_chain, &a.anchor_org) {
        cfg.anchor = Some(audit::AnchorConfig {
            chain_id: chain.clone(),
            org_id: org_id.clone(),
            contract: a.anchor_contract.clone(),
            interval: Duration::from_secs(a.anchor_interval.max(1)),
        });
    }
    let rt = runtime()?;
    rt.block_on(async move {
        let p = open(&a.place, cfg).await?;
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .map_err(|e| Failure::new("PORT_IN_USE", format!("cannot listen on {}: {e}", a.listen)))?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        emit(
            format,
            &json!({"url": url, "console": format!("{url}/"), "api": format!("{url}/api/v1"), "docs": format!("{url}/api/docs"), "database": p.db().backend().name()}),
            || format!("Platform serving {url} (console {url}/, API {url}/api/v1, docs {url}/api/docs, {} database)", p.db().backend().name()),
        )?;
        if let Some(f) = &a.ready_file {
            covenant_pki::files::write_atomic(f, url.as_bytes(), covenant_pki::files::PUBLIC_MODE)?;
        }
        let (stop, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            let _ = stop.send(true);
        });
        let app = covenant_console::app(p.clone());
        covenant_platform::server::serve_app(p.clone(), listener, rx, app).await?;
        p.db().close().await;
        Ok(0)
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

fn read_password(file: Option<&Path>) -> Result<String> {
    let text = match file {
        Some(f) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        None => std::env::var("COVENANT_ROOT_PASSWORD").map_err(|_| {
            Failure::new(
                "PASSWORD_REQUIRED",
                "give the root password in a file (--root-password-file) or COVENANT_ROOT_PASSWORD",
            )
        })?,
    };
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

fn org_create(a: OrgCreateArgs, format: Format) -> Result<u8> {
    let password = read_password(a.root_password_file.as_deref())?;
    let suite = a.suite.parse().map_err(|_| {
        Failure::new(
            "INVALID_ARGUMENT",
            format!("suite {:?} is not sm or intl", a.suite),
        )
    })?;
    runtime()?.block_on(async {
        let p = open(&a.place, config(&a.place)).await?;
        let reg = org::register(
            &p,
            &org::NewOrg {
                id: a.id.clone(),
                name: a.name.clone(),
                suite,
                root_username: a.root_username.clone(),
                root_password: password,
                root_display_name: a.root_username.clone(),
                custody: if a.offline_admin {
                    org::Custody::Offline
                } else {
                    org::Custody::Platform
                },
            },
        )
        .await?;
        audit::append(
            &p,
            &audit::Record {
                request_id: "cli".into(),
                account_id: "operator".into(),
                org_id: reg.org.id.clone(),
                action: "registerOrg".into(),
                target: format!("/api/v1/orgs/{}", reg.org.id),
                params_digest: String::new(),
                result: "ok 201".into(),
            },
        )
        .await?;
        emit(format, &reg, || {
            format!(
                "Registered org {} ({}) with root account {}",
                reg.org.id, reg.org.suite, reg.root_account.username
            )
        })?;
        Ok(0)
    })
}

fn audit_verify(place: &PlatformPlace, contract: &str, format: Format) -> Result<u8> {
    runtime()?.block_on(async {
        let p = open(place, config(place)).await?;
        let p2 = p.clone();
        let contract = contract.to_string();
        let report = audit::verify(&p, move |a| {
            let p = p2.clone();
            let contract = contract.clone();
            async move { covenant_platform::anchor::on_chain(&p, &contract, &a).await }
        })
        .await?;
        emit(format, &report, || {
            let mut t = format!(
                "{} entries, head {} ({}), {} anchors checked: ",
                report.entries, report.head_seq, report.head_hash, report.anchors_checked
            );
            if report.ok() {
                t.push_str("the log is intact");
            } else {
                t.push_str(&format!("{} problems", report.findings.len()));
                for f in &report.findings {
                    t.push_str(&format!("\n  entry {}: {}", f.seq, f.problem));
                }
            }
            t
        })?;
        Ok(if report.ok() { 0 } else { 1 })
    })
}
