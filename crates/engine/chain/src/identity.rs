//! Who may transact: the chain's member orgs, their trust roots and CRLs, and the frozen and
//! revoked certificates — resolved from state into [`Membership`], which turns a tx sender
//! into a verified [`Identity`].

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use covenant_crypto::{Hash, PublicKey, Suite};
use covenant_pki::{Certificate, Crl, Rejection, Role, TrustStore, VerifyOptions};
use covenant_types::{
    ChainConfig, Sender, config::ChainConfigExt, names, pb::sender, policy::Signer, tx::DecodedTx,
};
use parking_lot::Mutex;
use prost::Message;

use crate::{ChainError, TxError, state::StateRead};

/// State keys of the certificate registry (in `sys.certs`).
pub mod keys {
    use covenant_types::names::{SYS_CERTS, state_key};

    /// The chain config.
    pub fn config() -> Vec<u8> {
        covenant_types::genesis::config_key()
    }
    /// A registered certificate by hash (hex).
    pub fn cert(hash_hex: &str) -> Vec<u8> {
        state_key(SYS_CERTS, format!("cert/{hash_hex}").as_bytes())
    }
    /// A frozen certificate.
    pub fn frozen(hash_hex: &str) -> Vec<u8> {
        state_key(SYS_CERTS, format!("frozen/{hash_hex}").as_bytes())
    }
    /// A revoked certificate.
    pub fn revoked(hash_hex: &str) -> Vec<u8> {
        state_key(SYS_CERTS, format!("revoked/{hash_hex}").as_bytes())
    }
    /// The latest CRL of an issuer (hex of the hash of its subject).
    pub fn crl(issuer_hex: &str) -> Vec<u8> {
        state_key(SYS_CERTS, format!("crl/{issuer_hex}").as_bytes())
    }
    /// Prefix of all keys of `sys.certs` under `sub`.
    pub fn prefix(sub: &str) -> Vec<u8> {
        state_key(SYS_CERTS, sub.as_bytes())
    }
}

/// A verified signer.
#[derive(Debug, Clone)]
pub struct Identity {
    pub org: String,
    pub role: Role,
    /// Suite hash of the certificate DER.
    pub cert_id: Hash,
    /// The certificate's common name.
    pub name: String,
    pub public_key: PublicKey,
    /// The window in which every certificate of the path is valid.
    pub valid_from: SystemTime,
    pub valid_until: SystemTime,
}

impl Identity {
    /// The policy-evaluation view of this signer.
    pub fn signer(&self) -> Signer {
        Signer {
            org: self.org.clone(),
            role: self.role.name().to_string(),
        }
    }

    /// The caller record contracts see (`Caller` in the contract SDK).
    pub fn caller_json(&self, calling_contract: Option<&str>) -> Vec<u8> {
        serde_json::json!({
            "org": self.org,
            "role": self.role.name(),
            "cert_id": self.cert_id.to_hex(),
            "name": self.name,
            "contract": calling_contract,
        })
        .to_string()
        .into_bytes()
    }
}

/// Milliseconds since the epoch as a system time.
pub fn time_of_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The membership of a chain at one point: config, trust, freezes and revocations.
pub struct Membership {
    config: Arc<ChainConfig>,
    suite: Suite,
    orgs: Vec<(String, TrustStore)>,
    frozen: HashSet<String>,
    revoked: HashSet<String>,
    /// Verified certificate paths, by certificate hash.
    cache: Mutex<HashMap<Hash, Arc<Identity>>>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("chain", &self.config.chain_id)
            .field("orgs", &self.orgs.len())
            .finish()
    }
}

const CACHE_LIMIT: usize = 100_000;

fn hex_keys(view: &dyn StateRead, sub: &str) -> Result<HashSet<String>, ChainError> {
    let prefix = keys::prefix(sub);
    let mut end = prefix.clone();
    end.push(0xff);
    Ok(view
        .range(&prefix, &end, usize::MAX)
        .map_err(ChainError::Other)?
        .into_iter()
        .filter_map(|e| {
            e.key
                .get(prefix.len()..)
                .map(|k| String::from_utf8_lossy(k).into_owned())
        })
        .collect())
}

impl Membership {
    /// Load the membership from state.
    pub fn load(view: &dyn StateRead) -> Result<Self, ChainError> {
        let (_, bytes) = view
            .get(&keys::config())
            .map_err(ChainError::Other)?
            .ok_or_else(|| ChainError::Other("no chain config in state".into()))?;
        let config = ChainConfig::decode(bytes.as_slice())
            .map_err(|e| ChainError::Other(format!("stored chain config does not decode: {e}")))?;
        Self::from_config(config, view)
    }

