//! Free loopback ports for tests that start real servers.
//!
//! Tests run in parallel processes, so ports are handed out in slots of 100 claimed with a
//! file per slot in the temporary directory (a slot whose owner process is gone is taken
//! over). The slots lie below the kernel's ephemeral range (32768 and up), so the servers' own
//! outgoing connections cannot take a port between this check and a server binding it.

use std::{
    net::TcpListener,
    path::Path,
    sync::atomic::{AtomicU32, Ordering},
};

const SLOTS: u32 = 220;
const FIRST_PORT: u32 = 10_000;

/// Slots this process claimed so far (each call takes a new one).
static CLAIMED: AtomicU32 = AtomicU32::new(0);

/// `count` (at most 100) consecutive free ports on 127.0.0.1, starting at the returned one.
pub fn free_ports(count: u16) -> u16 {
    assert!(count <= 100, "at most 100 ports at once");
    let dir = std::env::temp_dir().join("covenant-test-ports");
    std::fs::create_dir_all(&dir).expect("a directory for port claims");
    let me = std::process::id();
    let first = (me.wrapping_mul(7919) + CLAIMED.fetch_add(1, Ordering::Relaxed)) % SLOTS;
    for k in 0..SLOTS {
        let slot = (first + k) % SLOTS;
        let path = dir.join(format!("slot-{slot}"));
        let claim = || {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .and_then(|mut f| std::io::Write::write_all(&mut f, me.to_string().as_bytes()))
                .is_ok()
        };
        let claimed = claim() || {
            let owner: Option<u32> = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            let stale =
                owner.is_some_and(|p| p != me && !Path::new(&format!("/proc/{p}")).exists());
            stale && std::fs::remove_file(&path).is_ok() && claim()
        };
        if !claimed {
            continue;
        }
        let base = (FIRST_PORT + slot * 100) as u16;
        if (base..base + count).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
    panic!("no free slot of {count} ports below 32000");
}

/// One free port on 127.0.0.1.
pub fn free_port() -> u16 {
    free_ports(1)
}
