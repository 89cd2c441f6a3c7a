//! The API's edges, in process: every refusal is coded JSON, the OpenAPI document covers
//! every route, and the listeners bound what clients can hold.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod edges;
mod listeners;

use std::sync::Arc;

use covenant_api::{Api, Host};
use covenant_chain::Chain;

/// A node hosting no chain: enough to reach every route's refusals.
pub struct Empty;

impl Host for Empty {
    fn node_name(&self) -> String {
        "test".into()
    }
    fn chain(&self, _id: &str) -> Option<Chain> {
        None
    }
    fn chains(&self) -> Vec<Chain> {
        vec![]
    }
    fn metrics(&self) -> String {
        "# no metrics\n".into()
    }
    fn admitted(&self, _chain: &str, _count: usize) {}
}

pub fn api() -> Api {
    Api::new(Arc::new(Empty))
}
