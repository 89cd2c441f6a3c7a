//! The wire and storage encodings of covenant-types, held to pinned fixtures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
