//! Throwaway PostgreSQL databases for tests that run on both of the platform's databases.
//!
//! `COVENANT_TEST_POSTGRES` is the URL of a server where the tests may create databases
//! (`scripts/test` starts one with `scripts/postgres` and sets it). Each [`Database`] is a new
//! database there, dropped when the value is. Without the variable a test that needs
//! PostgreSQL fails — unless `COVENANT_SKIP_POSTGRES=1` says to leave those tests out on this
//! machine (they then pass without checking anything, and say so).

use std::{
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
};

/// A database made for one test.
#[derive(Debug)]
pub struct Database {
    /// Its URL.
    pub url: String,
    admin: String,
    name: String,
}

fn psql(admin: &str, sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .arg(admin)
        .args(["-v", "ON_ERROR_STOP=1", "-qtAc", sql])
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A new empty database, or `None` when `COVENANT_SKIP_POSTGRES` is set.
///
/// # Panics
/// When neither variable is set, or the server refuses: the suite is meant to run on both.
pub fn throwaway() -> Option<Database> {
    static N: AtomicU32 = AtomicU32::new(0);
    let Ok(admin) = std::env::var("COVENANT_TEST_POSTGRES") else {
        if std::env::var_os("COVENANT_SKIP_POSTGRES").is_some() {
            eprintln!("COVENANT_SKIP_POSTGRES is set: this test does not run on PostgreSQL here");
            return None;
        }
        panic!(
            "COVENANT_TEST_POSTGRES is not set: run the suite with `bash scripts/test` (it starts PostgreSQL), \
             or export COVENANT_TEST_POSTGRES=\"$(bash scripts/postgres)\", or COVENANT_SKIP_POSTGRES=1 to leave PostgreSQL out"
        );
    };
    let mut salt = [0u8; 4];
    let _ = covenant_crypto::random_bytes(&mut salt);
    let name = format!(
        "covenant_test_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        hex::encode(salt)
    );
    if let Err(e) = psql(&admin, &format!("CREATE DATABASE {name}")) {
        panic!("cannot create a test database on {admin}: {e}");
    }
    let url = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("COVENANT_TEST_POSTGRES is not a URL ending in /DATABASE: {admin}"),
    };
    Some(Database { url, admin, name })
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}
