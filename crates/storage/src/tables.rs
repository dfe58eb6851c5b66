//! redb table definitions and the fixed-width encodings of their keys.

use alloy_primitives::{Address, U256};
use redb::TableDefinition;

/// Singletons: chain head, state lattice.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
pub const HASH_TO_HEIGHT: TableDefinition<&[u8; 32], u64> = TableDefinition::new("hash_to_height");
/// RLP list of the block's EIP-2718 encoded transactions.
pub const BODIES: TableDefinition<u64, &[u8]> = TableDefinition::new("bodies");
/// Concatenated 20-byte senders, in block order: signatures are not recovered twice.
pub const SENDERS: TableDefinition<u64, &[u8]> = TableDefinition::new("senders");
/// Concatenated 32-byte transaction hashes, in block order: a block's hashes are read without
/// hashing its transactions again. Absent for blocks committed before the table existed.
pub const TX_HASHES: TableDefinition<u64, &[u8]> = TableDefinition::new("tx_hashes");
/// RLP list of `StoredReceipt`.
pub const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
/// Transaction hash -> (height, index in block).
pub const TX_LOOKUP: TableDefinition<&[u8; 32], (u64, u32)> = TableDefinition::new("tx_lookup");
/// Address || height (big endian) for every block in which the address emitted a log.
pub const LOG_ADDRESS: TableDefinition<&[u8; 28], ()> = TableDefinition::new("log_address");
/// Address -> nonce (8) || balance (32) || code hash (32).
pub const ACCOUNTS: TableDefinition<&[u8; 20], &[u8; 72]> = TableDefinition::new("accounts");
/// Address || slot -> value; zero values are not stored.
pub const STORAGE: TableDefinition<&[u8; 52], &[u8; 32]> = TableDefinition::new("storage");
/// Code hash -> bytecode.
pub const CODE: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("code");

pub const META_HEAD: &str = "head";
pub const META_LATTICE: &str = "state_lattice";

pub fn storage_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

pub fn log_address_key(address: &Address, height: u64) -> [u8; 28] {
    let mut key = [0u8; 28];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&height.to_be_bytes());
    key
}
