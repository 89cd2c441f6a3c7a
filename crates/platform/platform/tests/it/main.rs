//! The platform through its HTTP API, in this process, on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod harness;

mod accounts;
mod audit;
mod authz;
mod certificates;
mod concurrency;
mod consortium;
mod contracts;
mod edges;
mod events;
mod monitoring;
