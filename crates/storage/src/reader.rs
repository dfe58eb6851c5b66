//! Reading state for execution: from a committed snapshot, or from a snapshot with executed but
//! not yet committed blocks layered on top (a BFT proposer builds on a parent that consensus has
//! notarized but not finalized).

use crate::{
    ExecutedBlock, Snapshot, StateLattice, StorageError,
    changes::{AccountState, StateChanges},
};
use alloy_primitives::{Address, B256, Bytes, U256};
use std::{collections::BTreeMap, sync::Arc};

/// The state of the chain after some block, as execution reads it.
pub trait StateReader {
    fn account(&self, address: &Address) -> Result<Option<AccountState>, StorageError>;
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StorageError>;
    /// Every non-zero slot of an account (used when its storage is wiped).
    fn storage_of(&self, address: &Address) -> Result<Vec<(U256, U256)>, StorageError>;
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError>;
    /// Hash of the block at `height`, if it is part of this state's history.
    fn block_hash(&self, height: u64) -> Result<Option<B256>, StorageError>;
    /// The state lattice of this state.
    fn lattice(&self) -> Result<StateLattice, StorageError>;

    /// The state lattice after applying `changes` to this state. Reads only the old values of
    /// the keys that change. Each key's old pair is subtracted and its new pair added; these
    /// updates commute, so a large block's keys are split among threads (one per core, each
    /// summing its own delta) and the deltas added up: the result is the same as in one pass.
    fn lattice_after(&self, changes: &StateChanges) -> Result<StateLattice, StorageError>
    where
        Self: Sync,
    {
        let workers = lattice_workers(changes.accounts.len() + changes.storage.len());
        lattice_after_in(self, changes, workers)
    }
}

/// [`StateReader::lattice_after`] with the changed keys split among `workers` threads.
fn lattice_after_in<S: StateReader + Sync + ?Sized>(
    state: &S,
    changes: &StateChanges,
    workers: usize,
) -> Result<StateLattice, StorageError> {
    let mut lattice = state.lattice()?;
    for address in &changes.wiped_storage {
        for (slot, value) in state.storage_of(address)? {
            lattice.remove_slot(address, &slot, &value);
        }
    }
    let accounts: Vec<_> = changes.accounts.iter().collect();
    let slots: Vec<_> = changes.storage.iter().collect();
    if workers <= 1 {
        lattice.merge(&lattice_delta(state, changes, &accounts, &slots)?);
        return Ok(lattice);
    }
    let (account_share, slot_share) = (
        accounts.len().div_ceil(workers).max(1),
        slots.len().div_ceil(workers).max(1),
    );
    std::thread::scope(|scope| {
        let mut account_parts = accounts.chunks(account_share);
        let mut slot_parts = slots.chunks(slot_share);
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (a, s) = (
                    account_parts.next().unwrap_or_default(),
                    slot_parts.next().unwrap_or_default(),
                );
                scope.spawn(move || lattice_delta(state, changes, a, s))
            })
            .collect();
        for handle in handles {
            // A panic in a worker is a bug: raised here as it would have been in one pass.
            let delta = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            lattice.merge(&delta);
        }
        Ok(lattice)
    })
}

/// Keys per thread below which summing the lattice in one thread is faster than starting more
/// (a key costs a read and two BLAKE3 expansions, a few microseconds; a thread tens of them).
const LATTICE_KEYS_PER_WORKER: usize = 512;

/// Threads for summing the lattice over `keys` changed keys: one per core, as many as the keys
/// keep busy.
fn lattice_workers(keys: usize) -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(8)
    });
    (keys / LATTICE_KEYS_PER_WORKER).clamp(1, cores)
}

