//! Taking in a local consortium that `covenant up` made (covenant-deploy's local driver):
//! its orgs with their CAs and the admin and client identities of each (keys sealed under
//! the master key), one consortium of them all, the network of its nodes and its chains — so
//! the platform shows and governs what is already running. Its nodes stay `covenant up`'s to
//! start and stop.

use std::path::Path;

use covenant_crypto::{PrivateKey, Suite};
use covenant_deploy::Consortium;
use covenant_pki::Certificate;
use covenant_sdk::Profile;
use serde::Serialize;

use crate::{
    Platform,
    ca::OrgCa,
    error::{Error, Result},
    org,
    time::{new_id, now_ms},
};

/// A root account made for an imported org.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    pub org_id: String,
    pub username: String,
    pub password: String,
}

/// What was imported.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub consortium_id: String,
    pub network_id: String,
    pub chains: Vec<String>,
    pub logins: Vec<Login>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))
}

/// Import the consortium in `dir` (described by `c`). Each org's root account is named
/// after the org and gets a new random password, returned once.
pub async fn import(p: &Platform, dir: &Path, c: &Consortium) -> Result<Imported> {
    let profile = Profile::load(&dir.join(&c.profile))
        .map_err(|e| Error::invalid(format!("the consortium's profile: {e}")))?;
    let suite: Suite = c
        .suite
        .parse()
        .map_err(|_| Error::invalid(format!("unknown suite {}", c.suite)))?;
    let mut logins = Vec::new();
    for o in &c.orgs {
        let ca_dir = dir.join(&o.ca);
        let ca = OrgCa::from_parts(
            &read(&ca_dir.join("root.crt"))?,
            &read(&ca_dir.join("root.key"))?,
        )?;
        let mut identities = Vec::new();
        for role in ["admin", "client"] {
            let Some(files) = profile.identities.get(&format!("{}-{role}", o.name)) else {
                continue;
            };
            let cert = Certificate::from_pem(&read(&profile.resolve(&files.cert))?, "identity")?;
            let key = PrivateKey::from_pkcs8_pem(&read(&profile.resolve(&files.key))?)
                .map_err(|e| Error::invalid(format!("the key of {}-{role}: {e}", o.name)))?;
            identities.push((role.to_string(), cert, Some(key)));
        }
        let password = crate::time::secret(18)?;
        org::import(p, &o.name, suite, &ca, &identities, &o.name, &password).await?;
        logins.push(Login {
            org_id: o.name.clone(),
            username: o.name.clone(),
            password,
        });
    }
    let now = now_ms();
    let consortium_id = new_id("cns")?;
    let network_id = new_id("net")?;
    let founder = c
        .orgs
        .first()
        .map(|o| o.name.clone())
        .ok_or_else(|| Error::invalid("the consortium has no org"))?;
    let mut tx = p.db().write().await?;
    sqlx::query(
        "INSERT INTO consortia (id, name, description, require_verified, founder_org, policies, created_at) VALUES ($1, $2, $3, 0, $4, '{}', $5)",
    )
    .bind(&consortium_id)
    .bind(format!("local-{}", &consortium_id[4..12]))
    .bind(format!("The local consortium in {}", dir.display()))
    .bind(&founder)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    for o in &c.orgs {
        sqlx::query(
            "INSERT INTO consortium_members (consortium_id, org_id, joined_at) VALUES ($1, $2, $3)",
        )
        .bind(&consortium_id)
        .bind(&o.name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO networks (id, consortium_id, name, state, expires_at, created_at) VALUES ($1, $2, 'local', 'running', $3, $4)",
    )
    .bind(&network_id)
    .bind(&consortium_id)
    .bind(now + 3650 * 86_400_000)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let mut node_ids = Vec::new();
    for n in &c.nodes {
        let node_dir = dir.join(&n.dir);
        let cert = Certificate::load(&find_node_file(&node_dir, "cert")?)?;
        let key = read(&find_node_file(&node_dir, "key")?)?;
        let id = new_id("node")?;
        let sealed = p.vault().seal(&format!("node:{id}"), key.as_bytes())?;
        let abs = std::fs::canonicalize(&node_dir).unwrap_or(node_dir.clone());
        sqlx::query(
            "INSERT INTO nodes (id, network_id, org_id, name, api_port, grpc_port, peer_port, cert_pem, key_sealed, state, status, heights, dir, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'running', 'unknown', '{}', $10, $11)",
        )
        .bind(&id)
        .bind(&network_id)
        .bind(&n.org)
        .bind(&n.name)
        .bind(i64::from(n.api_port))
        .bind(i64::from(n.grpc_port))
        .bind(i64::from(n.peer_port))
        .bind(cert.to_pem())
        .bind(sealed)
        .bind(abs.display().to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        node_ids.push((id, n.role.clone()));
    }
    for chain in &c.chains {
        sqlx::query(
            "INSERT INTO chains (id, network_id, consortium_id, consensus, suite, state, created_at) VALUES ($1, $2, $3, $4, $5, 'running', $6)",
        )
        .bind(chain)
        .bind(&network_id)
        .bind(&consortium_id)
        .bind(&c.consensus)
        .bind(&c.suite)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                Error::conflict("CHAIN_EXISTS", format!("the platform knows a chain {chain} already"))
            } else {
                e.into()
            }
        })?;
        for (id, role) in &node_ids {
            sqlx::query("INSERT INTO chain_nodes (chain_id, node_id, role) VALUES ($1, $2, $3)")
                .bind(chain)
                .bind(id)
                .bind(role)
                .execute(&mut *tx)
                .await?;
        }
    }
    crate::audit::append_in(
        p,
        &mut tx,
        &crate::audit::Record {
            request_id: "import".into(),
            account_id: "operator".into(),
            org_id: founder,
            action: "importLocalConsortium".into(),
            target: dir.display().to_string(),
            params_digest: String::new(),
            result: "ok".into(),
        },
    )
    .await?;
    tx.commit().await?;
    // The genesis hashes, as the chains report them (best effort: the nodes were just started).
    for chain in &c.chains {
        if let Ok(client) = crate::network::chain_client(p, chain).await
            && let Ok(info) = client.info().await
        {
            sqlx::query("UPDATE chains SET genesis_hash = $1 WHERE id = $2")
                .bind(&info.genesis_hash)
                .bind(chain)
                .execute(p.db().pool())
                .await?;
        }
    }
    Ok(Imported {
        consortium_id,
        network_id,
        chains: c.chains.clone(),
        logins,
    })
}

/// A node's certificate or key: the path its `node.toml` names.
fn find_node_file(node_dir: &Path, which: &str) -> Result<std::path::PathBuf> {
    let text = read(&node_dir.join("node.toml"))?;
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{which} =")))
        .ok_or_else(|| {
            Error::invalid(format!("{}/node.toml names no {which}", node_dir.display()))
        })?;
    let value = line
        .split_once('=')
        .map(|(_, v)| v.trim().trim_matches('"'))
        .unwrap_or_default();
    let p = Path::new(value);
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        node_dir.join(p)
    })
}
