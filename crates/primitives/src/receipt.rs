//! Receipts as stored: the Ethereum receipt fields plus what RPC needs without re-execution.

use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, TxType};
use alloy_primitives::{Address, Bytes, Log};
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

    pub fn receipts_root(receipts: &[StoredReceipt]) -> alloy_primitives::B256 {
        let envelopes: Vec<ReceiptEnvelope> =
            receipts.iter().map(StoredReceipt::to_envelope).collect();
        alloy_consensus::proofs::calculate_receipt_root(&envelopes)
    }
}
