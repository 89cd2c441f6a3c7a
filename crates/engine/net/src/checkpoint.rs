//! Comparing state digests with peers (seed 003's near-real-time cross-node check). Every
//! node digests its state as of the same checkpoint heights and reports its latest digest in
//! its status; a node compares each of its recent digests with what the chain's other
//! consensus nodes report for that height. When a majority of the consensus nodes hold
//! another digest, this node's state is the odd one — altered on its disk in a way its own
//! checks cannot see (an entry removed, or rewritten together with its history), whatever its
//! key would sign — and it is rebuilt from the blocks. When a majority holds this node's
//! digest, a peer that reports another is named.
//!
//! Block hashes are compared the same way: each node reports the hash of its block at its
//! anchor height (the highest multiple of [`ANCHOR_EVERY`] it has); a hash most consensus
//! nodes hold there becomes the ledger's anchor, which the store holds every earlier block
//! to through the blocks' links (`Store::verify_links`). A node whose own block there differs
//! says so (`BLOCK_DIVERGED`, `covenant_block_divergence_total`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tracing::{info, warn};

use crate::{
    PeerId,
    chain_link::{ChainLink, Ledger},
};

/// Anchor heights are the multiples of this.
pub const ANCHOR_EVERY: u64 = 32;

/// The hash most of a chain's `validators` consensus nodes hold, from their `reports` and
/// this node's `mine` (counted if it votes), if one has a majority.
pub fn majority_hash(
    mine: Option<&[u8]>,
    voting: bool,
    reports: &[(PeerId, Vec<u8>)],
    validators: usize,
) -> Option<Vec<u8>> {
    let majority = validators / 2 + 1;
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    for (_, h) in reports {
        *counts.entry(h.as_slice()).or_default() += 1;
    }
    if voting && let Some(m) = mine {
        *counts.entry(m).or_default() += 1;
    }
    counts
        .into_iter()
        .find(|(_, n)| *n >= majority)
        .map(|(h, _)| h.to_vec())
}

/// Find the newest anchor height at which most consensus nodes report the same block hash,
/// hand it to the ledger, and say so if this node's block there differs.
pub fn compare_anchors<L: Ledger>(link: &ChainLink<L>) {
    let validators = link.ledger.validators();
    if validators < 2 {
        return;
    }
    let (tip, _) = link.ledger.tip();
    let reports = link.sync.anchor_reports();
    let heights: BTreeSet<u64> = reports
        .iter()
        .filter(|(_, (h, _, voting))| *voting && *h <= tip)
        .map(|(_, (h, _, _))| *h)
        .collect();
    let chain = link.ledger.chain_id().to_string();
    for height in heights.iter().rev() {
        let at: Vec<(PeerId, Vec<u8>)> = reports
            .iter()
            .filter(|(_, (h, _, voting))| h == height && *voting)
            .map(|(p, (_, hash, _))| (*p, hash.clone()))
            .collect();
        let mine = link.ledger.block_hash_at(*height);
        let Some(hash) =
            majority_hash(mine.as_deref(), link.ledger.is_validator(), &at, validators)
        else {
            continue;
        };
        if mine.as_deref() != Some(hash.as_slice()) && link.sync.first_divergence(*height) {
            warn!(
                chain,
                height,
                code = "BLOCK_DIVERGED",
                "this node's block at an anchor height differs from the one most consensus nodes hold: holding the ledger to theirs"
            );
            metrics::counter!("covenant_block_divergence_total", "chain" => chain.clone())
                .increment(1);
        }
        link.ledger.anchor(*height, hash);
        return;
    }
}

/// What the reports for one checkpoint say of this node's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A majority of the consensus nodes holds this node's digest; these peers hold another.
    PeersDiffer(Vec<PeerId>),
    /// A majority of the consensus nodes holds another digest than this node's.
    ThisNodeDiffers {
        /// How many nodes hold the majority's digest.
        holders: usize,
    },
    /// No digest has a majority (yet).
    Undecided,
}

/// Judge this node's digest `mine` at one checkpoint against the digests consensus peers
/// reported for it, on a chain of `validators` consensus nodes (`voting`: this node is one).
pub fn judge(
    mine: &[u8],
    voting: bool,
    reports: &[(PeerId, Vec<u8>)],
    validators: usize,
) -> Verdict {
    let majority = validators / 2 + 1;
    let mut holders: HashMap<&[u8], Vec<PeerId>> = HashMap::new();
    for (peer, digest) in reports {
        holders.entry(digest.as_slice()).or_default().push(*peer);
    }
    let ours = holders.get(mine).map_or(0, Vec::len) + usize::from(voting);
    if let Some((_, peers)) = holders
        .iter()
        .find(|(d, peers)| **d != mine && peers.len() >= majority)
    {
        return Verdict::ThisNodeDiffers {
            holders: peers.len(),
        };
    }
    if ours >= majority {
        let mut differ: Vec<PeerId> = holders
            .iter()
            .filter(|(d, _)| **d != mine)
            .flat_map(|(_, p)| p.iter().copied())
            .collect();
        differ.sort();
        return Verdict::PeersDiffer(differ);
    }
    Verdict::Undecided
}

