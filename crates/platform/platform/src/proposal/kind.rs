//! The kinds of governed action, their parameters, and the permission proposing each needs.
//!
//! Platform-level kinds change the platform's own records (membership, networks, chains it
//! deploys) once the consortium's policy is met. Chain-level kinds change a chain: they are
//! executed as the chain's `sys.*` transaction signed by the voters, and the chain's own
//! policy decides.

use serde::Deserialize;

use crate::{
    action,
    error::{Error, Result},
};

/// A kind of proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AdmitOrg,
    RemoveOrg,
    NetworkCreate,
    NetworkRenew,
    NetworkDelete,
    ChainCreate,
    ChainAdmitOrg,
    ChainRemoveOrg,
    ChainUpdateOrgRoots,
    ChainAddNode,
    ChainPromoteNode,
    ChainRenewNode,
    ChainRemoveNode,
    ContractInstall,
    ContractUpgrade,
    ContractFreeze,
    ContractUnfreeze,
    ContractRevoke,
    CertRevoke,
    CertPublishCrl,
}

/// Every kind, in documentation order.
pub const KINDS: [Kind; 20] = [
    Kind::AdmitOrg,
    Kind::RemoveOrg,
    Kind::NetworkCreate,
    Kind::NetworkRenew,
    Kind::NetworkDelete,
    Kind::ChainCreate,
    Kind::ChainAdmitOrg,
    Kind::ChainRemoveOrg,
    Kind::ChainUpdateOrgRoots,
    Kind::ChainAddNode,
    Kind::ChainPromoteNode,
    Kind::ChainRenewNode,
    Kind::ChainRemoveNode,
    Kind::ContractInstall,
    Kind::ContractUpgrade,
    Kind::ContractFreeze,
    Kind::ContractUnfreeze,
    Kind::ContractRevoke,
    Kind::CertRevoke,
    Kind::CertPublishCrl,
];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::AdmitOrg => "consortium.admit_org",
            Kind::RemoveOrg => "consortium.remove_org",
            Kind::NetworkCreate => "network.create",
            Kind::NetworkRenew => "network.renew",
            Kind::NetworkDelete => "network.delete",
            Kind::ChainCreate => "chain.create",
            Kind::ChainAdmitOrg => "chain.admit_org",
            Kind::ChainRemoveOrg => "chain.remove_org",
            Kind::ChainUpdateOrgRoots => "chain.update_org_roots",
            Kind::ChainAddNode => "chain.add_node",
            Kind::ChainPromoteNode => "chain.promote_node",
            Kind::ChainRenewNode => "chain.renew_node",
            Kind::ChainRemoveNode => "chain.remove_node",
            Kind::ContractInstall => "contract.install",
            Kind::ContractUpgrade => "contract.upgrade",
            Kind::ContractFreeze => "contract.freeze",
            Kind::ContractUnfreeze => "contract.unfreeze",
            Kind::ContractRevoke => "contract.revoke",
            Kind::CertRevoke => "cert.revoke",
            Kind::CertPublishCrl => "cert.publish_crl",
        }
    }

    pub fn parse(name: &str) -> Result<Kind> {
        KINDS
            .iter()
            .copied()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                Error::invalid_as(
                    "PROPOSAL_KIND_UNKNOWN",
                    format!(
                        "{name:?} is not a kind of proposal ({})",
                        KINDS
                            .iter()
                            .map(|k| k.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }

    /// The permission proposing it needs.
    pub fn action(self) -> &'static str {
        match self {
            Kind::AdmitOrg => action::CONSORTIUM_INVITE,
            Kind::RemoveOrg => action::CONSORTIUM_REMOVE_MEMBER,
            Kind::NetworkCreate => action::NETWORK_CREATE,
            Kind::NetworkRenew => action::NETWORK_RENEW,
            Kind::NetworkDelete => action::NETWORK_DELETE,
            Kind::ChainCreate => action::CHAIN_CREATE,
            Kind::ChainAdmitOrg | Kind::ChainRemoveOrg | Kind::ChainUpdateOrgRoots => {
                action::CHAIN_MEMBER
            }
            Kind::ChainAddNode
            | Kind::ChainPromoteNode
            | Kind::ChainRenewNode
            | Kind::ChainRemoveNode => action::CHAIN_NODE,
            Kind::ContractInstall
            | Kind::ContractUpgrade
            | Kind::ContractFreeze
            | Kind::ContractUnfreeze
            | Kind::ContractRevoke => action::CONTRACT_MANAGE,
            Kind::CertRevoke | Kind::CertPublishCrl => action::CERT_REVOKE,
        }
    }

    /// Executed as a chain transaction, decided by the chain's policy.
    pub fn is_chain_level(self) -> bool {
        !matches!(
            self,
            Kind::AdmitOrg
                | Kind::RemoveOrg
                | Kind::NetworkCreate
                | Kind::NetworkRenew
                | Kind::NetworkDelete
                | Kind::ChainCreate
        )
    }

    /// The default rule of a platform-level kind.
    pub fn default_rule(self) -> &'static str {
        match self {
            // Every org that will run nodes or be a member must agree.
            Kind::NetworkCreate | Kind::ChainCreate | Kind::NetworkDelete => "ALL",
            _ => "MAJORITY",
        }
    }

    /// The chain's governed resource a chain-level kind is checked against.
    pub fn resource(self) -> Option<&'static str> {
        use covenant_types::config::resource as r;
        Some(match self {
            Kind::ChainAdmitOrg
            | Kind::ChainRemoveOrg
            | Kind::ChainUpdateOrgRoots
            | Kind::ChainAddNode
            | Kind::ChainPromoteNode
            | Kind::ChainRenewNode
            | Kind::ChainRemoveNode => r::CONFIG_UPDATE,
            Kind::ContractInstall => r::CONTRACT_INSTALL,
            Kind::ContractUpgrade => r::CONTRACT_UPGRADE,
            Kind::ContractFreeze | Kind::ContractUnfreeze => r::CONTRACT_FREEZE,
            Kind::ContractRevoke => r::CONTRACT_REVOKE,
            Kind::CertRevoke | Kind::CertPublishCrl => r::CERT_REVOKE,
            _ => return None,
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(kind: Kind, params: &serde_json::Value) -> Result<T> {
    serde_json::from_value(params.clone()).map_err(|e| {
        Error::invalid_as(
            "PROPOSAL_PARAMS_INVALID",
            format!("the parameters of {} are not right: {e}", kind.name()),
        )
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmitOrg {
    pub org_id: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveOrg {
    pub org_id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkNodes {
    pub org_id: String,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkCreate {
    pub name: String,
    pub nodes: Vec<NetworkNodes>,
    /// Days until the network expires (renew to extend).
    #[serde(default = "year")]
    pub days: u32,
}

fn year() -> u32 {
    365
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkRenew {
    pub network_id: String,
    pub days: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkDelete {
    pub network_id: String,
}

/// A chain policy set at creation.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChainPolicy {
    pub resource: String,
    pub rule: String,
    #[serde(default)]
    pub org_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainCreate {
    pub chain_id: String,
    pub network_id: String,
    /// Member orgs (each must have nodes in the network or be a member without nodes).
    pub orgs: Vec<String>,
    /// `tbft` (default), `raft` or `solo`.
    #[serde(default = "tbft")]
    pub consensus: String,
    /// Consensus nodes (network node ids); default: every node of the member orgs.
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(default)]
    pub policies: Vec<ChainPolicy>,
}

fn tbft() -> String {
    "tbft".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainOrg {
    pub chain_id: String,
    pub org_id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainNode {
    pub chain_id: String,
    pub node_id: String,
    /// For `chain.add_node`: `consensus` (the default; votes at once) or `sync` (follows the
    /// chain without voting, until `chain.promote_node`).
    #[serde(default)]
    pub role: Option<String>,
}

impl ChainNode {
    /// The role a node joins with.
    pub fn role(&self) -> Result<&str> {
        match self.role.as_deref() {
            None | Some("consensus") => Ok("consensus"),
            Some("sync") => Ok("sync"),
            Some(other) => Err(Error::invalid_as(
                "NODE_ROLE_INVALID",
                format!("a node joins a chain as consensus or sync, not {other:?}"),
            )),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractCode {
    pub chain_id: String,
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    /// The WASM module, base64.
    pub code: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractName {
    pub chain_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertRevoke {
    pub chain_id: String,
    /// The certificate (PEM) to revoke.
    pub certificate: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertPublishCrl {
    pub chain_id: String,
    /// The org whose CA signed the CRL.
    pub org_id: String,
    /// The CRL (PEM).
    pub crl: String,
}

/// Parsed parameters.
#[derive(Debug, Clone)]
pub enum Params {
    AdmitOrg(AdmitOrg),
    RemoveOrg(RemoveOrg),
    NetworkCreate(NetworkCreate),
    NetworkRenew(NetworkRenew),
    NetworkDelete(NetworkDelete),
    ChainCreate(ChainCreate),
    ChainOrg(ChainOrg),
    ChainNode(ChainNode),
    ContractCode(ContractCode),
    ContractName(ContractName),
    CertRevoke(CertRevoke),
    CertPublishCrl(CertPublishCrl),
}

impl Params {
    pub fn parse(kind: Kind, v: &serde_json::Value) -> Result<Params> {
        Ok(match kind {
            Kind::AdmitOrg => Params::AdmitOrg(parse(kind, v)?),
            Kind::RemoveOrg => Params::RemoveOrg(parse(kind, v)?),
            Kind::NetworkCreate => Params::NetworkCreate(parse(kind, v)?),
            Kind::NetworkRenew => Params::NetworkRenew(parse(kind, v)?),
            Kind::NetworkDelete => Params::NetworkDelete(parse(kind, v)?),
            Kind::ChainCreate => Params::ChainCreate(parse(kind, v)?),
            Kind::ChainAdmitOrg | Kind::ChainRemoveOrg | Kind::ChainUpdateOrgRoots => {
                Params::ChainOrg(parse(kind, v)?)
            }
            Kind::ChainAddNode
            | Kind::ChainPromoteNode
            | Kind::ChainRenewNode
            | Kind::ChainRemoveNode => {
                let n: ChainNode = parse(kind, v)?;
                if kind == Kind::ChainAddNode {
                    n.role()?;
                } else if n.role.is_some() {
                    return Err(Error::invalid_as(
                        "PROPOSAL_PARAMS_INVALID",
                        format!("{} takes no role", kind.name()),
                    ));
                }
                Params::ChainNode(n)
            }
            Kind::ContractInstall | Kind::ContractUpgrade => Params::ContractCode(parse(kind, v)?),
            Kind::ContractFreeze | Kind::ContractUnfreeze | Kind::ContractRevoke => {
                Params::ContractName(parse(kind, v)?)
            }
            Kind::CertRevoke => Params::CertRevoke(parse(kind, v)?),
            Kind::CertPublishCrl => Params::CertPublishCrl(parse(kind, v)?),
        })
    }

    /// The chain a chain-level proposal changes.
    pub fn chain_id(&self) -> Option<&str> {
        match self {
            Params::ChainOrg(p) => Some(&p.chain_id),
            Params::ChainNode(p) => Some(&p.chain_id),
            Params::ContractCode(p) => Some(&p.chain_id),
            Params::ContractName(p) => Some(&p.chain_id),
            Params::CertRevoke(p) => Some(&p.chain_id),
            Params::CertPublishCrl(p) => Some(&p.chain_id),
            _ => None,
        }
    }
}
