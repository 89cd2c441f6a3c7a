//! Names of chains and contracts, the system contracts, and state key namespacing.

use crate::TypesError;

/// Chain configuration: read, and update by policy.
pub const SYS_CONFIG: &str = "sys.config";
/// Certificate management: register, freeze, unfreeze, revoke, CRLs.
pub const SYS_CERTS: &str = "sys.certs";
/// Contract lifecycle: install, upgrade, freeze, unfreeze, revoke.
pub const SYS_CONTRACTS: &str = "sys.contracts";

/// Prefix reserved for system contracts.
pub const SYSTEM_PREFIX: &str = "sys.";

/// Whether `name` is a system contract's.
pub fn is_system(name: &str) -> bool {
    name.starts_with(SYSTEM_PREFIX)
}

fn plain(name: &str, what: &str, max: usize) -> Result<(), TypesError> {
    let bad = |detail: &str| TypesError::BadName {
        name: name.to_string(),
        detail: detail.to_string(),
    };
    if name.is_empty() || name.len() > max {
        return Err(bad(&format!("a {what} name has 1 to {max} characters")));
    }
    if !name.as_bytes()[0].is_ascii_lowercase() {
        return Err(bad(&format!(
            "a {what} name starts with a lowercase letter"
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(bad("use lowercase letters, digits, '_' and '-'"));
    }
    Ok(())
}

/// Validate a chain id: lowercase letters, digits, `_`, `-`; 1 to 64 characters.
pub fn validate_chain_id(id: &str) -> Result<(), TypesError> {
    plain(id, "chain", 64)
}

/// Validate a user contract name (system names are reserved).
pub fn validate_contract_name(name: &str) -> Result<(), TypesError> {
    if is_system(name) {
        return Err(TypesError::BadName {
            name: name.to_string(),
            detail: "names starting with `sys.` are reserved".into(),
        });
    }
    plain(name, "contract", 64)
}

/// The state key of `key` in `contract`'s namespace: `contract || 0x00 || key`.
pub fn state_key(contract: &str, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(contract.len() + 1 + key.len());
    k.extend_from_slice(contract.as_bytes());
    k.push(0);
    k.extend_from_slice(key);
    k
}

/// Split a state key into contract and contract key.
pub fn split_state_key(k: &[u8]) -> Option<(&str, &[u8])> {
    let pos = k.iter().position(|b| *b == 0)?;
    let contract = std::str::from_utf8(&k[..pos]).ok()?;
    Some((contract, &k[pos + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        validate_chain_id("main").unwrap();
        validate_contract_name("token-v2").unwrap();
        for bad in ["", "Main", "9a", "a b", "sys.x", &"a".repeat(65)] {
            assert!(validate_contract_name(bad).is_err(), "{bad}");
        }
        assert!(is_system(SYS_CONFIG));
    }

    #[test]
    fn state_keys_split() {
        let k = state_key("kv", b"a\0b");
        assert_eq!(split_state_key(&k), Some(("kv", &b"a\0b"[..])));
        assert_eq!(split_state_key(b"nokey"), None);
    }
}
