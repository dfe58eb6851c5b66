//! Transactions as the chain carries them: an Ethereum typed envelope together with its
//! already-recovered sender and hash.

use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes};

/// Why raw transaction bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxDecodeError {
    #[error("empty transaction data")]
    Empty,
    #[error("transaction is {size} bytes, larger than the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("malformed transaction encoding: {0}")]
    Malformed(String),
    #[error("{0} trailing bytes after the transaction")]
    TrailingBytes(usize),
    #[error("blob (EIP-4844) transactions are not supported on this chain")]
    BlobUnsupported,
}

/// Decodes an EIP-2718 transaction (typed, or legacy RLP) and checks the size limit before
/// decoding so oversized input is never parsed.
pub fn decode_raw_transaction(raw: &[u8], max_size: usize) -> Result<TxEnvelope, TxDecodeError> {
    if raw.is_empty() {
        return Err(TxDecodeError::Empty);
    }
    if raw.len() > max_size {
        return Err(TxDecodeError::TooLarge {
            size: raw.len(),
            limit: max_size,
        });
    }
    let mut buf = raw;
    let envelope =
        TxEnvelope::decode_2718(&mut buf).map_err(|e| TxDecodeError::Malformed(e.to_string()))?;
    if !buf.is_empty() {
        return Err(TxDecodeError::TrailingBytes(buf.len()));
    }
    if envelope.is_eip4844() {
        return Err(TxDecodeError::BlobUnsupported);
    }
    Ok(envelope)
}

/// A transaction whose signature has been verified and whose sender is known.
///
/// Built only by the signature layer (`ricaas-crypto`) or read back from our own storage, which
/// stores nothing that was not verified first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveredTx {
    envelope: TxEnvelope,
    sender: Address,
    encoded: Bytes,
}

impl RecoveredTx {
    /// Pairs an envelope with the sender recovered from its signature. Callers must have verified
    /// the signature; `encoded` must be the envelope's EIP-2718 encoding.
    pub fn from_verified_parts(envelope: TxEnvelope, sender: Address, encoded: Bytes) -> Self {
        Self {
            envelope,
            sender,
            encoded,
        }
    }

    pub fn envelope(&self) -> &TxEnvelope {
        &self.envelope
    }

    pub fn sender(&self) -> Address {
        self.sender
    }

    pub fn hash(&self) -> B256 {
        *self.envelope.tx_hash()
    }

    pub fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }

    pub fn gas_limit(&self) -> u64 {
        self.envelope.gas_limit()
    }

    /// The EIP-2718 bytes, as received and as stored.
    pub fn encoded(&self) -> &Bytes {
        &self.encoded
    }
}
