//! The TBFT machine facing a Byzantine validator that floods it: memory stays bounded, and a
//! restarted validator never signs a second, different vote.

use covenant_consensus::tbft::{
    Action, Input, Machine, MemJournal, Message, ProposalBody, SignedProposal, SignedVote,
    Timeouts, Validators, Value, VoteBody, VoteKind,
    sim::{SimSigner, SimValue},
};
use covenant_crypto::{Hash, HashAlgorithm};

fn id(i: u8) -> Hash {
    HashAlgorithm::Sha256.digest(&[i])
}

fn machine(me: u8, journal: MemJournal) -> Machine<SimValue, MemJournal, SimSigner> {
    Machine::new("main", SimSigner(id(me)), journal, Timeouts::default())
}

fn validators() -> Validators {
    Validators::new((0..4).map(id).collect())
}

fn vote(
    from: u8,
    height: u64,
    round: u32,
    kind: VoteKind,
    value: Option<Hash>,
) -> Message<SimValue> {
    let body = VoteBody {
        chain_id: "main".into(),
        height,
        round,
        kind,
        value,
    };
    Message::Vote(SignedVote {
        body: body.encode(),
        vote: body,
        voter: id(from),
        signature: vec![],
    })
}

fn proposal(from: u8, height: u64, round: u32) -> Message<SimValue> {
    let value = SimValue {
        height,
        round,
        proposer: from as u32,
        salt: 7,
        valid: true,
    };
    let body = ProposalBody {
        chain_id: "main".into(),
        height,
        round,
        pol_round: None,
        value: value.id(),
    };
    Message::Proposal(SignedProposal {
        body: body.encode(),
        proposal: body,
        value,
        proposer: id(from),
        signature: vec![],
    })
}

#[test]
fn a_flooding_validator_cannot_grow_memory_without_bound() {
    let mut m = machine(0, MemJournal::default());
    m.start_height(1, validators());
    for round in 0..20_000u32 {
        for kind in [VoteKind::Prevote, VoteKind::Precommit] {
            let v = Hash(HashAlgorithm::Sha256.digest(&round.to_be_bytes()).0);
            m.handle(Input::Message(vote(3, 1, round, kind, Some(v))));
        }
    }
    let (votes, future) = m.stored();
    assert!(votes <= 4096 + 4, "{votes} votes stored");
    // Far-future heights are not kept; near-future proposals only up to a limit.
    for h in 3..1_000 {
        m.handle(Input::Message(vote(3, h, 0, VoteKind::Prevote, None)));
    }
    for round in 0..1_000 {
        m.handle(Input::Message(proposal(3, 2, round)));
    }
    let (_, future_after) = m.stored();
    assert!(
        future_after - future <= 64 + 2,
        "{future_after} kept for later"
    );
}

#[test]
fn a_restarted_validator_repeats_its_vote_instead_of_signing_another() {
    let mut m = machine(1, MemJournal::default());
    let actions = m.start_height(1, validators());
    // Validator 1 is the proposer of height 1, round 0 (round robin): it asks for a value.
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Build {
            height: 1,
            round: 0
        }
    )));
    let value = SimValue {
        height: 1,
        round: 0,
        proposer: 1,
        salt: 1,
        valid: true,
    };
    let first = value.id();
    let out = m.handle(Input::Built {
        height: 1,
        round: 0,
        value,
    });
    let prevote = |actions: &[Action<SimValue>]| {
        actions.iter().find_map(|a| match a {
            Action::Broadcast(Message::Vote(v)) if v.vote.kind == VoteKind::Prevote => {
                Some(v.vote.value)
            }
            _ => None,
        })
    };
    assert_eq!(prevote(&out), Some(Some(first)));
    // Crash: the machine is gone, its journal survives. The restarted machine is handed a
    // different proposal for the same round (as a faulty proposer might send) and must not
    // prevote for it: it repeats the journaled prevote.
    let journal = m.into_journal();
    let mut m = machine(1, journal);
    let restarted = m.start_height(1, validators());
    let repeated = prevote(&restarted).or_else(|| {
        let other = proposal(1, 1, 0);
        prevote(&m.handle(Input::Message(other)))
    });
    assert_eq!(repeated, Some(Some(first)));
}
