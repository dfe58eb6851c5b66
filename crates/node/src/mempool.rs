//! Transactions waiting for a block. Per sender, transactions become *ready* in nonce order;
//! a transaction whose nonce is ahead of the sender's next one is *queued* (bounded per sender
//! and in total) until the gap is filled. Ready transactions leave in arrival order.

use crate::config::MempoolConfig;
use alloy_primitives::{
    Address, B256,
    map::{AddressMap, B256Map, B256Set, HashMap},
};
use ricaas_primitives::RecoveredTx;
use std::collections::{BTreeMap, VecDeque};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    #[error("nonce too low: account {sender} next nonce is {next}, transaction has {nonce}")]
    NonceTooLow {
        sender: Address,
        nonce: u64,
        next: u64,
    },
    #[error(
        "nonce {nonce} of account {sender} is already taken by pending transaction {existing}; replacing pending transactions is not supported"
    )]
    NonceTaken {
        sender: Address,
        nonce: u64,
        existing: B256,
    },
    #[error(
        "account {sender} already has {limit} queued transactions waiting for nonce {next}; send nonce {next} first"
    )]
    SenderQueueFull {
        sender: Address,
        limit: usize,
        next: u64,
    },
    #[error("transaction pool is full ({limit} transactions); retry when blocks have drained it")]
    PoolFull { limit: usize },
    #[error(
        "the nonce of account {sender} was read at block {read_at}, before block {committed} was committed; send the transaction again"
    )]
    StaleNonce {
        sender: Address,
        read_at: u64,
        committed: u64,
    },
}

/// A sender's nonce in committed state, and the height of the block that state is at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateNonce {
    pub nonce: u64,
    pub at_height: u64,
}

/// Whether an insert added something new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    Ready,
    Queued,
    AlreadyKnown,
}

/// The pool's transactions by hash, and their hashes by sender and nonce: a transaction whose
/// nonce a pending one holds is refused naming that one without a scan of the pool under its
/// lock (which any client could make happen once per transaction it sends).
#[derive(Default)]
struct KnownTxs {
    by_hash: B256Map<RecoveredTx>,
    by_nonce: HashMap<(Address, u64), B256>,
}

impl KnownTxs {
    fn len(&self) -> usize {
        self.by_hash.len()
    }

    fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    fn get(&self, hash: &B256) -> Option<&RecoveredTx> {
        self.by_hash.get(hash)
    }

