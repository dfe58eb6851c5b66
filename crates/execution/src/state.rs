//! revm's view of state during one block: the committed snapshot plus what earlier
//! transactions of the same block wrote.

use alloy_primitives::{
    Address, B256, Bytes, KECCAK256_EMPTY, U256,
    map::{AddressMap, AddressSet, B256Map, HashMap},
};
use revm::{
    Database, DatabaseCommit,
    bytecode::Bytecode,
    database_interface::DBErrorMarker,
    primitives::{StorageKey, StorageValue},
    state::{Account, AccountInfo},
};
use ricaas_storage::{AccountState, StateChanges, StateReader, StorageError};

/// A storage failure surfaced through revm. Execution cannot continue past it.
#[derive(Debug, thiserror::Error)]
#[error("state read failed: {0}")]
pub struct StateReadError(pub(crate) String);

impl DBErrorMarker for StateReadError {}

impl From<StorageError> for StateReadError {
    fn from(e: StorageError) -> Self {
        Self(e.to_string())
    }
}

/// The maps hash with alloy's seeded foldhash (as reth's do): SipHash, the standard library's
/// default, was visible in a validator's profile, and the order of these maps never reaches a
/// block (`into_changes` sorts).
pub(crate) struct BlockState<'a, S: StateReader + ?Sized> {
    snapshot: &'a S,
    accounts: AddressMap<Option<AccountState>>,
    storage: HashMap<(Address, U256), U256>,
    wiped: AddressSet,
    code: B256Map<Bytes>,
    /// Contract code as revm runs it (jump destinations analysed), by code hash: analysed once
    /// per block, not once per call — every transfer of a token would otherwise re-read and
    /// re-analyse the token's code.
    analyzed: B256Map<Bytecode>,
    /// Accounts read from the snapshot so far in this block: the token every transfer calls and
    /// the beneficiary every fee pays are read by each transaction.
    account_reads: AddressMap<Option<AccountState>>,
    /// Storage slots read from the snapshot so far in this block. Each transaction's permission
    /// check reads its sender's membership record, and senders recur within a block.
    slot_reads: HashMap<(Address, U256), U256>,
    /// Where each sender's membership record lives (two Keccak hashes per account), for the
    /// permission check of every transaction.
    identity_slots: AddressMap<[U256; 2]>,
}

impl<'a, S: StateReader + ?Sized> BlockState<'a, S> {
    pub(crate) fn new(snapshot: &'a S) -> Self {
        Self {
            snapshot,
            accounts: AddressMap::default(),
            storage: HashMap::default(),
            wiped: AddressSet::default(),
            code: B256Map::default(),
            analyzed: B256Map::default(),
            account_reads: AddressMap::default(),
            slot_reads: HashMap::default(),
            identity_slots: AddressMap::default(),
        }
    }

    pub(crate) fn account(
        &mut self,
        address: &Address,
    ) -> Result<Option<AccountState>, StateReadError> {
        if let Some(account) = self.accounts.get(address) {
            return Ok(*account);
        }
        if let Some(account) = self.account_reads.get(address) {
            return Ok(*account);
        }
        let account = self.snapshot.account(address)?;
        self.account_reads.insert(*address, account);
        Ok(account)
    }

    pub(crate) fn set_account(&mut self, address: Address, account: AccountState) {
        self.accounts.insert(address, Some(account));
    }

    pub(crate) fn set_code(&mut self, address: Address, code: Bytes) -> Result<(), StateReadError> {
        let hash = alloy_primitives::keccak256(&code);
        let mut account = self.account(&address)?.unwrap_or_default();
        account.code_hash = if code.is_empty() {
            KECCAK256_EMPTY
        } else {
            hash
        };
        self.code.insert(hash, code);
        self.set_account(address, account);
        Ok(())
    }

    pub(crate) fn set_storage(&mut self, address: Address, slot: U256, value: U256) {
        self.storage.insert((address, slot), value);
    }

    /// Replaces the account's whole storage (state override `state`).
    pub(crate) fn wipe_storage(&mut self, address: Address) {
        self.wiped.insert(address);
        self.storage.retain(|(a, _), _| *a != address);
    }

    pub(crate) fn into_changes(self) -> StateChanges {
        StateChanges {
            accounts: self.accounts.into_iter().collect(),
            wiped_storage: self.wiped.into_iter().collect(),
            storage: self.storage.into_iter().collect(),
            code: self.code.into_iter().collect(),
        }
    }

