use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::PkiError;

/// What a certificate's holder may do. The role travels in the subject's
/// organizational unit (`OU=admin`), and the verifier reads it back from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A certificate authority (root or intermediate).
    Ca,
    /// An org administrator: signs governance proposals and votes.
    Admin,
    /// A user or application: signs transactions.
    Client,
    /// A node: signs blocks and votes, and authenticates node-to-node TLS.
    Node,
}

impl Role {
    /// The roles a CA issues to end entities.
    pub const END_ENTITY: [Role; 3] = [Role::Admin, Role::Client, Role::Node];

    /// The OU value carrying this role.
    pub fn name(self) -> &'static str {
        match self {
            Role::Ca => "ca",
            Role::Admin => "admin",
            Role::Client => "client",
            Role::Node => "node",
        }
    }

    /// Parse an end-entity role (`admin`, `client`, `node`), as `--role` takes it.
    pub fn parse_end_entity(s: &str) -> Result<Role, PkiError> {
        match s.parse::<Role>()? {
            Role::Ca => Err(PkiError::UnknownRole(s.to_string())),
            r => Ok(r),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ca" => Ok(Role::Ca),
            "admin" => Ok(Role::Admin),
            "client" => Ok(Role::Client),
            "node" => Ok(Role::Node),
            _ => Err(PkiError::UnknownRole(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse() {
        for r in Role::END_ENTITY {
            assert_eq!(Role::parse_end_entity(r.name()).unwrap(), r);
        }
        assert_eq!(
            Role::parse_end_entity("ca").unwrap_err().code(),
            "ROLE_UNKNOWN"
        );
        assert_eq!("root".parse::<Role>().unwrap_err().code(), "ROLE_UNKNOWN");
    }
}
