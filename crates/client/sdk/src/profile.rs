//! Client profiles: where the node is and who signs.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Signer;

#[derive(Debug, Error)]
pub enum ProfileError {
    #[error("{}: {detail}", path.display())]
    Read { path: PathBuf, detail: String },
    #[error("no identity named {0:?} in the profile (it has: {1})")]
    UnknownIdentity(String, String),
    #[error("identity {name}: {detail}")]
    BadIdentity { name: String, detail: String },
}

impl ProfileError {
    pub fn code(&self) -> &'static str {
        match self {
            ProfileError::Read { .. } => "PROFILE_INVALID",
            ProfileError::UnknownIdentity(..) => "IDENTITY_UNKNOWN",
            ProfileError::BadIdentity { .. } => "IDENTITY_INVALID",
        }
    }
}

/// Certificate and key files of one identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A client profile (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    /// The node's REST endpoint, e.g. `http://127.0.0.1:7070`.
    pub endpoint: String,
    pub chain_id: String,
    /// The identity used unless another is asked for.
    pub identity: String,
    pub identities: BTreeMap<String, IdentityFiles>,
    /// Other nodes' endpoints (tried in turn by clients that fail over).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<String>,
    /// Directory relative paths are relative to.
    #[serde(skip)]
    pub base: PathBuf,
}

impl Profile {
    /// Read a profile file.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let err = |detail: String| ProfileError::Read {
            path: path.to_path_buf(),
            detail,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let mut p: Profile =
            serde_json::from_str(&text).map_err(|e| err(format!("not a profile: {e}")))?;
        p.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(p)
    }

    /// A path from the profile, made absolute against its directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// The signer named `name` (or the default identity).
    pub fn signer(&self, name: Option<&str>) -> Result<Signer, ProfileError> {
        let name = name.unwrap_or(&self.identity);
        let files = self.identities.get(name).ok_or_else(|| {
            ProfileError::UnknownIdentity(
                name.to_string(),
                self.identities
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
        Signer::load(&self.resolve(&files.cert), &self.resolve(&files.key)).map_err(|detail| {
            ProfileError::BadIdentity {
                name: name.to_string(),
                detail,
            }
        })
    }
}
