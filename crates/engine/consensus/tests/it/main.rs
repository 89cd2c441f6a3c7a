//! Integration tests of the consensus engines.

mod raft;
mod tbft_machine;
mod tbft_sim;