    fn contains_key(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    fn hash_of(&self, sender: &Address, nonce: u64) -> Option<B256> {
        self.by_nonce.get(&(*sender, nonce)).copied()
    }

    fn insert(&mut self, tx: RecoveredTx) {
        self.by_nonce.insert((tx.sender(), tx.nonce()), tx.hash());
        self.by_hash.insert(tx.hash(), tx);
    }

    fn remove(&mut self, hash: &B256) -> Option<RecoveredTx> {
        let tx = self.by_hash.remove(hash)?;
        let key = (tx.sender(), tx.nonce());
        // Only this transaction's entry: should two of a sender ever share a nonce here, the
        // index must not lose the one that stays.
        if self.by_nonce.get(&key) == Some(hash) {
            self.by_nonce.remove(&key);
        }
        Some(tx)
    }
}

struct SenderState {
    /// Nonce the next ready transaction of this sender must have.
    next_nonce: u64,
    /// Ready transactions of this sender not yet taken into a block.
    ready: usize,
    /// Transactions taken into a block being built, not yet committed.
    in_flight: usize,
    queued: BTreeMap<u64, RecoveredTx>,
}

pub struct Mempool {
    limits: MempoolConfig,
    ready: VecDeque<RecoveredTx>,
    senders: AddressMap<SenderState>,
    /// Every pooled or in-flight transaction.
    known: KnownTxs,
    queued_total: usize,
    /// Height of the last block whose transactions left the pool (`remove_included`).
    committed_height: u64,
}

impl Mempool {
    pub fn new(limits: MempoolConfig) -> Self {
        Self {
            limits,
            ready: VecDeque::new(),
            senders: AddressMap::default(),
            known: KnownTxs::default(),
            queued_total: 0,
            committed_height: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    pub fn get(&self, hash: &B256) -> Option<&RecoveredTx> {
        self.known.get(hash)
    }

    /// The nonce a new transaction of `sender` should carry, if the pool holds any of theirs.
    pub fn pending_nonce(&self, sender: &Address) -> Option<u64> {
        self.senders.get(sender).map(|s| s.next_nonce)
    }

    /// Whether a sender's nonce read from committed state at `at_height` is too old for
    /// `insert`: a block committed since may have used it, and the pool, which would know, has
    /// forgotten the sender (it keeps no sender without transactions). Storage is written before
    /// a block's transactions leave the pool, so a state read after this answers true is new
    /// enough.
    pub fn needs_newer_state(&self, sender: &Address, at_height: u64) -> bool {
        at_height < self.committed_height && !self.senders.contains_key(sender)
    }

    /// Adds a verified transaction. `state` is the sender's nonce in committed state; a sender
    /// the pool does not track starts from it, so it must be new enough (`needs_newer_state`).
    pub fn insert(&mut self, tx: RecoveredTx, state: StateNonce) -> Result<Inserted, PoolError> {
        let hash = tx.hash();
        if self.known.contains_key(&hash) {
            return Ok(Inserted::AlreadyKnown);
        }
        let sender = tx.sender();
        let nonce = tx.nonce();
        if self.needs_newer_state(&sender, state.at_height) {
            // Starting the sender from an older nonce would queue this transaction behind
            // nonces already committed, where nothing would ever release it.
            return Err(PoolError::StaleNonce {
                sender,
                read_at: state.at_height,
                committed: self.committed_height,
            });
        }
        let state_nonce = state.nonce;
        if nonce < state_nonce {
            return Err(PoolError::NonceTooLow {
                sender,
                nonce,
                next: state_nonce,
            });
        }
        if self.known.len() >= self.limits.max_txs {
            return Err(PoolError::PoolFull {
                limit: self.limits.max_txs,
            });
        }
        let state = self.senders.entry(sender).or_insert_with(|| SenderState {
            next_nonce: state_nonce,
            ready: 0,
            in_flight: 0,
            queued: BTreeMap::new(),
        });
        state.next_nonce = state.next_nonce.max(state_nonce);
        if nonce < state.next_nonce {
            let existing = self.known.hash_of(&sender, nonce).unwrap_or_default();
            return Err(PoolError::NonceTaken {
                sender,
                nonce,
                existing,
            });
        }
        if nonce > state.next_nonce {
            if let Some(existing) = state.queued.get(&nonce) {
                return Err(PoolError::NonceTaken {
                    sender,
                    nonce,
                    existing: existing.hash(),
                });
            }
            if state.queued.len() >= self.limits.max_queued_per_sender {
                return Err(PoolError::SenderQueueFull {
                    sender,
                    limit: self.limits.max_queued_per_sender,
                    next: state.next_nonce,
                });
            }
            state.queued.insert(nonce, tx.clone());
            self.queued_total += 1;
            self.known.insert(tx);
            return Ok(Inserted::Queued);
        }
        self.known.insert(tx.clone());
        self.ready.push_back(tx);
        state.ready += 1;
        state.next_nonce += 1;
        // Promote queued transactions the new one made contiguous.
        while let Some(next) = state.queued.remove(&state.next_nonce) {
            self.queued_total -= 1;
            self.ready.push_back(next);
            state.ready += 1;
            state.next_nonce += 1;
        }
        Ok(Inserted::Ready)
    }

    /// Takes up to `max` ready transactions, oldest first, for a block being built.
    pub fn take_ready(&mut self, max: usize) -> Vec<RecoveredTx> {
        let count = max.min(self.ready.len());
        let batch: Vec<RecoveredTx> = self.ready.drain(..count).collect();
        for tx in &batch {
            if let Some(state) = self.senders.get_mut(&tx.sender()) {
                state.ready -= 1;
                state.in_flight += 1;
            }
        }
        batch
    }

    /// Puts back transactions that did not fit in the block, ahead of everything else.
    pub fn return_deferred(&mut self, deferred: Vec<RecoveredTx>) {
        for tx in deferred.into_iter().rev() {
            if let Some(state) = self.senders.get_mut(&tx.sender()) {
                state.ready += 1;
                state.in_flight -= 1;
            }
            self.ready.push_front(tx);
        }
    }

    /// Drops transactions that failed validation at execution. The sender's next nonce falls
    /// back so a corrected transaction with that nonce can be sent.
    pub fn drop_rejected(&mut self, rejected: &[RecoveredTx]) {
        for tx in rejected {
            self.known.remove(&tx.hash());
            if let Some(state) = self.senders.get_mut(&tx.sender()) {
                state.in_flight -= 1;
                state.next_nonce = state.next_nonce.min(tx.nonce());
            }
            self.forget_idle_sender(&tx.sender());
        }
    }

    /// Up to `max` ready transactions, oldest first, left in the pool and skipping `exclude`
    /// (transactions already in blocks that are ordered but not yet committed). A BFT proposer
    /// builds from this: its proposal may never be finalized, so nothing leaves the pool until
    /// a block that holds it commits.
    pub fn peek_ready(&self, max: usize, exclude: &B256Set) -> Vec<RecoveredTx> {
        self.ready
            .iter()
            .filter(|tx| !exclude.contains(&tx.hash()))
            .take(max)
            .cloned()
            .collect()
    }

    /// Removes the transactions of the committed block at `height` from wherever they are in
    /// the pool, and moves each sender's expected nonce past what the block committed: another
    /// node may have ordered transactions this pool never saw, and the ones queued behind them
    /// become ready.
    pub fn remove_included(&mut self, height: u64, included: &[RecoveredTx]) {
        self.committed_height = self.committed_height.max(height);
        self.evict(included);
        let mut committed: AddressMap<u64> = AddressMap::default();
        for tx in included {
            let next = committed.entry(tx.sender()).or_default();
            *next = (*next).max(tx.nonce() + 1);
        }
        for (sender, next) in committed {
            self.advance_sender(&sender, next);
        }
    }

    /// Removes transactions that failed validation at execution (a conflicting transaction with
    /// the same nonce was ordered first, or the funds were spent). The sender's later
    /// transactions stay; the next committed block realigns its nonce.
    pub fn remove_invalid(&mut self, invalid: &[RecoveredTx]) {
        self.evict(invalid);
    }

    fn evict(&mut self, txs: &[RecoveredTx]) {
        let gone: B256Set = txs
            .iter()
            .map(RecoveredTx::hash)
            .filter(|h| self.known.remove(h).is_some())
            .collect();
        if gone.is_empty() {
            return;
        }
        let mut from_ready: AddressMap<usize> = AddressMap::default();
        self.ready.retain(|tx| {
            let keep = !gone.contains(&tx.hash());
            if !keep {
                *from_ready.entry(tx.sender()).or_default() += 1;
            }
            keep
        });
        for tx in txs.iter().filter(|tx| gone.contains(&tx.hash())) {
            let sender = tx.sender();
            if let Some(state) = self.senders.get_mut(&sender) {
                if state.queued.remove(&tx.nonce()).is_some() {
                    self.queued_total -= 1;
                } else if let Some(n) = from_ready.get_mut(&sender).filter(|n| **n > 0) {
                    *n -= 1;
                    state.ready -= 1;
                } else {
                    state.in_flight = state.in_flight.saturating_sub(1);
                }
            }
            self.forget_idle_sender(&sender);
        }
    }

    /// The chain has committed the sender's nonces below `next`: drop queued transactions that
    /// can no longer execute and release the ones that became contiguous.
    fn advance_sender(&mut self, sender: &Address, next: u64) {
        let Some(state) = self.senders.get_mut(sender) else {
            return;
        };
        if state.next_nonce >= next {
            return;
        }
        state.next_nonce = next;
        let stale: Vec<u64> = state.queued.range(..next).map(|(n, _)| *n).collect();
        for nonce in stale {
            if let Some(tx) = state.queued.remove(&nonce) {
                self.queued_total -= 1;
                self.known.remove(&tx.hash());
            }
        }
        while let Some(tx) = state.queued.remove(&state.next_nonce) {
            self.queued_total -= 1;
            self.ready.push_back(tx);
            state.ready += 1;
            state.next_nonce += 1;
        }
        self.forget_idle_sender(sender);
    }

    fn forget_idle_sender(&mut self, sender: &Address) {
        if let Some(state) = self.senders.get(sender)
            && state.ready == 0
            && state.in_flight == 0
            && state.queued.is_empty()
        {
            self.senders.remove(sender);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{TxLegacy, TypedTransaction};
    use alloy_primitives::{TxKind, U256};
    use ricaas_crypto::{recover_transaction, sign_transaction};
    use secp256k1::SecretKey;

    fn tx(key: u8, nonce: u64) -> RecoveredTx {
        tx_with_gas(key, nonce, 21_000)
    }

    /// Another transaction of the same sender and nonce for each gas limit.
    fn tx_with_gas(key: u8, nonce: u64, gas_limit: u64) -> RecoveredTx {
        let secret = SecretKey::from_byte_array([key; 32]).expect("key");
        let unsigned = TypedTransaction::Legacy(TxLegacy {
            chain_id: Some(1),
            nonce,
            gas_price: 0,
            gas_limit,
            to: TxKind::Call(Address::ZERO),
            value: U256::ZERO,
            input: Default::default(),
        });
        recover_transaction(sign_transaction(unsigned, &secret)).expect("valid")
    }

    /// A sender's committed nonce as read before any block.
    fn at_genesis(nonce: u64) -> StateNonce {
        StateNonce {
            nonce,
            at_height: 0,
        }
    }

    fn pool() -> Mempool {
        Mempool::new(MempoolConfig {
            max_txs: 10,
            max_queued_per_sender: 2,
        })
    }

    #[test]
    fn future_nonces_wait_and_are_released_in_order() {
        let mut pool = pool();
        assert_eq!(pool.insert(tx(1, 2), at_genesis(0)), Ok(Inserted::Queued));
        assert_eq!(pool.insert(tx(1, 1), at_genesis(0)), Ok(Inserted::Queued));
        assert_eq!(pool.ready_len(), 0);
        assert_eq!(pool.insert(tx(1, 0), at_genesis(0)), Ok(Inserted::Ready));
        let nonces: Vec<u64> = pool.take_ready(10).iter().map(RecoveredTx::nonce).collect();
        assert_eq!(nonces, vec![0, 1, 2]);
        assert_eq!(pool.pending_nonce(&tx(1, 0).sender()), Some(3));
    }

    #[test]
    fn resubmission_is_idempotent_and_conflicts_are_explained() {
        let mut pool = pool();
        assert_eq!(pool.insert(tx(1, 0), at_genesis(0)), Ok(Inserted::Ready));
        assert_eq!(
            pool.insert(tx(1, 0), at_genesis(0)),
            Ok(Inserted::AlreadyKnown)
        );
        assert!(matches!(
            pool.insert(tx(1, 0), at_genesis(1)),
            Ok(Inserted::AlreadyKnown)
        ));
        assert!(matches!(
            pool.insert(tx(2, 0), at_genesis(3)),
            Err(PoolError::NonceTooLow { next: 3, .. })
        ));
    }

    #[test]
    fn a_conflicting_nonce_names_the_pending_transaction_wherever_it_is() {
        let mut pool = pool();
        let taken = |pool: &mut Mempool, nonce| match pool
            .insert(tx_with_gas(1, nonce, 30_000), at_genesis(0))
        {
            Err(PoolError::NonceTaken { existing, .. }) => existing,
            other => panic!("expected a conflict, got {other:?}"),
        };
        let (first, second, queued) = (tx(1, 0), tx(1, 1), tx(1, 3));
        for t in [&first, &second, &queued] {
            pool.insert(t.clone(), at_genesis(0)).expect("inserted");
        }
        // Ready, queued, in a block being built, and back after the block left it out.
        assert_eq!(taken(&mut pool, 0), first.hash());
        assert_eq!(taken(&mut pool, 3), queued.hash());
        let in_flight = pool.take_ready(1);
        assert_eq!(taken(&mut pool, 0), first.hash());
        pool.return_deferred(in_flight);
        assert_eq!(taken(&mut pool, 0), first.hash());
        // A rejected transaction frees its nonce for a corrected one, which is then the one named.
        let block = pool.take_ready(2);
        pool.drop_rejected(&block[1..]);
        let corrected = tx_with_gas(1, 1, 40_000);
        pool.insert(corrected.clone(), at_genesis(0))
            .expect("nonce 1 is free again");
        assert_eq!(taken(&mut pool, 1), corrected.hash());
        // Once the chain has committed everything, nothing is left indexed.
        pool.remove_included(1, &[first, corrected, tx(1, 2), queued]);
        assert!(pool.is_empty());
        assert!(pool.known.by_nonce.is_empty(), "{:?}", pool.known.by_nonce);
    }

    #[test]
    fn queues_are_bounded_per_sender_and_in_total() {
        let mut pool = pool();
        pool.insert(tx(1, 5), at_genesis(0)).expect("queued");
        pool.insert(tx(1, 6), at_genesis(0)).expect("queued");
        assert!(matches!(
            pool.insert(tx(1, 7), at_genesis(0)),
            Err(PoolError::SenderQueueFull {
                limit: 2,
                next: 0,
                ..
            })
        ));
        for key in 2..10 {
            pool.insert(tx(key, 0), at_genesis(0)).expect("fits");
        }
        assert_eq!(
            pool.insert(tx(20, 0), at_genesis(0)),
            Err(PoolError::PoolFull { limit: 10 })
        );
    }

    #[test]
    fn committed_and_rejected_transactions_leave_the_pool() {
        let mut pool = pool();
        pool.insert(tx(1, 0), at_genesis(0)).expect("ready");
        pool.insert(tx(1, 1), at_genesis(0)).expect("ready");
        let batch = pool.take_ready(10);
        pool.remove_included(1, &batch[..1]);
        pool.drop_rejected(&batch[1..]);
        assert!(pool.is_empty());
        // After the rejection, nonce 1 can be sent again.
        assert_eq!(pool.pending_nonce(&batch[0].sender()), None);
        assert_eq!(
            pool.insert(
                tx(1, 1),
                StateNonce {
                    nonce: 1,
                    at_height: 1
                }
            ),
            Ok(Inserted::Ready)
        );
    }

    #[test]
    fn a_block_ordered_elsewhere_releases_the_nonces_queued_behind_it() {
        let mut pool = pool();
        // Nonces 2 and 3 wait for 0 and 1, which this pool never saw.
        pool.insert(tx(1, 2), at_genesis(0)).expect("queued");
        pool.insert(tx(1, 3), at_genesis(0)).expect("queued");
        assert_eq!(pool.ready_len(), 0);
        let elsewhere = [tx(1, 0), tx(1, 1)];
        pool.remove_included(1, &elsewhere);
        assert_eq!(pool.ready_len(), 2);
        // Peeking leaves them in the pool and skips the excluded (already ordered) ones.
        let ready = pool.peek_ready(10, &B256Set::default());
        assert_eq!(
            ready.iter().map(RecoveredTx::nonce).collect::<Vec<_>>(),
            [2, 3]
        );
        let exclude: B256Set = [ready[0].hash()].into_iter().collect();
        assert_eq!(pool.peek_ready(10, &exclude), ready[1..].to_vec());
        assert_eq!(pool.ready_len(), 2);
        pool.remove_included(2, &ready);
        assert!(pool.is_empty());
    }

    #[test]
    fn deferred_transactions_go_first_in_the_next_block() {
        let mut pool = pool();
        pool.insert(tx(1, 0), at_genesis(0)).expect("ready");
        pool.insert(tx(2, 0), at_genesis(0)).expect("ready");
        let batch = pool.take_ready(1);
        pool.return_deferred(batch.clone());
        assert_eq!(pool.take_ready(1), batch);
    }

    #[test]
    fn a_nonce_read_before_the_last_commit_is_refused_for_a_sender_the_pool_forgot() {
        let mut pool = pool();
        pool.insert(tx(1, 0), at_genesis(0)).expect("ready");
        let block = pool.take_ready(10);
        // Block 1 commits nonce 0; the sender has nothing left in the pool and is forgotten.
        pool.remove_included(1, &block);
        assert_eq!(pool.pending_nonce(&block[0].sender()), None);
        // Nonce 1 checked against state read before block 1 (nonce 0 there) must not start the
        // sender at 0: it would be queued behind a nonce already committed, forever.
        assert!(pool.needs_newer_state(&block[0].sender(), 0));
        assert!(matches!(
            pool.insert(tx(1, 1), at_genesis(0)),
            Err(PoolError::StaleNonce {
                read_at: 0,
                committed: 1,
                ..
            })
        ));
        assert!(pool.is_empty());
        // Read again after block 1, the same transaction is ready at once.
        let fresh = StateNonce {
            nonce: 1,
            at_height: 1,
        };
        assert!(!pool.needs_newer_state(&block[0].sender(), 1));
        assert_eq!(pool.insert(tx(1, 1), fresh), Ok(Inserted::Ready));
        // A sender the pool still tracks keeps its own nonce: an older read is harmless there.
        assert_eq!(pool.insert(tx(1, 2), at_genesis(0)), Ok(Inserted::Ready));
        assert_eq!(
            pool.insert(tx(2, 0), at_genesis(0)),
            Err(PoolError::StaleNonce {
                sender: tx(2, 0).sender(),
                read_at: 0,
                committed: 1,
            })
        );
    }
}
