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
    /// the keys that change.
    fn lattice_after(&self, changes: &StateChanges) -> Result<StateLattice, StorageError> {
        let mut lattice = self.lattice()?;
        for address in &changes.wiped_storage {
            for (slot, value) in self.storage_of(address)? {
                lattice.remove_slot(address, &slot, &value);
            }
        }
        for (address, account) in &changes.accounts {
            if let Some(old) = self.account(address)? {
                lattice.remove_account(address, &old);
            }
            if let Some(new) = account.filter(|a| !a.is_empty()) {
                lattice.add_account(address, &new);
            }
        }
        for ((address, slot), value) in &changes.storage {
            if !changes.wiped_storage.contains(address) {
                let old = self.storage(address, slot)?;
                if !old.is_zero() {
                    lattice.remove_slot(address, slot, &old);
                }
            }
            if !value.is_zero() {
                lattice.add_slot(address, slot, value);
            }
        }
        Ok(lattice)
    }
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
