//! Block header and block. The header commits to the transactions, the receipts and the state
//! after the block, so two nodes that agree on a header hash agree on everything it covers.

use crate::{Height, RecoveredTx};
use alloy_primitives::{Address, B256, Bloom, keccak256};
use alloy_rlp::{RlpDecodable, RlpEncodable};
use serde::{Deserialize, Serialize};

/// Header of a RiChain block. RLP-encoded; its hash is the Keccak-256 of that encoding.
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable, Serialize, Deserialize)]
pub struct Header {
    pub parent_hash: B256,
    pub height: u64,
    /// Milliseconds since the Unix epoch; the EVM sees whole seconds.
    pub timestamp_ms: u64,
    /// Ethereum-compatible ordered trie root of the EIP-2718 encoded transactions.
    pub transactions_root: B256,
    /// Ethereum-compatible ordered trie root of the EIP-2718 encoded receipts.
    pub receipts_root: B256,
    /// Commitment to the whole state after this block (see `ricaas-storage`'s `StateCommitment`).
    pub state_root: B256,
    pub logs_bloom: Bloom,
    pub gas_limit: u64,
    pub gas_used: u64,
    /// Address credited as the block's beneficiary (the proposer's, or zero).
    pub beneficiary: Address,
}

impl Header {
    pub fn hash(&self) -> B256 {
        keccak256(alloy_rlp::encode(self))
    }

    pub fn height(&self) -> Height {
        Height(self.height)
    }

    pub fn timestamp_secs(&self) -> u64 {
        self.timestamp_ms / 1000
    }
}

/// A block: header plus the transactions it orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub header: Header,
    pub transactions: Vec<RecoveredTx>,
}

impl Block {
    pub fn hash(&self) -> B256 {
        self.header.hash()
    }

    /// Ordered trie root over the given transactions, as Ethereum computes it.
    pub fn transactions_root(transactions: &[RecoveredTx]) -> B256 {
        let encoded: Vec<&[u8]> = transactions
            .iter()
            .map(|tx| tx.encoded().as_ref())
            .collect();
        transactions_root_of(&encoded)
    }
}

/// Ordered trie root over EIP-2718 encoded transactions, as Ethereum computes it.
pub fn transactions_root_of(encoded: &[&[u8]]) -> B256 {
    alloy_consensus::proofs::ordered_trie_root_with_encoder(encoded, |tx: &&[u8], buf| {
        buf.extend_from_slice(tx)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrips_and_hash_covers_every_field() {
        let header = Header {
            parent_hash: B256::repeat_byte(1),
            height: 7,
            timestamp_ms: 1_700_000_000_123,
            transactions_root: B256::repeat_byte(2),
            receipts_root: B256::repeat_byte(3),
            state_root: B256::repeat_byte(4),
            logs_bloom: Bloom::default(),
            gas_limit: 30_000_000,
            gas_used: 21_000,
            beneficiary: Address::ZERO,
        };
        let encoded = alloy_rlp::encode(&header);
        let decoded: Header =
            alloy_rlp::Decodable::decode(&mut encoded.as_slice()).expect("decodes");
        assert_eq!(decoded, header);
        let mut changed = header.clone();
        changed.state_root = B256::repeat_byte(5);
        assert_ne!(changed.hash(), header.hash());
    }
}
