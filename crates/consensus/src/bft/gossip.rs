//! Transaction gossip: each validator forwards the transactions it admitted from its clients to
//! the other validators in batches, so whoever leads the next view has them, each with the
//! sender it recovered from the signature.
//!
//! Recovering a sender is the dearest part of admitting a transfer (one secp256k1 public-key
//! recovery, ~45 µs on this project's 2-core machines), and without help every validator would
//! recover every sender. With [`SenderTrust::Quorum`] or [`SenderTrust::Minority`] a receiver
//! takes a sender without recovering it once enough validators of the current set (n = 3f + 1)
//! have recovered it alike: the forwarder, and the validators after it in key order, which
//! recover what it forwards and confirm the senders to the others by transaction hash.
//!
//! - `Quorum` (the default) needs n − f of them (2f + 1): a forged sender then takes a quorum of
//!   colluding validators, who could finalize any block anyway. Each sender is recovered n − f
//!   times instead of n.
//! - `Minority` needs f + 1: one of them is honest under the assumption BFT safety rests on, but
//!   f + 1 colluding validators (2 of 4) could make the honest ones execute a transfer its owner
//!   never signed, where with every validator recovering they could only fork or stop the chain.
//!   Each sender is recovered f + 1 times. For consortia that accept that trade for throughput.
//! - `Recover`: every validator recovers every sender (the strictest, and the dearest).
//!
//! Anything short of that is recovered locally, as before: a forwarder outside the validator set,
//! claims that disagree, confirmations that do not come within [`CONFIRMATION_WAIT`] (a confirming
//! validator is down), or more waiting transactions than [`MAX_WAITING`]. A block's transactions
//! missing from the pool are recovered when the block is verified, so no block waits on gossip.

use super::ReplicatedChain;
use alloy_primitives::{Address, B256, Bytes, keccak256};
use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::{Clock, IoBuf, Spawner};
use futures::FutureExt as _;
use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};
use tokio::sync::mpsc;

/// Most transactions or bytes in one gossip message.
const MAX_BATCH_TXS: usize = 4096;
pub(crate) const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;

/// How long a forwarded transaction waits for the confirmations that let it skip recovery.
/// Long enough for a confirmer that is busy under load (its batch queued behind others), short
/// enough that a confirmer that is down delays the forwarder's transactions only briefly at
/// the others (the forwarder itself proposes them meanwhile).
pub const CONFIRMATION_WAIT: Duration = Duration::from_secs(1);
/// A confirmer recovers and confirms a large batch in chunks of this many, so that the others
/// hear about the first senders before the last are recovered.
const CONFIRM_CHUNK: usize = 256;
/// Most forwarded transactions (and early confirmations) held while waiting; beyond it a
/// transaction is recovered at once.
pub const MAX_WAITING: usize = 1 << 17;

/// A transaction a validator admitted from a client, with the sender it recovered: what
/// admission hands to gossip.
pub type Forwarded = (Bytes, Address);

const TRANSACTIONS: u8 = 1;
const CONFIRMATIONS: u8 = 2;

/// What validators send each other on the transaction channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GossipMessage {
    /// Transactions the sending validator admitted from its clients, each with the sender it
    /// recovered.
    Transactions(Vec<Forwarded>),
    /// Senders the sending validator recovered for transactions another validator forwarded,
    /// by transaction hash (the Keccak-256 of the transaction's encoding).
    Confirmations(Vec<(B256, Address)>),
}

