use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{CipherAlgorithm, CryptoError, Hash, HashAlgorithm, Hasher, KeyAlgorithm};

/// The algorithm suite of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    /// National algorithms: SM2 signatures, SM3 hash, SM4-GCM.
    Sm,
    /// International algorithms: ECDSA P-256 or Ed25519 signatures, SHA-256, AES-256-GCM.
    Intl,
}

impl Suite {
    /// All suites, in a stable order.
    pub const ALL: [Suite; 2] = [Suite::Sm, Suite::Intl];

    /// The suite's name as written in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Sm => "sm",
            Suite::Intl => "intl",
        }
    }

    /// The suite's hash algorithm.
    pub fn hash_algorithm(self) -> HashAlgorithm {
        match self {
            Suite::Sm => HashAlgorithm::Sm3,
            Suite::Intl => HashAlgorithm::Sha256,
        }
    }

    /// Hash `data` with the suite's hash.
    pub fn hash(self, data: &[u8]) -> Hash {
        self.hash_algorithm().digest(data)
    }

    /// An incremental hasher for the suite's hash.
    pub fn hasher(self) -> Hasher {
        self.hash_algorithm().hasher()
    }

    /// The suite's authenticated cipher.
    pub fn cipher(self) -> CipherAlgorithm {
        match self {
            Suite::Sm => CipherAlgorithm::Sm4Gcm,
            Suite::Intl => CipherAlgorithm::Aes256Gcm,
        }
    }

    /// The key algorithm new identities get unless the user picks another allowed one.
    pub fn default_key_algorithm(self) -> KeyAlgorithm {
        match self {
            Suite::Sm => KeyAlgorithm::Sm2,
            Suite::Intl => KeyAlgorithm::EcdsaP256,
        }
    }

    /// The key (and signature) algorithms allowed on a chain of this suite.
    pub fn key_algorithms(self) -> &'static [KeyAlgorithm] {
        match self {
            Suite::Sm => &[KeyAlgorithm::Sm2],
            Suite::Intl => &[KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519],
        }
    }

    /// Whether keys of `algorithm` may sign on a chain of this suite.
    pub fn allows(self, algorithm: KeyAlgorithm) -> bool {
        self.key_algorithms().contains(&algorithm)
    }

    /// Fail with [`CryptoError::SuiteMismatch`] unless the suite allows `algorithm`.
    pub fn check_key_algorithm(self, algorithm: KeyAlgorithm) -> Result<(), CryptoError> {
        if self.allows(algorithm) {
            Ok(())
        } else {
            Err(CryptoError::SuiteMismatch {
                algorithm: algorithm.name(),
                suite: self.name(),
            })
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Suite {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sm" | "gm" | "national" => Ok(Suite::Sm),
            "intl" | "international" => Ok(Suite::Intl),
            _ => Err(CryptoError::UnknownSuite(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_names_round_trip() {
        for suite in Suite::ALL {
            assert_eq!(suite.name().parse::<Suite>().unwrap(), suite);
        }
        assert_eq!("rsa".parse::<Suite>().unwrap_err().code(), "SUITE_UNKNOWN");
    }

    #[test]
    fn suites_allow_their_own_algorithms_only() {
        assert!(Suite::Sm.allows(KeyAlgorithm::Sm2));
        assert!(!Suite::Sm.allows(KeyAlgorithm::Ed25519));
        assert!(Suite::Intl.allows(KeyAlgorithm::EcdsaP256));
        assert!(Suite::Intl.allows(KeyAlgorithm::Ed25519));
        assert_eq!(
            Suite::Intl
                .check_key_algorithm(KeyAlgorithm::Sm2)
                .unwrap_err()
                .code(),
            "KEY_SUITE_MISMATCH"
        );
    }
}
