//! Where notifications may go. An org names its webhook URLs and SMTP relays; unless the
//! operator allows it (`Config::private_alert_targets`), none of them may be a loopback,
//! private, link-local or otherwise internal address — else any org could make the platform
//! reach services on the platform's own network. Names are checked when a channel is made and
//! their addresses again, resolved, before each delivery.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};

fn internal_v4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1]))
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
        || o[0] >= 240
}

fn internal_v6(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let s = a.segments();
    a.is_loopback()
        || a.is_unspecified()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || s[0] == 0x2001 && s[1] == 0x0db8
}

/// Whether `ip` is an internal address.
pub fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => internal_v4(a),
        IpAddr::V6(a) => internal_v6(a),
    }
}

fn refused(host: &str) -> Error {
    Error::invalid_as(
        "CHANNEL_TARGET_PRIVATE",
        format!(
            "{host} is a loopback, private or internal address; the platform's operator allows those only with --allow-private-alert-targets"
        ),
    )
}

/// Check a host name or address when a channel is made.
pub fn check_host(host: &str, allow_private: bool) -> Result<()> {
    if allow_private {
        return Ok(());
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let lower = bare.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Err(refused(host));
    }
    if let Ok(ip) = bare.parse::<IpAddr>()
        && internal(ip)
    {
        return Err(refused(host));
    }
    Ok(())
}

/// Resolve `host:port` and refuse it if any address is internal (before each delivery).
pub async fn check_resolved(host: &str, port: u16, allow_private: bool) -> Result<()> {
    check_host(host, allow_private)?;
    if allow_private {
        return Ok(());
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| Error::unavailable("CHANNEL_TARGET_UNKNOWN", format!("{host}: {e}")))?;
    for a in addrs {
        if internal(a.ip()) {
            return Err(refused(&format!("{host} ({})", a.ip())));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        for h in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.9",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "[::1]",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "localhost",
            "api.localhost",
        ] {
            assert!(check_host(h, false).is_err(), "{h}");
            assert!(check_host(h, true).is_ok(), "{h}");
        }
        for h in [
            "8.8.8.8",
            "hooks.example.com",
            "2606:4700::1111",
            "203.0.114.1",
        ] {
            assert!(check_host(h, false).is_ok(), "{h}");
        }
    }
}
