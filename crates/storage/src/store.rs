//! The channel's database and its atomic per-block commit.

use crate::{
    StorageError,
    changes::StateChanges,
    commitment::StateLattice,
    snapshot::Snapshot,
    tables::{self, storage_key},
};
use alloy_primitives::{Address, Bytes, U256};
use redb::{Database, Durability, ReadableDatabase, ReadableTable};
use ricaas_primitives::{Block, Header, RecoveredTx, StoredReceipt};
use std::{collections::BTreeSet, path::Path};

/// A block together with everything its execution produced, ready to commit.
#[derive(Clone, Debug)]
pub struct ExecutedBlock {
    pub block: Block,
    pub receipts: Vec<StoredReceipt>,
    pub changes: StateChanges,
    /// The state lattice after the block; its root is `block.header.state_root`.
    pub lattice: StateLattice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// The same block was already committed (delivery is at-least-once; commit is idempotent).
    AlreadyCommitted,
}

pub struct ChainStore {
    db: Database,
}

impl ChainStore {
    /// Opens the database at `path`, creating it if absent. redb recovers from an unclean
    /// shutdown on open: the last durable commit is what it sees.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        {
            // Create every table so snapshots can open them before the first block.
            txn.open_table(tables::META)?;
            txn.open_table(tables::HEADERS)?;
            txn.open_table(tables::HASH_TO_HEIGHT)?;
            txn.open_table(tables::BODIES)?;
            txn.open_table(tables::SENDERS)?;
            txn.open_table(tables::TX_HASHES)?;
            txn.open_table(tables::RECEIPTS)?;
            txn.open_table(tables::TX_LOOKUP)?;
            txn.open_table(tables::LOG_ADDRESS)?;
            txn.open_table(tables::ACCOUNTS)?;
            txn.open_table(tables::STORAGE)?;
            txn.open_table(tables::CODE)?;
        }
        txn.commit()?;
        Ok(Self { db })
    }

    pub fn snapshot(&self) -> Result<Snapshot, StorageError> {
        Snapshot::new(self.db.begin_read()?)
    }

    /// Writes the block, its receipts, indexes and state changes in one durable transaction.
    pub fn commit_block(&self, executed: &ExecutedBlock) -> Result<CommitOutcome, StorageError> {
        let header = &executed.block.header;
        let height = header.height;
        let hash = header.hash();
        let (txn, head) = self.begin_block_write()?;
        let expected = head.map_or(0, |h| h + 1);
        if height < expected {
            let headers = txn.open_table(tables::HEADERS)?;
            let stored = headers
                .get(height)?
                .map(|raw| alloy_rlp::Decodable::decode(&mut raw.value()))
                .transpose()
                .map_err(|e| StorageError::Corrupt {
                    table: "headers",
                    detail: e.to_string(),
                })?
                .map(|h: Header| h.hash());
            return match stored {
                Some(stored) if stored == hash => Ok(CommitOutcome::AlreadyCommitted),
                Some(stored) => Err(StorageError::Conflict {
                    height,
                    stored,
                    offered: hash,
                }),
                None => Err(StorageError::OutOfOrder {
                    head: head.unwrap_or(0),
                    got: height,
                }),
            };
        }
        if height > expected {
            return Err(StorageError::OutOfOrder {
                head: head.unwrap_or(0),
                got: height,
            });
        }
        write_contents(
            &txn,
            height,
            &executed.block.transactions,
            &executed.receipts,
            &executed.changes,
        )?;
        write_header(&txn, header, &executed.lattice)?;
        txn.commit()?;
        Ok(CommitOutcome::Committed)
    }

    /// Starts committing the block at `height`, the one after the head, from what its
    /// execution produced before it is sealed: the transactions, receipts, indexes and state
    /// changes are written while the caller computes the header (a solo sequencer's block is
    /// final once sealed, so its commit need not wait for the roots). Nothing is visible or
    /// durable until [`StagedBlock::commit`]; dropped, the staged writes are discarded.
    pub fn stage_block(
        &self,
        height: u64,
        transactions: &[RecoveredTx],
        receipts: &[StoredReceipt],
        changes: &StateChanges,
    ) -> Result<StagedBlock, StorageError> {
        let (txn, head) = self.begin_block_write()?;
        let expected = head.map_or(0, |h| h + 1);
        if height != expected {
            return Err(StorageError::OutOfOrder {
                head: head.unwrap_or(0),
                got: height,
            });
        }
        write_contents(&txn, height, transactions, receipts, changes)?;
        Ok(StagedBlock { txn, height })
    }

    /// A durable write transaction for the next block, and the head it starts from.
    fn begin_block_write(&self) -> Result<(redb::WriteTransaction, Option<u64>), StorageError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| StorageError::Database(e.to_string()))?;
        let head = read_head(&txn.open_table(tables::META)?)?;
        Ok((txn, head))
    }
}

/// A block whose contents are written in a write transaction not yet committed: what
/// [`ChainStore::stage_block`] returns, waiting for the block's header.
pub struct StagedBlock {
    txn: redb::WriteTransaction,
    height: u64,
}

