//! The shared helpers do what they promise.

use std::{net::TcpListener, time::Duration};

use covenant_test_utils::{free_ports, wait_for, wait_value};

#[test]
fn port_ranges_are_free_and_distinct() {
    let a = free_ports(10);
    let b = free_ports(10);
    assert_ne!(a, b, "each call claims a new slot");
    for p in (a..a + 10).chain(b..b + 10) {
        TcpListener::bind(("127.0.0.1", p)).expect("a handed-out port is free");
    }
}

#[test]
fn polling_returns_once_the_condition_holds_and_times_out_otherwise() {
    let mut n = 0;
    let v = wait_value("a count of three", Duration::from_secs(5), || {
        n += 1;
        (n == 3).then_some(n)
    });
    assert_eq!(v, 3);
    let timed_out = std::panic::catch_unwind(|| {
        wait_for(
            "something that never happens",
            Duration::from_millis(120),
            || false,
        )
    });
    let message = timed_out.expect_err("it must time out");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(text.contains("something that never happens"), "{text}");
}