impl GossipMessage {
    /// `[kind] [u32 count]` then per transaction `[u32 len] bytes [20 sender]`, or per
    /// confirmation `[32 hash] [20 sender]`; integers big-endian.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Transactions(entries) => {
                let size = 5 + entries.iter().map(|(t, _)| 24 + t.len()).sum::<usize>();
                let mut out = Vec::with_capacity(size);
                out.push(TRANSACTIONS);
                out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
                for (tx, sender) in entries {
                    out.extend_from_slice(&(tx.len() as u32).to_be_bytes());
                    out.extend_from_slice(tx);
                    out.extend_from_slice(sender.as_slice());
                }
                out
            }
            Self::Confirmations(entries) => {
                let mut out = Vec::with_capacity(5 + entries.len() * 52);
                out.push(CONFIRMATIONS);
                out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
                for (hash, sender) in entries {
                    out.extend_from_slice(hash.as_slice());
                    out.extend_from_slice(sender.as_slice());
                }
                out
            }
        }
    }

    /// Decodes a message, refusing an unknown kind, more than `max_entries` entries, a truncated
    /// entry or trailing bytes.
    pub fn decode(bytes: &[u8], max_entries: usize) -> Option<Self> {
        let (&kind, mut bytes) = bytes.split_first()?;
        let count = read_u32(&mut bytes)?;
        if count > max_entries {
            return None;
        }
        let message = match kind {
            TRANSACTIONS => {
                let mut entries = Vec::with_capacity(count);
                for _ in 0..count {
                    let len = read_u32(&mut bytes)?;
                    let tx = take(&mut bytes, len)?;
                    let sender = Address::from_slice(take(&mut bytes, 20)?);
                    entries.push((Bytes::copy_from_slice(tx), sender));
                }
                Self::Transactions(entries)
            }
            CONFIRMATIONS => {
                let mut entries = Vec::with_capacity(count);
                for _ in 0..count {
                    let hash = B256::from_slice(take(&mut bytes, 32)?);
                    let sender = Address::from_slice(take(&mut bytes, 20)?);
                    entries.push((hash, sender));
                }
                Self::Confirmations(entries)
            }
            _ => return None,
        };
        bytes.is_empty().then_some(message)
    }
}

fn read_u32(bytes: &mut &[u8]) -> Option<usize> {
    let (head, rest) = bytes.split_first_chunk::<4>()?;
    *bytes = rest;
    Some(u32::from_be_bytes(*head) as usize)
}

fn take<'a>(bytes: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if bytes.len() < len {
        return None;
    }
    let (head, rest) = bytes.split_at(len);
    *bytes = rest;
    Some(head)
}

/// How many validators must have recovered a gossiped transaction's sender alike before this
/// node takes it without recovering it (see the module documentation). Every validator of a
/// channel should use the same setting: a node confirms for the others as its own setting says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderTrust {
    /// n − f validators (2f + 1): a quorum.
    #[default]
    Quorum,
    /// f + 1 validators: at least one honest while at most f are faulty.
    Minority,
    /// None: every validator recovers every sender.
    Recover,
}

/// The current validator set as gossip sees it: who may vouch for a sender, and whose
/// forwarded transactions this node confirms.
#[derive(Clone, Debug)]
pub(crate) struct Committee {
    /// Sorted, so that every node picks the same confirmers.
    keys: Vec<PublicKey>,
    me: PublicKey,
    trust: SenderTrust,
}

impl Committee {
    pub(crate) fn new(mut keys: Vec<PublicKey>, me: PublicKey, trust: SenderTrust) -> Self {
        keys.sort();
        keys.dedup();
        Self { keys, me, trust }
    }

    /// Byzantine validators the set tolerates: n = 3f + 1.
    fn faults(&self) -> usize {
        self.keys.len().saturating_sub(1) / 3
    }

    /// Validators (the forwarder included) whose matching claims settle a sender; `None` when
    /// every sender is recovered here.
    fn needed(&self) -> Option<usize> {
        match self.trust {
            SenderTrust::Quorum => Some(self.keys.len() - self.faults()),
            SenderTrust::Minority => Some(self.faults() + 1),
            SenderTrust::Recover => None,
        }
    }

    fn contains(&self, key: &PublicKey) -> bool {
        self.keys.binary_search(key).is_ok()
    }

    /// Whether this node is one of the validators after `forwarder` (as many as `needed` asks
    /// besides it) that recover what it forwards and confirm the senders.
    fn confirms_for(&self, forwarder: &PublicKey) -> bool {
        let Some(needed) = self.needed() else {
            return false;
        };
        let (Ok(from), Ok(me)) = (
            self.keys.binary_search(forwarder),
            self.keys.binary_search(&self.me),
        ) else {
            return false;
        };
        let after = (me + self.keys.len() - from) % self.keys.len();
        (1..needed).contains(&after)
    }

