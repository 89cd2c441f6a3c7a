//! The deploy driver: how a consortium's nodes come to exist and run. The local-process
//! driver ([`LocalDriver`](crate::LocalDriver)) is what `covenant up` and the platform use on
//! one machine; a Kubernetes driver will sit behind the same trait.

use std::time::{Duration, Instant};

use covenant_sdk::Profile;

use crate::{
    DeployError,
    consortium::{Consortium, NodeProcess, Plan, Started, Stopped},
};

/// Reports progress of long work, one line at a time.
pub type Progress<'a> = &'a dyn Fn(&str);

/// Creates, starts, inspects and stops one consortium's nodes.
pub trait Driver {
    /// Where the consortium lives, for messages.
    fn location(&self) -> String;
    /// Whether a consortium exists there.
    fn exists(&self) -> bool;
    /// The consortium that exists there.
    fn load(&self) -> Result<Consortium, DeployError>;
    /// Create a new consortium from `plan`: CAs and identities for each org, genesis blocks,
    /// node configs and a client profile — no process yet. Nothing is left behind on failure.
    fn create(&self, plan: &Plan, progress: Progress<'_>) -> Result<Consortium, DeployError>;
    /// Start every node that is not running and wait (until `deadline`) for each API to
    /// answer. Nodes this call started are stopped again if it fails.
    fn start(
        &self,
        c: &Consortium,
        deadline: Instant,
        progress: Progress<'_>,
    ) -> Result<Started, DeployError>;
    /// Each node's process, if running.
    fn processes(&self, c: &Consortium) -> Vec<NodeProcess>;
    /// Stop the named nodes (every node when `only` is `None`), each within `timeout`.
    fn stop(
        &self,
        c: &Consortium,
        only: Option<&[String]>,
        timeout: Duration,
        progress: Progress<'_>,
    ) -> Vec<Stopped>;
    /// The client profile of the consortium (endpoints, identities).
    fn profile(&self, c: &Consortium) -> Result<Profile, DeployError>;
}
