//! A real SMTP server for tests that send e-mail: Python's `aiosmtpd` (PyPI) writing every
//! message it accepts to a Maildir.
//!
//! `COVENANT_TEST_PYTHON` is a Python with `aiosmtpd` installed (`scripts/test` makes one
//! with `scripts/mail` and sets it). Without it a test that needs the sink fails — unless
//! `COVENANT_SKIP_MAIL=1` says to leave those tests out on this machine (they then pass
//! without checking anything, and say so).

use std::{
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A running SMTP sink; stopped (and its Maildir removed) when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One message the sink accepted: its raw text (LF line ends).
#[derive(Debug, Clone)]
pub struct Message {
    pub raw: String,
}

impl Message {
    /// A header's value (the first one of that name).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\n\n").next().unwrap_or("");
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    }
}

impl SmtpSink {
    /// Start a sink on a free port, or `None` when `COVENANT_SKIP_MAIL` is set.
    ///
    /// # Panics
    /// When neither variable is set, or the sink does not start.
    pub fn start() -> Option<SmtpSink> {
        let python = match std::env::var("COVENANT_TEST_PYTHON") {
            Ok(p) if !p.is_empty() => p,
            _ => {
                if std::env::var_os("COVENANT_SKIP_MAIL").is_some() {
                    eprintln!(
                        "COVENANT_SKIP_MAIL is set: this test's e-mail part is left out on this machine"
                    );
                    return None;
                }
                panic!(
                    "this test sends e-mail to a real SMTP sink: run it through scripts/test (which sets COVENANT_TEST_PYTHON to a Python with aiosmtpd, see scripts/mail), or set COVENANT_SKIP_MAIL=1 to leave it out"
                );
            }
        };
        let port = crate::free_port();
        let dir = std::env::temp_dir().join(format!("covenant-smtp-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(&python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(dir.join("Maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python} -m aiosmtpd: {e}"));
        let sink = SmtpSink { port, child, dir };
        crate::wait_for("the SMTP sink to listen", Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Some(sink)
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        let maildir = self.dir.join("Maildir");
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = ["new", "cur"]
            .iter()
            .flat_map(|d| std::fs::read_dir(maildir.join(d)).into_iter().flatten())
            .flatten()
            .map(|e| {
                (
                    e.metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH),
                    e.path(),
                )
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
            .map(|raw| Message {
                raw: raw.replace("\r\n", "\n"),
            })
            .collect()
    }
}
