//! The block as consensus carries it: our header plus the transactions' EIP-2718 bytes. Senders
//! are not on the wire (a Byzantine proposer could lie about them); the chain recovers them when
//! it executes the block, reusing what admission already verified.

use alloy_primitives::{B256, Bytes};
use bytes::{Buf as _, BufMut};
use commonware_codec::{Buf, EncodeSize, Error as CodecError, Read, ReadExt, Write};
use commonware_consensus::{BoundedBlock, Heightable, types::Height};
use commonware_cryptography::{Digestible, sha256::Digest};
use ricaas_primitives::{ChainTx, Header, decode_raw_transaction};

/// Our block hash as the 32-byte digest consensus votes on.
pub fn digest_of(hash: B256) -> Digest {
    Digest(hash.0)
}

pub fn hash_of(digest: &Digest) -> B256 {
    B256::from(digest.0)
}

/// Bounds a received block must respect before anything else looks at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockLimits {
    pub max_block_bytes: usize,
    pub max_tx_bytes: usize,
}

/// Longest RLP header we accept (ours are ~600 bytes).
const MAX_HEADER_BYTES: usize = 4096;

#[derive(Clone, Debug)]
pub struct ChainBlock {
    header: Header,
    transactions: Vec<(ChainTx, Bytes)>,
    hash: B256,
    /// Whether decoding matched the header's transactions root against these transactions'
    /// exact bytes, so verifying the block need not compute it again.
    transactions_root_checked: bool,
}

/// Two blocks are equal when they hold the same header and transactions, however they were
/// obtained (decoded or built here).
impl PartialEq for ChainBlock {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && self.header == other.header
            && self.transactions == other.transactions
    }
}

impl Eq for ChainBlock {}

impl ChainBlock {
    /// A block from a header and its transactions' EIP-2718 bytes, in order. Nothing is checked
    /// here: a block built from parts is verified in full.
    pub fn new(header: Header, transactions: Vec<(ChainTx, Bytes)>) -> Self {
        let hash = header.hash();
        Self {
            header,
            transactions,
            hash,
            transactions_root_checked: false,
        }
    }

    /// True when this block was decoded from bytes, which checks the header's transactions root
    /// against the transactions' exact encodings ([`Read`]); false for a block built from parts.
    pub fn transactions_root_checked(&self) -> bool {
        self.transactions_root_checked
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn hash(&self) -> B256 {
        self.hash
    }

    pub fn transactions(&self) -> &[(ChainTx, Bytes)] {
        &self.transactions
    }
}

impl Write for ChainBlock {
    fn write(&self, buf: &mut impl BufMut) {
        let header = alloy_rlp::encode(&self.header);
        (header.len() as u32).write(buf);
        buf.put_slice(&header);
        (self.transactions.len() as u32).write(buf);
        for (_, raw) in &self.transactions {
            (raw.len() as u32).write(buf);
            buf.put_slice(raw);
        }
    }
}

impl EncodeSize for ChainBlock {
    fn encode_size(&self) -> usize {
        4 + alloy_rlp::Encodable::length(&self.header)
            + 4
            + self
                .transactions
                .iter()
                .map(|(_, raw)| 4 + raw.len())
                .sum::<usize>()
    }
}

fn take(buf: &mut impl Buf, len: usize) -> Result<Vec<u8>, CodecError> {
    if buf.remaining() < len {
        return Err(CodecError::EndOfBuffer);
    }
    let mut out = vec![0u8; len];
    buf.copy_to_slice(&mut out);
    Ok(out)
}

impl Read for ChainBlock {
    type Cfg = BlockLimits;

