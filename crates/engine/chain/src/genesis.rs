//! The genesis block (built and checked by covenant-types, so that the tools and the platform
//! that create chains derive exactly the block every node does).

pub use covenant_types::genesis::{
    GENESIS_METHOD, check_config, config_key, config_of, decode, genesis_block,
};
