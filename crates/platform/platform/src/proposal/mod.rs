//! One proposal engine for every governed action.
//!
//! A proposal is opened by a member with the kind's permission; its voters are fixed at that
//! moment (the consortium's members, the orgs a network or chain will include, or the orgs the
//! chain's own policy names) with the policy that decides it. Each voter org votes once, and a
//! vote is a signature by one of the org's admins: made by the platform with a key it keeps for
//! the org, or made offline (`covenant proposal sign`) and uploaded. States:
//!
//! ```text
//! open ──▶ approved ──▶ executing ──▶ executed
//!   │                       └───────▶ failed
//!   ├───▶ rejected
//!   └───▶ expired
//! ```
//!
//! Votes on one proposal are serialised by locking its row, so concurrent voters are each
//! counted once, and execution starts only for the caller that moves it from `approved` to
//! `executing`, so it runs once.
//!
//! What the voters sign: for a chain-level proposal, an approval signs the payload of the
//! chain's `sys.*` transaction itself (fixed when the proposal opens, expiring at its
//! deadline), so the signatures become the transaction's sender signature and endorsements and
//! the nodes check the policy. Every other vote signs [`statement`]: Covenant's own text naming
//! the proposal, its kind, consortium, the SHA-256 of its parameters and the decision.

pub mod execute;
pub mod kind;
pub mod policy;

use std::collections::BTreeMap;

use covenant_crypto::Suite;
use covenant_pki::{Certificate, Role, TrustStore, VerifyOptions};
use covenant_types::tx::TxBuilder;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform, action,
    auth::Caller,
    consortium,
    db::{Tx, flag, is_unique_violation},
    error::{Error, Result},
    event, network, org,
    time::{b64, new_id, now_ms, sha256_hex, unb64},
};

use self::{
    kind::{Kind, Params},
    policy::{Policy, Standing, Tally},
};

/// A voter org and its weight.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Voter {
    pub org_id: String,
    pub weight: u32,
}

/// A vote.
#[derive(Debug, Clone, Serialize)]
pub struct VoteView {
    pub org_id: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// The signing identity (its id, or `external` for a certificate the platform did not
    /// issue an identity row for).
    pub identity_id: String,
    pub certificate_fingerprint: String,
    pub signature: String,
    pub offline: bool,
    pub account_id: Option<String>,
    pub created_at: i64,
}

/// A proposal with its votes and count.
#[derive(Debug, Clone, Serialize)]
pub struct ProposalView {
    pub id: String,
    pub consortium_id: String,
    pub chain_id: Option<String>,
    pub kind: String,
    pub title: String,
    pub params: Value,
    pub params_sha256: String,
    pub proposer_org: String,
    pub proposer_account: String,
    pub policy: Policy,
    pub voters: Vec<Voter>,
    pub votes: Vec<VoteView>,
    pub tally: Tally,
    /// `open`, `approved`, `rejected`, `expired`, `executing`, `executed` or `failed`.
    pub state: String,
    pub deadline: i64,
    /// For chain-level proposals: the transaction the approvals sign.
    pub tx_id: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub executed_at: Option<i64>,
    /// What execution did, or why it failed (`code`, `message`).
    pub outcome: Option<Value>,
    pub operation_id: Option<String>,
    pub version: i64,
}

/// The text a vote signs (for every vote that does not sign a chain payload).
pub fn statement(
    id: &str,
    kind: &str,
    consortium_id: &str,
    params_digest: &str,
    decision: &str,
) -> Vec<u8> {
    format!(
        "covenant-platform-vote/v1\nproposal: {id}\nkind: {kind}\nconsortium: {consortium_id}\nparams-sha256: {params_digest}\ndecision: {decision}\n"
    )
    .into_bytes()
}

fn vote_view(r: &AnyRow) -> Result<VoteView> {
    Ok(VoteView {
        org_id: r.try_get("org_id")?,
        decision: r.try_get("decision")?,
        identity_id: r.try_get("identity_id")?,
        certificate_fingerprint: Certificate::from_pem(
            &r.try_get::<String, _>("cert_pem")?,
            "vote",
        )
        .map(|c| c.fingerprint())
        .unwrap_or_default(),
        signature: r.try_get("signature")?,
        offline: flag(r, "offline")?,
        account_id: r.try_get("account_id")?,
        created_at: r.try_get("created_at")?,
    })
}

async fn votes_in(tx: &mut Tx, id: &str) -> Result<Vec<VoteView>> {
    let rows =
        sqlx::query("SELECT * FROM votes WHERE proposal_id = $1 ORDER BY created_at, org_id")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?;
    rows.iter().map(vote_view).collect()
}

