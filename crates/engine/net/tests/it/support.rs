//! Identities from real org CAs, and an admission list tests can change.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::Arc,
    time::Duration,
};

use covenant_crypto::{KeyAlgorithm, PrivateKey, Suite};
use covenant_net::{Admission, NetConfig, Network, NodeIdentity, PeerId, Refusal};
use covenant_pki::{
    Certificate, CertificateAuthority, Role,
    authority::{InitOptions, IssueOptions},
};
use parking_lot::Mutex;

/// A node identity issued by a fresh org CA in `dir`.
pub fn identity(dir: &Path, org: &str, suite: Suite, alg: Option<KeyAlgorithm>) -> NodeIdentity {
    let ca_dir = dir.join(org);
    CertificateAuthority::init(
        &ca_dir,
        &InitOptions {
            org: org.into(),
            suite,
            key_algorithm: alg,
            intermediate: false,
            days: 30,
            force: false,
        },
    )
    .unwrap();
    let mut ca = CertificateAuthority::open(&ca_dir).unwrap();
    let out = ca
        .issue(&IssueOptions {
            role: Role::Node,
            name: format!("{org}-node"),
            hosts: vec!["127.0.0.1".parse().unwrap()],
            days: 30,
            key_algorithm: None,
            out: None,
            force: false,
        })
        .unwrap();
    let cert = Certificate::load(&out.cert).unwrap();
    let key = PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(&out.key).unwrap()).unwrap();
    NodeIdentity::new(cert, key).unwrap()
}

/// Admits the certificates listed per chain; everything else is refused.
#[derive(Default)]
pub struct Allow {
    lists: Mutex<HashMap<String, HashSet<Vec<u8>>>>,
}

impl Allow {
    pub fn allow(&self, chain: &str, cert: &[u8]) {
        self.lists
            .lock()
            .entry(chain.into())
            .or_default()
            .insert(cert.to_vec());
    }

    pub fn deny(&self, chain: &str, cert: &[u8]) {
        if let Some(l) = self.lists.lock().get_mut(chain) {
            l.remove(cert);
        }
    }
}

impl Admission for Allow {
    fn admit(&self, chain: &str, cert: &[u8]) -> Result<(), Refusal> {
        if self
            .lists
            .lock()
            .get(chain)
            .is_some_and(|l| l.contains(cert))
        {
            Ok(())
        } else {
            Err(Refusal::new("NOT_A_MEMBER", "not listed"))
        }
    }
}

pub fn config(listen: bool) -> NetConfig {
    NetConfig {
        listen: listen.then(|| "127.0.0.1:0".to_string()),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        handshake_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

pub async fn start(identity: NodeIdentity, allow: Arc<Allow>, listen: bool) -> Network {
    Network::start(identity, config(listen), allow)
        .await
        .unwrap()
}

/// Wait (up to 10 s) until `cond` holds.
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn connected(net: &Network, peer: PeerId, chain: &str) -> bool {
    net.peers(Some(chain)).iter().any(|p| p.id == peer)
}
