//! State entries as stored: the version that wrote the value, a digest, and the value.
//!
//! The digest is the suite hash of a domain tag, the key (length-prefixed), the version and
//! the value, so a changed byte anywhere in an entry — or an entry moved to another key — is
//! caught when the entry is read, and the read is refused instead of answered. It costs 32
//! bytes per entry and one hash of the entry per read and per write. It cannot catch an entry
//! rewritten together with a matching digest (someone who knows this format): the scrub holds
//! every entry against the block write that made it for that (see `Store::scrub_state`).

use covenant_crypto::Suite;

use crate::store::Version;

/// Written to the store's meta table once its entries carry digests.
pub(crate) const FORMAT: &[u8] = b"2";

const DOMAIN: &[u8] = b"covenant/state-entry/1\0";
const DIGEST_LEN: usize = 32;
const HEADER_LEN: usize = 12 + DIGEST_LEN;

fn digest(suite: Suite, key: &[u8], version: &[u8; 12], value: &[u8]) -> [u8; DIGEST_LEN] {
    let mut h = suite.hasher();
    h.update(DOMAIN);
    h.update(&(key.len() as u64).to_be_bytes());
    h.update(key);
    h.update(version);
    h.update(value);
    *h.finalize().as_bytes()
}

/// The stored bytes of `key` = `value`, written by `version`.
pub(crate) fn encode(suite: Suite, key: &[u8], version: Version, value: &[u8]) -> Vec<u8> {
    let v = version.encode();
    let mut out = Vec::with_capacity(HEADER_LEN + value.len());
    out.extend_from_slice(&v);
    out.extend_from_slice(&digest(suite, key, &v, value));
    out.extend_from_slice(value);
    out
}

/// The version and value of a stored entry of `key`, or what is wrong with it.
pub(crate) fn decode<'a>(
    suite: Suite,
    key: &[u8],
    stored: &'a [u8],
) -> Result<(Version, &'a [u8]), &'static str> {
    if stored.len() < HEADER_LEN {
        return Err("the entry is shorter than its header");
    }
    let (v, rest) = stored.split_at(12);
    let (d, value) = rest.split_at(DIGEST_LEN);
    let v: [u8; 12] = v.try_into().map_err(|_| "the entry's version is cut")?;
    if digest(suite, key, &v, value).as_slice() != d {
        return Err("the entry does not match its digest");
    }
    let version = Version::decode(&v).ok_or("the entry's version is cut")?;
    Ok((version, value))
}

/// The digest an entry's content gives (whatever digest it carries): what the state digest
/// of a checkpoint sums, so a changed, planted or removed entry changes it.
pub(crate) fn content_digest(suite: Suite, key: &[u8], stored: &[u8]) -> [u8; DIGEST_LEN] {
    match (stored.get(..12), stored.get(HEADER_LEN..)) {
        (Some(v), Some(value)) => {
            let v: [u8; 12] = v.try_into().unwrap_or([0; 12]);
            digest(suite, key, &v, value)
        }
        _ => digest(suite, key, &[0xff; 12], stored),
    }
}

/// Add `d` to the running sum `acc` (both 256-bit big-endian numbers, modulo 2^256): the
/// state digest does not depend on the order entries are visited in.
pub(crate) fn add_to(acc: &mut [u8; DIGEST_LEN], d: &[u8; DIGEST_LEN]) {
    let mut carry = 0u16;
    for i in (0..DIGEST_LEN).rev() {
        let s = u16::from(acc[i]) + u16::from(d[i]) + carry;
        acc[i] = s as u8;
        carry = s >> 8;
    }
}

/// The state digest of a checkpoint: the suite hash of a domain tag, the number of entries
/// and the sum of their content digests.
pub(crate) fn state_digest(suite: Suite, entries: u64, sum: &[u8; DIGEST_LEN]) -> [u8; DIGEST_LEN] {
    let mut h = suite.hasher();
    h.update(b"covenant/state-digest/1\0");
    h.update(&entries.to_be_bytes());
    h.update(sum);
    *h.finalize().as_bytes()
}

/// An entry of the format before digests (version and value), for the one-time upgrade.
pub(crate) fn upgrade(suite: Suite, key: &[u8], old: &[u8]) -> Option<Vec<u8>> {
    let version = Version::decode(old)?;
    Some(encode(suite, key, version, old.get(12..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_back_and_every_changed_byte_is_caught() {
        for suite in [Suite::Sm, Suite::Intl] {
            let v = Version {
                height: 7,
                index: 3,
            };
            let stored = encode(suite, b"kv/a", v, b"value");
            assert_eq!(decode(suite, b"kv/a", &stored), Ok((v, &b"value"[..])));
            for i in 0..stored.len() {
                let mut bad = stored.clone();
                bad[i] ^= 0x01;
                assert!(decode(suite, b"kv/a", &bad).is_err(), "byte {i}");
            }
            assert!(
                decode(suite, b"kv/b", &stored).is_err(),
                "moved to another key"
            );
            assert!(decode(suite, b"kv/a", &stored[..HEADER_LEN - 1]).is_err());
            assert!(decode(suite, b"kv/a", &stored[..stored.len() - 1]).is_err());
        }
    }

    #[test]
    fn the_sum_is_modulo_2_256_and_order_free() {
        let mut a = [0xffu8; 32];
        let mut one = [0u8; 32];
        one[31] = 1;
        add_to(&mut a, &one);
        assert_eq!(a, [0u8; 32]);
        let (x, y) = ([7u8; 32], [200u8; 32]);
        let (mut p, mut q) = ([0u8; 32], [0u8; 32]);
        add_to(&mut p, &x);
        add_to(&mut p, &y);
        add_to(&mut q, &y);
        add_to(&mut q, &x);
        assert_eq!(p, q);
    }

    #[test]
    fn an_entrys_content_digest_follows_its_content_not_its_stored_digest() {
        let v = Version {
            height: 2,
            index: 1,
        };
        let good = encode(Suite::Intl, b"k", v, b"v");
        assert_eq!(
            content_digest(Suite::Intl, b"k", &good),
            good[12..HEADER_LEN]
        );
        let mut changed = good.clone();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        assert_ne!(
            content_digest(Suite::Intl, b"k", &changed),
            good[12..HEADER_LEN]
        );
    }

    #[test]
    fn an_old_entry_upgrades_to_the_same_version_and_value() {
        let v = Version {
            height: 1,
            index: 0,
        };
        let mut old = v.encode().to_vec();
        old.extend_from_slice(b"x");
        let new = upgrade(Suite::Sm, b"k", &old).unwrap();
        assert_eq!(decode(Suite::Sm, b"k", &new), Ok((v, &b"x"[..])));
        assert_eq!(upgrade(Suite::Sm, b"k", b"short"), None);
    }
}
