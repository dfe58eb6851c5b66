//! The state a block leaves behind, as a set of final values per key.

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256};
use std::collections::{BTreeMap, BTreeSet};

/// An account's fields other than storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountState {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
}

impl Default for AccountState {
    fn default() -> Self {
        Self {
            nonce: 0,
            balance: U256::ZERO,
            code_hash: KECCAK256_EMPTY,
        }
    }
}

impl AccountState {
    pub(crate) fn encode(&self) -> [u8; 72] {
        let mut out = [0u8; 72];
        out[..8].copy_from_slice(&self.nonce.to_be_bytes());
        out[8..40].copy_from_slice(&self.balance.to_be_bytes::<32>());
        out[40..].copy_from_slice(self.code_hash.as_slice());
        out
    }

    pub(crate) fn decode(bytes: &[u8; 72]) -> Self {
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&bytes[..8]);
        Self {
            nonce: u64::from_be_bytes(nonce),
            balance: U256::from_be_slice(&bytes[8..40]),
            code_hash: B256::from_slice(&bytes[40..]),
        }
    }

    /// Empty in the EIP-161 sense: such accounts are not stored.
    pub fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && self.code_hash == KECCAK256_EMPTY
    }
}

/// Final values a block wrote. Applying it to the state before the block gives the state after.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// `None` deletes the account (self-destructed or emptied).
    pub accounts: BTreeMap<Address, Option<AccountState>>,
    /// Accounts whose whole storage is wiped before `storage` is applied (re-created or destroyed).
    pub wiped_storage: BTreeSet<Address>,
    /// Final slot values; zero deletes the slot.
    pub storage: BTreeMap<(Address, U256), U256>,
    /// New bytecode by hash.
    pub code: BTreeMap<B256, Bytes>,
}

impl StateChanges {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.wiped_storage.is_empty()
            && self.storage.is_empty()
            && self.code.is_empty()
    }
}
