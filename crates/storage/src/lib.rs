//! Durable storage of one channel's chain on redb: headers, bodies, receipts, account and
//! contract state, and the indexes RPC needs (transaction by hash, logs by address). Everything a
//! block changes is written in one redb write transaction that is durable when `commit_block`
//! returns, so `kill -9` never leaves a half-written block. Reads go through MVCC snapshots.
//! It does not execute anything: the caller hands it the state changes a block produced.

mod changes;
mod commitment;
mod reader;
mod snapshot;
mod store;
mod tables;

pub use changes::{AccountState, StateChanges};
pub use commitment::StateLattice;
pub use reader::{PendingState, StateReader};
pub use snapshot::{Snapshot, TxLocation};
pub use store::{ChainStore, CommitOutcome, ExecutedBlock, StagedBlock};

/// Why a storage operation failed. Any of these means the disk or the database file is at fault,
/// or the caller broke an invariant (committing out of order).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Database(String),
    #[error("corrupt record in table {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    #[error("block {got} cannot follow head {head}: blocks commit in height order")]
    OutOfOrder { head: u64, got: u64 },
    #[error(
        "block at height {height} conflicts with the stored block: stored {stored}, offered {offered}"
    )]
    Conflict {
        height: u64,
        stored: alloy_primitives::B256,
        offered: alloy_primitives::B256,
    },
    #[error("chain is not initialized: no genesis block")]
    NoGenesis,
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StorageError {
            fn from(e: $t) -> Self {
                StorageError::Database(e.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
