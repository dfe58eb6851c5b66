//! What RPC needs from a channel.

use alloy_primitives::{Address, B256, Bytes};
use ricaas_execution::ChainRules;
use ricaas_primitives::RecoveredTx;
use ricaas_storage::{Snapshot, StorageError};

/// A transaction the node refused, with the JSON-RPC error code and a message that says what
/// was wrong and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedTransaction {
    pub code: i32,
    pub message: String,
}

pub trait ChannelBackend: Send + Sync + 'static {
    fn rules(&self) -> &ChainRules;

    /// Lowest gas price the channel accepts (0 on a gas-free chain).
    fn min_gas_price(&self) -> u128;

    /// A consistent view of committed blocks and state.
    fn snapshot(&self) -> Result<Snapshot, StorageError>;

    /// Admission: decode, verify, check and pool a raw EIP-2718 transaction.
    fn submit_raw_transaction(&self, raw: Bytes) -> Result<B256, RejectedTransaction>;

    /// The next nonce counting pooled transactions, if the pool knows the sender.
    fn pending_nonce(&self, address: &Address) -> Option<u64>;

    /// A pooled (not yet committed) transaction.
    fn pending_transaction(&self, hash: &B256) -> Option<RecoveredTx>;

    /// Height of the newest committed block; changes whenever a block commits.
    fn head_watch(&self) -> tokio::sync::watch::Receiver<u64>;

    /// Whether the bearer of `authorization` (the HTTP `Authorization` header, if any) may read
    /// the channel; the error says why not.
    fn authorize_read(&self, authorization: Option<&str>) -> Result<(), String>;
}
