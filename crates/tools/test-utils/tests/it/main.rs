//! Tests of the workspace itself and of the shared helpers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod workspace_rules;