fn parse_row(r: &AnyRow, votes: Vec<VoteView>) -> Result<ProposalView> {
    let policy: Policy = serde_json::from_str(&r.try_get::<String, _>("policy")?)
        .map_err(|e| Error::internal(format!("a stored policy is damaged: {e}")))?;
    let voters: Vec<Voter> = serde_json::from_str(&r.try_get::<String, _>("voters")?)
        .map_err(|e| Error::internal(format!("stored voters are damaged: {e}")))?;
    let decided: BTreeMap<String, bool> = votes
        .iter()
        .map(|v| (v.org_id.clone(), v.decision == "approve"))
        .collect();
    let voter_ids: Vec<String> = voters.iter().map(|v| v.org_id.clone()).collect();
    let tally = policy::tally(&policy, &voter_ids, &decided)?;
    let outcome: Option<String> = r.try_get("outcome")?;
    Ok(ProposalView {
        id: r.try_get("id")?,
        consortium_id: r.try_get("consortium_id")?,
        chain_id: r.try_get("chain_id")?,
        kind: r.try_get("kind")?,
        title: r.try_get("title")?,
        params: serde_json::from_str(&r.try_get::<String, _>("params")?).unwrap_or(Value::Null),
        params_sha256: r.try_get("params_digest")?,
        proposer_org: r.try_get("proposer_org")?,
        proposer_account: r.try_get("proposer_account")?,
        policy,
        voters,
        votes,
        tally,
        state: r.try_get("state")?,
        deadline: r.try_get("deadline")?,
        tx_id: r.try_get("tx_id")?,
        created_at: r.try_get("created_at")?,
        decided_at: r.try_get("decided_at")?,
        executed_at: r.try_get("executed_at")?,
        outcome: outcome.and_then(|o| serde_json::from_str(&o).ok()),
        operation_id: r.try_get("operation_id")?,
        version: r.try_get("version")?,
    })
}

/// A proposal, whoever asks (internal use).
pub async fn get(p: &Platform, id: &str) -> Result<ProposalView> {
    let mut tx = p.db().pool().begin().await?;
    let row = sqlx::query("SELECT * FROM proposals WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found(format!("no proposal {id}")))?;
    let votes = votes_in(&mut tx, id).await?;
    tx.commit().await?;
    parse_row(&row, votes)
}

/// A proposal of a consortium `org_id` belongs to, or whose voters include `org_id`.
pub async fn get_for(p: &Platform, org_id: &str, id: &str) -> Result<ProposalView> {
    let v = get(p, id).await.map_err(|e| match e {
        Error::NotFound(_) => Error::not_found(format!("no proposal {id} your org can see")),
        other => other,
    })?;
    if consortium::is_member(p, &v.consortium_id, org_id).await?
        || v.voters.iter().any(|x| x.org_id == org_id)
    {
        Ok(v)
    } else {
        Err(Error::not_found(format!(
            "no proposal {id} your org can see"
        )))
    }
}

/// A filter on proposals.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub consortium_id: Option<String>,
    pub state: Option<String>,
    pub kind: Option<String>,
    /// Only proposals waiting for this org's vote.
    #[serde(default)]
    pub awaiting_my_vote: bool,
    /// Page after this id (ids sort by creation).
    pub after: Option<String>,
    pub limit: Option<i64>,
}

/// Proposals of the consortia `org_id` belongs to, newest first.
pub async fn list(p: &Platform, org_id: &str, f: &Filter) -> Result<Vec<ProposalView>> {
    let limit = f.limit.unwrap_or(50).clamp(1, 200);
    let rows = sqlx::query(
        "SELECT p.* FROM proposals p JOIN consortium_members m ON m.consortium_id = p.consortium_id AND m.org_id = $1
         WHERE ($2 = '' OR p.consortium_id = $2) AND ($3 = '' OR p.state = $3) AND ($4 = '' OR p.kind = $4)
           AND ($5 = '' OR p.created_at < (SELECT created_at FROM proposals WHERE id = $5)
                OR (p.created_at = (SELECT created_at FROM proposals WHERE id = $5) AND p.id < $5))
           AND ($6 = 0 OR (p.state = 'open'
                AND EXISTS (SELECT 1 FROM proposal_voters v WHERE v.proposal_id = p.id AND v.org_id = $1)
                AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.proposal_id = p.id AND v.org_id = $1)))
         ORDER BY p.created_at DESC, p.id DESC LIMIT $7",
    )
    .bind(org_id)
    .bind(f.consortium_id.clone().unwrap_or_default())
    .bind(f.state.clone().unwrap_or_default())
    .bind(f.kind.clone().unwrap_or_default())
    .bind(f.after.clone().unwrap_or_default())
    .bind(i64::from(f.awaiting_my_vote))
    .bind(limit)
    .fetch_all(p.db().pool())
    .await?;
    if rows.is_empty() {
        return Ok(vec![]);
    }
    // Every vote of the page in one query.
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String, _>("id"))
        .collect::<Result<_, _>>()?;
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT * FROM votes WHERE proposal_id IN ({}) ORDER BY created_at, org_id",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for id in &ids {
        q = q.bind(id);
    }
    let mut by_proposal: BTreeMap<String, Vec<VoteView>> = BTreeMap::new();
    for r in q.fetch_all(p.db().pool()).await? {
        let pid: String = r.try_get("proposal_id")?;
        by_proposal.entry(pid).or_default().push(vote_view(&r)?);
    }
    rows.iter()
        .zip(ids)
        .map(|(r, id)| parse_row(r, by_proposal.remove(&id).unwrap_or_default()))
        .collect()
}

/// What a new proposal is: prepared before anything is stored.
struct Prepared {
    chain_id: Option<String>,
    title: String,
    policy: Policy,
    voters: Vec<Voter>,
    /// For chain-level proposals: the payload the approvals sign, and its tx id.
    payload: Option<(Vec<u8>, String)>,
}

