//! The bounded listeners, on real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod listeners;
