//! Integration tests of the consensus engines.

mod raft;
mod tbft_sim;