fn voters(orgs: &[String], policy: &Policy) -> Vec<Voter> {
    orgs.iter()
        .map(|o| Voter {
            org_id: o.clone(),
            weight: policy.weights.get(o).copied().unwrap_or(1),
        })
        .collect()
}

/// Open a proposal of `kind` in `consortium_id`. If the caller may vote and its org keeps an
/// admin key in the platform, the org's approval is cast at once.
pub async fn create(
    p: &Platform,
    caller: &Caller,
    consortium_id: &str,
    kind_name: &str,
    params: Value,
    title: Option<String>,
) -> Result<ProposalView> {
    let kind = Kind::parse(kind_name)?;
    caller.require(kind.action())?;
    let c = consortium::get_for(p, caller.org(), consortium_id).await?;
    if let Some(t) = &title
        && (t.trim().is_empty() || t.chars().count() > 200)
    {
        return Err(Error::invalid("a title is 1 to 200 characters"));
    }
    let parsed = Params::parse(kind, &params)?;
    // A module with an error finding is never put to a vote.
    if let Params::ContractCode(c) = &parsed {
        crate::contract::require_clean(&crate::contract::decode(&c.code)?)?;
    }
    let id = new_id("prp")?;
    let params_text = params.to_string();
    let digest = sha256_hex(params_text.as_bytes());
    let prepared = prepare(p, &c, kind, &parsed, title).await?;
    let now = now_ms();
    let deadline = now + i64::from(prepared.policy.deadline_hours()) * 3_600_000;
    let (payload, tx_id) = match &prepared.payload {
        Some((bytes, tx_id)) => (Some(b64(bytes)), Some(tx_id.clone())),
        None => (None, None),
    };
    let payload = match (&prepared.payload, kind.is_chain_level()) {
        // The transaction expires with the vote.
        (Some(_), true) => payload,
        _ => None,
    };
    let statement_text = String::from_utf8_lossy(&statement(
        &id,
        kind.name(),
        consortium_id,
        &digest,
        "approve",
    ))
    .into_owned();
    let mut tx = p.db().write().await?;
    sqlx::query(
        "INSERT INTO proposals (id, consortium_id, chain_id, kind, title, params, params_digest, proposer_org, proposer_account, policy, voters, statement, payload, tx_id, state, deadline, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'open', $15, $16)",
    )
    .bind(&id)
    .bind(consortium_id)
    .bind(&prepared.chain_id)
    .bind(kind.name())
    .bind(&prepared.title)
    .bind(&params_text)
    .bind(&digest)
    .bind(caller.org())
    .bind(caller.account_id())
    .bind(serde_json::to_string(&prepared.policy).map_err(|e| Error::internal(e.to_string()))?)
    .bind(serde_json::to_string(&prepared.voters).map_err(|e| Error::internal(e.to_string()))?)
    .bind(statement_text)
    .bind(payload)
    .bind(tx_id)
    .bind(deadline)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    for v in &prepared.voters {
        sqlx::query(
            "INSERT INTO proposal_voters (proposal_id, org_id, weight) VALUES ($1, $2, $3)",
        )
        .bind(&id)
        .bind(&v.org_id)
        .bind(i64::from(v.weight))
        .execute(&mut *tx)
        .await?;
    }
    let to: Vec<String> = prepared.voters.iter().map(|v| v.org_id.clone()).collect();
    let notices = event::add_in(
        &mut tx,
        &to,
        &event::New {
            kind: "proposal.opened",
            title: format!("Vote on: {}", prepared.title),
            subject_kind: "proposal",
            subject_id: &id,
            data: json!({"kind": kind.name(), "consortium_id": consortium_id, "deadline": deadline}),
        },
    )
    .await?;
    tx.commit().await?;
    event::push(p, notices);
    if caller.may(action::PROPOSAL_VOTE)
        && prepared.voters.iter().any(|v| v.org_id == caller.org())
        && org::custodial(p, caller.org(), "admin").await?.is_some()
    {
        return vote(p, caller, &id, true, None).await;
    }
    get(p, &id).await
}

