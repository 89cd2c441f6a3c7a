//! Covenant's storage for one chain.
//!
//! - Blocks go to append-only segment files ([`segment`]), each record checksummed.
//! - State (with the version that last wrote each key and a digest that makes each entry
//!   checkable on read), the tx index, key history, contract events and the
//!   block index live in redb. [`Store::scrub_state`] holds entries to the blocks that wrote
//!   them; [`Store::repair_state`] puts damaged ones back from those blocks.
//! - A block commits in one group: the record is appended and synced, then every change it
//!   implies is written in one redb transaction. Everything is derived from the block itself,
//!   so [`rebuild`] (re-deriving from the segments) and normal commits give the same result.
//! - On open, blocks that reached the segments but not redb are applied and a torn append is
//!   cut off; [`Store::verify`] checks hash links and Merkle roots.
//! - [`Store::archive`] moves old block bodies into compressed, checksummed [`archive`]
//!   files (headers and certificates stay), reads them through when asked and
//!   [`Store::restore_archived`] brings them back.
//! - [`export`] writes every block of a chain to one checked file and restores it into a new
//!   store.

#![forbid(unsafe_code)]

pub mod archive;
mod error;
pub mod export;
pub mod segment;
mod state_entry;
mod store;

pub use error::{Result, StorageError};
pub use store::{
    ArchiveFile, ArchiveReport, ArchiveStatus, CHECKPOINT_EVERY, LinkCheck, Recovery,
    RestoreReport, Snapshot, StateEntry, StateScrub, Store, Tip, VerifyMode, Version, rebuild,
};
