//! Integration tests of the consensus engines.

mod tbft_sim;
