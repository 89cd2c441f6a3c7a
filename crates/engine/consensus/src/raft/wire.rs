//! The binary encoding of everything the engine sends or stores.
//!
//! Every record is one version byte ([`VERSION`]) followed by the postcard encoding of the value;
//! byte strings are length-prefixed raw bytes. Decoding checks the version, rejects trailing
//! bytes and never panics: bytes from the network or the disk are untrusted.

use std::fmt;

use openraft::{
    EmptyNode, EntryPayload, Vote,
    raft::{
        AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
    },
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::{RaftId, SnapshotMeta, TypeConfig};

/// The format version written in front of every record.
pub(crate) const VERSION: u8 = 1;

/// The payload of an application entry: opaque bytes (for a chain, an encoded block).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Payload(#[serde(with = "serde_bytes")] pub(crate) Vec<u8>);

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({} bytes)", self.0.len())
    }
}

/// One Raft RPC, as a node sends it to a peer.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Log replication or heartbeat.
    Append(AppendEntriesRequest<TypeConfig>),
    /// A candidate asking for a vote.
    Vote(VoteRequest<RaftId>),
    /// A whole snapshot, sent to a follower whose next entries were purged.
    Snapshot {
        /// The leader's vote.
        vote: Vote<RaftId>,
        /// What the snapshot covers.
        meta: SnapshotMeta,
        /// The applier's description of the state.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
}

/// The reply to a [`Request`], of the same kind.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// Reply to [`Request::Append`].
    Append(AppendEntriesResponse<RaftId>),
    /// Reply to [`Request::Vote`].
    Vote(VoteResponse<RaftId>),
    /// Reply to [`Request::Snapshot`].
    Snapshot(SnapshotResponse<RaftId>),
}

/// Encodes `value` as a versioned record.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    postcard::to_extend(value, vec![VERSION]).map_err(|e| format!("encode: {e}"))
}

/// Decodes a versioned record; any malformed input is an error.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (&version, body) = bytes.split_first().ok_or("empty record")?;
    if version != VERSION {
        return Err(format!("unknown record version {version}"));
    }
    let (value, rest) = postcard::take_from_bytes(body).map_err(|e| format!("decode: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes", rest.len()));
    }
    Ok(value)
}

/// Checks the invariants openraft assumes of a request but the encoding cannot express, so that
/// a malformed request from a peer is refused instead of upsetting the engine.
pub(crate) fn check_request(request: &Request) -> Result<(), String> {
    match request {
        Request::Append(rpc) => {
            let term = rpc.vote.leader_id().term;
            let mut next = rpc.prev_log_id.map_or(0, |l| l.index + 1);
            let mut last_term = rpc.prev_log_id.map_or(0, |l| l.leader_id.term);
            for entry in &rpc.entries {
                let id = entry.log_id;
                if id.index != next {
                    return Err(format!("entry index {} where {next} was due", id.index));
                }
                if id.leader_id.term < last_term || id.leader_id.term > term {
                    return Err(format!("entry {} has an out of order term", id.index));
                }
                if let EntryPayload::Membership(m) = &entry.payload {
                    check_membership(m)?;
                }
                next = next.checked_add(1).ok_or("log index overflow")?;
                last_term = id.leader_id.term;
            }
            if rpc.leader_commit.is_some_and(|c| c.leader_id.term > term) {
                return Err("commit point from a later term".into());
            }
            Ok(())
        }
        Request::Vote(_) => Ok(()),
        Request::Snapshot { vote, meta, .. } => {
            let last = meta.last_log_id.ok_or("snapshot without a last log id")?;
            if last.leader_id.term > vote.leader_id().term {
                return Err("snapshot from a later term".into());
            }
            if meta.last_membership.log_id() > &Some(last) {
                return Err("snapshot membership after its last log id".into());
            }
            check_membership(meta.last_membership.membership())
        }
    }
}

fn check_membership(m: &openraft::Membership<RaftId, EmptyNode>) -> Result<(), String> {
    let configs = m.get_joint_config();
    if configs.is_empty() || configs.iter().any(|c| c.is_empty()) {
        return Err("membership with an empty configuration".into());
    }
    if m.voter_ids().any(|id| m.get_node(&id).is_none()) {
        return Err("membership voter missing from its nodes".into());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use openraft::{CommittedLeaderId, Entry, LogId};

    use super::*;

    #[test]
    fn payload_bytes_are_encoded_raw_after_a_length() {
        let bytes = encode(&Payload(vec![7; 1000])).unwrap();
        // version + varint length (2 bytes) + the bytes themselves.
        assert_eq!(bytes.len(), 1 + 2 + 1000);
        assert_eq!(decode::<Payload>(&bytes).unwrap(), Payload(vec![7; 1000]));
    }

    #[test]
    fn a_request_round_trips_and_damage_is_refused() {
        let entry = Entry::<TypeConfig> {
            log_id: LogId::new(CommittedLeaderId::new(3, 1), 8),
            payload: EntryPayload::Normal(Payload(b"block".to_vec())),
        };
        let request = Request::Append(AppendEntriesRequest {
            vote: Vote::new_committed(3, 1),
            prev_log_id: Some(LogId::new(CommittedLeaderId::new(2, 1), 7)),
            entries: vec![entry],
            leader_commit: Some(LogId::new(CommittedLeaderId::new(2, 1), 7)),
        });
        check_request(&request).unwrap();
        let bytes = encode(&request).unwrap();
        let back: Request = decode(&bytes).unwrap();
        assert_eq!(format!("{back:?}"), format!("{request:?}"));

        let mut other_version = bytes.clone();
        other_version[0] = VERSION + 1;
        assert!(decode::<Request>(&other_version).is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode::<Request>(&trailing).is_err());
        for len in 0..bytes.len() {
            assert!(decode::<Request>(&bytes[..len]).is_err(), "{len}");
        }
    }

    #[test]
    fn entries_out_of_sequence_are_refused() {
        let entry = |term, index| Entry::<TypeConfig> {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Blank,
        };
        let append = |entries| {
            Request::Append(AppendEntriesRequest {
                vote: Vote::new_committed(3, 1),
                prev_log_id: Some(LogId::new(CommittedLeaderId::new(2, 1), 7)),
                entries,
                leader_commit: None,
            })
        };
        check_request(&append(vec![entry(3, 8), entry(3, 9)])).unwrap();
        assert!(check_request(&append(vec![entry(3, 9)])).is_err());
        assert!(check_request(&append(vec![entry(3, 8), entry(3, 8)])).is_err());
        assert!(check_request(&append(vec![entry(1, 8)])).is_err());
        assert!(check_request(&append(vec![entry(4, 8)])).is_err());
        assert!(check_request(&append(vec![entry(3, 8), entry(2, 9)])).is_err());
    }
}