impl StagedBlock {
    /// Writes the header and the state lattice after the block, makes the head this block and
    /// commits: durable when this returns.
    pub fn commit(self, header: &Header, lattice: &StateLattice) -> Result<(), StorageError> {
        if header.height != self.height {
            return Err(StorageError::OutOfOrder {
                head: self.height.saturating_sub(1),
                got: header.height,
            });
        }
        write_header(&self.txn, header, lattice)?;
        self.txn.commit()?;
        Ok(())
    }
}

fn read_head(meta: &redb::Table<'_, &str, &[u8]>) -> Result<Option<u64>, StorageError> {
    meta.get(tables::META_HEAD)?
        .map(|raw| {
            raw.value()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| StorageError::Corrupt {
                    table: "meta",
                    detail: "head is not 8 bytes".into(),
                })
        })
        .transpose()
}

/// Everything of a block but its header: bodies, senders, hashes, receipts, the lookup and log
/// indexes, and the state changes.
fn write_contents(
    txn: &redb::WriteTransaction,
    height: u64,
    txs: &[RecoveredTx],
    receipts: &[StoredReceipt],
    changes: &StateChanges,
) -> Result<(), StorageError> {
    let raw: Vec<Bytes> = txs.iter().map(|tx| tx.encoded().clone()).collect();
    txn.open_table(tables::BODIES)?
        .insert(height, alloy_rlp::encode(&raw).as_slice())?;
    let senders: Vec<u8> = txs.iter().flat_map(|tx| tx.sender().0.0).collect();
    txn.open_table(tables::SENDERS)?
        .insert(height, senders.as_slice())?;
    let hashes: Vec<u8> = txs.iter().flat_map(|tx| tx.hash().0).collect();
    txn.open_table(tables::TX_HASHES)?
        .insert(height, hashes.as_slice())?;
    let mut encoded_receipts = Vec::new();
    alloy_rlp::encode_list::<_, StoredReceipt>(receipts, &mut encoded_receipts);
    txn.open_table(tables::RECEIPTS)?
        .insert(height, encoded_receipts.as_slice())?;

    // In key order: consecutive inserts walk to neighbouring leaves of the index, where the
    // transactions' order would send each to a random one.
    let mut locations: Vec<([u8; 32], u32)> = txs
        .iter()
        .enumerate()
        .map(|(index, tx)| (tx.hash().0, index as u32))
        .collect();
    locations.sort_unstable();
    let mut lookup = txn.open_table(tables::TX_LOOKUP)?;
    for (hash, index) in &locations {
        lookup.insert(hash, (height, *index))?;
    }
    let emitters: BTreeSet<Address> = receipts
        .iter()
        .flat_map(|r| r.logs.iter().map(|log| log.address))
        .collect();
    let mut log_address = txn.open_table(tables::LOG_ADDRESS)?;
    for address in emitters {
        log_address.insert(&tables::log_address_key(&address, height), ())?;
    }
    write_state(txn, changes)
}

/// The header, its hash's index entry, the lattice after the block and the new head.
fn write_header(
    txn: &redb::WriteTransaction,
    header: &Header,
    lattice: &StateLattice,
) -> Result<(), StorageError> {
    let height = header.height;
    txn.open_table(tables::HEADERS)?
        .insert(height, alloy_rlp::encode(header).as_slice())?;
    txn.open_table(tables::HASH_TO_HEIGHT)?
        .insert(&header.hash().0, height)?;
    let mut meta = txn.open_table(tables::META)?;
    meta.insert(tables::META_LATTICE, lattice.to_bytes().as_slice())?;
    meta.insert(tables::META_HEAD, height.to_be_bytes().as_slice())?;
    Ok(())
}

fn write_state(txn: &redb::WriteTransaction, changes: &StateChanges) -> Result<(), StorageError> {
    let mut accounts = txn.open_table(tables::ACCOUNTS)?;
    let mut storage = txn.open_table(tables::STORAGE)?;
    let mut code = txn.open_table(tables::CODE)?;
    for address in &changes.wiped_storage {
        let start = storage_key(address, &U256::ZERO);
        let end = storage_key(address, &U256::MAX);
        storage.retain_in::<&[u8; 52], _>(&start..=&end, |_, _| false)?;
    }
    for (address, account) in &changes.accounts {
        match account {
            Some(account) if !account.is_empty() => {
                accounts.insert(&address.0.0, &account.encode())?;
            }
            _ => {
                accounts.remove(&address.0.0)?;
            }
        }
    }
    for ((address, slot), value) in &changes.storage {
        let key = storage_key(address, slot);
        if value.is_zero() {
            storage.remove(&key)?;
        } else {
            storage.insert(&key, &value.to_be_bytes::<32>())?;
        }
    }
    for (hash, bytes) in &changes.code {
        code.insert(&hash.0, bytes.as_ref())?;
    }
    Ok(())
}
