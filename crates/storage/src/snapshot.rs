//! A consistent read view of the chain at one moment (redb MVCC): it sees every block committed
//! before it was taken and nothing after, however long it is held.

use crate::{
    StorageError,
    changes::AccountState,
    tables::{self, storage_key},
};
use alloy_primitives::{Address, B256, Bytes, U256};
use redb::{ReadOnlyTable, ReadTransaction, ReadableTable};
use ricaas_primitives::{Block, Header, RecoveredTx, StoredReceipt};

/// Where a transaction sits in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxLocation {
    pub height: u64,
    pub index: u32,
}

pub struct Snapshot {
    head: Option<u64>,
    headers: ReadOnlyTable<u64, &'static [u8]>,
    hash_to_height: ReadOnlyTable<&'static [u8; 32], u64>,
    bodies: ReadOnlyTable<u64, &'static [u8]>,
    senders: ReadOnlyTable<u64, &'static [u8]>,
    tx_hashes: ReadOnlyTable<u64, &'static [u8]>,
    receipts: ReadOnlyTable<u64, &'static [u8]>,
    tx_lookup: ReadOnlyTable<&'static [u8; 32], (u64, u32)>,
    log_address: ReadOnlyTable<&'static [u8; 28], ()>,
    accounts: ReadOnlyTable<&'static [u8; 20], &'static [u8; 72]>,
    storage: ReadOnlyTable<&'static [u8; 52], &'static [u8; 32]>,
    code: ReadOnlyTable<&'static [u8; 32], &'static [u8]>,
    lattice: Option<Vec<u8>>,
}

fn corrupt(table: &'static str, detail: impl ToString) -> StorageError {
    StorageError::Corrupt {
        table,
        detail: detail.to_string(),
    }
}

impl Snapshot {
    pub(crate) fn new(txn: ReadTransaction) -> Result<Self, StorageError> {
        let meta = txn.open_table(tables::META)?;
        let head = match meta.get(tables::META_HEAD)? {
            Some(bytes) => {
                let raw: [u8; 8] = bytes
                    .value()
                    .try_into()
                    .map_err(|_| corrupt("meta", "head is not 8 bytes"))?;
                Some(u64::from_be_bytes(raw))
            }
            None => None,
        };
        let lattice = meta.get(tables::META_LATTICE)?.map(|v| v.value().to_vec());
        Ok(Self {
            head,
            headers: txn.open_table(tables::HEADERS)?,
            hash_to_height: txn.open_table(tables::HASH_TO_HEIGHT)?,
            bodies: txn.open_table(tables::BODIES)?,
            senders: txn.open_table(tables::SENDERS)?,
            tx_hashes: txn.open_table(tables::TX_HASHES)?,
            receipts: txn.open_table(tables::RECEIPTS)?,
            tx_lookup: txn.open_table(tables::TX_LOOKUP)?,
            log_address: txn.open_table(tables::LOG_ADDRESS)?,
            accounts: txn.open_table(tables::ACCOUNTS)?,
            storage: txn.open_table(tables::STORAGE)?,
            code: txn.open_table(tables::CODE)?,
            lattice,
        })
    }

    /// Height of the newest committed block, `None` before genesis.
    pub fn head_height(&self) -> Option<u64> {
        self.head
    }

    pub fn head_header(&self) -> Result<Header, StorageError> {
        let height = self.head.ok_or(StorageError::NoGenesis)?;
        self.header(height)?
            .ok_or_else(|| corrupt("headers", format!("head {height} has no header")))
    }

    pub(crate) fn lattice_bytes(&self) -> Option<&[u8]> {
        self.lattice.as_deref()
    }

    pub fn header(&self, height: u64) -> Result<Option<Header>, StorageError> {
        let Some(raw) = self.headers.get(height)? else {
            return Ok(None);
        };
        let header =
            alloy_rlp::Decodable::decode(&mut raw.value()).map_err(|e| corrupt("headers", e))?;
        Ok(Some(header))
    }

    pub fn height_of(&self, hash: &B256) -> Result<Option<u64>, StorageError> {
        Ok(self.hash_to_height.get(&hash.0)?.map(|v| v.value()))
    }

    pub fn transactions(&self, height: u64) -> Result<Vec<RecoveredTx>, StorageError> {
        let Some(body) = self.bodies.get(height)? else {
            return Ok(Vec::new());
        };
        let raw = raw_transactions(body.value())?;
        let senders = self
            .senders
            .get(height)?
            .map(|v| v.value().to_vec())
            .unwrap_or_default();
        if senders.len() != raw.len() * 20 {
            return Err(corrupt(
                "senders",
                format!(
                    "height {height}: {} bytes for {} txs",
                    senders.len(),
                    raw.len()
                ),
            ));
        }
        raw.into_iter()
            .zip(senders.chunks_exact(20))
            .map(|(bytes, sender)| {
                let envelope = ricaas_primitives::decode_raw_transaction(bytes, usize::MAX)
                    .map_err(|e| corrupt("bodies", e))?;
                Ok(RecoveredTx::from_verified_parts(
                    envelope,
                    Address::from_slice(sender),
                    Bytes::copy_from_slice(bytes),
                ))
            })
            .collect()
    }

