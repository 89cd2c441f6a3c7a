//! Waiting for something observable instead of sleeping and hoping.

use std::time::{Duration, Instant};

/// How often a condition is polled.
const INTERVAL: Duration = Duration::from_millis(50);

/// Poll `cond` until it holds; panic naming `what` after `timeout`.
#[track_caller]
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    wait_value(what, timeout, || cond().then_some(()));
}

/// Poll `f` until it returns a value; panic naming `what` after `timeout`.
#[track_caller]
pub fn wait_value<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(INTERVAL);
    }
}

/// [`wait_for`] inside a tokio runtime.
pub async fn wait_for_async(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Poll the async `f` until it returns a value (each attempt awaited before the next);
/// panic naming `what` with the last attempt's description after `timeout`.
pub async fn wait_value_async<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match f().await {
            Ok(v) => return v,
            Err(last) => assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}: {last}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
