//! Integration tests of the Rust SDK: the shared vectors every SDK is held to.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod vectors;
