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
//!
//! Recovery runs on a task of its own ([`RecoveryQueue`]): the task that reads gossip never
//! waits for it, and recovers what other validators wait to have confirmed before what only
//! this one needs.

use super::ReplicatedChain;
use alloy_primitives::{Address, B256, Bytes, keccak256};
use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::{Clock, IoBuf, Spawner};
use futures::FutureExt as _;
use std::{
    collections::VecDeque,
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
/// How long a forwarded transaction waits for its confirmations while this validator's
/// recovery is busy: a late confirmation saves a recovery on a machine that is behind.
pub const BUSY_CONFIRMATION_WAIT: Duration = Duration::from_secs(3);
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
    /// Both sets' entries as they came, oldest first, so that expiry (on every gossip message)
    /// looks at the oldest few rather than scanning thousands of waiting transactions. An entry
    /// whose transaction settled meanwhile is skipped when it comes to the front; one added
    /// after the clock stepped back waits behind older ones until they expire.
    waiting_order: VecDeque<(SystemTime, B256)>,
    early_order: VecDeque<(SystemTime, B256)>,
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

impl Outcome {
    /// Where a settled transaction goes: admitted as vouched, or recovered when claims disagree.
    fn settled(&mut self, raw: Bytes, sender: Option<Address>) {
        match sender {
            Some(sender) => self.vouched.push((raw, sender)),
            None => self.recover.push(raw),
        }
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
            // The same transaction forwarded by a second validator (a client sent it to both).
            if self.waiting.contains_key(&hash) {
                self.add_to_waiting(hash, from, sender, &mut outcome);
                continue;
            }
            let mut claims = vec![(from.clone(), sender)];
            if let Some(early) = self.early.remove(&hash) {
                for (key, claimed) in early.claims {
                    add_claim(&mut claims, &key, claimed);
                }
            }
            match settle(&claims, needed) {
                Some(decided) => outcome.settled(raw, decided),
                None if self.waiting.len() >= MAX_WAITING => outcome.recover.push(raw),
                None => {
                    self.waiting_order.push_back((now, hash));
                    self.waiting.insert(
                        hash,
                        Waiting {
                            raw,
                            claims,
                            needed,
                            since: now,
                        },
                    );
                }
            }
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
            if self.waiting.contains_key(&hash) {
                self.add_to_waiting(hash, from, sender, &mut outcome);
            } else if let Some(early) = self.early.get_mut(&hash) {
                add_claim(&mut early.claims, from, sender);
            } else if self.early.len() < MAX_WAITING {
                self.early_order.push_back((now, hash));
                self.early.insert(
                    hash,
                    Early {
                        claims: vec![(from.clone(), sender)],
                        since: now,
                    },
                );
            }
        }
        outcome
    }

    /// Adds `from`'s claim to a waiting transaction, which leaves the waiting set once settled.
    fn add_to_waiting(
        &mut self,
        hash: B256,
        from: &PublicKey,
        sender: Address,
        outcome: &mut Outcome,
    ) {
        let Some(waiting) = self.waiting.get_mut(&hash) else {
            return;
        };
        add_claim(&mut waiting.claims, from, sender);
        if let Some(decided) = settle(&waiting.claims, waiting.needed)
            && let Some(waiting) = self.waiting.remove(&hash)
        {
            outcome.settled(waiting.raw, decided);
        }
    }

    /// Transactions that waited `wait` or longer for their confirmations, to recover locally;
    /// drops early confirmations no transaction came for within [`CONFIRMATION_WAIT`].
    pub(crate) fn expire(&mut self, now: SystemTime, wait: Duration) -> Vec<Bytes> {
        let waited = |since: SystemTime, wait: Duration| {
            now.duration_since(since).is_ok_and(|waited| waited >= wait)
        };
        while let Some(&(since, hash)) = self.early_order.front() {
            let current = self.early.get(&hash).is_some_and(|e| e.since == since);
            if current && !waited(since, CONFIRMATION_WAIT) {
                break;
            }
            self.early_order.pop_front();
            if current {
                self.early.remove(&hash);
            }
        }
        let mut late = Vec::new();
        while let Some(&(since, hash)) = self.waiting_order.front() {
            let current = self.waiting.get(&hash).is_some_and(|w| w.since == since);
            if current && !waited(since, wait) {
                break;
            }
            self.waiting_order.pop_front();
            if current && let Some(waiting) = self.waiting.remove(&hash) {
                late.push(waiting.raw);
            }
        }
        // Settled entries wait behind the oldest live one, at most `wait`'s worth of arrivals;
        // a flood of transactions that settle at once is kept from growing the lists further.
        if self.waiting_order.len() > 2 * MAX_WAITING {
            let waiting = &self.waiting;
            self.waiting_order
                .retain(|(since, hash)| waiting.get(hash).is_some_and(|w| w.since == *since));
        }
        late
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Entries of the expiry lists, settled ones included.
    #[cfg(test)]
    fn listed(&self) -> (usize, usize) {
        (self.waiting_order.len(), self.early_order.len())
    }
}

/// Recovery the gossip task hands to its recovery task, in the order it is done. Recovery is
/// the CPU work of gossip; the task that reads messages never waits for it, so confirmations
/// that settle waiting transactions (cheap) are taken while senders are being recovered.
///
/// Batches this validator confirms come first: the others wait for those confirmations, and
/// each one that misses [`CONFIRMATION_WAIT`] makes every other validator recover that sender
/// itself — more work on a machine already behind, so later confirmations miss too. What only
/// this validator needs (late or disagreeing confirmations) is recovered when nothing is to be
/// confirmed.
#[derive(Default)]
pub(crate) struct RecoveryQueue {
    confirm: std::collections::VecDeque<(Vec<Bytes>, Vec<PublicKey>)>,
    local: std::collections::VecDeque<Bytes>,
}

impl RecoveryQueue {
    /// A forwarded batch to recover and confirm to `to`.
    pub(crate) fn push_confirm(&mut self, batch: Vec<Bytes>, to: Vec<PublicKey>) {
        if !batch.is_empty() {
            self.confirm.push_back((batch, to));
        }
    }

    /// Transactions to recover for this validator alone. Beyond [`MAX_WAITING`] queued the
    /// rest are dropped and their number returned: each came from a validator that holds it in
    /// its pool and proposes it, and a block holding it is verified (its senders recovered)
    /// whether or not it reached this pool.
    pub(crate) fn push_local(&mut self, transactions: Vec<Bytes>) -> usize {
        let room = MAX_WAITING.saturating_sub(self.local.len());
        let dropped = transactions.len().saturating_sub(room);
        self.local.extend(transactions.into_iter().take(room));
        dropped
    }

    /// The next chunk of at most [`CONFIRM_CHUNK`] to recover, with whom to confirm its senders
    /// to (empty for local work): confirmation work first, oldest first.
    pub(crate) fn next_chunk(&mut self) -> Option<(Vec<Bytes>, Vec<PublicKey>)> {
        if let Some((mut batch, to)) = self.confirm.pop_front() {
            if batch.len() > CONFIRM_CHUNK {
                let rest = batch.split_off(CONFIRM_CHUNK);
                self.confirm.push_front((rest, to.clone()));
            }
            return Some((batch, to));
        }
        let take = self.local.len().min(CONFIRM_CHUNK);
        (take > 0).then(|| (self.local.drain(..take).collect(), Vec::new()))
    }

    /// Whether anything waits to be recovered: while it does, transactions whose confirmations
    /// are late stay where a confirmation can still settle them.
    pub(crate) fn is_empty(&self) -> bool {
        self.confirm.is_empty() && self.local.is_empty()
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
    let queue = Arc::new(parking_lot::Mutex::new(RecoveryQueue::default()));
    let queued = Arc::new(tokio::sync::Notify::new());
    // The gossip task ends when its receiver closes; the recovery task follows it.
    let (closed_tx, closed) = futures::channel::oneshot::channel::<()>();
    start_recovery(
        &runtime,
        chain.clone(),
        queue.clone(),
        queued.clone(),
        confirm_tx,
        closed,
    );
    runtime.child("gossip_in").spawn(move |runtime| async move {
        let _closed = closed_tx;
        let mut vouching = Vouching::default();
        let mut committee: Option<(u64, Committee)> = None;
        loop {
            let received = {
                let recv = receiver.recv().fuse();
                let tick = runtime.sleep(EXPIRY_TICK).fuse();
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
            let vouched = {
                let mut queue = queue.lock();
                let vouched = route(&mut vouching, &mut queue, decided, now);
                if !queue.is_empty() {
                    queued.notify_one();
                }
                vouched
            };
            if !vouched.is_empty() {
                // Admitting a vouched sender is a pool insert, no recovery: done here, in order.
                let chain = chain.clone();
                let _ = runtime
                    .child("admit")
                    .shared(true)
                    .spawn(move |_| async move { chain.admit_vouched(vouched) })
                    .await;
            }
        }
    });
}

/// Queues what `decided` leaves to recover, and returns the transactions to admit as vouched.
/// Transactions whose confirmations are late leave the waiting set when the recovery task is
/// idle: until it would start on them, a late confirmation still settles them. While it is busy
/// they wait up to [`BUSY_CONFIRMATION_WAIT`] (a confirmer that is down never confirms).
fn route(
    vouching: &mut Vouching,
    queue: &mut RecoveryQueue,
    decided: Outcome,
    now: SystemTime,
) -> Vec<Forwarded> {
    let wait = if queue.is_empty() {
        CONFIRMATION_WAIT
    } else {
        BUSY_CONFIRMATION_WAIT
    };
    let expired = vouching.expire(now, wait);
    let mut dropped = 0;
    if decided.confirm_to.is_empty() {
        dropped += queue.push_local(decided.recover);
    } else {
        queue.push_confirm(decided.recover, decided.confirm_to);
    }
    dropped += queue.push_local(expired);
    if dropped > 0 {
        tracing::debug!(dropped, "gossip recovery queue full: left to blocks");
    }
    decided.vouched
}

/// How often the gossip task looks for transactions whose confirmations are late when no
/// message comes.
const EXPIRY_TICK: Duration = Duration::from_millis(100);

/// Confirmations to send, and to whom.
type Confirming = (Vec<PublicKey>, Vec<(B256, Address)>);

/// The recovery task: recovers and admits what the gossip task queues, chunk by chunk off the
/// async threads (recovery is CPU work), and sends the confirmations of what it recovered.
fn start_recovery<E: Spawner, C: ReplicatedChain>(
    runtime: &E,
    chain: Arc<C>,
    queue: Arc<parking_lot::Mutex<RecoveryQueue>>,
    queued: Arc<tokio::sync::Notify>,
    confirm: mpsc::UnboundedSender<Confirming>,
    closed: futures::channel::oneshot::Receiver<()>,
) {
    runtime
        .child("gossip_recover")
        .spawn(move |runtime| async move {
            let mut closed = closed.fuse();
            loop {
                let next = queue.lock().next_chunk();
                let Some((chunk, confirm_to)) = next else {
                    let woken = queued.notified().fuse();
                    futures::pin_mut!(woken);
                    futures::select! {
                        _ = woken => continue,
                        _ = closed => return,
                    }
                };
                let chain = chain.clone();
                let recovered = runtime
                    .child("admit")
                    .shared(true)
                    .spawn(move |_| async move { chain.admit_gossip(chunk) })
                    .await
                    .unwrap_or_default();
                if !confirm_to.is_empty() && !recovered.is_empty() {
                    let _ = confirm.send((confirm_to, recovered));
                }
            }
        });
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
        assert!(
            vouching
                .expire(now + CONFIRMATION_WAIT / 2, CONFIRMATION_WAIT)
                .is_empty()
        );
        assert_eq!(vouching.waiting(), 1);
        assert_eq!(
            vouching.expire(now + CONFIRMATION_WAIT, CONFIRMATION_WAIT),
            vec![raw]
        );
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
    fn confirmation_work_is_recovered_first_in_chunks_and_local_work_is_bounded() {
        let keys = keys(4);
        let raws = |n: usize, tag: u8| -> Vec<Bytes> {
            (0..n)
                .map(|i| Bytes::from(vec![tag, (i >> 8) as u8, i as u8]))
                .collect()
        };
        let mut queue = RecoveryQueue::default();
        assert!(queue.is_empty() && queue.next_chunk().is_none());
        assert_eq!(queue.push_local(raws(300, 1)), 0);
        queue.push_confirm(raws(600, 2), vec![keys[3].clone()]);
        // The batch to confirm goes first although it came later, in chunks, in its order.
        let mut confirmed = Vec::new();
        for expected in [CONFIRM_CHUNK, CONFIRM_CHUNK, 600 - 2 * CONFIRM_CHUNK] {
            let (chunk, to) = queue.next_chunk().expect("confirmation work");
            assert_eq!((chunk.len(), to), (expected, vec![keys[3].clone()]));
            confirmed.extend(chunk);
        }
        assert_eq!(confirmed, raws(600, 2));
        let (chunk, to) = queue.next_chunk().expect("local work");
        assert_eq!((chunk.len(), to.is_empty()), (CONFIRM_CHUNK, true));
        // A batch to confirm that arrives meanwhile overtakes the local work left.
        queue.push_confirm(raws(10, 3), vec![keys[1].clone()]);
        assert_eq!(queue.next_chunk().map(|(c, _)| c), Some(raws(10, 3)));
        let (chunk, _) = queue.next_chunk().expect("the rest of the local work");
        assert_eq!(chunk, raws(300, 1)[CONFIRM_CHUNK..].to_vec());
        assert!(queue.is_empty());
        // Local work beyond the bound is dropped and counted; nothing to confirm ever is.
        assert_eq!(queue.push_local(raws(MAX_WAITING - 5, 4)), 0);
        assert_eq!(queue.push_local(raws(8, 5)), 3);
        queue.push_confirm(raws(8, 6), vec![keys[1].clone()]);
        assert_eq!(queue.next_chunk().map(|(c, _)| c), Some(raws(8, 6)));
    }

    #[test]
    fn a_late_transaction_stays_settleable_while_recovery_is_busy() {
        let keys = keys(4);
        let now = SystemTime::UNIX_EPOCH;
        let late = now + CONFIRMATION_WAIT;
        let committee = Committee::new(keys.clone(), keys[3].clone(), SenderTrust::Minority);
        let (raw, hash) = tx(6);
        let mut vouching = Vouching::default();
        let mut queue = RecoveryQueue::default();
        let decided =
            vouching.on_transactions(&keys[0], vec![(raw.clone(), ALICE)], &committee, now);
        assert!(route(&mut vouching, &mut queue, decided, now).is_empty());
        assert!(queue.is_empty(), "waits for its confirmation");
        // Its wait is over, but the recovery task is busy confirming another validator's batch.
        let (other, _) = tx(7);
        queue.push_confirm(vec![other.clone()], vec![keys[0].clone()]);
        assert!(route(&mut vouching, &mut queue, Outcome::default(), late).is_empty());
        assert_eq!(vouching.waiting(), 1, "not expired while recovery is busy");
        // The late confirmation still settles it: admitted as vouched, never recovered here.
        let decided = vouching.on_confirmations(&keys[1], vec![(hash, ALICE)], &committee, late);
        assert_eq!(
            route(&mut vouching, &mut queue, decided, late),
            vec![(raw.clone(), ALICE)]
        );
        // Even while recovery stays busy, a confirmation that never comes (its validator is
        // down) is waited for only so long.
        let (lost, _) = tx(8);
        vouching.on_transactions(&keys[0], vec![(lost.clone(), ALICE)], &committee, now);
        let busy = now + BUSY_CONFIRMATION_WAIT;
        assert!(route(&mut vouching, &mut queue, Outcome::default(), busy).is_empty());
        assert_eq!(vouching.waiting(), 0);
        assert_eq!(queue.next_chunk().map(|(c, _)| c), Some(vec![other]));
        assert_eq!(queue.next_chunk(), Some((vec![lost], Vec::new())));
        assert!(queue.next_chunk().is_none());
        // Once recovery is idle, a late transaction is recovered locally.
        vouching.on_transactions(&keys[0], vec![(raw.clone(), ALICE)], &committee, now);
        assert!(route(&mut vouching, &mut queue, Outcome::default(), late).is_empty());
        assert_eq!(vouching.waiting(), 0);
        assert_eq!(queue.next_chunk(), Some((vec![raw], Vec::new())));
    }

    #[test]
    fn expiry_takes_the_oldest_and_skips_what_settled_meanwhile() {
        let keys = keys(4);
        let t0 = SystemTime::UNIX_EPOCH;
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let committee = Committee::new(keys.clone(), keys[3].clone(), SenderTrust::Minority);
        let mut vouching = Vouching::default();
        let (first, first_hash) = tx(1);
        let (second, _) = tx(2);
        let (third, third_hash) = tx(3);
        for (raw, ms) in [(&first, 0), (&second, 100), (&third, 200)] {
            let decided =
                vouching.on_transactions(&keys[0], vec![(raw.clone(), ALICE)], &committee, at(ms));
            assert_eq!(decided, Outcome::default(), "waits for its confirmation");
        }
        // The first settles; the list still holds its entry until it comes to the front.
        let decided =
            vouching.on_confirmations(&keys[1], vec![(first_hash, ALICE)], &committee, at(300));
        assert_eq!(decided.vouched, vec![(first.clone(), ALICE)]);
        assert_eq!(vouching.listed(), (3, 0));
        // Nothing waited a second yet; the settled entry at the front is dropped on the way.
        assert!(vouching.expire(at(999), CONFIRMATION_WAIT).is_empty());
        assert_eq!(vouching.listed(), (2, 0));
        assert_eq!(vouching.expire(at(1_100), CONFIRMATION_WAIT), vec![second]);
        // The same bytes forwarded again wait from then on, not from their first arrival.
        vouching.on_transactions(
            &keys[0],
            vec![(first.clone(), ALICE)],
            &committee,
            at(1_150),
        );
        assert_eq!(vouching.waiting(), 2);
        assert_eq!(vouching.expire(at(1_200), CONFIRMATION_WAIT), vec![third]);
        assert!(vouching.expire(at(2_149), CONFIRMATION_WAIT).is_empty());
        assert_eq!(vouching.expire(at(2_150), CONFIRMATION_WAIT), vec![first]);
        assert_eq!((vouching.waiting(), vouching.listed()), (0, (0, 0)));
        // An early confirmation is kept a second for its transaction, then dropped; one whose
        // transaction came leaves no entry behind once its time is up.
        let (late, late_hash) = tx(4);
        vouching.on_confirmations(&keys[1], vec![(late_hash, ALICE)], &committee, at(3_000));
        vouching.on_confirmations(&keys[1], vec![(third_hash, ALICE)], &committee, at(3_500));
        assert_eq!(vouching.listed(), (0, 2));
        let decided =
            vouching.on_transactions(&keys[0], vec![(late.clone(), ALICE)], &committee, at(3_600));
        assert_eq!(
            decided.vouched,
            vec![(late, ALICE)],
            "settled by its early confirmation"
        );
        assert!(vouching.expire(at(4_000), CONFIRMATION_WAIT).is_empty());
        assert_eq!(vouching.listed(), (0, 1));
        assert!(vouching.expire(at(4_500), CONFIRMATION_WAIT).is_empty());
        assert_eq!(vouching.listed(), (0, 0));
        let (third, _) = tx(3);
        let decided =
            vouching.on_transactions(&keys[0], vec![(third, ALICE)], &committee, at(4_600));
        assert!(decided.vouched.is_empty(), "its early confirmation expired");
        assert_eq!(vouching.waiting(), 1);
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
