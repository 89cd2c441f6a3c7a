use thiserror::Error;

/// Why a transaction was refused at the door (txpool admission). Each check has its own
/// stable [`code`](TxError::code).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxError {
    #[error("transaction is {size} bytes, over the chain's limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("{0}")]
    Malformed(String),
    #[error("the transaction carries {count} endorsements, over the chain's limit of {limit}")]
    TooManyEndorsements { count: usize, limit: usize },
    #[error("transaction is for chain {got:?}, this is {expected:?}")]
    WrongChain { expected: String, got: String },
    #[error("transaction timestamp is outside the accepted window: {0}")]
    BadTimestamp(String),
    #[error("transaction expired at {expiry_ms} (now {now_ms})")]
    Expired { expiry_ms: u64, now_ms: u64 },
    #[error("transaction {0} is already in the pool")]
    DuplicateInPool(String),
    #[error("transaction {id} is already on the ledger (height {height})")]
    DuplicateOnLedger { id: String, height: u64 },
    #[error("sender certificate: {0}")]
    UntrustedSender(String),
    #[error("sender certificate {0} is frozen")]
    FrozenSender(String),
    #[error("sender certificate {0} is revoked")]
    RevokedSender(String),
    #[error("sender certificate is not valid now: {0}")]
    ExpiredSender(String),
    #[error("signature does not verify: {0}")]
    BadSignature(String),
    #[error("{role} of {org} may not call {contract}.{method}")]
    MethodNotAllowed {
        org: String,
        role: String,
        contract: String,
        method: String,
    },
    #[error("no contract named {0:?}")]
    UnknownContract(String),
    #[error("contract {name} is {status}")]
    ContractUnavailable { name: String, status: String },
    #[error("the txpool is full ({pending} transactions); retry in {retry_after_ms} ms")]
    PoolFull { pending: usize, retry_after_ms: u64 },
    #[error("internal error: {0}")]
    Internal(String),
    /// The node cannot read its ledger just now (a failed write it has not recovered from,
    /// such as a full disk); another node, or this one later, can answer.
    #[error("this node's storage is unavailable: {0}")]
    Unavailable(String),
}

impl TxError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TxError::TooLarge { .. } => "TX_TOO_LARGE",
            TxError::Malformed(_) => "TX_MALFORMED",
            TxError::TooManyEndorsements { .. } => "TX_TOO_MANY_ENDORSEMENTS",
            TxError::WrongChain { .. } => "TX_WRONG_CHAIN",
            TxError::BadTimestamp(_) => "TX_BAD_TIMESTAMP",
            TxError::Expired { .. } => "TX_EXPIRED",
            TxError::DuplicateInPool(_) => "TX_DUPLICATE_IN_POOL",
            TxError::DuplicateOnLedger { .. } => "TX_DUPLICATE_ON_LEDGER",
            TxError::UntrustedSender(_) => "SENDER_UNTRUSTED",
            TxError::FrozenSender(_) => "SENDER_FROZEN",
            TxError::RevokedSender(_) => "SENDER_REVOKED",
            TxError::ExpiredSender(_) => "SENDER_EXPIRED",
            TxError::BadSignature(_) => "TX_BAD_SIGNATURE",
            TxError::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            TxError::UnknownContract(_) => "CONTRACT_NOT_FOUND",
            TxError::ContractUnavailable { status, .. } => {
                if status == "frozen" {
                    "CONTRACT_FROZEN"
                } else {
                    "CONTRACT_REVOKED"
                }
            }
            TxError::PoolFull { .. } => "TXPOOL_FULL",
            TxError::Internal(_) => "INTERNAL",
            TxError::Unavailable(_) => "STORAGE_UNAVAILABLE",
        }
    }

    /// The text a transaction result carries for this refusal: Covenant's own words, built only
    /// from values Covenant formats (ids, numbers), never from a dependency's message, so every
    /// node writes the same bytes into `results_root`. [`Display`](std::fmt::Display) keeps
    /// the detail for the API and logs.
    pub fn result_message(&self) -> String {
        match self {
            TxError::UntrustedSender(_) => {
                "the signer's certificate is not trusted on this chain".into()
            }
            TxError::RevokedSender(_) => "the signer's certificate is revoked".into(),
            TxError::FrozenSender(hex) => format!("the signer's certificate {hex} is frozen"),
            TxError::ExpiredSender(_) => {
                "the signer's certificate is not valid at the block's time".into()
            }
            TxError::BadSignature(_) => "a signature does not verify".into(),
            TxError::Malformed(_) => "the transaction is malformed".into(),
            TxError::BadTimestamp(_) => "the transaction's timestamp is out of range".into(),
            TxError::Internal(_) => "internal error".into(),
            TxError::Unavailable(_) => "this node's storage is unavailable".into(),
            TxError::TooLarge { .. }
            | TxError::TooManyEndorsements { .. }
            | TxError::WrongChain { .. }
            | TxError::Expired { .. }
            | TxError::DuplicateInPool(_)
            | TxError::DuplicateOnLedger { .. }
            | TxError::MethodNotAllowed { .. }
            | TxError::UnknownContract(_)
            | TxError::ContractUnavailable { .. }
            | TxError::PoolFull { .. } => self.to_string(),
        }
    }

    /// Milliseconds after which a retry may succeed, for "busy" answers.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            TxError::PoolFull { retry_after_ms, .. } => Some(*retry_after_ms),
            TxError::Unavailable(_) => Some(1000),
            _ => None,
        }
    }
}

