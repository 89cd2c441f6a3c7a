//! Integration tests of the transport: real TLS connections on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod links;
mod support;
mod sync;
