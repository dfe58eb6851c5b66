//! Senders this node recovered while verifying proposals, for transactions its pool did not
//! hold, remembered by transaction hash for a while. Under vouched senders
//! (`consensus.sender_trust`) a gossiped transaction waits outside the pool for confirmations; a
//! block holding it may arrive first and have its sender recovered then. When the confirmations
//! come late (a loaded machine) or a client resends the bytes, admission takes the sender from
//! here instead of recovering the same signature a second time.
//!
//! Only Ethereum envelopes are remembered: their hash is the Keccak of the exact bytes the
//! sender was recovered from (decoding accepts only canonical encodings), so a hit proves the
//! same signature. A native transaction's sender may depend on the certificates enrolled when
//! it is checked.

use alloy_primitives::{Address, B256, map::B256Map};

/// How many senders each generation holds: a few blocks' worth at the block sizes benchmarks
/// reach (8,000 transfers), and ~3 MiB each.
pub(crate) const GENERATION: usize = 1 << 16;

/// Two generations of at most `capacity` entries: lookups read both, inserts go to the newer,
/// and the older is dropped when the newer fills. Memory stays bounded, every operation is
/// O(1), and an entry lives for at least `capacity` inserts after its own.
pub(crate) struct RecoveredSenders {
    newer: B256Map<Address>,
    older: B256Map<Address>,
    capacity: usize,
}

impl RecoveredSenders {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            newer: B256Map::default(),
            older: B256Map::default(),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn get(&self, hash: &B256) -> Option<Address> {
        self.newer
            .get(hash)
            .or_else(|| self.older.get(hash))
            .copied()
    }

    pub(crate) fn insert(&mut self, hash: B256, sender: Address) {
        if self.newer.len() >= self.capacity {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(hash, sender);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_kept_for_at_least_a_generation_and_memory_stays_bounded() {
        let mut senders = RecoveredSenders::new(3);
        let hash = |i: u8| B256::repeat_byte(i);
        let sender = |i: u8| Address::repeat_byte(i);
        senders.insert(hash(1), sender(1));
        for i in 2..=4 {
            senders.insert(hash(i), sender(i));
        }
        // Three inserts after its own: still there (moved to the older generation).
        assert_eq!(senders.get(&hash(1)), Some(sender(1)));
        for i in 5..=7 {
            senders.insert(hash(i), sender(i));
        }
        assert_eq!(senders.get(&hash(1)), None, "dropped with its generation");
        assert_eq!(senders.get(&hash(7)), Some(sender(7)));
        assert_eq!(senders.get(&hash(9)), None);
        assert!(senders.newer.len() + senders.older.len() <= 6);
    }
}
