//! Chain data types of RiChain: channel ids, heights, headers, blocks, recovered transactions,
//! receipts, and their binary codec. Pure data: this crate performs no I/O and no cryptography
//! beyond hashing (signature recovery lives in `ricaas-crypto`).

mod block;
mod ids;
pub mod policy;
mod receipt;
pub mod system;
mod tx;

pub use block::{Block, Header, transactions_root_of};
pub use ids::{ChannelId, ChannelIdError, Height};
pub use receipt::StoredReceipt;
pub use tx::{
    ChainTx, NATIVE_TX_TYPE, NativeTx, NativeTxFields, RecoveredTx, SignerCertificate,
    TxDecodeError, certificate_id, decode_raw_transaction,
};

pub use alloy_consensus::{ReceiptEnvelope, TxEnvelope};
pub use alloy_primitives::{Address, B256, Bloom, Bytes, Log, U256, keccak256};
