//! Incremental commitment to the whole state: a lattice hash (LtHash, as used by Facebook's
//! rolling hashes and Solana's accounts lattice hash). Each (key, value) pair maps through the
//! BLAKE3 XOF to 1024 16-bit lanes; the state's lattice is the lane-wise wrapping sum over all
//! pairs. Changing a key subtracts the old pair and adds the new one, so a block costs work in
//! proportion to the keys it changed, not to the size of the state, and the result depends only
//! on the state's contents, never on the order or history that produced it.

use crate::changes::AccountState;
use alloy_primitives::{Address, B256, U256, keccak256};

const LANES: usize = 1024;

/// The lattice accumulator; its Keccak-256 is the header's state root.
#[derive(Clone, PartialEq, Eq)]
pub struct StateLattice(Box<[u16; LANES]>);

impl std::fmt::Debug for StateLattice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StateLattice({})", self.root())
    }
}

impl Default for StateLattice {
    fn default() -> Self {
        Self(Box::new([0; LANES]))
    }
}

impl StateLattice {
    pub fn root(&self) -> B256 {
        keccak256(self.to_bytes())
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|lane| lane.to_le_bytes()).collect()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != LANES * 2 {
            return None;
        }
        let mut lanes = Box::new([0u16; LANES]);
        for (lane, chunk) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([chunk[0], chunk[1]]);
        }
        Some(Self(lanes))
    }

    pub fn add_account(&mut self, address: &Address, account: &AccountState) {
        self.apply(&account_element(address, account), true);
    }

    pub fn remove_account(&mut self, address: &Address, account: &AccountState) {
        self.apply(&account_element(address, account), false);
    }

    pub fn add_slot(&mut self, address: &Address, slot: &U256, value: &U256) {
        self.apply(&slot_element(address, slot, value), true);
    }

    pub fn remove_slot(&mut self, address: &Address, slot: &U256, value: &U256) {
        self.apply(&slot_element(address, slot, value), false);
    }

    /// Adds another lattice lane by lane: the commitment to the union of two disjoint sets of
    /// pairs, or a state with a delta applied.
    pub fn merge(&mut self, other: &StateLattice) {
        for (lane, delta) in self.0.iter_mut().zip(other.0.iter()) {
            *lane = lane.wrapping_add(*delta);
        }
    }

    fn apply(&mut self, element: &[u16; LANES], add: bool) {
        for (lane, delta) in self.0.iter_mut().zip(element.iter()) {
            *lane = if add {
                lane.wrapping_add(*delta)
            } else {
                lane.wrapping_sub(*delta)
            };
        }
    }
}

fn expand(hasher: blake3::Hasher) -> [u16; LANES] {
    let mut bytes = [0u8; LANES * 2];
    hasher.finalize_xof().fill(&mut bytes);
    let mut lanes = [0u16; LANES];
    for (lane, chunk) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
        *lane = u16::from_le_bytes([chunk[0], chunk[1]]);
    }
    lanes
}

fn account_element(address: &Address, account: &AccountState) -> [u16; LANES] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"ricaas/state/account/v1");
    hasher.update(address.as_slice());
    hasher.update(&account.encode());
    expand(hasher)
}

fn slot_element(address: &Address, slot: &U256, value: &U256) -> [u16; LANES] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"ricaas/state/slot/v1");
    hasher.update(address.as_slice());
    hasher.update(&slot.to_be_bytes::<32>());
    hasher.update(&value.to_be_bytes::<32>());
    expand(hasher)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(nonce: u64) -> AccountState {
        AccountState {
            nonce,
            balance: U256::from(nonce * 10),
            ..Default::default()
        }
    }

    #[test]
    fn commitment_depends_on_contents_not_order() {
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let mut first = StateLattice::default();
        first.add_account(&a, &account(1));
        first.add_account(&b, &account(2));
        let mut second = StateLattice::default();
        second.add_account(&b, &account(2));
        second.add_account(&a, &account(1));
        assert_eq!(first.root(), second.root());
    }

    #[test]
    fn update_equals_fresh_build_and_differs_from_old() {
        let a = Address::repeat_byte(1);
        let mut lattice = StateLattice::default();
        lattice.add_account(&a, &account(1));
        lattice.add_slot(&a, &U256::from(1), &U256::from(5));
        let before = lattice.root();
        lattice.remove_account(&a, &account(1));
        lattice.add_account(&a, &account(2));
        let mut fresh = StateLattice::default();
        fresh.add_slot(&a, &U256::from(1), &U256::from(5));
        fresh.add_account(&a, &account(2));
        assert_eq!(lattice.root(), fresh.root());
        assert_ne!(lattice.root(), before);
    }

    #[test]
    fn bytes_roundtrip() {
        let mut lattice = StateLattice::default();
        lattice.add_slot(&Address::ZERO, &U256::from(3), &U256::from(4));
        assert_eq!(StateLattice::from_bytes(&lattice.to_bytes()), Some(lattice));
        assert_eq!(StateLattice::from_bytes(&[0u8; 3]), None);
    }
}