    /// The validators that wait for confirmations of what `forwarder` forwards: neither it, nor
    /// this node, nor the others that confirm for it (they recover it themselves).
    fn waiting_for(&self, forwarder: &PublicKey) -> Vec<PublicKey> {
        let Some(needed) = self.needed() else {
            return Vec::new();
        };
        let Ok(from) = self.keys.binary_search(forwarder) else {
            return Vec::new();
        };
        let n = self.keys.len();
        (needed..n)
            .map(|after| self.keys[(from + after) % n].clone())
            .filter(|key| *key != self.me)
            .collect()
    }
}

/// What to do with gossiped transactions.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Senders vouched for by `f + 1` validators: admit without recovering.
    pub vouched: Vec<Forwarded>,
    /// Recover and admit, as for a client's transaction.
    pub recover: Vec<Bytes>,
    /// Validators to confirm the senders recovered from `recover` to (empty: none).
    pub confirm_to: Vec<PublicKey>,
}

struct Waiting {
    raw: Bytes,
    claims: Vec<(PublicKey, Address)>,
    needed: usize,
    since: SystemTime,
}

struct Early {
    claims: Vec<(PublicKey, Address)>,
    since: SystemTime,
}

/// Forwarded transactions waiting for confirmations, and confirmations that came first.
#[derive(Default)]
pub(crate) struct Vouching {
    waiting: alloy_primitives::map::B256Map<Waiting>,
    early: alloy_primitives::map::B256Map<Early>,
}

/// Whether `claims` settle a sender: `Some(Some(sender))` when `needed` distinct validators
/// agree, `Some(None)` when two disagree (recover locally), `None` while more are needed.
fn settle(claims: &[(PublicKey, Address)], needed: usize) -> Option<Option<Address>> {
    let first = claims.first()?.1;
    if claims.iter().any(|(_, sender)| *sender != first) {
        return Some(None);
    }
    (claims.len() >= needed).then_some(Some(first))
}

fn add_claim(claims: &mut Vec<(PublicKey, Address)>, from: &PublicKey, sender: Address) {
    if !claims.iter().any(|(key, _)| key == from) {
        claims.push((from.clone(), sender));
    }
}

impl Vouching {
    /// Transactions `from` forwarded.
    pub(crate) fn on_transactions(
        &mut self,
        from: &PublicKey,
        entries: Vec<Forwarded>,
        committee: &Committee,
        now: SystemTime,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let needed = match committee.needed() {
            Some(needed) if committee.contains(from) => needed,
            _ => {
                outcome.recover = entries.into_iter().map(|(raw, _)| raw).collect();
                return outcome;
            }
        };
        if committee.confirms_for(from) {
            outcome.recover = entries.into_iter().map(|(raw, _)| raw).collect();
            outcome.confirm_to = committee.waiting_for(from);
            return outcome;
        }
        for (raw, sender) in entries {
            let hash = keccak256(&raw);
            let waiting = match self.waiting.remove(&hash) {
                // The same transaction forwarded by a second validator (a client sent it to both).
                Some(mut waiting) => {
                    add_claim(&mut waiting.claims, from, sender);
                    waiting
                }
                None => {
                    let mut claims = vec![(from.clone(), sender)];
                    if let Some(early) = self.early.remove(&hash) {
                        for (key, claimed) in early.claims {
                            add_claim(&mut claims, &key, claimed);
                        }
                    }
                    Waiting {
                        raw,
                        claims,
                        needed,
                        since: now,
                    }
                }
            };
            self.resolve(hash, waiting, &mut outcome);
        }
        outcome
    }

    /// Senders `from` recovered for transactions another validator forwarded.
    pub(crate) fn on_confirmations(
        &mut self,
        from: &PublicKey,
        entries: Vec<(B256, Address)>,
        committee: &Committee,
        now: SystemTime,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        if !committee.contains(from) || committee.needed().is_none() {
            return outcome;
        }
        for (hash, sender) in entries {
            if let Some(mut waiting) = self.waiting.remove(&hash) {
                add_claim(&mut waiting.claims, from, sender);
                self.resolve(hash, waiting, &mut outcome);
            } else if self.early.len() < MAX_WAITING || self.early.contains_key(&hash) {
                let early = self.early.entry(hash).or_insert_with(|| Early {
                    claims: Vec::new(),
                    since: now,
                });
                add_claim(&mut early.claims, from, sender);
            }
        }
        outcome
    }

