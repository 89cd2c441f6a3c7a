//! An identity that signs transactions.

use std::path::Path;

use covenant_crypto::{Hash, PrivateKey, Suite};
use covenant_pki::Certificate;
use covenant_types::{
    Endorsement, Transaction,
    tx::{TxBuilder, endorse, sender_by_certificate, sign},
};
use prost::Message;

/// A certificate and its private key.
#[derive(Debug, Clone)]
pub struct Signer {
    pub cert: Certificate,
    pub key: PrivateKey,
}

impl Signer {
    /// Load PEM files; the key must match the certificate.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, String> {
        let c = Certificate::load(cert).map_err(|e| e.to_string())?;
        let pem = std::fs::read_to_string(key).map_err(|e| format!("{}: {e}", key.display()))?;
        let k = PrivateKey::from_pkcs8_pem(&pem).map_err(|e| format!("{}: {e}", key.display()))?;
        if c.public_key().map_err(|e| e.to_string())? != *k.public_key() {
            return Err(format!(
                "{} is not the key of {}",
                key.display(),
                cert.display()
            ));
        }
        Ok(Signer { cert: c, key: k })
    }

    /// The account id contracts see for this signer: the suite hash of the certificate.
    pub fn account(&self, suite: Suite) -> Hash {
        suite.hash(self.cert.der())
    }

    /// Sign a payload built by `builder`; returns the encoded transaction.
    pub fn sign(&self, builder: TxBuilder) -> Result<Vec<u8>, String> {
        let payload = builder.build().map_err(|e| e.to_string())?;
        Ok(self.sign_payload(payload)?.encode_to_vec())
    }

    /// Sign encoded payload bytes as the sender.
    pub fn sign_payload(&self, payload: Vec<u8>) -> Result<Transaction, String> {
        sign(
            payload,
            sender_by_certificate(self.cert.der().to_vec()),
            &self.key,
        )
        .map_err(|e| e.to_string())
    }

    /// An endorsement (extra signature) of encoded payload bytes.
    pub fn endorse(&self, payload: &[u8]) -> Result<Endorsement, String> {
        endorse(
            payload,
            sender_by_certificate(self.cert.der().to_vec()),
            &self.key,
        )
        .map_err(|e| e.to_string())
    }
}
