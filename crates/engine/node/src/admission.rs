//! Which peers may join a chain's channel: the chain's own membership decides.

use std::{collections::BTreeMap, time::SystemTime};

use covenant_chain::{Chain, TxError};
use covenant_net::{Admission, Refusal};

/// Admits a peer on a chain if its node certificate chains to a trust root of the chain, is
/// neither revoked nor frozen nor expired, has the node role, and the chain config lists it
/// as a consensus or sync node.
#[derive(Debug)]
pub struct ChainAdmission {
    chains: BTreeMap<String, Chain>,
}

impl ChainAdmission {
    pub fn new(chains: BTreeMap<String, Chain>) -> Self {
        ChainAdmission { chains }
    }
}

fn refusal(e: TxError) -> Refusal {
    let code = match e {
        TxError::RevokedSender(_) => "REVOKED",
        TxError::FrozenSender(_) => "FROZEN",
        TxError::ExpiredSender(_) => "EXPIRED",
        TxError::UntrustedSender(_) => "UNTRUSTED",
        _ => "NOT_ADMITTED",
    };
    Refusal::new(code, e.to_string())
}

impl Admission for ChainAdmission {
    fn admit(&self, chain: &str, cert: &[u8]) -> Result<(), Refusal> {
        let c = self
            .chains
            .get(chain)
            .ok_or_else(|| Refusal::new("NOT_HOSTED", "this node does not host the chain"))?;
        let membership = c.membership();
        let identity = membership
            .identify(cert, SystemTime::now())
            .map_err(refusal)?;
        if identity.role != covenant_pki::Role::Node {
            return Err(Refusal::new(
                "NOT_A_NODE",
                format!(
                    "the certificate has role {}, not node",
                    identity.role.name()
                ),
            ));
        }
        let listed = membership.config().consensus.as_ref().is_some_and(|k| {
            k.nodes
                .iter()
                .chain(k.sync_nodes.iter())
                .any(|n| n.certificate == cert)
        });
        if !listed {
            return Err(Refusal::new(
                "NOT_A_MEMBER",
                "the chain config lists this node neither as a consensus nor as a sync node",
            ));
        }
        Ok(())
    }
}
