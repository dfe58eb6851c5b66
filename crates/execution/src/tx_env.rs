//! Translation of a recovered transaction into revm's transaction environment.

use alloy_consensus::{Transaction, TxEnvelope};
use revm::context::{TxEnv, either::Either};
use ricaas_primitives::{ChainTx, RecoveredTx};

pub(crate) fn tx_env(tx: &RecoveredTx) -> TxEnv {
    let envelope = match tx.envelope() {
        ChainTx::Ethereum(envelope) => envelope,
        // Native envelopes execute with legacy semantics: one gas price, no access list.
        ChainTx::Native { tx: native, .. } => {
            let fields = &native.fields;
            return TxEnv {
                tx_type: 0,
                caller: tx.sender(),
                gas_limit: fields.gas_limit,
                gas_price: fields.gas_price,
                kind: tx.envelope().kind(),
                value: fields.value,
                data: fields.input.clone(),
                nonce: fields.nonce,
                chain_id: Some(fields.chain_id),
                ..Default::default()
            };
        }
    };
    let (gas_price, priority) = match envelope {
        TxEnvelope::Legacy(_) | TxEnvelope::Eip2930(_) => (envelope.max_fee_per_gas(), None),
        _ => (
            envelope.max_fee_per_gas(),
            envelope.max_priority_fee_per_gas(),
        ),
    };
    TxEnv {
        tx_type: envelope.tx_type() as u8,
        caller: tx.sender(),
        gas_limit: envelope.gas_limit(),
        gas_price,
        kind: envelope.kind(),
        value: envelope.value(),
        data: envelope.input().clone(),
        nonce: envelope.nonce(),
        chain_id: envelope.chain_id(),
        access_list: envelope.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: priority,
        blob_hashes: Vec::new(),
        max_fee_per_blob_gas: 0,
        authorization_list: envelope
            .authorization_list()
            .map(|list| list.iter().cloned().map(Either::Left).collect())
            .unwrap_or_default(),
    }
}
