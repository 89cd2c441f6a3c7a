//! Integration tests of the algorithm suites: published conformance vectors and interop with
//! OpenSSL's command line (which must be on PATH; `.ci/run` installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
mod openssl;
mod sm2_verify;