    /// Transactions whose confirmations did not come in time, to recover locally; drops early
    /// confirmations no transaction came for.
    pub(crate) fn expire(&mut self, now: SystemTime) -> Vec<Bytes> {
        let expired = |since: SystemTime| {
            now.duration_since(since)
                .is_ok_and(|waited| waited >= CONFIRMATION_WAIT)
        };
        self.early.retain(|_, early| !expired(early.since));
        let late: Vec<B256> = self
            .waiting
            .iter()
            .filter(|(_, waiting)| expired(waiting.since))
            .map(|(hash, _)| *hash)
            .collect();
        late.into_iter()
            .filter_map(|hash| self.waiting.remove(&hash).map(|w| w.raw))
            .collect()
    }

    fn resolve(&mut self, hash: B256, waiting: Waiting, outcome: &mut Outcome) {
        match settle(&waiting.claims, waiting.needed) {
            Some(Some(sender)) => outcome.vouched.push((waiting.raw, sender)),
            Some(None) => outcome.recover.push(waiting.raw),
            None if self.waiting.len() >= MAX_WAITING => outcome.recover.push(waiting.raw),
            None => {
                self.waiting.insert(hash, waiting);
            }
        }
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

/// Sends what admission forwards on `outgoing`, batched while more is already waiting, and
/// confirms senders; admits what the other validators send. `validators` gives the current
/// validator set (read again after each committed block).
pub(crate) fn start_gossip<E, C, S, R>(
    runtime: E,
    chain: Arc<C>,
    me: PublicKey,
    genesis_validators: Vec<PublicKey>,
    trust: SenderTrust,
    mut outgoing: mpsc::Receiver<Forwarded>,
    (mut sender, mut receiver): (S, R),
) where
    E: Spawner + Clock,
    C: ReplicatedChain,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    let (confirm_tx, mut confirmations) = mpsc::unbounded_channel::<Confirming>();
    runtime.child("gossip_out").spawn(move |_| async move {
        loop {
            let (recipients, message) = tokio::select! {
                first = outgoing.recv() => {
                    let Some(first) = first else { return };
                    let mut size = first.0.len() + 24;
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH_TXS && size < MAX_BATCH_BYTES / 2 {
                        match outgoing.try_recv() {
                            Ok(tx) => {
                                size += tx.0.len() + 24;
                                batch.push(tx);
                            }
                            Err(_) => break,
                        }
                    }
                    (Recipients::All, GossipMessage::Transactions(batch))
                }
                Some((to, confirmed)) = confirmations.recv() => {
                    (Recipients::Some(to), GossipMessage::Confirmations(confirmed))
                }
            };
            sender.send(recipients, IoBuf::from(message.encode()), false);
        }
    });
    runtime.child("gossip_in").spawn(move |runtime| async move {
        let mut vouching = Vouching::default();
        let mut committee: Option<(u64, Committee)> = None;
        loop {
            let received = {
                let recv = receiver.recv().fuse();
                let tick = runtime.sleep(CONFIRMATION_WAIT / 2).fuse();
                futures::pin_mut!(recv, tick);
                futures::select! {
                    received = recv => Some(received),
                    _ = tick => None,
                }
            };
            let now = runtime.current();
            let height = chain.committed_height();
            if committee.as_ref().is_none_or(|(at, _)| *at != height) {
                let keys = match chain.validators() {
                    Ok(Some(listed)) => super::app::validator_set(listed)
                        .map(|set| set.0.into_iter().map(|v| v.key).collect())
                        .unwrap_or_default(),
                    _ => genesis_validators.clone(),
                };
                committee = Some((height, Committee::new(keys, me.clone(), trust)));
            }
            let Some((_, current)) = &committee else {
                continue;
            };
            // What expired, and what this message settles, is admitted after the message's own
            // batch (which a confirmer recovers and confirms on its own).
            let mut settled = Outcome {
                recover: vouching.expire(now),
                ..Outcome::default()
            };
            let message = match received {
                None => None,
                Some(Err(_)) => return,
                Some(Ok((peer, message))) => {
                    let decoded = GossipMessage::decode(message.as_ref(), MAX_BATCH_TXS);
                    if decoded.is_none() {
                        tracing::warn!(%peer, "malformed gossip message from peer");
                    }
                    decoded.map(|decoded| (peer, decoded))
                }
            };
            let decided = match message {
                None => Outcome::default(),
                Some((peer, GossipMessage::Transactions(entries))) => {
                    vouching.on_transactions(&peer, entries, current, now)
                }
                Some((peer, GossipMessage::Confirmations(entries))) => {
                    vouching.on_confirmations(&peer, entries, current, now)
                }
            };
            if !decided.confirm_to.is_empty() {
                admit(&runtime, &chain, decided, &confirm_tx).await;
            } else {
                settled.vouched.extend(decided.vouched);
                settled.recover.extend(decided.recover);
            }
            admit(&runtime, &chain, settled, &confirm_tx).await;
        }
    });
}

/// Confirmations to send, and to whom.
type Confirming = (Vec<PublicKey>, Vec<(B256, Address)>);

/// Admits an outcome's transactions off the gossip task (recovery is CPU work), and queues the
/// confirmations of what it recovered.
async fn admit<E: Spawner, C: ReplicatedChain>(
    runtime: &E,
    chain: &Arc<C>,
    outcome: Outcome,
    confirm: &mpsc::UnboundedSender<Confirming>,
) {
    let confirm_to = outcome.confirm_to;
    if !outcome.vouched.is_empty() {
        let chain = chain.clone();
        let vouched = outcome.vouched;
        let _ = runtime
            .child("admit")
            .shared(true)
            .spawn(move |_| async move { chain.admit_vouched(vouched) })
            .await;
    }
    let mut recover = outcome.recover;
    while !recover.is_empty() {
        let rest = if !confirm_to.is_empty() && recover.len() > CONFIRM_CHUNK {
            recover.split_off(CONFIRM_CHUNK)
        } else {
            Vec::new()
        };
        let chain = chain.clone();
        let recovered = runtime
            .child("admit")
            .shared(true)
            .spawn(move |_| async move { chain.admit_gossip(recover) })
            .await
            .unwrap_or_default();
        if !confirm_to.is_empty() && !recovered.is_empty() {
            let _ = confirm.send((confirm_to.clone(), recovered));
        }
        recover = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::DecodeExt as _;
    use commonware_cryptography::{Signer as _, ed25519::PrivateKey};

    fn key(seed: u8) -> PublicKey {
        PrivateKey::decode(bytes::Bytes::copy_from_slice(&[seed; 32]))
            .expect("any 32 bytes are an Ed25519 seed")
            .public_key()
    }

    #[test]
    fn messages_round_trip_and_malformed_ones_are_refused() {
        let txs = GossipMessage::Transactions(vec![
            (Bytes::from(vec![1u8, 2, 3]), Address::repeat_byte(7)),
            (Bytes::from(vec![4u8; 100]), Address::repeat_byte(8)),
        ]);
        let confirmations =
            GossipMessage::Confirmations(vec![(B256::repeat_byte(1), Address::repeat_byte(2))]);
        for message in [txs, confirmations] {
            let encoded = message.encode();
            assert_eq!(GossipMessage::decode(&encoded, 10), Some(message.clone()));
            // Truncated entry, trailing garbage, too many entries.
            assert_eq!(
                GossipMessage::decode(&encoded[..encoded.len() - 1], 10),
                None
            );
            let mut trailing = encoded.clone();
            trailing.push(0);
            assert_eq!(GossipMessage::decode(&trailing, 10), None);
            assert_eq!(GossipMessage::decode(&encoded, 0), None);
        }
        // Empty input, an unknown kind, and a count past the limit before allocating.
        assert_eq!(GossipMessage::decode(&[], 10), None);
        assert_eq!(GossipMessage::decode(&[9, 0, 0, 0, 0], 10), None);
        let mut huge = vec![TRANSACTIONS];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(GossipMessage::decode(&huge, 10), None);
    }

    fn keys(n: u64) -> Vec<PublicKey> {
        let mut keys: Vec<PublicKey> = (0..n).map(|seed| key(seed as u8)).collect();
        keys.sort();
        keys
    }

    fn tx(byte: u8) -> (Bytes, B256) {
        let raw = Bytes::from(vec![byte; 8]);
        let hash = keccak256(&raw);
        (raw, hash)
    }

    const ALICE: Address = Address::repeat_byte(0xa1);
    const MALLORY: Address = Address::repeat_byte(0x66);

    #[test]
    fn minority_the_validator_after_the_forwarder_confirms_and_the_others_wait_for_it() {
        let keys = keys(4);
        let now = SystemTime::UNIX_EPOCH;
        let (raw, hash) = tx(1);
        // Validator 0 forwards. Validator 1 (the next one, f = 1) recovers and confirms.
        let confirmer = Committee::new(keys.clone(), keys[1].clone(), SenderTrust::Minority);
        let outcome = Vouching::default().on_transactions(
            &keys[0],
            vec![(raw.clone(), ALICE)],
            &confirmer,
            now,
        );
        assert_eq!(outcome.recover, vec![raw.clone()]);
        // Confirmed to the two that wait for it (2 and 3), not back to the forwarder.
        assert_eq!(outcome.confirm_to, vec![keys[2].clone(), keys[3].clone()]);
        assert!(outcome.vouched.is_empty());
        // Validator 2 waits: the forwarder's word alone is one claim of the two needed.
        let committee = Committee::new(keys.clone(), keys[2].clone(), SenderTrust::Minority);
        let mut vouching = Vouching::default();
        let outcome =
            vouching.on_transactions(&keys[0], vec![(raw.clone(), ALICE)], &committee, now);
        assert_eq!(outcome, Outcome::default());
        assert_eq!(vouching.waiting(), 1);
        // A confirmation from a validator that is not in the set counts for nothing.
        let stranger = key(99);
        let outcome = vouching.on_confirmations(&stranger, vec![(hash, ALICE)], &committee, now);
        assert_eq!(outcome, Outcome::default());
        // Nor does the forwarder confirming itself.
        let outcome = vouching.on_confirmations(&keys[0], vec![(hash, ALICE)], &committee, now);
        assert_eq!(outcome, Outcome::default());
        // The confirmer's matching claim settles it: admitted without recovery.
        let outcome = vouching.on_confirmations(&keys[1], vec![(hash, ALICE)], &committee, now);
        assert_eq!(outcome.vouched, vec![(raw, ALICE)]);
        assert!(outcome.recover.is_empty());
        assert_eq!(vouching.waiting(), 0);
    }

    #[test]
    fn disagreement_a_stranger_or_silence_means_recovering_locally() {
        let keys = keys(4);
        let now = SystemTime::UNIX_EPOCH;
        let committee = Committee::new(keys.clone(), keys[2].clone(), SenderTrust::Minority);
        let (raw, hash) = tx(2);
        // A forwarder claims one sender, the confirmer recovers another: recover here.
        let mut vouching = Vouching::default();
        vouching.on_transactions(&keys[0], vec![(raw.clone(), MALLORY)], &committee, now);
        let outcome = vouching.on_confirmations(&keys[1], vec![(hash, ALICE)], &committee, now);
        assert_eq!(outcome.recover, vec![raw.clone()]);
        assert!(outcome.vouched.is_empty());
        // A forwarder outside the set is not believed at all.
        let stranger = key(99);
        let outcome =
            vouching.on_transactions(&stranger, vec![(raw.clone(), ALICE)], &committee, now);
        assert_eq!(outcome.recover, vec![raw.clone()]);
        assert!(outcome.confirm_to.is_empty());
        // No confirmation (the confirmer is down): recovered once the wait is over, not before.
        vouching.on_transactions(&keys[0], vec![(raw.clone(), ALICE)], &committee, now);
        assert!(vouching.expire(now + CONFIRMATION_WAIT / 2).is_empty());
        assert_eq!(vouching.waiting(), 1);
        assert_eq!(vouching.expire(now + CONFIRMATION_WAIT), vec![raw]);
        assert_eq!(vouching.waiting(), 0);
    }

    #[test]
    fn a_confirmation_may_come_first_and_two_forwarders_vouch_for_each_other() {
        let keys = keys(4);
        let now = SystemTime::UNIX_EPOCH;
        let committee = Committee::new(keys.clone(), keys[3].clone(), SenderTrust::Minority);
        let (raw, hash) = tx(3);
        let mut vouching = Vouching::default();
        assert_eq!(
            vouching.on_confirmations(&keys[1], vec![(hash, ALICE)], &committee, now),
            Outcome::default()
        );
        let outcome =
            vouching.on_transactions(&keys[0], vec![(raw.clone(), ALICE)], &committee, now);
        assert_eq!(outcome.vouched, vec![(raw.clone(), ALICE)]);
        // A client sent the same transaction to validators 0 and 1: both forward it.
        let (raw, _) = tx(4);
        vouching.on_transactions(&keys[0], vec![(raw.clone(), ALICE)], &committee, now);
        let outcome =
            vouching.on_transactions(&keys[1], vec![(raw.clone(), ALICE)], &committee, now);
        assert_eq!(outcome.vouched, vec![(raw, ALICE)]);
    }

    #[test]
    fn minority_confirmers_are_the_f_validators_after_the_forwarder() {
        // n = 4: f = 1, the next one (wrapping around).
        let four = keys(4);
        let confirms = |keys: &[PublicKey], me: usize, from: usize| {
            Committee::new(keys.to_vec(), keys[me].clone(), SenderTrust::Minority)
                .confirms_for(&keys[from])
        };
        assert!(confirms(&four, 1, 0));
        assert!(!confirms(&four, 2, 0));
        assert!(confirms(&four, 0, 3));
        assert!(!confirms(&four, 0, 0));
        // n = 7: f = 2, the next two.
        let seven = keys(7);
        assert!(confirms(&seven, 5, 4) && confirms(&seven, 6, 4));
        assert!(!confirms(&seven, 0, 4));
        // n = 3: f = 0, nobody confirms; the forwarder's word is enough.
        let three = keys(3);
        assert!(!confirms(&three, 1, 0));
        let committee = Committee::new(three.clone(), three[1].clone(), SenderTrust::Minority);
        let (raw, _) = tx(5);
        let outcome = Vouching::default().on_transactions(
            &three[0],
            vec![(raw.clone(), ALICE)],
            &committee,
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(outcome.vouched, vec![(raw, ALICE)]);
    }

    #[test]
    fn quorum_needs_two_confirmations_of_four_and_recover_trusts_no_one() {
        let keys = keys(4);
        let now = SystemTime::UNIX_EPOCH;
        let (raw, hash) = tx(6);
        // n = 4, quorum 3: the forwarder and the two validators after it.
        let quorum =
            |me: usize| Committee::new(keys.clone(), keys[me].clone(), SenderTrust::Quorum);
        assert!(quorum(1).confirms_for(&keys[0]) && quorum(2).confirms_for(&keys[0]));
        assert!(!quorum(3).confirms_for(&keys[0]));
        // Each confirmer confirms to the one validator that waits: not to the other confirmer.
        assert_eq!(quorum(1).waiting_for(&keys[0]), vec![keys[3].clone()]);
        assert_eq!(quorum(2).waiting_for(&keys[0]), vec![keys[3].clone()]);
        // For validator 2's transactions, 1 is the one that waits: it confirms to nobody.
        assert!(quorum(1).waiting_for(&keys[2]).is_empty());
        let committee = quorum(3);
        let mut vouching = Vouching::default();
        vouching.on_transactions(&keys[0], vec![(raw.clone(), ALICE)], &committee, now);
        // One confirmation makes two claims of the three needed.
        let outcome = vouching.on_confirmations(&keys[1], vec![(hash, ALICE)], &committee, now);
        assert_eq!(outcome, Outcome::default());
        let outcome = vouching.on_confirmations(&keys[2], vec![(hash, ALICE)], &committee, now);
        assert_eq!(outcome.vouched, vec![(raw.clone(), ALICE)]);
        // Recover: every transaction is recovered, nobody confirms, confirmations are ignored.
        let strict = Committee::new(keys.clone(), keys[1].clone(), SenderTrust::Recover);
        assert!(!strict.confirms_for(&keys[0]));
        let mut vouching = Vouching::default();
        assert_eq!(
            vouching.on_confirmations(&keys[2], vec![(hash, ALICE)], &strict, now),
            Outcome::default()
        );
        let outcome = vouching.on_transactions(&keys[0], vec![(raw.clone(), ALICE)], &strict, now);
        assert_eq!(outcome.recover, vec![raw]);
        assert!(outcome.confirm_to.is_empty() && outcome.vouched.is_empty());
    }
}