async fn prepare(
    p: &Platform,
    c: &consortium::ConsortiumView,
    kind: Kind,
    params: &Params,
    title: Option<String>,
) -> Result<Prepared> {
    let members: Vec<String> = c.members.iter().map(|m| m.org_id.clone()).collect();
    let platform_policy = |kind: Kind| -> Policy {
        c.policies
            .get(kind.name())
            .cloned()
            .unwrap_or_else(|| Policy::rule(kind.default_rule()))
    };
    let require_member = |org: &str| -> Result<()> {
        if members.iter().any(|m| m == org) {
            Ok(())
        } else {
            Err(Error::invalid_as(
                "NOT_A_MEMBER",
                format!("{org} is not a member of the consortium"),
            ))
        }
    };
    match params {
        Params::AdmitOrg(a) => {
            let target = org::get(p, &a.org_id).await.map_err(|_| {
                Error::invalid_as(
                    "ORG_UNKNOWN",
                    format!("no org {} on this platform", a.org_id),
                )
            })?;
            if members.contains(&a.org_id) {
                return Err(Error::conflict(
                    "ALREADY_MEMBER",
                    format!("{} is a member already", a.org_id),
                ));
            }
            if c.require_verified && !target.verified {
                return Err(Error::invalid_as(
                    "ORG_NOT_VERIFIED",
                    format!(
                        "the consortium admits verified orgs only, and {} is not verified",
                        a.org_id
                    ),
                ));
            }
            if a.message.chars().count() > 1000 {
                return Err(Error::invalid(
                    "an invitation message is at most 1000 characters",
                ));
            }
            let pending = consortium::invitations_of(p, &c.id).await?;
            if pending
                .iter()
                .any(|i| i.org_id == a.org_id && i.state == "pending")
            {
                return Err(Error::conflict(
                    "INVITATION_PENDING",
                    format!("{} has a pending invitation already", a.org_id),
                ));
            }
            let policy = platform_policy(kind);
            Ok(Prepared {
                chain_id: None,
                title: title.unwrap_or_else(|| format!("Admit {} to {}", a.org_id, c.name)),
                voters: voters(&members, &policy),
                policy,
                payload: None,
            })
        }
        Params::RemoveOrg(r) => {
            require_member(&r.org_id)?;
            let others: Vec<String> = members
                .iter()
                .filter(|m| **m != r.org_id)
                .cloned()
                .collect();
            if others.is_empty() {
                return Err(Error::conflict(
                    "LAST_MEMBER",
                    "the last member cannot be removed",
                ));
            }
            let policy = platform_policy(kind);
            Ok(Prepared {
                chain_id: None,
                title: title.unwrap_or_else(|| format!("Remove {} from {}", r.org_id, c.name)),
                voters: voters(&others, &policy),
                policy,
                payload: None,
            })
        }
        Params::NetworkCreate(n) => {
            network::check_name(&n.name)?;
            if n.nodes.is_empty() {
                return Err(Error::invalid("a network needs nodes"));
            }
            let mut orgs: Vec<String> = Vec::new();
            let mut total = 0;
            for x in &n.nodes {
                require_member(&x.org_id)?;
                if !(1..=4).contains(&x.count) {
                    return Err(Error::invalid("an org runs 1 to 4 nodes of a network"));
                }
                let ca_kept = org::get(p, &x.org_id).await?.ca_kept;
                if !ca_kept {
                    return Err(Error::invalid_as(
                        "CA_NOT_KEPT",
                        format!(
                            "the platform cannot issue node certificates for {}: it does not keep its CA key",
                            x.org_id
                        ),
                    ));
                }
                total += x.count;
                if !orgs.contains(&x.org_id) {
                    orgs.push(x.org_id.clone());
                }
            }
            if total > 16 {
                return Err(Error::invalid("a network has at most 16 nodes"));
            }
            if !(1..=3650).contains(&n.days) {
                return Err(Error::invalid("a network lasts 1 to 3650 days"));
            }
            network::check_name_free(p, &c.id, &n.name).await?;
            let policy = platform_policy(kind);
            Ok(Prepared {
                chain_id: None,
                title: title
                    .unwrap_or_else(|| format!("Create network {} ({total} nodes)", n.name)),
                voters: voters(&orgs, &policy),
                policy,
                payload: None,
            })
        }
        Params::NetworkRenew(n) => {
            let net = network::get_in(p, &c.id, &n.network_id).await?;
            if !(1..=3650).contains(&n.days) {
                return Err(Error::invalid("a network is renewed by 1 to 3650 days"));
            }
            let policy = platform_policy(kind);
            Ok(Prepared {
                chain_id: None,
                title: title
                    .unwrap_or_else(|| format!("Renew network {} by {} days", net.name, n.days)),
                voters: voters(&members, &policy),
                policy,
                payload: None,
            })
        }
        Params::NetworkDelete(n) => {
            let net = network::get_in(p, &c.id, &n.network_id).await?;
            if net.state == "deleted" {
                return Err(Error::conflict(
                    "NETWORK_DELETED",
                    "the network is deleted already",
                ));
            }
            let mut orgs: Vec<String> = net.nodes.iter().map(|x| x.org_id.clone()).collect();
            orgs.sort();
            orgs.dedup();
            let policy = platform_policy(kind);
            Ok(Prepared {
                chain_id: None,
                title: title.unwrap_or_else(|| format!("Delete network {}", net.name)),
                voters: voters(&orgs, &policy),
                policy,
                payload: None,
            })
        }
        Params::ChainCreate(cc) => {
            network::check_chain_plan(p, &c.id, cc).await?;
            let policy = platform_policy(kind);
            Ok(Prepared {
                chain_id: Some(cc.chain_id.clone()),
                title: title.unwrap_or_else(|| {
                    format!(
                        "Create chain {} ({}, orgs {})",
                        cc.chain_id,
                        cc.consensus,
                        cc.orgs.join(", ")
                    )
                }),
                voters: voters(&cc.orgs, &policy),
                policy,
                payload: None,
            })
        }
        chain_level => {
            let chain_id = chain_level.chain_id().unwrap_or_default().to_string();
            let chain = network::chain_in(p, &c.id, &chain_id).await?;
            let client = network::chain_client(p, &chain_id).await?;
            let config = client.config().await.map_err(network::node_error)?;
            let (contract, method, args, owner) = sys_call(p, kind, chain_level, &client).await?;
            let resource = kind.resource().unwrap_or_default();
            let chain_policy = config["policies"]
                .as_array()
                .and_then(|ps| ps.iter().find(|x| x["resource"] == resource))
                .cloned()
                .unwrap_or(Value::Null);
            let rule = chain_policy["rule"]
                .as_str()
                .unwrap_or("MAJORITY")
                .to_string();
            let roles: Vec<String> = chain_policy["roles"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if !roles.is_empty() && !roles.iter().any(|r| r == "admin") {
                return Err(Error::conflict(
                    "POLICY_NOT_VOTABLE",
                    format!(
                        "chain {chain_id}'s policy for {resource} counts roles {} only; admins' votes cannot meet it",
                        roles.join("/")
                    ),
                ));
            }
            let chain_orgs: Vec<String> = config["orgs"]
                .as_array()
                .map(|o| {
                    o.iter()
                        .filter_map(|x| x["org_id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let named: Vec<String> = chain_policy["org_ids"]
                .as_array()
                .map(|o| {
                    o.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let (policy, voter_orgs) = if rule.eq_ignore_ascii_case("OWNER") {
                let owner = owner.ok_or_else(|| {
                    Error::conflict(
                        "POLICY_NOT_VOTABLE",
                        format!("{resource} is decided by the owning org, which is unknown"),
                    )
                })?;
                (Policy::rule("ANY"), vec![owner])
            } else {
                let eligible = if named.is_empty() {
                    chain_orgs.clone()
                } else {
                    chain_orgs
                        .iter()
                        .filter(|o| named.contains(o))
                        .cloned()
                        .collect()
                };
                (Policy::rule(&rule), eligible)
            };
            policy.check()?;
            let suite: Suite = chain
                .suite
                .parse()
                .map_err(|_| Error::internal("a chain's suite is damaged"))?;
            let deadline_ms =
                covenant_types::tx::now_ms() + u64::from(policy.deadline_hours()) * 3_600_000;
            let payload = TxBuilder::new(&chain_id, &contract, &method)
                .args_json(&args)
                .expiry_ms(deadline_ms)
                .build()?;
            let tx_id = suite.hash(&payload).to_hex();
            Ok(Prepared {
                chain_id: Some(chain_id.clone()),
                title: title.unwrap_or_else(|| format!("{} on chain {chain_id}", kind.name())),
                voters: voters(&voter_orgs, &policy),
                policy,
                payload: Some((payload, tx_id)),
            })
        }
    }
}

/// The `sys.*` call a chain-level proposal makes, and the org owning its target (for OWNER
/// policies).
async fn sys_call(
    p: &Platform,
    kind: Kind,
    params: &Params,
    client: &covenant_sdk::Client,
) -> Result<(String, String, Value, Option<String>)> {
    use covenant_types::names;
    let contract_owner = |name: &str| {
        let name = name.to_string();
        async move {
            let list = client.contracts().await.map_err(network::node_error)?;
            let found = list
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["name"] == name.as_str())
                .cloned();
            let found = found.ok_or_else(|| {
                Error::invalid_as(
                    "CONTRACT_UNKNOWN",
                    format!("the chain has no contract {name}"),
                )
            })?;
            Ok::<Option<String>, Error>(
                found["creator_org"]
                    .as_str()
                    .or(found["owner_org"].as_str())
                    .map(str::to_string),
            )
        }
    };
    Ok(match (kind, params) {
        (Kind::ChainAdmitOrg, Params::ChainOrg(a)) => {
            let o = org::get(p, &a.org_id).await.map_err(|_| {
                Error::invalid_as(
                    "ORG_UNKNOWN",
                    format!("no org {} on this platform", a.org_id),
                )
            })?;
            let roots = crate::certificate::trust_root::pems(p, &o.id).await?;
            (
                names::SYS_CONFIG.into(),
                "update".into(),
                json!({"add_org": {"org_id": o.id, "trust_roots": roots}}),
                None,
            )
        }
        (Kind::ChainUpdateOrgRoots, Params::ChainOrg(a)) => {
            let o = org::get(p, &a.org_id).await.map_err(|_| {
                Error::invalid_as(
                    "ORG_UNKNOWN",
                    format!("no org {} on this platform", a.org_id),
                )
            })?;
            let roots = crate::certificate::trust_root::pems(p, &o.id).await?;
            (
                names::SYS_CONFIG.into(),
                "update".into(),
                json!({"set_trust_roots": {"org_id": o.id, "trust_roots": roots}}),
                None,
            )
        }
        (Kind::ChainRemoveOrg, Params::ChainOrg(a)) => (
            names::SYS_CONFIG.into(),
            "update".into(),
            json!({"remove_org": a.org_id}),
            None,
        ),
        (Kind::ChainAddNode, Params::ChainNode(n)) => {
            let node = network::node(p, &n.node_id).await?;
            let op = if n.role()? == "sync" {
                "add_sync_node"
            } else {
                "add_node"
            };
            (
                names::SYS_CONFIG.into(),
                "update".into(),
                json!({op: {"org_id": node.org_id, "node_id": node.name, "certificate": node.certificate, "address": node.peer_address}}),
                None,
            )
        }
        (Kind::ChainPromoteNode, Params::ChainNode(n)) => {
            let node = network::node(p, &n.node_id).await?;
            (
                names::SYS_CONFIG.into(),
                "update".into(),
                json!({"promote_sync_node": {"node_id": node.name}}),
                None,
            )
        }
        (Kind::ChainRenewNode, Params::ChainNode(n)) => {
            let node = network::node(p, &n.node_id).await?;
            let pending = network::pending_certificate(p, &node.id)
                .await?
                .ok_or_else(|| {
                    Error::conflict(
                        "NODE_NOT_RENEWING",
                        format!(
                            "node {} has no renewed certificate to take; renew its certificate first",
                            node.name
                        ),
                    )
                })?;
            (
                names::SYS_CONFIG.into(),
                "update".into(),
                json!({"replace_node_certificate": {"node_id": node.name, "certificate": pending}}),
                None,
            )
        }
        (Kind::ChainRemoveNode, Params::ChainNode(n)) => {
            let node = network::node(p, &n.node_id).await?;
            (
                names::SYS_CONFIG.into(),
                "update".into(),
                json!({"remove_node": node.name}),
                None,
            )
        }
        (Kind::ContractInstall, Params::ContractCode(c)) => {
            names::validate_contract_name(&c.name)
                .map_err(|e| Error::invalid_as("CONTRACT_NAME_INVALID", e.to_string()))?;
            if unb64(&c.code).is_none_or(|b| b.is_empty()) {
                return Err(Error::invalid("code is the WASM module in base64"));
            }
            let mut args = json!({"name": c.name, "code": c.code});
            if let Some(v) = &c.version {
                args["version"] = json!(v);
            }
            (names::SYS_CONTRACTS.into(), "install".into(), args, None)
        }
        (Kind::ContractUpgrade, Params::ContractCode(c)) => {
            let version = c
                .version
                .clone()
                .ok_or_else(|| Error::invalid("an upgrade names its new version"))?;
            if unb64(&c.code).is_none_or(|b| b.is_empty()) {
                return Err(Error::invalid("code is the WASM module in base64"));
            }
            let owner = contract_owner(&c.name).await?;
            (
                names::SYS_CONTRACTS.into(),
                "upgrade".into(),
                json!({"name": c.name, "version": version, "code": c.code}),
                owner,
            )
        }
        (
            Kind::ContractFreeze | Kind::ContractUnfreeze | Kind::ContractRevoke,
            Params::ContractName(c),
        ) => {
            let owner = contract_owner(&c.name).await?;
            let method = match kind {
                Kind::ContractFreeze => "freeze",
                Kind::ContractUnfreeze => "unfreeze",
                _ => "revoke",
            };
            (
                names::SYS_CONTRACTS.into(),
                method.into(),
                json!({"name": c.name}),
                owner,
            )
        }
        (Kind::CertRevoke, Params::CertRevoke(c)) => {
            let cert = Certificate::from_pem(&c.certificate, "certificate")?;
            let mut args = json!({"cert": cert.to_pem()});
            if let Some(r) = &c.reason {
                args["reason"] = json!(r);
            }
            (
                names::SYS_CERTS.into(),
                "revoke".into(),
                args,
                cert.organization(),
            )
        }
        (Kind::CertPublishCrl, Params::CertPublishCrl(c)) => {
            let crl = crate::certificate::revocation::check_crl(p, &c.org_id, &c.crl).await?;
            (
                names::SYS_CERTS.into(),
                "submit_crl".into(),
                json!({"crl": crl}),
                Some(c.org_id.clone()),
            )
        }
        _ => return Err(Error::internal("parameters do not match their kind")),
    })
}

/// How a vote is signed.
pub enum Signature {
    /// With the org's custodial identity (by name or id; the first admin if `None`).
    Custodial(Option<String>),
    /// Made offline: the signer's certificate (PEM) and the signature (base64).
    Offline {
        certificate: String,
        signature: String,
    },
}

/// The bytes a vote with `decision` signs on proposal `v`.
pub fn signing_bytes(p_row: &ProposalRow, approve: bool) -> Result<Vec<u8>> {
    if approve && let Some(payload) = &p_row.payload {
        return unb64(payload).ok_or_else(|| Error::internal("a stored payload is damaged"));
    }
    Ok(statement(
        &p_row.id,
        &p_row.kind,
        &p_row.consortium_id,
        &p_row.params_digest,
        if approve { "approve" } else { "reject" },
    ))
}

/// The stored fields a vote needs.
#[derive(Debug, Clone)]
pub struct ProposalRow {
    pub id: String,
    pub kind: String,
    pub consortium_id: String,
    pub params_digest: String,
    pub payload: Option<String>,
    pub state: String,
    pub deadline: i64,
    pub policy: Policy,
    pub voters: Vec<Voter>,
}

async fn row_in(p: &Platform, tx: &mut Tx, id: &str, lock: bool) -> Result<ProposalRow> {
    let r = sqlx::query(&format!(
        "SELECT id, kind, consortium_id, params_digest, payload, state, deadline, policy, voters FROM proposals WHERE id = $1{}",
        if lock { p.db().for_update() } else { "" }
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| Error::not_found(format!("no proposal {id}")))?;
    Ok(ProposalRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        consortium_id: r.try_get("consortium_id")?,
        params_digest: r.try_get("params_digest")?,
        payload: r.try_get("payload")?,
        state: r.try_get("state")?,
        deadline: r.try_get("deadline")?,
        policy: serde_json::from_str(&r.try_get::<String, _>("policy")?)
            .map_err(|e| Error::internal(format!("a stored policy is damaged: {e}")))?,
        voters: serde_json::from_str(&r.try_get::<String, _>("voters")?)
            .map_err(|e| Error::internal(format!("stored voters are damaged: {e}")))?,
    })
}

/// The file `covenant proposal sign` signs offline: for a chain-level approval, the
/// transaction's payload (the same file `covenant proposal create` writes); otherwise the
/// statement.
pub async fn signing_request(
    p: &Platform,
    caller: &Caller,
    id: &str,
    approve: bool,
) -> Result<Value> {
    let v = get_for(p, caller.org(), id).await?;
    let mut tx = p.db().pool().begin().await?;
    let row = row_in(p, &mut tx, id, false).await?;
    tx.commit().await?;
    let bytes = signing_bytes(&row, approve)?;
    Ok(match (&row.payload, approve) {
        (Some(_), true) => {
            let payload = <covenant_types::TxPayload as prost::Message>::decode(bytes.as_slice())
                .map_err(|_| Error::internal("a stored payload does not decode"))?;
            json!({
                "chain_id": payload.chain_id,
                "contract": payload.contract,
                "method": payload.method,
                "args": serde_json::from_slice::<Value>(&payload.args).unwrap_or(Value::Null),
                "expiry_ms": payload.expiry_ms,
                "tx_id": v.tx_id,
                "payload": b64(&bytes),
                "signatures": [],
                "platform_proposal": id,
                "decision": "approve",
            })
        }
        _ => json!({
            "platform_proposal": id,
            "decision": if approve { "approve" } else { "reject" },
            "statement": b64(&bytes),
            "statement_text": String::from_utf8_lossy(&bytes),
            "signatures": [],
        }),
    })
}

/// Vote for the caller's org.
pub async fn vote(
    p: &Platform,
    caller: &Caller,
    id: &str,
    approve: bool,
    identity: Option<String>,
) -> Result<ProposalView> {
    cast(p, caller, id, approve, Signature::Custodial(identity)).await
}

/// Record a vote signed offline for the caller's org.
pub async fn upload_signature(
    p: &Platform,
    caller: &Caller,
    id: &str,
    approve: bool,
    certificate: String,
    signature: String,
) -> Result<ProposalView> {
    cast(
        p,
        caller,
        id,
        approve,
        Signature::Offline {
            certificate,
            signature,
        },
    )
    .await
}

async fn cast(
    p: &Platform,
    caller: &Caller,
    id: &str,
    approve: bool,
    how: Signature,
) -> Result<ProposalView> {
    caller.require(action::PROPOSAL_VOTE)?;
    let view = get_for(p, caller.org(), id).await?;
    let org_id = caller.org().to_string();
    if !view.voters.iter().any(|v| v.org_id == org_id) {
        return Err(Error::forbidden(
            "NOT_A_VOTER",
            format!("{org_id} is not among this proposal's voters"),
        ));
    }
    let mut tx = p.db().pool().begin().await?;
    let row = row_in(p, &mut tx, id, false).await?;
    tx.commit().await?;
    let bytes = signing_bytes(&row, approve)?;
    // Sign (or check the signature) before taking the proposal's lock.
    let (identity_id, cert, signature, offline) = match how {
        Signature::Custodial(name) => {
            let ident = match name {
                Some(n) => org::identity(p, &org_id, &n).await?,
                None => org::custodial(p, &org_id, "admin").await?.ok_or_else(|| {
                    Error::conflict(
                        "NO_CUSTODIAL_KEY",
                        "the platform keeps no admin key for your org: sign offline (GET …/signing-request, `covenant proposal sign`) and upload the signature",
                    )
                })?,
            };
            if ident.role != "admin" {
                return Err(Error::invalid_as(
                    "NOT_AN_ADMIN",
                    format!("{} is not an admin identity", ident.name),
                ));
            }
            let (cert, key) = org::signer(p, &ident).await?;
            let sig = key.sign(&bytes)?;
            (ident.id, cert, sig, false)
        }
        Signature::Offline {
            certificate,
            signature,
        } => {
            let cert = Certificate::from_pem(&certificate, "signer certificate")?;
            let sig = unb64(&signature).ok_or_else(|| {
                Error::invalid_as("SIGNATURE_INVALID", "the signature is not base64")
            })?;
            check_signer(p, &org_id, &cert)?;
            let ca = org::get(p, &org_id).await?;
            let mut store = TrustStore::new();
            store.add_anchor(Certificate::from_pem(&ca.ca_certificate, "org CA")?);
            store
                .verify(
                    &cert,
                    &[],
                    &VerifyOptions {
                        role: Some(Role::Admin),
                        ..VerifyOptions::default()
                    },
                )
                .map_err(|e| {
                    Error::invalid_as(
                        "SIGNER_NOT_TRUSTED",
                        format!("the certificate is not a valid admin of {org_id}: {e}"),
                    )
                })?;
            cert.public_key()?.verify(&bytes, &sig).map_err(|_| {
                Error::invalid_as(
                    "SIGNATURE_INVALID",
                    format!(
                        "the signature does not verify over the {} of this proposal",
                        if row.payload.is_some() && approve {
                            "transaction payload"
                        } else {
                            "statement"
                        }
                    ),
                )
            })?;
            let identity_id = org::identity_by_fingerprint(p, &cert.fingerprint())
                .await?
                .map_or_else(|| "external".to_string(), |i| i.id);
            (identity_id, cert, sig, true)
        }
    };
    record_vote(
        p,
        caller,
        id,
        &org_id,
        approve,
        &identity_id,
        &cert,
        &signature,
        offline,
    )
    .await
}

fn check_signer(_p: &Platform, org_id: &str, cert: &Certificate) -> Result<()> {
    if cert.organization().as_deref() != Some(org_id) {
        return Err(Error::invalid_as(
            "SIGNER_NOT_TRUSTED",
            format!(
                "the certificate belongs to {:?}, not {org_id}",
                cert.organization().unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn record_vote(
    p: &Platform,
    caller: &Caller,
    id: &str,
    org_id: &str,
    approve: bool,
    identity_id: &str,
    cert: &Certificate,
    signature: &[u8],
    offline: bool,
) -> Result<ProposalView> {
    let mut tx = p.db().write().await?;
    let row = row_in(p, &mut tx, id, true).await?;
    let now = now_ms();
    if row.state == "open" && row.deadline <= now {
        drop(tx);
        expire_due(p).await?;
        return Err(Error::conflict(
            "PROPOSAL_CLOSED",
            "the vote closed at its deadline",
        ));
    }
    if row.state != "open" {
        return Err(Error::conflict(
            "PROPOSAL_CLOSED",
            format!("the proposal is {} and takes no more votes", row.state),
        ));
    }
    let r = sqlx::query(
        "INSERT INTO votes (proposal_id, org_id, decision, identity_id, cert_pem, signature, account_id, offline, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(org_id)
    .bind(if approve { "approve" } else { "reject" })
    .bind(identity_id)
    .bind(cert.to_pem())
    .bind(b64(signature))
    .bind(caller.account_id())
    .bind(i64::from(offline))
    .bind(now)
    .execute(&mut *tx)
    .await;
    match r {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "ALREADY_VOTED",
                format!("{org_id} voted on this proposal already"),
            ));
        }
        other => {
            other?;
        }
    }
    let votes = votes_in(&mut tx, id).await?;
    let decided: BTreeMap<String, bool> = votes
        .iter()
        .map(|v| (v.org_id.clone(), v.decision == "approve"))
        .collect();
    let voter_ids: Vec<String> = row.voters.iter().map(|v| v.org_id.clone()).collect();
    let t = policy::tally(&row.policy, &voter_ids, &decided)?;
    let mut notices = Vec::new();
    let approved = t.standing == Standing::Approved;
    if t.standing != Standing::Open {
        let state = if approved { "approved" } else { "rejected" };
        sqlx::query("UPDATE proposals SET state = $1, decided_at = $2, version = version + 1 WHERE id = $3 AND state = 'open'")
            .bind(state)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let mut to = voter_ids.clone();
        let proposer: String = sqlx::query("SELECT proposer_org FROM proposals WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("proposer_org")?;
        if !to.contains(&proposer) {
            to.push(proposer);
        }
        notices = event::add_in(
            &mut tx,
            &to,
            &event::New {
                kind: if approved {
                    "proposal.approved"
                } else {
                    "proposal.rejected"
                },
                title: format!("Proposal {id} was {state}"),
                subject_kind: "proposal",
                subject_id: id,
                data: json!({"kind": row.kind, "tally": t}),
            },
        )
        .await?;
    } else {
        sqlx::query("UPDATE proposals SET version = version + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    event::push(p, notices);
    if approved {
        execute::spawn(p.clone(), id.to_string());
    }
    get(p, id).await
}

/// Close every open proposal past its deadline; how many closed.
pub async fn expire_due(p: &Platform) -> Result<usize> {
    let now = now_ms();
    let rows = sqlx::query(
        "SELECT id, voters, kind FROM proposals WHERE state = 'open' AND deadline <= $1",
    )
    .bind(now)
    .fetch_all(p.db().pool())
    .await?;
    let mut n = 0;
    for r in rows {
        let id: String = r.try_get("id")?;
        let kind: String = r.try_get("kind")?;
        let voters: Vec<Voter> =
            serde_json::from_str(&r.try_get::<String, _>("voters")?).unwrap_or_default();
        let mut tx = p.db().write().await?;
        let changed = sqlx::query(
            "UPDATE proposals SET state = 'expired', decided_at = $1, version = version + 1 WHERE id = $2 AND state = 'open'",
        )
        .bind(now)
        .bind(&id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            continue;
        }
        let to: Vec<String> = voters.into_iter().map(|v| v.org_id).collect();
        let notices = event::add_in(
            &mut tx,
            &to,
            &event::New {
                kind: "proposal.expired",
                title: format!("Proposal {id} expired without a decision"),
                subject_kind: "proposal",
                subject_id: &id,
                data: json!({"kind": kind}),
            },
        )
        .await?;
        tx.commit().await?;
        event::push(p, notices);
        n += 1;
    }
    Ok(n)
}