    /// The hashes of a block's transactions, in order, without decoding them: what
    /// `eth_getBlockByNumber` without full transactions and `eth_getLogs` need. Stored at
    /// commit; a block committed before that table existed has its stored encodings hashed
    /// instead (a transaction's hash is the Keccak of its stored encoding: decoding admits only
    /// canonical encodings, and native transactions hash the same bytes).
    pub fn transaction_hashes(&self, height: u64) -> Result<Vec<B256>, StorageError> {
        if let Some(stored) = self.tx_hashes.get(height)? {
            let stored = stored.value();
            if stored.len() % 32 != 0 {
                return Err(corrupt(
                    "tx_hashes",
                    format!("height {height}: {} bytes", stored.len()),
                ));
            }
            return Ok(stored.chunks_exact(32).map(B256::from_slice).collect());
        }
        let Some(body) = self.bodies.get(height)? else {
            return Ok(Vec::new());
        };
        Ok(raw_transactions(body.value())?
            .into_iter()
            .map(alloy_primitives::keccak256)
            .collect())
    }

    /// One transaction of a block, decoding only it (`None` past the block's end): a receipt
    /// or transaction lookup by hash costs the same in a block of ten transactions or 20,000.
    pub fn transaction(
        &self,
        height: u64,
        index: usize,
    ) -> Result<Option<RecoveredTx>, StorageError> {
        let Some(body) = self.bodies.get(height)? else {
            return Ok(None);
        };
        let Some(raw) = raw_transactions(body.value())?.get(index).copied() else {
            return Ok(None);
        };
        let senders = self.senders.get(height)?;
        let sender = senders
            .as_ref()
            .and_then(|s| {
                s.value()
                    .get(index * 20..(index + 1) * 20)
                    .map(Address::from_slice)
            })
            .ok_or_else(|| {
                corrupt(
                    "senders",
                    format!("height {height}: no sender for transaction {index}"),
                )
            })?;
        let envelope = ricaas_primitives::decode_raw_transaction(raw, usize::MAX)
            .map_err(|e| corrupt("bodies", e))?;
        Ok(Some(RecoveredTx::from_verified_parts(
            envelope,
            sender,
            Bytes::copy_from_slice(raw),
        )))
    }

    pub fn block(&self, height: u64) -> Result<Option<Block>, StorageError> {
        let Some(header) = self.header(height)? else {
            return Ok(None);
        };
        Ok(Some(Block {
            header,
            transactions: self.transactions(height)?,
        }))
    }

    pub fn receipts(&self, height: u64) -> Result<Vec<StoredReceipt>, StorageError> {
        let Some(raw) = self.receipts.get(height)? else {
            return Ok(Vec::new());
        };
        alloy_rlp::Decodable::decode(&mut raw.value()).map_err(|e| corrupt("receipts", e))
    }

    /// One receipt of a block and the number of logs the receipts before it hold (where its
    /// logs' block-wide indexes start), decoding only it: the receipts before it are skipped
    /// by their RLP headers, so a lookup by transaction hash costs little more in a block of
    /// 20,000 transactions than in a block of ten. `None` past the block's end.
    pub fn receipt(
        &self,
        height: u64,
        index: usize,
    ) -> Result<Option<(StoredReceipt, usize)>, StorageError> {
        let Some(raw) = self.receipts.get(height)? else {
            return Ok(None);
        };
        let mut buf = list_payload(raw.value(), "receipts")?;
        let mut logs_before = 0;
        for _ in 0..index {
            if buf.is_empty() {
                return Ok(None);
            }
            logs_before += logs_in_receipt(&mut buf).map_err(|e| corrupt("receipts", e))?;
        }
        if buf.is_empty() {
            return Ok(None);
        }
        let receipt: StoredReceipt =
            alloy_rlp::Decodable::decode(&mut buf).map_err(|e| corrupt("receipts", e))?;
        Ok(Some((receipt, logs_before)))
    }

    pub fn tx_location(&self, hash: &B256) -> Result<Option<TxLocation>, StorageError> {
        Ok(self.tx_lookup.get(&hash.0)?.map(|v| {
            let (height, index) = v.value();
            TxLocation { height, index }
        }))
    }

