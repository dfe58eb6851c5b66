//! Transactions as the chain carries them — a standard Ethereum typed envelope, or RiChain's
//! native envelope for certificate-holding signers (SM2, P-256, Ed25519) — together with the
//! already-verified sender and hash.

use alloy_consensus::{Transaction, TxEnvelope, Typed2718};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

/// EIP-2718 type byte of the native envelope.
pub const NATIVE_TX_TYPE: u8 = 0x52;

/// What a native transaction asks for: the Ethereum legacy fields, chain id included.
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct NativeTxFields {
    pub chain_id: u64,
    pub nonce: u64,
    pub gas_price: u128,
    pub gas_limit: u64,
    /// Empty for contract creation, else the 20-byte recipient.
    pub to: Bytes,
    pub value: U256,
    pub input: Bytes,
}

impl NativeTxFields {
    /// The bytes the signer signs: `0x52 ‖ rlp(fields)`. Each algorithm hashes them its own way
    /// (SM2 with SM3 and the signer's Z value, P-256 with SHA-256, Ed25519 as specified).
    pub fn signing_payload(&self) -> Vec<u8> {
        let mut out = vec![NATIVE_TX_TYPE];
        self.encode(&mut out);
        out
    }

    pub fn kind(&self) -> Result<TxKind, TxDecodeError> {
        match self.to.len() {
            0 => Ok(TxKind::Create),
            20 => Ok(TxKind::Call(Address::from_slice(&self.to))),
            n => Err(TxDecodeError::Malformed(format!(
                "native transaction recipient is {n} bytes, expected 0 or 20"
            ))),
        }
    }
}

/// The native envelope: `0x52 ‖ rlp([fields, certificate, signature])`. `certificate` is the
/// signer's X.509 certificate (DER), or the 32-byte id ([`certificate_id`]) of a certificate
/// enrolled in the channel's membership contract (no DER certificate is 32 bytes long), and
/// `signature` its signature over [`NativeTxFields::signing_payload`] (DER for SM2 and P-256,
/// 64 bytes for Ed25519).
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct NativeTx {
    pub fields: NativeTxFields,
    pub certificate: Bytes,
    pub signature: Bytes,
}

/// The id of a certificate: Keccak-256 of its DER encoding.
pub fn certificate_id(der: &[u8]) -> B256 {
    keccak256(der)
}

/// How a native transaction names its signer's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignerCertificate<'a> {
    /// The whole certificate (DER).
    Carried(&'a [u8]),
    /// The id of a certificate enrolled on chain.
    Enrolled(B256),
}

impl NativeTx {
    pub fn signer_certificate(&self) -> SignerCertificate<'_> {
        if self.certificate.len() == 32 {
            SignerCertificate::Enrolled(B256::from_slice(&self.certificate))
        } else {
            SignerCertificate::Carried(&self.certificate)
        }
    }

    pub fn encoded(&self) -> Vec<u8> {
        let mut out = vec![NATIVE_TX_TYPE];
        self.encode(&mut out);
        out
    }
}

/// A transaction in either envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainTx {
    Ethereum(TxEnvelope),
    Native { tx: NativeTx, hash: B256 },
}

impl ChainTx {
    pub fn native(tx: NativeTx) -> Self {
        let hash = keccak256(tx.encoded());
        ChainTx::Native { tx, hash }
    }

    pub fn hash(&self) -> B256 {
        match self {
            ChainTx::Ethereum(envelope) => *envelope.tx_hash(),
            ChainTx::Native { hash, .. } => *hash,
        }
    }

    /// The EIP-2718 type byte.
    pub fn tx_type(&self) -> u8 {
        match self {
            ChainTx::Ethereum(envelope) => envelope.ty(),
            ChainTx::Native { .. } => NATIVE_TX_TYPE,
        }
    }

    pub fn chain_id(&self) -> Option<u64> {
        match self {
            ChainTx::Ethereum(envelope) => envelope.chain_id(),
            ChainTx::Native { tx, .. } => Some(tx.fields.chain_id),
        }
    }

    pub fn nonce(&self) -> u64 {
        match self {
            ChainTx::Ethereum(envelope) => envelope.nonce(),
            ChainTx::Native { tx, .. } => tx.fields.nonce,
        }
    }

    pub fn gas_limit(&self) -> u64 {
        match self {
            ChainTx::Ethereum(envelope) => envelope.gas_limit(),
            ChainTx::Native { tx, .. } => tx.fields.gas_limit,
        }
    }