/// Errors of the chain as a whole (opening, committing, validating blocks).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ChainError {
    #[error(transparent)]
    Storage(#[from] covenant_storage::StorageError),
    #[error(transparent)]
    Types(#[from] covenant_types::TypesError),
    #[error("invalid block {height}: {detail}")]
    InvalidBlock { height: u64, detail: String },
    /// The block's time is more than the allowed margin ahead of this node's clock: refused
    /// for now, by a clock that may itself be wrong, so no proof against its proposer.
    #[error("block {height}: the timestamp is more than a minute ahead of this node's clock")]
    AheadOfClock { height: u64 },
    #[error("invalid genesis: {0}")]
    BadGenesis(String),
    #[error("the chain halted: {0}")]
    Halted(String),
    #[error("{0}")]
    Other(String),
}

impl ChainError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::Storage(e) => e.code(),
            ChainError::Types(e) => e.code(),
            ChainError::InvalidBlock { .. } => "INVALID_BLOCK",
            ChainError::AheadOfClock { .. } => "BLOCK_AHEAD_OF_CLOCK",
            ChainError::BadGenesis(_) => "BAD_GENESIS",
            ChainError::Halted(_) => "CHAIN_HALTED",
            ChainError::Other(_) => "CHAIN_ERROR",
        }
    }
}

/// Result codes of executed transactions (in [`covenant_types::TxResult::code`]).
pub mod result_code {
    pub const OK: &str = "OK";
    pub const CONTRACT_NOT_FOUND: &str = "CONTRACT_NOT_FOUND";
    pub const CONTRACT_FROZEN: &str = "CONTRACT_FROZEN";
    pub const CONTRACT_REVOKED: &str = "CONTRACT_REVOKED";
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    pub const POLICY_NOT_MET: &str = "POLICY_NOT_MET";
    pub const INVALID_ARGS: &str = "INVALID_ARGS";
    pub const UNKNOWN_METHOD: &str = "UNKNOWN_METHOD";
    pub const SENDER_INVALID: &str = "SENDER_INVALID";
    pub const TX_EXPIRED: &str = "TX_EXPIRED";
    pub const STATE_ERROR: &str = "STATE_ERROR";
}

/// What a transaction result says about a certificate, CRL or trust root that `what` names and
/// the PKI refused: chosen by the error's stable code, in Covenant's words. The error's own
/// text can quote the DER decoder or a certificate's subject as a dependency prints it, so it
/// goes to logs only.
pub(crate) fn pki_problem(what: &str, e: &covenant_pki::PkiError) -> String {
    let why = match e.code() {
        "NOT_A_CERTIFICATE" => "is not a certificate (it does not decode as X.509)",
        "NOT_A_CRL" => "is not a certificate revocation list",
        "NOT_A_CSR" => "is not a certificate signing request",
        "NOT_A_TRUST_ROOT" => {
            "cannot be a trust root (it must be a self-signed CA certificate that is valid \
             now, with a usable key)"
        }
        "CRL_UNTRUSTED" => "is not signed by a trusted CA",
        "KEY_UNSUPPORTED" => "uses an unsupported key algorithm",
        "KEY_MALFORMED" => "holds a malformed key",
        "KEY_SUITE_MISMATCH" => "holds a key of another algorithm suite",
        code => return format!("{what} is not acceptable ({code})"),
    };
    format!("{what} {why}")
}