/// The lattice change of `accounts` and `slots` (entries of `changes`): old pairs read from
/// `state` subtracted, new pairs added.
fn lattice_delta<S: StateReader + ?Sized>(
    state: &S,
    changes: &StateChanges,
    accounts: &[(&Address, &Option<AccountState>)],
    slots: &[(&(Address, U256), &U256)],
) -> Result<StateLattice, StorageError> {
    let mut delta = StateLattice::default();
    for (address, account) in accounts {
        if let Some(old) = state.account(address)? {
            delta.remove_account(address, &old);
        }
        if let Some(new) = account.filter(|a| !a.is_empty()) {
            delta.add_account(address, &new);
        }
    }
    for ((address, slot), value) in slots {
        if !changes.wiped_storage.contains(address) {
            let old = state.storage(address, slot)?;
            if !old.is_zero() {
                delta.remove_slot(address, slot, &old);
            }
        }
        if !value.is_zero() {
            delta.add_slot(address, slot, value);
        }
    }
    Ok(delta)
}

impl StateReader for Snapshot {
    fn account(&self, address: &Address) -> Result<Option<AccountState>, StorageError> {
        Snapshot::account(self, address)
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StorageError> {
        Snapshot::storage(self, address, slot)
    }

    fn storage_of(&self, address: &Address) -> Result<Vec<(U256, U256)>, StorageError> {
        Snapshot::storage_of(self, address)
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        Snapshot::code(self, code_hash)
    }

    fn block_hash(&self, height: u64) -> Result<Option<B256>, StorageError> {
        Ok(self.header(height)?.map(|h| h.hash()))
    }

    fn lattice(&self) -> Result<StateLattice, StorageError> {
        match self.lattice_bytes() {
            Some(bytes) => StateLattice::from_bytes(bytes).ok_or_else(|| StorageError::Corrupt {
                table: "meta",
                detail: "state lattice has the wrong length".into(),
            }),
            None => Ok(StateLattice::default()),
        }
    }
}

/// A committed snapshot with uncommitted executed blocks on top, oldest first. The first layer
/// must be the child of the snapshot's head and each layer the child of the one before.
pub struct PendingState<'a> {
    base: &'a Snapshot,
    layers: &'a [Arc<ExecutedBlock>],
}

impl<'a> PendingState<'a> {
    pub fn new(base: &'a Snapshot, layers: &'a [Arc<ExecutedBlock>]) -> Self {
        Self { base, layers }
    }

    /// Newest first.
    fn changes(&self) -> impl Iterator<Item = &StateChanges> {
        self.layers.iter().rev().map(|l| &l.changes)
    }
}

