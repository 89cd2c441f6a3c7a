//! The catalogue of API actions a permission grants. Every route of the API names the action
//! it needs (or none: signing in, one's own account); a root account holds every action of its
//! org; a sub-account holds what was granted to it or to one of its groups, nothing by default.
//! Actions marked root-only cannot be granted.

/// One action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    pub name: &'static str,
    pub description: &'static str,
    pub root_only: bool,
}

const fn a(name: &'static str, description: &'static str) -> Action {
    Action {
        name,
        description,
        root_only: false,
    }
}

const fn root(name: &'static str, description: &'static str) -> Action {
    Action {
        name,
        description,
        root_only: true,
    }
}

pub const ACCOUNT_READ: &str = "account.read";
pub const ACCOUNT_MANAGE: &str = "account.manage";
pub const ORG_READ: &str = "org.read";
pub const IDENTITY_MANAGE: &str = "identity.manage";
pub const TRUST_ROOT_MANAGE: &str = "trust_root.manage";
pub const CONSORTIUM_CREATE: &str = "consortium.create";
pub const CONSORTIUM_READ: &str = "consortium.read";
pub const CONSORTIUM_INVITE: &str = "consortium.invite";
pub const CONSORTIUM_REMOVE_MEMBER: &str = "consortium.remove_member";
pub const CONSORTIUM_LEAVE: &str = "consortium.leave";
pub const INVITATION_RESPOND: &str = "invitation.respond";
pub const PROPOSAL_READ: &str = "proposal.read";
pub const PROPOSAL_VOTE: &str = "proposal.vote";
pub const EVENT_READ: &str = "event.read";
pub const NETWORK_READ: &str = "network.read";
pub const NETWORK_CREATE: &str = "network.create";
pub const NETWORK_RENEW: &str = "network.renew";
pub const NETWORK_DELETE: &str = "network.delete";
pub const NETWORK_EXPORT: &str = "network.export";
pub const NETWORK_PURGE: &str = "network.purge";
pub const CHAIN_READ: &str = "chain.read";
pub const CHAIN_CREATE: &str = "chain.create";
pub const CHAIN_MEMBER: &str = "chain.member";
pub const CHAIN_NODE: &str = "chain.node";
pub const CONTRACT_MANAGE: &str = "contract.manage";
pub const CONTRACT_INVOKE: &str = "contract.invoke";
pub const CERT_REVOKE: &str = "cert.revoke";
pub const CERT_REQUEST: &str = "cert.request";
pub const CERT_APPROVE: &str = "cert.approve";
pub const NODE_MANAGE: &str = "node.manage";
pub const MONITOR_READ: &str = "monitor.read";
pub const MONITOR_MANAGE: &str = "monitor.manage";
pub const OPERATION_READ: &str = "operation.read";
pub const AUDIT_READ: &str = "audit.read";
pub const AUDIT_EXPORT: &str = "audit.export";

/// Every action, in the order the API documents them.
pub const ACTIONS: &[Action] = &[
    a(
        ACCOUNT_READ,
        "List the org's accounts, groups and their permissions",
    ),
    root(
        ACCOUNT_MANAGE,
        "Create, change and disable sub-accounts and groups; grant permissions (root only)",
    ),
    a(
        ORG_READ,
        "Read the org's profile, CA and signing identities",
    ),
    a(
        IDENTITY_MANAGE,
        "Add signing identities to the org (kept by the platform, or from a CSR whose key stays with its owner)",
    ),
    root(
        TRUST_ROOT_MANAGE,
        "Import an external root (a national or commercial CA) as a trust root of the org, or remove one (root only)",
    ),
    a(
        CONSORTIUM_CREATE,
        "Create a consortium, the org as its founder",
    ),
    a(
        CONSORTIUM_READ,
        "Read the consortia the org belongs to: members, invitations, policies",
    ),
    a(
        CONSORTIUM_INVITE,
        "Propose admitting an org to a consortium (it is invited once the proposal passes)",
    ),
    a(
        CONSORTIUM_REMOVE_MEMBER,
        "Propose removing a member org from a consortium",
    ),
    a(CONSORTIUM_LEAVE, "Take the org out of a consortium"),
    a(
        INVITATION_RESPOND,
        "Accept or decline an invitation to a consortium",
    ),
    a(
        PROPOSAL_READ,
        "Read proposals of the org's consortia with every vote",
    ),
    a(
        PROPOSAL_VOTE,
        "Vote for the org: sign with a key the platform keeps, or upload a signature made offline",
    ),
    a(EVENT_READ, "Read the event centre and mark events read"),
    a(NETWORK_READ, "Read networks and their nodes"),
    a(NETWORK_CREATE, "Propose a new network of nodes"),
    a(NETWORK_RENEW, "Propose renewing a network"),
    a(NETWORK_DELETE, "Propose deleting a network"),
    a(
        NETWORK_EXPORT,
        "Export the ledgers of a network in the recycle bin",
    ),
    a(
        NETWORK_PURGE,
        "Purge a network from the recycle bin after its grace period, once its ledgers are exported",
    ),
    a(
        NODE_MANAGE,
        "Add nodes of the org to its networks (run by the platform or on the org's machine, with their bundles); stop, start and restart the nodes the platform runs for it",
    ),
    a(
        MONITOR_READ,
        "Read node metrics over time, alert rules and channels, alerts and the delivery log",
    ),
    a(
        MONITOR_MANAGE,
        "Create, change and delete alert rules and channels; send test notifications",
    ),
    a(
        CHAIN_READ,
        "Read chains: what the platform deployed and what the chain itself reports",
    ),
    a(CHAIN_CREATE, "Propose a new chain on a network"),
    a(
        CHAIN_MEMBER,
        "Propose admitting an org to a chain or removing one",
    ),
    a(CHAIN_NODE, "Propose adding or removing a consensus node"),
    a(
        CONTRACT_MANAGE,
        "Propose installing, upgrading, freezing, unfreezing or revoking a contract",
    ),
    a(
        CONTRACT_INVOKE,
        "Invoke contract methods on the org's chains, signed by a client identity the platform keeps for the org",
    ),
    a(
        CERT_REQUEST,
        "Request a certificate from the org's CA (with a CSR, or for a key the platform keeps) and download it once issued",
    ),
    a(
        CERT_APPROVE,
        "Approve or reject the org's certificate requests",
    ),
    a(
        CERT_REVOKE,
        "Revoke one of the org's certificates: a new CRL from the org's CA and a proposal to publish it on every chain the org is on",
    ),
    a(
        OPERATION_READ,
        "Follow long operations (deploys) the org started or takes part in",
    ),
    a(AUDIT_READ, "Read the org's audit log"),
    a(
        AUDIT_EXPORT,
        "Export the org's audit log as JSON Lines with its hash chain and anchors",
    ),
];

/// The action named `name`, if it exists.
pub fn find(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        for n in names {
            assert!(
                n.split('.').count() == 2
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'),
                "{n}"
            );
        }
    }
}
