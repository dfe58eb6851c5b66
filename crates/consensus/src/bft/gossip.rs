//! Transaction gossip: each validator forwards the transactions it admitted to the other
//! validators in batches, so whoever leads the next view has them. Received batches go through
//! the receiver's own admission (signatures are checked again there; a peer is not trusted).

use super::ReplicatedChain;
use alloy_primitives::Bytes;
use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::{IoBuf, Spawner};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most transactions or bytes in one gossip message.
const MAX_BATCH_TXS: usize = 4096;
pub(crate) const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;

/// `[u32 count] ([u32 len] bytes)*`, big-endian.
pub fn encode_batch(transactions: &[Bytes]) -> Vec<u8> {
    let size = 4 + transactions.iter().map(|t| 4 + t.len()).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(transactions.len() as u32).to_be_bytes());
    for tx in transactions {
        out.extend_from_slice(&(tx.len() as u32).to_be_bytes());
        out.extend_from_slice(tx);
    }
    out
}

/// Decodes a batch, refusing more than `max_txs` entries or any truncated entry.
pub fn decode_batch(mut bytes: &[u8], max_txs: usize) -> Option<Vec<Bytes>> {
    let read_u32 = |bytes: &mut &[u8]| -> Option<usize> {
        let (head, rest) = bytes.split_first_chunk::<4>()?;
        *bytes = rest;
        Some(u32::from_be_bytes(*head) as usize)
    };
    let count = read_u32(&mut bytes)?;
    if count > max_txs {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = read_u32(&mut bytes)?;
        if bytes.len() < len {
            return None;
        }
        let (tx, rest) = bytes.split_at(len);
        out.push(Bytes::copy_from_slice(tx));
        bytes = rest;
    }
    bytes.is_empty().then_some(out)
}

/// Sends what admission forwards on `outgoing`, batched while more is already waiting.
pub(crate) fn start_gossip<E, C, S, R>(
    runtime: E,
    chain: Arc<C>,
    mut outgoing: mpsc::Receiver<Bytes>,
    (mut sender, mut receiver): (S, R),
) where
    E: Spawner,
    C: ReplicatedChain,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    runtime.child("gossip_out").spawn(move |_| async move {
        while let Some(first) = outgoing.recv().await {
            let mut size = first.len();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH_TXS && size < MAX_BATCH_BYTES / 2 {
                match outgoing.try_recv() {
                    Ok(tx) => {
                        size += tx.len();
                        batch.push(tx);
                    }
                    Err(_) => break,
                }
            }
            sender.send(Recipients::All, IoBuf::from(encode_batch(&batch)), false);
        }
    });
    runtime.child("gossip_in").spawn(move |runtime| async move {
        while let Ok((peer, message)) = receiver.recv().await {
            let Some(batch) = decode_batch(message.as_ref(), MAX_BATCH_TXS) else {
                tracing::warn!(%peer, "malformed transaction batch from peer");
                continue;
            };
            let chain = chain.clone();
            let _ = runtime
                .child("admit")
                .shared(true)
                .spawn(move |_| async move { chain.admit_gossip(batch) })
                .await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_malformed_ones_are_refused() {
        let txs = vec![Bytes::from(vec![1u8, 2, 3]), Bytes::from(vec![4u8; 100])];
        let encoded = encode_batch(&txs);
        assert_eq!(decode_batch(&encoded, 10), Some(txs.clone()));
        // Truncated entry, trailing garbage, too many entries, empty input.
        assert_eq!(decode_batch(&encoded[..encoded.len() - 1], 10), None);
        let mut trailing = encoded.clone();
        trailing.push(0);
        assert_eq!(decode_batch(&trailing, 10), None);
        assert_eq!(decode_batch(&encoded, 1), None);
        assert_eq!(decode_batch(&[], 10), None);
        // A count that claims more than the limit is refused before allocating.
        assert_eq!(decode_batch(&u32::MAX.to_be_bytes(), 10), None);
    }
}
