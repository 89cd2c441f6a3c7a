//! Secrets at rest: private keys the platform keeps (org CAs, custodial admin keys, node keys)
//! and TOTP secrets are sealed with AES-256-GCM under the operator's master key, each bound to
//! the row it belongs to (the associated data names it), so a sealed value copied to another
//! row does not open.
//!
//! The master key is 32 bytes, given as 64 hex digits in a file (`--master-key-file`) or the
//! environment (`COVENANT_PLATFORM_MASTER_KEY`). It never enters the database: a check value
//! sealed under it is stored, so a platform started with another key stops at once instead of
//! failing later on the first secret it opens.

use std::path::Path;

use covenant_crypto::{CipherAlgorithm, SymmetricKey};
use sqlx::Row;
use zeroize::Zeroizing;

use crate::{
    db::Db,
    error::{Error, Result},
    time::{b64, random, unb64},
};

const CHECK_AAD: &[u8] = b"covenant-platform/vault-check";
const CHECK_PLAINTEXT: &[u8] = b"covenant-platform master key";

/// Seals and opens the platform's secrets.
#[derive(Clone)]
pub struct Vault {
    key: SymmetricKey,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(<redacted>)")
    }
}

fn parse_key(text: &str, source: &str) -> Result<Vault> {
    let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| {
        Error::invalid_as(
            "MASTER_KEY_INVALID",
            format!("the master key in {source} is not 64 hex digits"),
        )
    })?);
    let key = SymmetricKey::from_bytes(CipherAlgorithm::Aes256Gcm, &bytes).map_err(|_| {
        Error::invalid_as(
            "MASTER_KEY_INVALID",
            format!("the master key in {source} is not 32 bytes (64 hex digits)"),
        )
    })?;
    Ok(Vault { key })
}

impl Vault {
    /// A vault from 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Vault> {
        parse_key(text, "the given value")
    }

    /// Read the key from `path`; with `create`, write a new random key there (mode 0600)
    /// when the file does not exist.
    pub fn from_file(path: &Path, create: bool) -> Result<Vault> {
        match std::fs::read_to_string(path) {
            Ok(text) => parse_key(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let key = Zeroizing::new(hex::encode(random(32)?));
                covenant_pki::files::write_atomic(
                    path,
                    key.as_bytes(),
                    covenant_pki::files::PRIVATE_MODE,
                )
                .map_err(|e| Error::internal(format!("cannot write the master key: {e}")))?;
                tracing::warn!(path = %path.display(), "created a new master key; back it up: without it the platform's keys cannot be opened");
                parse_key(&key, &path.display().to_string())
            }
            Err(e) => Err(Error::invalid_as(
                "MASTER_KEY_INVALID",
                format!("cannot read the master key {}: {e}", path.display()),
            )),
        }
    }

    /// Seal `plaintext` for the row named by `context`; base64.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String> {
        Ok(b64(&self.key.seal(context.as_bytes(), plaintext)?))
    }

    /// Open what [`seal`](Self::seal) made for `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>> {
        let bytes = unb64(sealed)
            .ok_or_else(|| Error::internal(format!("the sealed value of {context} is damaged")))?;
        self.key
            .open(context.as_bytes(), &bytes)
            .map(Zeroizing::new)
            .map_err(|_| {
                Error::internal(format!(
                    "the sealed value of {context} does not open under this master key"
                ))
            })
    }

    /// Check this is the key the database was first used with (and record it on first use).
    pub async fn check(&self, db: &Db) -> Result<()> {
        let mut tx = db.write().await?;
        let row = sqlx::query("SELECT value FROM platform_meta WHERE key = 'vault_check'")
            .fetch_optional(&mut *tx)
            .await?;
        match row {
            Some(r) => {
                let sealed: String = r.try_get("value")?;
                let ok = unb64(&sealed)
                    .and_then(|b| self.key.open(CHECK_AAD, &b).ok())
                    .is_some_and(|p| p == CHECK_PLAINTEXT);
                if !ok {
                    return Err(Error::invalid_as(
                        "MASTER_KEY_MISMATCH",
                        "the master key is not the one this platform's database was created with",
                    ));
                }
            }
            None => {
                let sealed = b64(&self.key.seal(CHECK_AAD, CHECK_PLAINTEXT)?);
                sqlx::query("INSERT INTO platform_meta (key, value) VALUES ('vault_check', $1)")
                    .bind(sealed)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_for_its_row() {
        let v = Vault::from_hex(&"ab".repeat(32)).unwrap();
        let s = v.seal("org:bank-a:ca", b"secret").unwrap();
        assert_eq!(&*v.open("org:bank-a:ca", &s).unwrap(), b"secret");
        assert!(v.open("org:bank-b:ca", &s).is_err());
        let other = Vault::from_hex(&"cd".repeat(32)).unwrap();
        assert!(other.open("org:bank-a:ca", &s).is_err());
        assert!(Vault::from_hex("abc").is_err());
    }
}
