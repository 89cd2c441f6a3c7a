//! Integration tests of the PKI: CA directories end to end, every rejection reason, and
//! interop with OpenSSL's command line (on PATH; `.ci/run` installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lifecycle;
mod malformed;
mod openssl;
mod support;
mod verification;
