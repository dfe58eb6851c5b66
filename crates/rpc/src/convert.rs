//! Our chain types rendered as Ethereum JSON-RPC objects.

use alloy_consensus::{
    Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxType,
};
use alloy_primitives::{Address, B256, Bytes, U64, U128, U256};
use alloy_rpc_types_eth::{
    Block, BlockTransactions, Header as RpcHeader, Log, Transaction, TransactionReceipt,
};
use ricaas_primitives::{ChainTx, Header, RecoveredTx, StoredReceipt};
use serde::Serialize;

pub fn rpc_header(header: &Header) -> RpcHeader {
    let inner = alloy_consensus::Header {
        parent_hash: header.parent_hash,
        ommers_hash: alloy_consensus::EMPTY_OMMER_ROOT_HASH,
        beneficiary: header.beneficiary,
        state_root: header.state_root,
        transactions_root: header.transactions_root,
        receipts_root: header.receipts_root,
        logs_bloom: header.logs_bloom,
        difficulty: U256::ZERO,
        number: header.height,
        gas_limit: header.gas_limit,
        gas_used: header.gas_used,
        timestamp: header.timestamp_secs(),
        extra_data: Bytes::new(),
        mix_hash: header.parent_hash,
        nonce: Default::default(),
        base_fee_per_gas: Some(0),
        ..Default::default()
    };
    RpcHeader {
        hash: header.hash(),
        inner,
        total_difficulty: Some(U256::ZERO),
        size: None,
    }
}

/// A transaction as JSON-RPC shows it: Ethereum's shape, or the native envelope's.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum RpcTransaction {
    Ethereum(Box<Transaction>),
    Native(Box<NativeRpcTransaction>),
}

/// A native-envelope transaction: Ethereum's legacy fields, type `0x52`, and the signer's
/// certificate and signature instead of `v, r, s`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NativeRpcTransaction {
    #[serde(rename = "type")]
    pub tx_type: U64,
    pub hash: B256,
    pub nonce: U64,
    pub block_hash: Option<B256>,
    pub block_number: Option<U64>,
    pub transaction_index: Option<U64>,
    pub from: Address,
    pub to: Option<Address>,
    pub value: U256,
    pub gas_price: U128,
    pub gas: U64,
    pub input: Bytes,
    pub chain_id: U64,
    pub certificate: Bytes,
    pub signature: Bytes,
}

/// Blocks whose full transactions may be of either envelope.
pub type RpcBlock = Block<RpcTransaction>;

pub fn rpc_transaction(tx: &RecoveredTx, location: Option<(&Header, u64)>) -> RpcTransaction {
    match tx.envelope() {
        ChainTx::Ethereum(envelope) => {
            let envelope = envelope.clone();
            let effective_gas_price = Some(envelope.effective_gas_price(Some(0)));
            RpcTransaction::Ethereum(Box::new(Transaction {
                inner: alloy_consensus::transaction::Recovered::new_unchecked(
                    envelope,
                    tx.sender(),
                ),
                block_hash: location.map(|(h, _)| h.hash()),
                block_number: location.map(|(h, _)| h.height),
                transaction_index: location.map(|(_, i)| i),
                effective_gas_price,
                block_timestamp: location.map(|(h, _)| h.timestamp_secs()),
            }))
        }
        ChainTx::Native { tx: native, hash } => {
            let fields = &native.fields;
            RpcTransaction::Native(Box::new(NativeRpcTransaction {
                tx_type: U64::from(ricaas_primitives::NATIVE_TX_TYPE),
                hash: *hash,
                nonce: U64::from(fields.nonce),
                block_hash: location.map(|(h, _)| h.hash()),
                block_number: location.map(|(h, _)| U64::from(h.height)),
                transaction_index: location.map(|(_, i)| U64::from(i)),
                from: tx.sender(),
                to: tx.envelope().kind().to().copied(),
                value: fields.value,
                gas_price: U128::from(fields.gas_price),
                gas: U64::from(fields.gas_limit),
                input: fields.input.clone(),
                chain_id: U64::from(fields.chain_id),
                certificate: native.certificate.clone(),
                signature: native.signature.clone(),
            }))
        }
    }
}

/// A block with its full transactions (`eth_getBlockBy*` with `true`).
pub fn rpc_block(header: &Header, transactions: &[RecoveredTx]) -> RpcBlock {
    Block {
        header: rpc_header(header),
        uncles: Vec::new(),
        transactions: BlockTransactions::Full(
            transactions
                .iter()
                .enumerate()
                .map(|(i, tx)| rpc_transaction(tx, Some((header, i as u64))))
                .collect(),
        ),
        withdrawals: None,
    }
}