    /// Highest price per gas the sender pays (the gas price of legacy-style transactions).
    pub fn max_fee_per_gas(&self) -> u128 {
        match self {
            ChainTx::Ethereum(envelope) => envelope.max_fee_per_gas(),
            ChainTx::Native { tx, .. } => tx.fields.gas_price,
        }
    }

    pub fn value(&self) -> U256 {
        match self {
            ChainTx::Ethereum(envelope) => envelope.value(),
            ChainTx::Native { tx, .. } => tx.fields.value,
        }
    }

    pub fn input(&self) -> &Bytes {
        match self {
            ChainTx::Ethereum(envelope) => envelope.input(),
            ChainTx::Native { tx, .. } => &tx.fields.input,
        }
    }

    /// Call or create. Native envelopes are checked at decoding, so this never fails for one
    /// that decoded; a malformed recipient would read as a creation.
    pub fn kind(&self) -> TxKind {
        match self {
            ChainTx::Ethereum(envelope) => envelope.kind(),
            ChainTx::Native { tx, .. } => tx.fields.kind().unwrap_or(TxKind::Create),
        }
    }

    pub fn is_create(&self) -> bool {
        self.kind().is_create()
    }

    pub fn ethereum(&self) -> Option<&TxEnvelope> {
        match self {
            ChainTx::Ethereum(envelope) => Some(envelope),
            ChainTx::Native { .. } => None,
        }
    }

    /// The EIP-2718 bytes.
    pub fn encoded(&self) -> Vec<u8> {
        match self {
            ChainTx::Ethereum(envelope) => envelope.encoded_2718(),
            ChainTx::Native { tx, .. } => tx.encoded(),
        }
    }
}

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

/// Decodes an EIP-2718 transaction (typed, legacy RLP, or the native envelope) and checks the
/// size limit before decoding so oversized input is never parsed. Only canonical encodings are
/// accepted: the transaction's hash is the Keccak of `raw`, and encoding it gives `raw` back.
pub fn decode_raw_transaction(raw: &[u8], max_size: usize) -> Result<ChainTx, TxDecodeError> {
    if raw.is_empty() {
        return Err(TxDecodeError::Empty);
    }
    if raw.len() > max_size {
        return Err(TxDecodeError::TooLarge {
            size: raw.len(),
            limit: max_size,
        });
    }
    if raw[0] == NATIVE_TX_TYPE {
        let mut buf = &raw[1..];
        let tx = NativeTx::decode(&mut buf).map_err(|e| TxDecodeError::Malformed(e.to_string()))?;
        if !buf.is_empty() {
            return Err(TxDecodeError::TrailingBytes(buf.len()));
        }
        tx.fields.kind()?;
        // Only canonical encodings: re-encoding must give the same bytes (and so the same hash).
        if tx.encoded() != raw {
            return Err(TxDecodeError::Malformed(
                "non-canonical native transaction encoding".into(),
            ));
        }
        return Ok(ChainTx::native(tx));
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
    // The hash is the Keccak of these exact bytes, so they must be the one encoding of what was
    // decoded (alloy's RLP refuses non-minimal lengths and integers; this also holds the length).
    if envelope.encode_2718_len() != raw.len() {
        return Err(TxDecodeError::Malformed(
            "non-canonical transaction encoding".into(),
        ));
    }
    // Typed envelopes come out of decoding with that hash already; a legacy one would encode
    // itself again to hash on first use, which every admission and block verification asks for.
    let envelope = match envelope {
        TxEnvelope::Legacy(signed) => TxEnvelope::Legacy(alloy_consensus::Signed::new_unchecked(
            signed.tx().clone(),
            *signed.signature(),
            keccak256(raw),
        )),
        typed => typed,
    };
    Ok(ChainTx::Ethereum(envelope))
}

/// A transaction whose signature has been verified and whose sender is known.
///
/// Built only by the signature layer (`ricaas-crypto`) or read back from our own storage, which
/// stores nothing that was not verified first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveredTx {
    envelope: ChainTx,
    sender: Address,
    encoded: Bytes,
}

impl RecoveredTx {
    /// Pairs a transaction with the sender its signature proves. Callers must have verified
    /// the signature; `encoded` must be the transaction's EIP-2718 encoding.
    pub fn from_verified_parts(envelope: ChainTx, sender: Address, encoded: Bytes) -> Self {
        Self {
            envelope,
            sender,
            encoded,
        }
    }

    pub fn envelope(&self) -> &ChainTx {
        &self.envelope
    }

    pub fn sender(&self) -> Address {
        self.sender
    }

    pub fn hash(&self) -> B256 {
        self.envelope.hash()
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
