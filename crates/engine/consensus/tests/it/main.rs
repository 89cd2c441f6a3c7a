//! Integration tests of the consensus engines.

mod conformance;
mod raft;
mod tbft_driver_sim;
mod tbft_machine;
mod tbft_sim;