impl StateReader for PendingState<'_> {
    fn account(&self, address: &Address) -> Result<Option<AccountState>, StorageError> {
        for changes in self.changes() {
            if let Some(account) = changes.accounts.get(address) {
                return Ok(*account);
            }
        }
        self.base.account(address)
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StorageError> {
        for changes in self.changes() {
            if let Some(value) = changes.storage.get(&(*address, *slot)) {
                return Ok(*value);
            }
            if changes.wiped_storage.contains(address) {
                return Ok(U256::ZERO);
            }
        }
        self.base.storage(address, slot)
    }

    fn storage_of(&self, address: &Address) -> Result<Vec<(U256, U256)>, StorageError> {
        // Start from the newest wipe (or the base), then apply later layers in order.
        let wiped_at = self
            .layers
            .iter()
            .rposition(|l| l.changes.wiped_storage.contains(address));
        let mut slots: BTreeMap<U256, U256> = match wiped_at {
            Some(_) => BTreeMap::new(),
            None => self.base.storage_of(address)?.into_iter().collect(),
        };
        let from = wiped_at.unwrap_or(0);
        for layer in &self.layers[from..] {
            let range = (*address, U256::ZERO)..=(*address, U256::MAX);
            for ((_, slot), value) in layer.changes.storage.range(range) {
                slots.insert(*slot, *value);
            }
        }
        Ok(slots.into_iter().filter(|(_, v)| !v.is_zero()).collect())
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        for changes in self.changes() {
            if let Some(code) = changes.code.get(code_hash) {
                return Ok(Some(code.clone()));
            }
        }
        self.base.code(code_hash)
    }

    fn block_hash(&self, height: u64) -> Result<Option<B256>, StorageError> {
        for layer in self.layers {
            if layer.block.header.height == height {
                return Ok(Some(layer.block.hash()));
            }
        }
        StateReader::block_hash(self.base, height)
    }

    fn lattice(&self) -> Result<StateLattice, StorageError> {
        match self.layers.last() {
            Some(layer) => Ok(layer.lattice.clone()),
            None => StateReader::lattice(self.base),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChainStore;
    use ricaas_primitives::{Block, Header};

    fn account(balance: u64) -> Option<AccountState> {
        Some(AccountState {
            nonce: balance % 7,
            balance: U256::from(balance),
            ..Default::default()
        })
    }

    fn sealed(
        height: u64,
        parent: B256,
        changes: StateChanges,
        lattice: StateLattice,
    ) -> ExecutedBlock {
        ExecutedBlock {
            block: Block {
                header: Header {
                    parent_hash: parent,
                    height,
                    timestamp_ms: height,
                    transactions_root: Block::transactions_root(&[]),
                    receipts_root: B256::ZERO,
                    state_root: lattice.root(),
                    logs_bloom: Default::default(),
                    gas_limit: 1,
                    gas_used: 0,
                    beneficiary: Address::ZERO,
                },
                transactions: vec![],
            },
            receipts: vec![],
            changes,
            lattice,
        }
    }

    #[test]
    fn a_lattice_summed_in_parts_on_many_threads_equals_the_one_pass_and_the_recomputed_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ChainStore::open(&dir.path().join("chain.redb")).expect("opens");
        let address = |i: u64| Address::left_padding_from(&i.to_be_bytes());
        let mut genesis = StateChanges::default();
        for i in 0..1_500u64 {
            genesis.accounts.insert(address(i), account(i + 1));
            genesis
                .storage
                .insert((address(i % 40), U256::from(i)), U256::from(i + 1));
        }
        let snapshot = store.snapshot().expect("snapshot");
        let lattice = lattice_after_in(&snapshot, &genesis, 1).expect("lattice");
        let genesis = sealed(0, B256::ZERO, genesis, lattice);
        store.commit_block(&genesis).expect("commit");

        // Changed, deleted, emptied and new accounts; changed, zeroed and new slots; one
        // account's storage wiped and partly written again.
        let mut changes = StateChanges::default();
        for i in 0..1_200u64 {
            let update = match i % 4 {
                0 => None,
                1 => Some(AccountState::default()),
                _ => account(i * 3 + 2),
            };
            changes.accounts.insert(address(i * 2), update);
            let value = if i % 5 == 0 {
                U256::ZERO
            } else {
                U256::from(i * 11)
            };
            changes
                .storage
                .insert((address(i % 60), U256::from(i * 2)), value);
        }
        changes.wiped_storage.insert(address(3));
        changes
            .storage
            .insert((address(3), U256::from(1)), U256::from(42));
        let snapshot = store.snapshot().expect("snapshot");
        let one_pass = lattice_after_in(&snapshot, &changes, 1).expect("lattice");
        for workers in [2, 3, 8] {
            assert_eq!(
                lattice_after_in(&snapshot, &changes, workers).expect("lattice"),
                one_pass,
                "{workers} workers"
            );
        }
        assert_eq!(snapshot.lattice_after(&changes).expect("lattice"), one_pass);
        assert_ne!(
            one_pass,
            snapshot.lattice().expect("lattice"),
            "the changes change it"
        );
        store
            .commit_block(&sealed(1, genesis.block.hash(), changes, one_pass.clone()))
            .expect("commit");
        assert_eq!(
            store
                .snapshot()
                .expect("snapshot")
                .recompute_state_root()
                .expect("root"),
            one_pass.root(),
            "the same root as the state's contents summed from scratch"
        );
    }
}