    /// Accepts only the canonical encoding of a block whose transactions match its header's
    /// transactions root, so a peer cannot pair a finalized header with other transactions.
    fn read_cfg(buf: &mut impl Buf, limits: &BlockLimits) -> Result<Self, CodecError> {
        let mut total = 8usize;
        let header_len = u32::read(buf)? as usize;
        if header_len > MAX_HEADER_BYTES {
            return Err(CodecError::InvalidLength(header_len));
        }
        let raw_header = take(buf, header_len)?;
        total += header_len;
        let header: Header = alloy_rlp::Decodable::decode(&mut raw_header.as_slice())
            .map_err(|_| CodecError::Invalid("ChainBlock", "malformed header"))?;
        if alloy_rlp::encode(&header) != raw_header {
            return Err(CodecError::Invalid("ChainBlock", "non-canonical header"));
        }
        let count = u32::read(buf)? as usize;
        if count.saturating_mul(4) > limits.max_block_bytes {
            return Err(CodecError::InvalidLength(count));
        }
        let mut transactions = Vec::with_capacity(count);
        for _ in 0..count {
            let len = u32::read(buf)? as usize;
            total = total.saturating_add(4 + len);
            if len > limits.max_tx_bytes || total > limits.max_block_bytes {
                return Err(CodecError::InvalidLength(len));
            }
            let raw = Bytes::from(take(buf, len)?);
            // Decoding accepts only canonical encodings (so `raw` is the transaction's one
            // encoding, and its Keccak the transaction's hash).
            let envelope = decode_raw_transaction(&raw, limits.max_tx_bytes)
                .map_err(|_| CodecError::Invalid("ChainBlock", "malformed transaction"))?;
            transactions.push((envelope, raw));
        }
        let encoded: Vec<&[u8]> = transactions.iter().map(|(_, raw)| raw.as_ref()).collect();
        if ricaas_primitives::transactions_root_of(&encoded) != header.transactions_root {
            return Err(CodecError::Invalid(
                "ChainBlock",
                "transactions do not match the header's transactions root",
            ));
        }
        let mut block = Self::new(header, transactions);
        block.transactions_root_checked = true;
        Ok(block)
    }
}

impl Digestible for ChainBlock {
    type Digest = Digest;

    fn digest(&self) -> Digest {
        digest_of(self.hash)
    }
}

impl Heightable for ChainBlock {
    fn height(&self) -> Height {
        Height::new(self.header.height)
    }
}

impl commonware_consensus::Block for ChainBlock {
    fn parent(&self) -> Digest {
        digest_of(self.header.parent_hash)
    }
}

impl BoundedBlock for ChainBlock {
    fn max_encode_size(limits: &BlockLimits) -> usize {
        limits.max_block_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, B256};
    use commonware_codec::Encode as _;
    use ricaas_primitives::transactions_root_of;

    const LIMITS: BlockLimits = BlockLimits {
        max_block_bytes: 1 << 20,
        max_tx_bytes: 1 << 16,
    };

    fn empty_block() -> ChainBlock {
        let header = Header {
            parent_hash: B256::repeat_byte(1),
            height: 7,
            timestamp_ms: 1_000,
            transactions_root: transactions_root_of(&[]),
            receipts_root: B256::ZERO,
            state_root: B256::repeat_byte(2),
            logs_bloom: Default::default(),
            gas_limit: 30_000_000,
            gas_used: 0,
            beneficiary: Address::ZERO,
        };
        ChainBlock::new(header, Vec::new())
    }

    fn decode(bytes: &[u8]) -> Result<ChainBlock, CodecError> {
        ChainBlock::read_cfg(&mut bytes::Bytes::copy_from_slice(bytes), &LIMITS)
    }

    #[test]
    fn blocks_round_trip_and_forged_or_oversized_encodings_are_refused() {
        let block = empty_block();
        let encoded = block.encode();
        let decoded = decode(&encoded).expect("decodes");
        assert_eq!(decoded, block);
        // Decoding checked the transactions root; a block built from parts did not.
        assert!(decoded.transactions_root_checked());
        assert!(!block.transactions_root_checked());
        // A transactions root that does not match the (empty) transaction list.
        let mut header = block.header().clone();
        header.transactions_root = B256::repeat_byte(9);
        let forged = ChainBlock::new(header, Vec::new()).encode();
        assert!(matches!(decode(&forged), Err(CodecError::Invalid(_, _))));
        // A header length beyond the cap, and a transaction count beyond the block size.
        let mut huge_header = (MAX_HEADER_BYTES as u32 + 1).to_be_bytes().to_vec();
        huge_header.extend_from_slice(&[0u8; 16]);
        assert!(matches!(
            decode(&huge_header),
            Err(CodecError::InvalidLength(_))
        ));
        let mut many = encoded.to_vec();
        let count_at = 4 + alloy_rlp::Encodable::length(block.header());
        many[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(decode(&many), Err(CodecError::InvalidLength(_))));
        // Truncation anywhere fails cleanly.
        for cut in 0..encoded.len() {
            assert!(
                decode(&encoded[..cut]).is_err(),
                "decoded a block cut at {cut}"
            );
        }
    }
}
