//! The platform's database: SQLite (embedded, the default) or PostgreSQL, one schema for both,
//! migrated at start.
//!
//! Queries are written once with `$1, $2 …` placeholders (both backends take them) through
//! sqlx's `Any` driver. Portable column types only: `TEXT` and `BIGINT` (booleans are 0/1,
//! times are milliseconds since the Unix epoch, binary values base64 or hex). Where the two
//! differ the difference lives here:
//!
//! - a write transaction on SQLite starts with `BEGIN IMMEDIATE` (it takes the write lock at
//!   once, so two writers never deadlock upgrading read locks); on PostgreSQL rows a
//!   transaction will change are locked with [`Db::for_update`];
//! - SQLite runs in WAL mode with a busy timeout, foreign keys on.

use std::{str::FromStr, time::Duration};

use sqlx::{
    Any, AnyPool, Row, Transaction,
    any::{AnyConnectOptions, AnyPoolOptions},
};

use crate::error::{Error, Result};

/// Which database a pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A transaction on the platform's database.
pub type Tx = Transaction<'static, Any>;

/// The platform's database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// A database URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Db {
    /// Open (creating a SQLite file if needed) and migrate.
    pub async fn open(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::invalid_as(
                "DATABASE_URL_INVALID",
                format!(
                    "{} is not a database URL this platform takes (sqlite:PATH or postgres://USER:PASSWORD@HOST/DB)",
                    redact(url)
                ),
            ));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url).map_err(|e| {
            Error::invalid_as("DATABASE_URL_INVALID", format!("{}: {e}", redact(&url)))
        })?;
        let pool_options = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time anyway; readers run beside it in WAL mode.
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in [
                            "PRAGMA busy_timeout = 10000",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA synchronous = NORMAL",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            });
        let pool = pool_options.connect_with(options).await.map_err(|e| {
            Error::unavailable(
                "DATABASE_UNAVAILABLE",
                format!("cannot open the database {}: {e}", redact(&url)),
            )
        })?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let db = Db { pool, backend };
        crate::migrations::run(&db).await?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that will write.
    pub async fn write(&self) -> Result<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// ` FOR UPDATE` on PostgreSQL (lock the rows read), nothing on SQLite (the write
    /// transaction holds the database's lock already).
    pub fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// Close the pool (waits for connections in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether a database error is a unique-constraint violation.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            matches!(d.kind(), sqlx::error::ErrorKind::UniqueViolation)
                || d.message().contains("UNIQUE constraint failed")
                || d.code().as_deref() == Some("23505")
        }
        _ => false,
    }
}

/// Read an integer column that holds a 0/1 flag.
pub fn flag(row: &sqlx::any::AnyRow, column: &str) -> Result<bool> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://covenant:s3cret@127.0.0.1:5432/platform"),
            "postgres://covenant:***@127.0.0.1:5432/platform"
        );
        assert_eq!(redact("sqlite:/tmp/p.db"), "sqlite:/tmp/p.db");
        assert_eq!(
            redact("postgres://covenant@localhost/p"),
            "postgres://covenant@localhost/p"
        );
    }
}