/// A block with its transactions' hashes (`eth_getBlockBy*` without full transactions).
pub fn rpc_block_with_hashes(header: &Header, hashes: Vec<B256>) -> RpcBlock {
    Block {
        header: rpc_header(header),
        uncles: Vec::new(),
        transactions: BlockTransactions::Hashes(hashes),
        withdrawals: None,
    }
}

/// The logs of one block, with their positions, in order.
pub fn block_logs(header: &Header, tx_hashes: &[B256], receipts: &[StoredReceipt]) -> Vec<Log> {
    let block_hash = header.hash();
    let mut log_index = 0u64;
    let mut logs = Vec::new();
    for (tx_index, (receipt, tx_hash)) in receipts.iter().zip(tx_hashes).enumerate() {
        for log in &receipt.logs {
            logs.push(Log {
                inner: log.clone(),
                block_hash: Some(block_hash),
                block_number: Some(header.height),
                block_timestamp: Some(header.timestamp_secs()),
                transaction_hash: Some(*tx_hash),
                transaction_index: Some(tx_index as u64),
                log_index: Some(log_index),
                removed: false,
            });
            log_index += 1;
        }
    }
    logs
}

/// A receipt as Ethereum nodes return it, plus `revertReason` (the raw revert data, as Besu
/// and Hyperledger tools expect) when the transaction reverted with data. Receipts of native
/// envelopes have the legacy receipt's fields and `type` `0x52`.
#[derive(Clone, Debug)]
pub struct RpcReceipt {
    pub inner: TransactionReceipt<ReceiptEnvelope<Log>>,
    pub revert_reason: Option<Bytes>,
    pub native: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptFields<'a> {
    #[serde(flatten)]
    inner: &'a TransactionReceipt<ReceiptEnvelope<Log>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revert_reason: &'a Option<Bytes>,
}

impl Serialize for RpcReceipt {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = ReceiptFields {
            inner: &self.inner,
            revert_reason: &self.revert_reason,
        };
        if !self.native {
            return fields.serialize(serializer);
        }
        let mut value = serde_json::to_value(&fields).map_err(serde::ser::Error::custom)?;
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "type".into(),
                serde_json::Value::String(format!("{:#x}", ricaas_primitives::NATIVE_TX_TYPE)),
            );
        }
        value.serialize(serializer)
    }
}

/// The receipt of `tx`, the block's transaction at `index`, whose logs' block-wide indexes
/// start at `first_log_index` (the logs of the receipts before it).
pub fn rpc_receipt(
    header: &Header,
    tx: &RecoveredTx,
    receipt: &StoredReceipt,
    index: usize,
    first_log_index: usize,
) -> RpcReceipt {
    let logs: Vec<Log> = block_logs(
        header,
        std::slice::from_ref(&tx.hash()),
        std::slice::from_ref(receipt),
    )
    .into_iter()
    .enumerate()
    .map(|(i, mut log)| {
        log.transaction_index = Some(index as u64);
        log.log_index = Some((first_log_index + i) as u64);
        log
    })
    .collect();
    let consensus = Receipt {
        status: Eip658Value::Eip658(receipt.success),
        cumulative_gas_used: receipt.cumulative_gas_used,
        logs,
    };
    let tx_type = TxType::try_from(tx.envelope().tx_type()).unwrap_or(TxType::Legacy);
    let envelope = ReceiptEnvelope::from_typed(tx_type, ReceiptWithBloom::from(consensus));
    let inner = TransactionReceipt {
        inner: envelope,
        transaction_hash: tx.hash(),
        transaction_index: Some(index as u64),
        block_hash: Some(header.hash()),
        block_number: Some(header.height),
        gas_used: receipt.gas_used,
        effective_gas_price: match tx.envelope() {
            ChainTx::Ethereum(envelope) => envelope.effective_gas_price(Some(0)),
            ChainTx::Native { tx, .. } => tx.fields.gas_price,
        },
        blob_gas_used: None,
        blob_gas_price: None,
        from: tx.sender(),
        to: tx.envelope().kind().to().copied(),
        contract_address: receipt.contract_address(),
    };
    let revert_reason =
        (!receipt.success && !receipt.revert_data.is_empty()).then(|| receipt.revert_data.clone());
    RpcReceipt {
        inner,
        revert_reason,
        native: tx.envelope().ethereum().is_none(),
    }
}
