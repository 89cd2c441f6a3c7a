//! Building, signing and decoding transactions. The tx id is the suite hash of the payload
//! bytes exactly as carried.

use covenant_crypto::{CryptoError, Hash, PrivateKey, Suite};
use prost::Message;

use crate::{Endorsement, Sender, Transaction, TxPayload, TypesError, pb::sender};

/// The id of a transaction: the suite hash of its payload bytes.
pub fn tx_id(suite: Suite, payload: &[u8]) -> Hash {
    suite.hash(payload)
}

/// A sender identified by its whole certificate (DER).
pub fn sender_by_certificate(der: Vec<u8>) -> Sender {
    Sender {
        id: Some(sender::Id::Certificate(der)),
    }
}

/// A sender identified by the hash of a certificate registered on the chain.
pub fn sender_by_hash(hash: Hash) -> Sender {
    Sender {
        id: Some(sender::Id::CertificateHash(hash.0.to_vec())),
    }
}

/// Builds transaction payloads.
#[derive(Debug, Clone)]
pub struct TxBuilder {
    payload: TxPayload,
}

impl TxBuilder {
    /// A call of `method` on `contract` on chain `chain_id`, with empty JSON arguments.
    pub fn new(chain_id: &str, contract: &str, method: &str) -> Self {
        TxBuilder {
            payload: TxPayload {
                chain_id: chain_id.to_string(),
                nonce: Vec::new(),
                timestamp_ms: 0,
                expiry_ms: 0,
                contract: contract.to_string(),
                method: method.to_string(),
                args: b"{}".to_vec(),
                gas_limit: 0,
            },
        }
    }

    /// Arguments as raw bytes (a JSON object for WASM and system contracts).
    pub fn args(mut self, args: Vec<u8>) -> Self {
        self.payload.args = args;
        self
    }

    /// Arguments from a JSON value.
    pub fn args_json(mut self, args: &serde_json::Value) -> Self {
        self.payload.args = args.to_string().into_bytes();
        self
    }

    pub fn gas_limit(mut self, gas: u64) -> Self {
        self.payload.gas_limit = gas;
        self
    }

    pub fn expiry_ms(mut self, expiry: u64) -> Self {
        self.payload.expiry_ms = expiry;
        self
    }

    pub fn timestamp_ms(mut self, ts: u64) -> Self {
        self.payload.timestamp_ms = ts;
        self
    }

    pub fn nonce(mut self, nonce: Vec<u8>) -> Self {
        self.payload.nonce = nonce;
        self
    }

    /// Encode the payload, filling in a random nonce and the current time if unset.
    pub fn build(mut self) -> Result<Vec<u8>, CryptoError> {
        if self.payload.nonce.is_empty() {
            let mut n = vec![0u8; 16];
            covenant_crypto::random_bytes(&mut n)?;
            self.payload.nonce = n;
        }
        if self.payload.timestamp_ms == 0 {
            self.payload.timestamp_ms = now_ms();
        }
        Ok(self.payload.encode_to_vec())
    }
}

/// Milliseconds since the Unix epoch by this machine's clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Sign encoded payload bytes and wrap them in a transaction.
pub fn sign(
    payload: Vec<u8>,
    sender: Sender,
    key: &PrivateKey,
) -> Result<Transaction, CryptoError> {
    let signature = key.sign(&payload)?;
    Ok(Transaction {
        payload,
        sender: Some(sender),
        signature,
        endorsements: vec![],
    })
}

/// An extra signature over a transaction's payload, e.g. an admin's vote for a governed change.
pub fn endorse(
    payload: &[u8],
    signer: Sender,
    key: &PrivateKey,
) -> Result<Endorsement, CryptoError> {
    Ok(Endorsement {
        signer: Some(signer),
        signature: key.sign(payload)?,
    })
}

/// A transaction decoded from bytes, with its payload and id.
#[derive(Debug, Clone)]
pub struct DecodedTx {
    pub tx: Transaction,
    pub payload: TxPayload,
    pub id: Hash,
    /// Size of the encoded transaction.
    pub size: usize,
}

impl DecodedTx {
    /// Decode an encoded transaction of at most `max_size` bytes.
    pub fn decode(suite: Suite, bytes: &[u8], max_size: usize) -> Result<Self, TypesError> {
        if bytes.len() > max_size {
            return Err(TypesError::TooLarge {
                what: "transaction",
                size: bytes.len(),
                limit: max_size,
            });
        }
        let tx = Transaction::decode(bytes).map_err(|e| TypesError::malformed("transaction", e))?;
        Self::from_tx(suite, tx, bytes.len())
    }

    /// Decode the payload of an already decoded transaction.
    pub fn from_tx(suite: Suite, tx: Transaction, size: usize) -> Result<Self, TypesError> {
        let payload = TxPayload::decode(tx.payload.as_slice())
            .map_err(|e| TypesError::malformed("transaction payload", e))?;
        let id = tx_id(suite, &tx.payload);
        Ok(DecodedTx {
            tx,
            payload,
            id,
            size,
        })
    }

    /// The payload's arguments as JSON.
    pub fn args_json(&self) -> Result<serde_json::Value, TypesError> {
        serde_json::from_slice(&self.payload.args)
            .map_err(|e| TypesError::malformed("arguments", e))
    }
}

#[cfg(test)]
mod tests {
    use covenant_crypto::KeyAlgorithm;

    use super::*;

    #[test]
    fn id_is_the_hash_of_the_payload_bytes() {
        let key = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
        let payload = TxBuilder::new("main", "kv", "put")
            .args_json(&serde_json::json!({"key": "a", "value": "1"}))
            .build()
            .unwrap();
        let tx = sign(payload.clone(), sender_by_certificate(vec![1, 2, 3]), &key).unwrap();
        let bytes = tx.encode_to_vec();
        let d = DecodedTx::decode(Suite::Sm, &bytes, 1 << 20).unwrap();
        assert_eq!(d.id, Suite::Sm.hash(&payload));
        assert_eq!(d.payload.contract, "kv");
        assert_eq!(d.args_json().unwrap()["key"], "a");
        key.public_key()
            .verify(&d.tx.payload, &d.tx.signature)
            .unwrap();
        assert_eq!(d.payload.nonce.len(), 16);
    }

    #[test]
    fn limits_and_garbage() {
        assert_eq!(
            DecodedTx::decode(Suite::Sm, &[0u8; 100], 10)
                .unwrap_err()
                .code(),
            "TOO_LARGE"
        );
        assert_eq!(
            DecodedTx::decode(Suite::Sm, &[0xff, 0xff, 0xff], 100)
                .unwrap_err()
                .code(),
            "MALFORMED"
        );
        let tx = Transaction {
            payload: vec![0xff, 0x01],
            sender: None,
            signature: vec![],
            endorsements: vec![],
        };
        assert_eq!(
            DecodedTx::decode(Suite::Sm, &tx.encode_to_vec(), 100)
                .unwrap_err()
                .code(),
            "MALFORMED"
        );
    }
}