    fn commit_account(&mut self, address: Address, account: Account) {
        if !account.is_touched() {
            return;
        }
        if account.is_selfdestructed() {
            self.wipe_storage(address);
            self.accounts.insert(address, None);
            return;
        }
        if account.is_created() {
            self.wipe_storage(address);
        }
        if let Some(code) = &account.info.code
            && account.info.code_hash != KECCAK256_EMPTY
            && !self.code.contains_key(&account.info.code_hash)
            && !code.is_empty()
        {
            self.code
                .insert(account.info.code_hash, code.original_bytes());
        }
        let state = AccountState {
            nonce: account.info.nonce,
            balance: account.info.balance,
            code_hash: account.info.code_hash,
        };
        // EIP-161: touched empty accounts are removed.
        self.accounts
            .insert(address, (!state.is_empty()).then_some(state));
        for (slot, value) in account.storage {
            if value.is_changed() {
                self.storage.insert((address, slot), value.present_value());
            }
        }
    }
}

impl<S: StateReader + ?Sized> Database for BlockState<'_, S> {
    type Error = StateReadError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.account(&address)?.map(|a| AccountInfo {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
            code: None,
            ..Default::default()
        }))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK256_EMPTY {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.analyzed.get(&code_hash) {
            return Ok(code.clone());
        }
        let bytes = match self.code.get(&code_hash) {
            Some(bytes) => bytes.clone(),
            None => self.snapshot.code(&code_hash)?.unwrap_or_default(),
        };
        let code = Bytecode::new_raw(bytes);
        // Code is immutable under its hash, so the analysis stays valid for the whole block.
        self.analyzed.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(
        &mut self,
        address: Address,
        index: StorageKey,
    ) -> Result<StorageValue, Self::Error> {
        if let Some(value) = self.storage.get(&(address, index)) {
            return Ok(*value);
        }
        if self.wiped.contains(&address) {
            return Ok(U256::ZERO);
        }
        if let Some(value) = self.slot_reads.get(&(address, index)) {
            return Ok(*value);
        }
        let value = self.snapshot.storage(&address, &index)?;
        self.slot_reads.insert((address, index), value);
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.snapshot.block_hash(number)?.unwrap_or_default())
    }
}

impl<S: StateReader + ?Sized> DatabaseCommit for BlockState<'_, S> {
    fn commit(&mut self, changes: AddressMap<Account>) {
        for (address, account) in changes {
            self.commit_account(address, account);
        }
    }
}

impl<S: StateReader + ?Sized> crate::system::SlotReader for BlockState<'_, S> {
    fn slot(&mut self, address: Address, slot: U256) -> Result<U256, StateReadError> {
        Database::storage(self, address, slot)
    }

    fn identity_slots(&mut self, account: &Address) -> [U256; 2] {
        *self
            .identity_slots
            .entry(*account)
            .or_insert_with(|| ricaas_primitives::system::IdentityRecord::slots(account))
    }
}

impl<S: StateReader + ?Sized> crate::system::SlotStore for BlockState<'_, S> {
    fn write(&mut self, address: Address, slot: U256, value: U256) -> Result<(), StateReadError> {
        self.set_storage(address, slot, value);
        Ok(())
    }
}

impl<S: StateReader + ?Sized> crate::system::CodeReader for BlockState<'_, S> {
    fn code_hash(&mut self, address: Address) -> Result<Option<B256>, StateReadError> {
        Ok(self
            .account(&address)?
            .map(|a| a.code_hash)
            .filter(|hash| *hash != KECCAK256_EMPTY))
    }
}

impl<S: StateReader + ?Sized> crate::system::CodeStore for BlockState<'_, S> {
    fn set_code(&mut self, address: Address, code: Bytes) -> Result<(), StateReadError> {
        BlockState::set_code(self, address, code)
    }

    fn set_code_hash(&mut self, address: Address, code_hash: B256) -> Result<(), StateReadError> {
        let mut account = self.account(&address)?.unwrap_or_default();
        account.code_hash = code_hash;
        self.set_account(address, account);
        Ok(())
    }

    fn ensure_account(&mut self, address: Address) -> Result<(), StateReadError> {
        if self.account(&address)?.is_none() {
            self.set_account(
                address,
                AccountState {
                    nonce: 1,
                    ..Default::default()
                },
            );
        }
        Ok(())
    }
}