/// Compare this node's recent checkpoint digests with its peers' reports and act on the
/// verdicts not acted on yet (each checkpoint once).
pub async fn compare<L: Ledger>(link: &ChainLink<L>) {
    compare_anchors(link);
    let ours: BTreeMap<u64, Vec<u8>> = link.ledger.state_digests();
    let validators = link.ledger.validators();
    if ours.is_empty() || validators < 2 {
        return;
    }
    let reports = link.sync.checkpoint_reports();
    let chain = link.ledger.chain_id().to_string();
    for (height, mine) in ours.iter().rev() {
        let at: Vec<(PeerId, Vec<u8>)> = reports
            .iter()
            .filter(|(_, (h, _, validator))| h == height && *validator)
            .map(|(p, (_, d, _))| (*p, d.clone()))
            .collect();
        if at.is_empty() {
            continue;
        }
        match judge(mine, link.ledger.is_validator(), &at, validators) {
            Verdict::ThisNodeDiffers { holders } => {
                if !link.sync.first_verdict(None, *height) {
                    continue;
                }
                warn!(
                    chain,
                    height,
                    holders,
                    validators,
                    code = "STATE_DIVERGED",
                    "this node's state at a checkpoint differs from the one most consensus nodes hold: rebuilding it from the blocks"
                );
                metrics::counter!("covenant_state_divergence_total", "chain" => chain.clone())
                    .increment(1);
                let ledger = link.ledger.clone();
                match tokio::task::spawn_blocking(move || ledger.rebuild_state()).await {
                    Ok(Ok(true)) => info!(chain, height, "the state is rebuilt from the blocks"),
                    Ok(Ok(false)) => {
                        info!(
                            chain,
                            height, "the state rebuild waits for a damaged block's repair"
                        )
                    }
                    Ok(Err(e)) => {
                        warn!(chain, height, error = %e, "the state could not be rebuilt")
                    }
                    Err(_) => {}
                }
                return;
            }
            Verdict::PeersDiffer(peers) => {
                for peer in peers {
                    if !link.sync.first_verdict(Some(peer), *height) {
                        continue;
                    }
                    warn!(chain, %peer, name = %link.net.peer_name(&peer), height, "a peer's state at a checkpoint differs from the one most consensus nodes hold");
                    metrics::counter!(
                        "covenant_peer_misbehaviour_total",
                        "chain" => chain.clone(),
                        "peer" => peer.to_hex(),
                        "kind" => "diverging state",
                    )
                    .increment(1);
                }
            }
            Verdict::Undecided => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> PeerId {
        PeerId([n; 32])
    }

    #[test]
    fn an_anchor_needs_a_majority_of_the_consensus_nodes() {
        let (a, b) = (vec![1u8], vec![2u8]);
        let r = vec![
            (peer(1), b.clone()),
            (peer(2), b.clone()),
            (peer(3), b.clone()),
        ];
        // Three of four hold b: that is the chain's block, whatever this node holds.
        assert_eq!(majority_hash(Some(&a), true, &r, 4), Some(b.clone()));
        // This node and one peer against two: no majority either way.
        let r = vec![
            (peer(1), a.clone()),
            (peer(2), b.clone()),
            (peer(3), b.clone()),
        ];
        assert_eq!(majority_hash(Some(&a), true, &r, 4), None);
        // This node counts when it votes, not when it does not.
        let r = vec![(peer(1), a.clone()), (peer(2), a.clone())];
        assert_eq!(majority_hash(Some(&a), true, &r, 4), Some(a.clone()));
        assert_eq!(majority_hash(Some(&a), false, &r, 4), None);
        assert_eq!(majority_hash(None, true, &r, 4), None);
    }

    #[test]
    fn the_majority_of_consensus_nodes_decides() {
        let (a, b) = (vec![1u8], vec![2u8]);
        // Four validators: this node and two peers agree; one peer differs.
        let r = vec![
            (peer(1), a.clone()),
            (peer(2), a.clone()),
            (peer(3), b.clone()),
        ];
        assert_eq!(judge(&a, true, &r, 4), Verdict::PeersDiffer(vec![peer(3)]));
        // The three peers agree on another digest: this node is the odd one.
        let r = vec![
            (peer(1), b.clone()),
            (peer(2), b.clone()),
            (peer(3), b.clone()),
        ];
        assert_eq!(
            judge(&a, true, &r, 4),
            Verdict::ThisNodeDiffers { holders: 3 }
        );
        // Two against two (this node included) decides nothing.
        let r = vec![
            (peer(1), a.clone()),
            (peer(2), b.clone()),
            (peer(3), b.clone()),
        ];
        assert_eq!(judge(&a, true, &r, 4), Verdict::Undecided);
        // Too few reports yet.
        assert_eq!(
            judge(&a, true, &[(peer(1), b.clone())], 4),
            Verdict::Undecided
        );
        // Everyone agrees.
        let r = vec![(peer(1), a.clone()), (peer(2), a.clone())];
        assert_eq!(judge(&a, true, &r, 3), Verdict::PeersDiffer(vec![]));
        // A sync node (not voting) needs a majority of the validators without itself.
        let r = vec![(peer(1), b.clone()), (peer(2), b.clone()), (peer(3), b)];
        assert_eq!(
            judge(&a, false, &r, 4),
            Verdict::ThisNodeDiffers { holders: 3 }
        );
    }
}