    /// Heights in `[from, to]` at which `address` emitted at least one log, ascending.
    pub fn log_heights(
        &self,
        address: &Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<u64>, StorageError> {
        let start = tables::log_address_key(address, from);
        let end = tables::log_address_key(address, to);
        let mut heights = Vec::new();
        for entry in self.log_address.range::<&[u8; 28]>(&start..=&end)? {
            let (key, _) = entry?;
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&key.value()[20..]);
            heights.push(u64::from_be_bytes(raw));
        }
        Ok(heights)
    }

    pub fn account(&self, address: &Address) -> Result<Option<AccountState>, StorageError> {
        Ok(self
            .accounts
            .get(&address.0.0)?
            .map(|v| AccountState::decode(v.value())))
    }

    pub fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StorageError> {
        Ok(self
            .storage
            .get(&storage_key(address, slot))?
            .map(|v| U256::from_be_bytes(*v.value()))
            .unwrap_or_default())
    }

    /// Every stored slot of an account (used when its storage is wiped).
    pub fn storage_of(&self, address: &Address) -> Result<Vec<(U256, U256)>, StorageError> {
        let start = storage_key(address, &U256::ZERO);
        let end = storage_key(address, &U256::MAX);
        let mut slots = Vec::new();
        for entry in self.storage.range::<&[u8; 52]>(&start..=&end)? {
            let (key, value) = entry?;
            slots.push((
                U256::from_be_slice(&key.value()[20..]),
                U256::from_be_bytes(*value.value()),
            ));
        }
        Ok(slots)
    }

    pub fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        Ok(self
            .code
            .get(&code_hash.0)?
            .map(|v| Bytes::copy_from_slice(v.value())))
    }

    /// The state root computed from scratch over every stored account and slot (a full scan:
    /// for verification, never on the block path).
    pub fn recompute_state_root(&self) -> Result<B256, StorageError> {
        let mut lattice = crate::StateLattice::default();
        for entry in self.accounts.iter()? {
            let (address, account) = entry?;
            lattice.add_account(
                &Address::from(*address.value()),
                &AccountState::decode(account.value()),
            );
        }
        for entry in self.storage.iter()? {
            let (key, value) = entry?;
            let key = key.value();
            lattice.add_slot(
                &Address::from_slice(&key[..20]),
                &U256::from_be_slice(&key[20..]),
                &U256::from_be_bytes(*value.value()),
            );
        }
        Ok(lattice.root())
    }
}

/// The stored encodings of a block's transactions, borrowed from its body (an RLP list of byte
/// strings), without copying them.
/// Skips one RLP-encoded `StoredReceipt` at the front of `buf` and returns how many logs it
/// holds, without decoding them: its type, status and two gas fields are passed over, then
/// the items of its logs list are counted by their headers.
fn logs_in_receipt(buf: &mut &[u8]) -> Result<usize, alloy_rlp::Error> {
    let receipt = alloy_rlp::Header::decode(buf)?;
    if !receipt.list {
        return Err(alloy_rlp::Error::UnexpectedString);
    }
    let mut fields = buf
        .get(..receipt.payload_length)
        .ok_or(alloy_rlp::Error::InputTooShort)?;
    *buf = &buf[receipt.payload_length..];
    for _ in 0..4 {
        skip_item(&mut fields)?;
    }
    let logs = alloy_rlp::Header::decode(&mut fields)?;
    if !logs.list {
        return Err(alloy_rlp::Error::UnexpectedString);
    }
    let mut items = fields
        .get(..logs.payload_length)
        .ok_or(alloy_rlp::Error::InputTooShort)?;
    let mut count = 0;
    while !items.is_empty() {
        skip_item(&mut items)?;
        count += 1;
    }
    Ok(count)
}

/// Advances `buf` past one RLP item, string or list.
fn skip_item(buf: &mut &[u8]) -> Result<(), alloy_rlp::Error> {
    let header = alloy_rlp::Header::decode(buf)?;
    if header.payload_length > buf.len() {
        return Err(alloy_rlp::Error::InputTooShort);
    }
    *buf = &buf[header.payload_length..];
    Ok(())
}

/// The items of a per-block value stored as one RLP list (a body, the receipts), still encoded.
fn list_payload<'a>(raw: &'a [u8], table: &'static str) -> Result<&'a [u8], StorageError> {
    let mut buf = raw;
    let list = alloy_rlp::Header::decode(&mut buf).map_err(|e| corrupt(table, e))?;
    if !list.list || list.payload_length != buf.len() {
        return Err(corrupt(table, "a block's value is not one RLP list"));
    }
    Ok(buf)
}

fn raw_transactions(body: &[u8]) -> Result<Vec<&[u8]>, StorageError> {
    let mut buf = list_payload(body, "bodies")?;
    let mut items = Vec::new();
    while !buf.is_empty() {
        items.push(
            alloy_rlp::Header::decode_bytes(&mut buf, false).map_err(|e| corrupt("bodies", e))?,
        );
    }
    Ok(items)
}
