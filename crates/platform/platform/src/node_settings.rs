//! A node's settings the platform writes into its `node.toml`: the log filter, each chain's
//! transaction pool limit, and how many recent blocks it checks at start-up. Changing them
//! rewrites the file and restarts the node, which picks them up as it starts.

use serde::{Deserialize, Serialize};

use crate::{
    Platform,
    error::{Error, Result},
    network::{self, NodeView},
};

/// What an org may set on a node the platform runs for it; unset means the node's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// `error`, `warn`, `info` (the default), `debug`, `trace`, or a filter such as
    /// `info,covenant_consensus=debug`.
    #[serde(default)]
    pub log_level: Option<String>,
    /// Most pending transactions each chain's pool holds.
    #[serde(default)]
    pub pool_max_txs: Option<usize>,
    /// Recent blocks checked at start-up (0: every block).
    #[serde(default)]
    pub verify_blocks: Option<u64>,
}

const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

impl NodeSettings {
    /// The settings stored with a node (none when absent or unreadable).
    pub fn from_row(text: Option<&str>) -> NodeSettings {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    fn check(&self) -> Result<()> {
        if let Some(f) = &self.log_level {
            let ok = !f.is_empty()
                && f.len() <= 200
                && f.split(',').all(|part| match part.split_once('=') {
                    None => LEVELS.contains(&part),
                    Some((target, level)) => {
                        LEVELS.contains(&level)
                            && !target.is_empty()
                            && target
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':'))
                    }
                });
            if !ok {
                return Err(Error::invalid_as(
                    "LOG_LEVEL_INVALID",
                    format!(
                        "{f:?} is not a log filter: a level ({}) or a list such as info,covenant_consensus=debug",
                        LEVELS.join(", ")
                    ),
                ));
            }
        }
        if let Some(n) = self.pool_max_txs
            && !(100..=1_000_000).contains(&n)
        {
            return Err(Error::invalid_as(
                "POOL_LIMIT_INVALID",
                "pool_max_txs is 100 to 1,000,000",
            ));
        }
        if let Some(n) = self.verify_blocks
            && n > 10_000_000
        {
            return Err(Error::invalid_as(
                "VERIFY_BLOCKS_INVALID",
                "verify_blocks is 0 (every block) to 10,000,000",
            ));
        }
        Ok(())
    }
}

async fn own_node(p: &Platform, org_id: &str, id: &str) -> Result<NodeView> {
    let n = network::node_for(p, org_id, id).await?;
    if n.org_id != org_id {
        return Err(Error::forbidden(
            "NODE_NOT_YOURS",
            format!("only {} sets its node {}", n.org_id, n.name),
        ));
    }
    if n.hosting == "org" {
        return Err(Error::conflict(
            "NODE_SELF_HOSTED",
            format!(
                "node {} runs on {}'s own machine: set it there",
                n.name, n.org_id
            ),
        ));
    }
    Ok(n)
}

/// The settings of a node `org_id` runs on the platform.
pub async fn get(p: &Platform, org_id: &str, id: &str) -> Result<NodeSettings> {
    let n = own_node(p, org_id, id).await?;
    let row = sqlx::query("SELECT settings FROM nodes WHERE id = $1")
        .bind(&n.id)
        .fetch_one(p.db().pool())
        .await?;
    use sqlx::Row as _;
    Ok(NodeSettings::from_row(
        row.try_get::<Option<String>, _>("settings")?.as_deref(),
    ))
}

/// Replace a node's settings; a running node restarts with them.
pub async fn set(p: &Platform, org_id: &str, id: &str, s: &NodeSettings) -> Result<NodeView> {
    s.check()?;
    let n = own_node(p, org_id, id).await?;
    if matches!(n.state.as_str(), "purged") {
        return Err(Error::conflict(
            "NETWORK_PURGED",
            "the node's network is purged; the node's data is gone",
        ));
    }
    let text = serde_json::to_string(s).map_err(|e| Error::internal(e.to_string()))?;
    sqlx::query("UPDATE nodes SET settings = $1 WHERE id = $2")
        .bind(&text)
        .bind(&n.id)
        .execute(p.db().pool())
        .await?;
    if n.state == "running" {
        let _guard = p.inner.deploy_lock.lock().await;
        network::write_node(p, &n.id).await?;
        let fresh = network::node(p, &n.id).await?;
        network::restart(p, std::slice::from_ref(&fresh)).await?;
    } else if !n.chains.is_empty() {
        // Written now, used at its next start.
        let _guard = p.inner.deploy_lock.lock().await;
        network::write_node(p, &n.id).await?;
    }
    network::node(p, &n.id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filters_are_levels_or_per_target_levels() {
        let with = |f: &str| NodeSettings {
            log_level: Some(f.into()),
            ..Default::default()
        };
        for good in [
            "info",
            "debug",
            "info,covenant_consensus=debug",
            "warn,covenant_net::links=trace",
        ] {
            assert!(with(good).check().is_ok(), "{good}");
        }
        for bad in [
            "",
            "loud",
            "info,",
            "info;rm -rf",
            "=debug",
            "info,a b=debug",
        ] {
            assert!(with(bad).check().is_err(), "{bad}");
        }
        let pool = NodeSettings {
            pool_max_txs: Some(5),
            ..Default::default()
        };
        assert!(pool.check().is_err());
    }
}
