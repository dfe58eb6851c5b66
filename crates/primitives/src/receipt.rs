//! Receipts as stored: the Ethereum receipt fields plus what RPC needs without re-execution.

use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, TxType};
use alloy_primitives::{Address, Bloom, Bytes, Log};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// Outcome of one executed transaction.
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StoredReceipt {
    /// EIP-2718 type byte of the transaction (0 legacy, 1 EIP-2930, 2 EIP-1559, 4 EIP-7702).
    pub tx_type: u8,
    pub success: bool,
    pub cumulative_gas_used: u64,
    pub gas_used: u64,
    pub logs: Vec<Log>,
    /// 20 bytes when the transaction created a contract, empty otherwise.
    pub contract_address: Bytes,
    /// Revert data returned by a reverted transaction (ABI `Error(string)` or custom error);
    /// empty when the transaction succeeded or halted without data.
    pub revert_data: Bytes,
}

impl StoredReceipt {
    pub fn contract_address(&self) -> Option<Address> {
        (self.contract_address.len() == 20).then(|| Address::from_slice(&self.contract_address))
    }

    /// The consensus receipt (what the receipts root commits to).
    pub fn to_envelope(&self) -> ReceiptEnvelope {
        let receipt = Receipt {
            status: Eip658Value::Eip658(self.success),
            cumulative_gas_used: self.cumulative_gas_used,
            logs: self.logs.clone(),
        };
        let tx_type = TxType::try_from(self.tx_type).unwrap_or(TxType::Legacy);
        ReceiptEnvelope::from_typed(tx_type, ReceiptWithBloom::from(receipt))
    }

    /// The ordered trie root over the receipts' consensus encodings, as Ethereum computes it.
    pub fn receipts_root(receipts: &[StoredReceipt]) -> alloy_primitives::B256 {
        alloy_consensus::proofs::ordered_trie_root_with_encoder(receipts, |r, out| {
            r.encode_consensus(&alloy_primitives::logs_bloom(&r.logs), out)
        })
    }

    /// [`Self::receipts_root`] with each receipt's bloom already computed (`blooms[i]` is
    /// `receipts[i]`'s): execution computes them for the block's bloom anyway.
    ///
    /// # Panics
    /// If the two slices differ in length (a bug of the caller, not input).
    pub fn receipts_root_with_blooms(
        receipts: &[StoredReceipt],
        blooms: &[Bloom],
    ) -> alloy_primitives::B256 {
        assert_eq!(receipts.len(), blooms.len(), "one bloom per receipt");
        let pairs: Vec<(&StoredReceipt, &Bloom)> = receipts.iter().zip(blooms).collect();
        alloy_consensus::proofs::ordered_trie_root_with_encoder(&pairs, |(r, bloom), out| {
            r.encode_consensus(bloom, out)
        })
    }

    /// The EIP-2718 encoding of [`Self::to_envelope`], written from the borrowed fields: the
    /// receipts root of every block encodes thousands of receipts, and building envelopes
    /// first would copy every log.
    fn encode_consensus(&self, bloom: &Bloom, out: &mut Vec<u8>) {
        use alloy_rlp::Encodable;
        let payload_length = self.success.length()
            + self.cumulative_gas_used.length()
            + bloom.length()
            + self.logs.length();
        let tx_type = TxType::try_from(self.tx_type).unwrap_or(TxType::Legacy);
        if tx_type != TxType::Legacy {
            out.push(tx_type as u8);
        }
        alloy_rlp::Header {
            list: true,
            payload_length,
        }
        .encode(out);
        self.success.encode(out);
        self.cumulative_gas_used.encode(out);
        bloom.encode(out);
        self.logs.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{B256, LogData};

    fn receipt(tx_type: u8, success: bool, logs: usize) -> StoredReceipt {
        StoredReceipt {
            tx_type,
            success,
            cumulative_gas_used: 21_000 * (logs as u64 + 1),
            gas_used: 21_000,
            logs: (0..logs)
                .map(|i| Log {
                    address: Address::repeat_byte(i as u8 + 1),
                    data: LogData::new_unchecked(
                        vec![B256::repeat_byte(7), B256::repeat_byte(i as u8)],
                        Bytes::from(vec![i as u8; 32]),
                    ),
                })
                .collect(),
            contract_address: Bytes::new(),
            revert_data: Bytes::new(),
        }
    }

    #[test]
    fn the_receipts_root_matches_alloys_over_envelopes() {
        let receipts: Vec<StoredReceipt> = (0..40)
            .map(|i| receipt([0, 1, 2, 4][i % 4], i % 3 != 0, i % 5))
            .collect();
        for n in [0, 1, 2, 17, 40] {
            let envelopes: Vec<ReceiptEnvelope> = receipts[..n]
                .iter()
                .map(StoredReceipt::to_envelope)
                .collect();
            let expected = alloy_consensus::proofs::calculate_receipt_root(&envelopes);
            assert_eq!(
                StoredReceipt::receipts_root(&receipts[..n]),
                expected,
                "{n} receipts"
            );
            let blooms: Vec<Bloom> = receipts[..n]
                .iter()
                .map(|r| alloy_primitives::logs_bloom(&r.logs))
                .collect();
            assert_eq!(
                StoredReceipt::receipts_root_with_blooms(&receipts[..n], &blooms),
                expected,
                "{n} receipts with their blooms"
            );
        }
    }
}