    /// Build the membership of `config`, with freezes, revocations and CRLs from `view`.
    pub fn from_config(config: ChainConfig, view: &dyn StateRead) -> Result<Self, ChainError> {
        let suite = config.suite()?;
        let prefix = keys::prefix("crl/");
        let mut end = prefix.clone();
        end.push(0xff);
        let crls: Vec<Crl> = view
            .range(&prefix, &end, usize::MAX)
            .map_err(ChainError::Other)?
            .into_iter()
            .filter_map(|e| Crl::from_der(e.value, "stored CRL").ok())
            .collect();
        let mut orgs = Vec::new();
        for org in &config.orgs {
            let mut store = TrustStore::new();
            for der in &org.trust_roots {
                let cert = Certificate::from_der(der.clone(), "trust root").map_err(|e| {
                    ChainError::Other(format!("trust root of org {}: {e}", org.org_id))
                })?;
                store.add_anchor(cert);
            }
            for crl in &crls {
                store.add_crl(crl.clone());
            }
            orgs.push((org.org_id.clone(), store));
        }
        Ok(Membership {
            config: Arc::new(config),
            suite,
            orgs,
            frozen: hex_keys(view, "frozen/")?,
            revoked: hex_keys(view, "revoked/")?,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The chain config this membership comes from.
    pub fn config(&self) -> &Arc<ChainConfig> {
        &self.config
    }

    /// The chain's suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Ids of the member orgs.
    pub fn org_ids(&self) -> Vec<String> {
        self.orgs.iter().map(|(o, _)| o.clone()).collect()
    }

    /// Verify a certificate's path to a member org's trust root (cached by hash).
    pub fn identify(&self, der: &[u8], at: SystemTime) -> Result<Arc<Identity>, TxError> {
        let id = self.suite.hash(der);
        let hex = id.to_hex();
        if self.revoked.contains(&hex) {
            return Err(TxError::RevokedSender(hex));
        }
        if self.frozen.contains(&hex) {
            return Err(TxError::FrozenSender(hex));
        }
        let cached = self.cache.lock().get(&id).cloned();
        let identity = match cached {
            Some(i) => i,
            None => {
                let i = Arc::new(self.verify_path(der, id, at)?);
                let mut cache = self.cache.lock();
                if cache.len() >= CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(id, i.clone());
                i
            }
        };
        if at < identity.valid_from || at > identity.valid_until {
            return Err(TxError::ExpiredSender(format!(
                "certificate {hex} is valid from {} to {}",
                covenant_pki::format_time(identity.valid_from),
                covenant_pki::format_time(identity.valid_until)
            )));
        }
        Ok(identity)
    }

    fn verify_path(&self, der: &[u8], id: Hash, at: SystemTime) -> Result<Identity, TxError> {
        let cert = Certificate::from_der(der.to_vec(), "sender certificate")
            .map_err(|e| TxError::UntrustedSender(e.to_string()))?;
        let options = VerifyOptions {
            at,
            role: None,
            max_depth: 8,
        };
        let mut first_rejection: Option<Rejection> = None;
        for (org, store) in &self.orgs {
            match store.verify(&cert, &[], &options) {
                Ok(chain) => {
                    let role = match cert.role() {
                        Some(Role::Ca) => {
                            return Err(TxError::UntrustedSender(
                                "a CA certificate cannot sign transactions".into(),
                            ));
                        }
                        Some(r) => r,
                        None => Role::Client,
                    };
                    let public_key = cert
                        .public_key()
                        .map_err(|e| TxError::UntrustedSender(e.to_string()))?;
                    self.suite
                        .check_key_algorithm(public_key.algorithm())
                        .map_err(|e| TxError::UntrustedSender(e.to_string()))?;
                    let valid_from = chain
                        .certificates
                        .iter()
                        .map(Certificate::not_before)
                        .max()
                        .unwrap_or(UNIX_EPOCH);
                    let valid_until = chain
                        .certificates
                        .iter()
                        .map(Certificate::not_after)
                        .min()
                        .unwrap_or(UNIX_EPOCH);
                    return Ok(Identity {
                        org: org.clone(),
                        role,
                        cert_id: id,
                        name: cert.common_name().unwrap_or_default(),
                        public_key,
                        valid_from,
                        valid_until,
                    });
                }
                Err(r) => {
                    // Prefer the most specific reason: anything over "unknown issuer".
                    let replace = match &first_rejection {
                        None => true,
                        Some(prev) => {
                            prev.reason() == "unknown_issuer" && r.reason() != "unknown_issuer"
                        }
                    };
                    if replace {
                        first_rejection = Some(r);
                    }
                }
            }
        }
        Err(match first_rejection {
            Some(r) if r.reason() == "revoked" => TxError::RevokedSender(r.to_string()),
            Some(r) if r.reason() == "expired" || r.reason() == "not_yet_valid" => {
                TxError::ExpiredSender(r.to_string())
            }
            Some(r) => TxError::UntrustedSender(r.to_string()),
            None => TxError::UntrustedSender("the chain has no member orgs".into()),
        })
    }

    /// Resolve a sender (a whole certificate, or the hash of a registered one).
    pub fn resolve(
        &self,
        sender: Option<&Sender>,
        view: &dyn StateRead,
        at: SystemTime,
    ) -> Result<Arc<Identity>, TxError> {
        match sender.and_then(|s| s.id.as_ref()) {
            Some(sender::Id::Certificate(der)) => self.identify(der, at),
            Some(sender::Id::CertificateHash(h)) => {
                let hex = hex::encode(h);
                let (_, der) = view
                    .get(&keys::cert(&hex))
                    .map_err(TxError::Internal)?
                    .ok_or_else(|| {
                        TxError::UntrustedSender(format!(
                            "no certificate {hex} is registered on this chain"
                        ))
                    })?;
                self.identify(&der, at)
            }
            None => Err(TxError::UntrustedSender(
                "the transaction names no sender".into(),
            )),
        }
    }

    /// Check every signature of a transaction (sender and endorsements) and return the
    /// identities that signed, sender first.
    pub fn verify_signatures(
        &self,
        tx: &DecodedTx,
        view: &dyn StateRead,
        at: SystemTime,
    ) -> Result<Vec<Arc<Identity>>, TxError> {
        let sender = self.resolve(tx.tx.sender.as_ref(), view, at)?;
        sender
            .public_key
            .verify(&tx.tx.payload, &tx.tx.signature)
            .map_err(|e| TxError::BadSignature(format!("sender: {e}")))?;
        let mut out = vec![sender];
        for (i, e) in tx.tx.endorsements.iter().enumerate() {
            let who = self
                .resolve(e.signer.as_ref(), view, at)
                .map_err(|err| TxError::UntrustedSender(format!("endorsement {i}: {err}")))?;
            who.public_key
                .verify(&tx.tx.payload, &e.signature)
                .map_err(|err| TxError::BadSignature(format!("endorsement {i}: {err}")))?;
            out.push(who);
        }
        Ok(out)
    }

    /// The member org whose trust roots vouch for `cert` at `at` (ignoring freezes).
    pub fn org_of(&self, cert: &Certificate, at: SystemTime) -> Option<String> {
        let options = VerifyOptions {
            at,
            role: None,
            max_depth: 8,
        };
        self.orgs
            .iter()
            .find(|(_, store)| store.verify(cert, &[], &options).is_ok())
            .map(|(org, _)| org.clone())
    }

    /// The member org whose CA signed `crl`: a trust root of the org, or `issuer` (an
    /// intermediate that chains to one).
    pub fn crl_org(
        &self,
        crl: &Crl,
        issuer: Option<&Certificate>,
        at: SystemTime,
    ) -> Option<String> {
        for (org, store) in &self.orgs {
            if store
                .anchors()
                .iter()
                .any(|a| crl.verify_signed_by(a).is_ok())
            {
                return Some(org.clone());
            }
            if let Some(i) = issuer {
                let options = VerifyOptions {
                    at,
                    role: None,
                    max_depth: 8,
                };
                if i.is_ca()
                    && store.verify(i, &[], &options).is_ok()
                    && crl.verify_signed_by(i).is_ok()
                {
                    return Some(org.clone());
                }
            }
        }
        None
    }

    /// Whether the config names `org` as a member.
    pub fn is_member(&self, org: &str) -> bool {
        self.orgs.iter().any(|(o, _)| o == org)
    }

    /// The policy of a governed resource.
    pub fn policy(&self, resource: &str) -> covenant_types::Policy {
        self.config.policy_for(resource)
    }

    /// Whether a state key belongs to the membership (config or certificates), so that writing
    /// it changes who may transact.
    pub fn affects_membership(key: &[u8]) -> bool {
        matches!(names::split_state_key(key), Some((c, _)) if c == names::SYS_CONFIG || c == names::SYS_CERTS)
    }
}
