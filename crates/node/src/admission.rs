//! Admission: what a transaction must satisfy before it enters the pool. Each check fails with
//! a message that says what was wrong and what the sender can do about it.

use crate::mempool::PoolError;
use alloy_primitives::{Address, U256};
use ricaas_crypto::SignatureError;
use ricaas_primitives::TxDecodeError;
use ricaas_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    #[error("invalid transaction: {0}")]
    Decode(#[from] TxDecodeError),
    #[error("transaction is not replay-protected: sign it with EIP-155 chain id {expected}")]
    MissingChainId { expected: u64 },
    #[error("wrong chain id {got}: this channel's chain id is {expected}")]
    WrongChainId { got: u64, expected: u64 },
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("transaction gas limit {gas} exceeds the channel's per-transaction limit {limit}")]
    GasLimitTooHigh { gas: u64, limit: u64 },
    #[error(
        "intrinsic gas too low: gas limit {gas} is below the {needed} this transaction needs before execution"
    )]
    IntrinsicGasTooLow { gas: u64, needed: u64 },
    #[error("gas price {price} is below the channel's minimum {minimum} wei")]
    GasPriceTooLow { price: u128, minimum: u128 },
    #[error(
        "insufficient funds for gas * price + value: account {sender} has {balance} wei, needs {cost}"
    )]
    InsufficientFunds {
        sender: Address,
        balance: U256,
        cost: U256,
    },
    #[error(transparent)]
    Permission(Box<ricaas_execution::system::PermissionError>),
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error("node storage error: {0}")]
    Storage(#[from] StorageError),
    #[error("node state error: {0}")]
    State(String),
}

impl AdmissionError {
    /// JSON-RPC error code: -32602 for undecodable input, -32000 (as Ethereum nodes use for
    /// rejected transactions) otherwise, -32603 when the node itself failed.
    pub fn rpc_code(&self) -> i32 {
        match self {
            AdmissionError::Decode(_) => -32602,
            AdmissionError::Storage(_) | AdmissionError::State(_) => -32603,
            _ => -32000,
        }
    }
}
