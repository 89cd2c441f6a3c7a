//! The platform beside a local consortium (`covenant up`): taken in once (its orgs, their
//! CAs and identities, its network and chains), then run as a background process in
//! `DIR/platform` — `platform.pid`, `platform.log`, `url`, and `admin-password` (0600, the
//! root logins made for each org).

use std::{
    io::Read as _,
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use covenant_deploy::Consortium;
use covenant_pki::files::{self, PRIVATE_MODE, PUBLIC_MODE};
use covenant_platform::{Config, Platform, vault::Vault};
use serde_json::{Value, json};

use crate::failure::Failure;

/// The platform's port unless told otherwise.
pub const DEFAULT_PORT: u16 = 7080;

/// The running platform.
#[derive(Debug, Clone)]
pub struct Running {
    pub url: String,
    pub pid: u32,
    /// The login shown to the user (the first org's root account).
    pub login: String,
    pub password_file: PathBuf,
}

fn platform_dir(dir: &Path) -> PathBuf {
    dir.join("platform")
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(p, sig);
    }
}

/// The pid in `platform.pid`, if that process still runs a platform.
fn running_pid(dir: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(platform_dir(dir).join("platform.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let text = String::from_utf8_lossy(&cmdline);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().next())
        == Some("Z");
    (text.contains("platform") && text.contains("serve") && !zombie).then_some(pid)
}

async fn import(dir: &Path, c: &Consortium) -> Result<()> {
    let pdir = platform_dir(dir);
    std::fs::create_dir_all(&pdir).with_context(|| format!("cannot create {}", pdir.display()))?;
    let vault = Vault::from_file(&pdir.join("master.key"), true)?;
    let p = Platform::open(
        Config {
            dir: pdir.clone(),
            database_url: None,
            open_registration: false,
            node_exe: std::env::current_exe().unwrap_or_else(|_| "covenant".into()),
            node_base_port: 7300,
            name: "Covenant".into(),
            anchor: None,
            // A consortium on one's own machine: alerts may go to receivers on it.
            private_alert_targets: true,
            node_host: "127.0.0.1".into(),
        },
        vault,
    )
    .await?;
    let imported = covenant_platform::local::import(&p, dir, c).await?;
    let mut text = String::from(
        "# Root logins of the local consortium's orgs on its platform (one per line: org, username, password).\n",
    );
    for l in &imported.logins {
        text.push_str(&format!("{} {} {}\n", l.org_id, l.username, l.password));
    }
    files::write_atomic(&pdir.join("admin-password"), text.as_bytes(), PRIVATE_MODE)?;
    p.db().close().await;
    Ok(())
}

/// Take the consortium in (the first time) and start the platform unless it runs.
pub fn start(
    dir: &Path,
    c: &Consortium,
    port: Option<u16>,
    node_base: u16,
    progress: &dyn Fn(&str),
) -> Result<Running> {
    let pdir = platform_dir(dir);
    let port = port
        .or_else(|| {
            std::fs::read_to_string(pdir.join("url"))
                .ok()?
                .rsplit(':')
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(DEFAULT_PORT);
    let password_file = std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .join("platform/admin-password");
    let login = c.orgs.first().map(|o| o.name.clone()).unwrap_or_default();
    if !pdir.join("platform.db").exists() {
        progress("Registering the orgs, network and chains on the platform…");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(import(dir, c))?;
    }
    if let Some(pid) = running_pid(dir) {
        let url = std::fs::read_to_string(pdir.join("url")).unwrap_or_default();
        progress(&format!("  platform already running (pid {pid}) at {url}"));
        return Ok(Running {
            url,
            pid,
            login,
            password_file,
        });
    }
    let exe = std::env::current_exe().context("cannot find the covenant executable")?;
    let log_path = pdir.join("platform.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let ready = pdir.join("url");
    let _ = std::fs::remove_file(&ready);
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        return Err(Failure::new(
            "PORT_IN_USE",
            format!("port {port} (the platform) is not free; pick another with --platform-port, or --no-platform"),
        )
        .into());
    }
    let mut child = Command::new(&exe)
        .args(["platform", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--dir")
        .arg(&pdir)
        .arg("--ready-file")
        .arg(&ready)
        .arg("--node-base-port")
        .arg(node_base.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start the platform")?;
    let pid = child.id();
    files::write_atomic(
        &pdir.join("platform.pid"),
        pid.to_string().as_bytes(),
        PUBLIC_MODE,
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut tail = String::new();
            let _ = std::fs::File::open(&log_path).and_then(|mut f| f.read_to_string(&mut tail));
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            return Err(Failure::new(
                "PLATFORM_FAILED",
                format!(
                    "the platform exited ({status}); see {}: {}",
                    log_path.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ),
            )
            .into());
        }
        if ready.exists() {
            break;
        }
        if Instant::now() > deadline {
            signal(pid, rustix::process::Signal::TERM);
            return Err(Failure::new("TIMEOUT", "the platform did not start within 60 s").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Reap it if it ever exits while this process still runs.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    let url = std::fs::read_to_string(&ready).unwrap_or_default();
    progress(&format!("  started the platform (pid {pid}) at {url}"));
    Ok(Running {
        url,
        pid,
        login,
        password_file,
    })
}

/// The platform's state for `covenant status`.
pub fn status(dir: &Path) -> Value {
    let pdir = platform_dir(dir);
    match running_pid(dir) {
        Some(pid) => json!({
            "running": true,
            "pid": pid,
            "url": std::fs::read_to_string(pdir.join("url")).ok(),
            "password_file": pdir.join("admin-password"),
        }),
        None => json!({"running": false, "pid": null, "url": null}),
    }
}

/// Stop the platform if it runs; its pid.
pub fn stop(dir: &Path, timeout: Duration) -> Option<u32> {
    let pid = running_pid(dir)?;
    signal(pid, rustix::process::Signal::TERM);
    let deadline = Instant::now() + timeout;
    while running_pid(dir).is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if running_pid(dir).is_some() {
        signal(pid, rustix::process::Signal::KILL);
    }
    let _ = std::fs::remove_file(platform_dir(dir).join("platform.pid"));
    Some(pid)
}
