//! The chain pipeline in process: admission, execution, governance, parallel execution and
//! validation by a second node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admission;
mod bounds;
mod conformance;
mod contracts;
mod governance;
mod parallel;
mod support;
