//! What commands that talk to a node share: the profile, the client, the signer.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use covenant_sdk::{Client, ClientError, Profile, Signer};

use crate::failure::Failure;

/// Which node and identity to use.
#[derive(Debug, Clone, Args)]
pub struct ProfileArgs {
    /// Client profile (endpoint, chain, identities), as `covenant node init` writes it.
    #[arg(long, env = "COVENANT_PROFILE", global = true)]
    pub profile: Option<PathBuf>,
    /// Sign as this identity of the profile (default: the profile's own).
    #[arg(long = "as", global = true, value_name = "IDENTITY")]
    pub identity: Option<String>,
    /// Talk to this node instead of the profile's endpoint.
    #[arg(long, global = true)]
    pub endpoint: Option<String>,
    /// Use this chain instead of the profile's.
    #[arg(long, global = true)]
    pub chain: Option<String>,
}

/// A loaded profile with its client and a runtime to drive it.
pub struct Session {
    pub profile: Profile,
    pub client: Client,
    pub identity: Option<String>,
    rt: tokio::runtime::Runtime,
}

impl Session {
    /// Open the profile; with no profile, `--endpoint` and `--chain` together are enough for
    /// reads (nothing can be signed then).
    pub fn open(args: &ProfileArgs) -> Result<Self> {
        let mut profile = match (&args.profile, &args.endpoint, &args.chain) {
            (Some(path), _, _) => Profile::load(path)?,
            (None, Some(endpoint), Some(chain)) => Profile {
                endpoint: endpoint.clone(),
                chain_id: chain.clone(),
                identity: String::new(),
                identities: Default::default(),
                endpoints: vec![],
                base: Default::default(),
            },
            _ => {
                return Err(Failure::new(
                    "PROFILE_REQUIRED",
                    "no profile: pass --profile FILE or set COVENANT_PROFILE (covenant node init writes DIR/profile.json); to read only, --endpoint URL --chain ID will do",
                )
                .into());
            }
        };
        if let Some(chain) = &args.chain {
            profile.chain_id = chain.clone();
        }
        let endpoint = args
            .endpoint
            .clone()
            .unwrap_or_else(|| profile.endpoint.clone());
        let client = Client::new(&endpoint, &profile.chain_id)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Session {
            profile,
            client,
            identity: args.identity.clone(),
            rt,
        })
    }

    /// The signing identity.
    pub fn signer(&self) -> Result<Signer> {
        self.has_identities()?;
        Ok(self.profile.signer(self.identity.as_deref())?)
    }

    /// Another identity of the profile, by name.
    pub fn signer_named(&self, name: &str) -> Result<Signer> {
        self.has_identities()?;
        Ok(self.profile.signer(Some(name))?)
    }

    fn has_identities(&self) -> Result<()> {
        if self.profile.identities.is_empty() {
            return Err(Failure::new(
                "PROFILE_REQUIRED",
                "signing needs a profile with identities: pass --profile FILE or set COVENANT_PROFILE",
            )
            .into());
        }
        Ok(())
    }

    /// Run a client call to completion.
    pub fn call<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, ClientError>>,
    ) -> Result<T> {
        Ok(self.rt.block_on(f)?)
    }
}
