//! The channel as a BFT replica: it builds blocks on parents that consensus has notarized but
//! not finalized, re-executes blocks proposed by other validators before voting for them, and
//! commits finalized blocks in order. Executed-but-uncommitted blocks are kept in memory (a
//! small tree hanging off the committed head) so that building and verifying never wait for
//! finality.

use crate::channel::{Channel, ChannelError, Origin};
use alloy_primitives::{Address, B256, Bytes};
use rayon::prelude::*;
use ricaas_consensus::{
    Backlog,
    bft::{BlockLimits, ChainBlock, ReplicatedChain, Verdict},
};
use ricaas_execution::{
    BlockContext, ExecutionError, Mode, TransactionsRoot, execute_block, seal_block, verify_block,
};
use ricaas_primitives::{Block, RecoveredTx};
use ricaas_rpc::ChannelBackend as _;
use ricaas_storage::{ExecutedBlock, PendingState, Snapshot};
use std::{collections::HashMap, sync::Arc};

/// How far ahead of this node's clock a proposed block's timestamp may be.
const MAX_CLOCK_DRIFT_MS: u64 = 5_000;

/// Executed blocks above the committed head, by hash.
#[derive(Default)]
pub(crate) struct PendingBlocks {
    blocks: HashMap<B256, Arc<ExecutedBlock>>,
}

impl PendingBlocks {
    /// Forgets blocks at or below the committed height: either committed or on a dead branch.
    fn prune(&mut self, committed: u64) {
        self.blocks.retain(|_, b| b.block.header.height > committed);
    }
}

/// What a block must be built or verified on: the committed snapshot and the uncommitted
/// ancestors of the parent, oldest first.
struct ParentState {
    snapshot: Snapshot,
    layers: Vec<Arc<ExecutedBlock>>,
}

impl ParentState {
    fn reader(&self) -> PendingState<'_> {
        PendingState::new(&self.snapshot, &self.layers)
    }
}

/// What verifying `block` may take for granted of its transactions root: a block decoded from
/// the wire had it matched against its transactions' bytes already.
fn root_check_for(block: &ChainBlock) -> TransactionsRoot {
    if block.transactions_root_checked() {
        TransactionsRoot::CheckedAgainstHeader
    } else {
        TransactionsRoot::Compute
    }
}

pub(crate) fn chain_block_of(block: &Block) -> ChainBlock {
    ChainBlock::new(
        block.header.clone(),
        block
            .transactions
            .iter()
            .map(|tx| (tx.envelope().clone(), tx.encoded().clone()))
            .collect(),
    )
}

impl Channel {
    /// The state after `parent`, or `None` when `parent` is neither the committed head nor an
    /// executed descendant of it.
    fn state_after(&self, parent: &B256) -> Result<Option<ParentState>, ChannelError> {
        let snapshot = self.store().snapshot().map_err(|e| self.storage_error(e))?;
        let head = snapshot.head_header().map_err(|e| self.storage_error(e))?;
        let head_hash = head.hash();
        let pending = self.pending().lock();
        let mut layers = Vec::new();
        let mut cursor = *parent;
        while cursor != head_hash {
            let Some(block) = pending.blocks.get(&cursor) else {
                return Ok(None);
            };
            if block.block.header.height <= head.height {
                return Ok(None);
            }
            cursor = block.block.header.parent_hash;
            layers.push(block.clone());
        }
        layers.reverse();
        Ok(Some(ParentState { snapshot, layers }))
    }

    /// Recovers the senders of a block's transactions. A transaction this node admitted already
    /// had its signature checked: its sender is taken from the pool instead of recovered again.
    /// Native transactions naming an enrolled certificate by id resolve it in `parent` (the
    /// state the block executes on: the certificate must be enrolled before the block).
    fn recover_block(
        &self,
        block: &ChainBlock,
        parent: &(impl ricaas_storage::StateReader + ?Sized),
    ) -> Result<Block, String> {
        let mut enrolled: HashMap<B256, Option<Vec<u8>>> = HashMap::new();
        for (envelope, _) in block.transactions() {
            if let ricaas_primitives::ChainTx::Native { tx, .. } = envelope
                && let ricaas_primitives::SignerCertificate::Enrolled(id) = tx.signer_certificate()
                && !enrolled.contains_key(&id)
            {
                let key = ricaas_execution::system::enrolled_key(
                    &mut ricaas_execution::system::StateSlots(parent),
                    &id,
                )
                .map_err(|e| format!("reading enrolled certificate {id}: {e}"))?;
                enrolled.insert(id, key);
            }
        }
        let known: Vec<Option<RecoveredTx>> = {
            // Both locks once per block, in the order every other user takes them.
            let pool = self.pool().lock();
            let remembered = self.remembered_senders();
            block
                .transactions()
                .iter()
                .map(|(envelope, raw)| {
                    let hash = envelope.hash();
                    pool.get(&hash).cloned().or_else(|| match envelope {
                        ricaas_primitives::ChainTx::Ethereum(_) => {
                            remembered.get(&hash).map(|sender| {
                                RecoveredTx::from_verified_parts(
                                    envelope.clone(),
                                    sender,
                                    raw.clone(),
                                )
                            })
                        }
                        ricaas_primitives::ChainTx::Native { .. } => None,
                    })
                })
                .collect()
        };
        let unknown: Vec<bool> = known.iter().map(Option::is_none).collect();
        let chain_id = self.rules().chain_id;
        let transactions = block
            .transactions()
            .par_iter()
            .zip(known)
            .enumerate()
            .map(|(index, ((envelope, raw), known))| {
                if envelope.chain_id() != Some(chain_id) {
                    return Err(format!(
                        "transaction {index} is not signed for chain id {chain_id}"
                    ));
                }
                match known {
                    Some(tx) => Ok(tx),
                    None => ricaas_crypto::native::recover_encoded(
                        envelope.clone(),
                        raw.clone(),
                        |id| enrolled.get(&id).cloned().flatten(),
                    )
                    .map_err(|e| format!("transaction {index}: {e}")),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.remember_senders(
            transactions
                .iter()
                .zip(unknown)
                .filter(|(tx, unknown)| {
                    *unknown && matches!(tx.envelope(), ricaas_primitives::ChainTx::Ethereum(_))
                })
                .map(|(tx, _)| (tx.hash(), tx.sender())),
        );
        Ok(Block {
            header: block.header().clone(),
            transactions,
        })
    }

    fn remember(&self, executed: ExecutedBlock) {
        let hash = executed.block.hash();
        let committed = self.head().height;
        let mut pending = self.pending().lock();
        pending.prune(committed);
        pending.blocks.insert(hash, Arc::new(executed));
    }

    /// Makes an executed block durable, advances the head and clears its transactions from the
    /// pool. Shared by the solo sequencer and the BFT committer.
    pub(crate) fn commit_executed(&self, executed: &ExecutedBlock) -> Result<(), ExecutionError> {
        let started = std::time::Instant::now();
        self.store().commit_block(executed)?;
        self.committed(&executed.block, started.elapsed());
        Ok(())
    }

    /// What follows a block's commit (`commit_time` long): admission reads the new head, the
    /// pool lets go of the block's transactions, the head moves.
    pub(crate) fn committed(&self, block: &Block, commit_time: std::time::Duration) {
        self.forget_head_view();
        if let Some(metrics) = self.metrics() {
            metrics.committed(block.transactions.len(), commit_time);
        }
        let commit_ms = commit_time.as_secs_f64() * 1e3;
        let height = block.header.height;
        self.pool()
            .lock()
            .remove_included(height, &block.transactions);
        self.pending().lock().prune(height);
        tracing::info!(
            channel = %self.config().name,
            height,
            txs = block.transactions.len(),
            gas_used = block.header.gas_used,
            hash = %block.hash(),
            commit_ms,
            "block committed"
        );
        self.set_head(block.header.clone());
    }
}

impl Channel {
    /// Builds a block on `parent` with at most `max_txs` pool transactions (and the channel's
    /// own limits), executing it and keeping the result for committing it.
    fn build_now(
        &self,
        parent: &ChainBlock,
        timestamp_ms: u64,
        max_txs: usize,
    ) -> Result<ChainBlock, ChannelError> {
        let state = self
            .state_after(&parent.hash())?
            .ok_or_else(|| self.state_unavailable(parent))?;
        let in_flight: alloy_primitives::map::B256Set = state
            .layers
            .iter()
            .flat_map(|l| l.block.transactions.iter().map(RecoveredTx::hash))
            .collect();
        let mut candidates = self
            .pool()
            .lock()
            .peek_ready(self.config().max_block_txs.min(max_txs), &in_flight);
        // Leave room for the header and framing; peers refuse larger blocks.
        let mut budget = self.config().max_block_bytes.saturating_sub(8 * 1024);
        let fits = candidates
            .iter()
            .take_while(|tx| {
                let size = tx.encoded().len() + 4;
                let fits = size <= budget;
                budget = budget.saturating_sub(size);
                fits
            })
            .count();
        candidates.truncate(fits);
        let parent_header = parent.header();
        let context = BlockContext {
            height: parent_header.height + 1,
            timestamp_ms: timestamp_ms.max(parent_header.timestamp_ms + 1),
            parent_hash: parent.hash(),
            beneficiary: alloy_primitives::Address::ZERO,
            gas_limit: self.rules().block_gas_limit,
        };
        let reader = state.reader();
        let started = std::time::Instant::now();
        let offered = candidates.len();
        let outcome = execute_block(&reader, self.rules(), &context, candidates, Mode::Build)
            .map_err(|e| self.execution_error(e))?;
        if !outcome.rejected.is_empty() {
            for rejected in &outcome.rejected {
                tracing::debug!(tx = %rejected.tx.hash(), reason = %rejected.reason, "transaction dropped at execution");
            }
            let rejected: Vec<RecoveredTx> =
                outcome.rejected.iter().map(|r| r.tx.clone()).collect();
            self.pool().lock().remove_invalid(&rejected);
        }
        let sealed = seal_block(&reader, &context, outcome).map_err(|e| self.execution_error(e))?;
        if let Some(metrics) = self.metrics() {
            metrics.built(started.elapsed());
        }
        tracing::debug!(
            height = context.height,
            offered,
            included = sealed.block.transactions.len(),
            build_ms = started.elapsed().as_secs_f64() * 1e3,
            "block proposed"
        );
        let block = chain_block_of(&sealed.block);
        self.remember(sealed);
        Ok(block)
    }

    /// Re-executes a block proposed by another validator on its parent's state.
    fn verify_now(&self, block: &ChainBlock, now_ms: u64) -> Result<Verdict, ChannelError> {
        let header = block.header();
        if self.pending().lock().blocks.contains_key(&block.hash()) {
            return Ok(Verdict::Valid);
        }
        let Some(state) = self.state_after(&header.parent_hash)? else {
            return Ok(Verdict::Invalid(format!(
                "parent {} of block {} is not known to this node",
                header.parent_hash, header.height
            )));
        };
        let parent = match state.layers.last() {
            Some(layer) => layer.block.header.clone(),
            None => state
                .snapshot
                .head_header()
                .map_err(|e| self.storage_error(e))?,
        };
        if header.height != parent.height + 1 {
            return Ok(Verdict::Invalid(format!(
                "height {} does not follow its parent's height {}",
                header.height, parent.height
            )));
        }
        if header.timestamp_ms <= parent.timestamp_ms {
            return Ok(Verdict::Invalid(format!(
                "timestamp {} is not after its parent's {}",
                header.timestamp_ms, parent.timestamp_ms
            )));
        }
        if header.timestamp_ms > now_ms + MAX_CLOCK_DRIFT_MS {
            return Ok(Verdict::Invalid(format!(
                "timestamp {} is more than {MAX_CLOCK_DRIFT_MS} ms ahead of this node's clock ({now_ms})",
                header.timestamp_ms
            )));
        }
        if header.gas_limit != self.rules().block_gas_limit {
            return Ok(Verdict::Invalid(format!(
                "gas limit {} differs from the channel's {}",
                header.gas_limit,
                self.rules().block_gas_limit
            )));
        }
        let started = std::time::Instant::now();
        let recovered = match self.recover_block(block, &state.reader()) {
            Ok(recovered) => recovered,
            Err(reason) => return Ok(Verdict::Invalid(reason)),
        };
        match verify_block(
            &state.reader(),
            self.rules(),
            &recovered,
            root_check_for(block),
        ) {
            Ok(executed) => {
                if let Some(metrics) = self.metrics() {
                    metrics.verified(started.elapsed());
                }
                self.remember(executed);
                Ok(Verdict::Valid)
            }
            Err(ExecutionError::Storage(e)) => Err(self.storage_error(e)),
            Err(ExecutionError::State(e)) => Err(self.execution_error(ExecutionError::State(e))),
            Err(invalid) => Ok(Verdict::Invalid(invalid.to_string())),
        }
    }
}

impl ReplicatedChain for Channel {
    type Error = ChannelError;

    fn genesis(&self) -> ChainBlock {
        chain_block_of(&self.genesis().block)
    }

    fn block_limits(&self) -> BlockLimits {
        BlockLimits {
            max_block_bytes: self.config().max_block_bytes,
            max_tx_bytes: self.config().max_tx_bytes,
        }
    }

    fn backlog(&self) -> Backlog {
        ricaas_consensus::Application::backlog(self)
    }

    async fn work_arrived(&self) {
        ricaas_consensus::Application::work_arrived(self).await
    }

    fn committed_height(&self) -> u64 {
        self.head().height
    }

    fn validators(
        &self,
    ) -> Result<Option<Vec<([u8; 32], Option<std::net::SocketAddr>)>>, ChannelError> {
        Ok(self.consortium()?.map(|consortium| {
            consortium
                .validators
                .iter()
                .map(|v| {
                    let address = consortium
                        .state()
                        .validator_addresses
                        .get(&hex::encode(v.public_key))
                        .copied();
                    (v.public_key, address)
                })
                .collect()
        }))
    }

    fn observers(&self) -> Result<Vec<[u8; 32]>, ChannelError> {
        Ok(self.consortium()?.map_or_else(Vec::new, |consortium| {
            consortium.observers.iter().map(|o| o.public_key).collect()
        }))
    }

    fn has_state(&self, hash: &B256) -> bool {
        self.head().hash() == *hash || self.pending().lock().blocks.contains_key(hash)
    }

    async fn build(
        &self,
        parent: &ChainBlock,
        timestamp_ms: u64,
        max_txs: usize,
    ) -> Result<ChainBlock, ChannelError> {
        self.build_now(parent, timestamp_ms, max_txs)
    }

    async fn verify(&self, block: &ChainBlock, now_ms: u64) -> Result<Verdict, ChannelError> {
        self.verify_now(block, now_ms)
    }
    fn commit(&self, block: &ChainBlock) -> Result<(), ChannelError> {
        let height = block.header().height;
        let head = self.head();
        if height <= head.height {
            // Redelivery after a restart: it must be the block we already hold.
            let snapshot = self.store().snapshot().map_err(|e| self.storage_error(e))?;
            let stored = snapshot
                .header(height)
                .map_err(|e| self.storage_error(e))?
                .map(|h| h.hash());
            return match stored {
                Some(stored) if stored == block.hash() => Ok(()),
                stored => Err(ChannelError::Conflict {
                    channel: self.config().name.clone(),
                    height,
                    stored,
                    finalized: block.hash(),
                }),
            };
        }
        if height != head.height + 1 || block.header().parent_hash != head.hash() {
            return Err(ChannelError::Conflict {
                channel: self.config().name.clone(),
                height: height - 1,
                stored: Some(head.hash()),
                finalized: block.header().parent_hash,
            });
        }
        let executed = self.pending().lock().blocks.get(&block.hash()).cloned();
        let executed = match executed {
            Some(executed) => executed,
            None => {
                // Finalized by the others while this node was away: execute it now.
                let snapshot = self.store().snapshot().map_err(|e| self.storage_error(e))?;
                let recovered = self.recover_block(block, &snapshot).map_err(|reason| {
                    ChannelError::InvalidFinalized {
                        channel: self.config().name.clone(),
                        height,
                        reason,
                    }
                })?;
                Arc::new(
                    verify_block(&snapshot, self.rules(), &recovered, root_check_for(block))
                        .map_err(|e| self.execution_error(e))?,
                )
            }
        };
        self.commit_executed(&executed)
            .map_err(|e| self.execution_error(e))
    }

    fn admit_gossip(&self, transactions: Vec<Bytes>) -> Vec<(B256, Address)> {
        let mut rejected = 0usize;
        let mut admitted = Vec::with_capacity(transactions.len());
        for raw in transactions {
            match self.admit(&raw, Origin::Gossip) {
                Ok(tx) => admitted.push(tx),
                Err(e) => {
                    rejected += 1;
                    tracing::trace!(error = %e, "gossiped transaction not admitted");
                }
            }
        }
        if rejected > 0 {
            tracing::debug!(rejected, "gossiped transactions not admitted");
        }
        admitted
    }

    fn admit_vouched(&self, transactions: Vec<(Bytes, Address)>) {
        let mut rejected = 0usize;
        for (raw, sender) in transactions {
            if let Err(e) = self.admit(&raw, Origin::Vouched(sender)) {
                rejected += 1;
                tracing::trace!(error = %e, "vouched transaction not admitted");
            }
        }
        if rejected > 0 {
            tracing::debug!(rejected, "vouched transactions not admitted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ChannelConfig, GenesisAccount};
    use alloy_consensus::{TxLegacy, TypedTransaction};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{Address, TxKind, U256};
    use ricaas_consensus::Application;
    use ricaas_crypto::{DevKey, sign_transaction};

    fn open(dev: &DevKey) -> (tempfile::TempDir, Channel) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = ChannelConfig::development(
            1337,
            vec![GenesisAccount {
                address: dev.address(),
                balance: U256::from(10u64).pow(U256::from(24)),
            }],
            1_000,
        );
        let channel = Channel::open(config, dir.path()).expect("opens");
        (dir, channel)
    }

    fn transfer(dev: &DevKey, nonce: u64) -> Vec<u8> {
        let tx = TxLegacy {
            chain_id: Some(1337),
            nonce,
            gas_price: 0,
            gas_limit: 21_000,
            to: TxKind::Call(Address::repeat_byte(9)),
            value: U256::from(5),
            input: Default::default(),
        };
        sign_transaction(TypedTransaction::Legacy(tx), dev.secret()).encoded_2718()
    }

    /// A block with one transfer, built by a proposer on genesis.
    fn proposed(dev: &DevKey) -> ChainBlock {
        let (_dir, proposer) = open(dev);
        proposer.submit(&transfer(dev, 0)).expect("admitted");
        let genesis = ReplicatedChain::genesis(&proposer);
        proposer
            .build_now(&genesis, 20_000, usize::MAX)
            .expect("builds")
    }

    /// A client sends its next nonce as soon as its last transaction is committed; admission
    /// may have read the account before that commit and reach the pool after it, when the
    /// pool has already forgotten the sender. The transaction must become ready, not wait
    /// forever behind the nonce the block just used.
    #[test]
    fn a_transaction_checked_against_the_head_before_a_commit_is_not_stranded_after_it() {
        let dev = DevKey::random();
        let (_dir, channel) = open(&dev);
        channel.submit(&transfer(&dev, 0)).expect("admitted");
        // Admission of nonce 1 opens its view of the head now (nonce 0 next)...
        let before_commit = channel.head_view().expect("view");
        // ...then the block with nonce 0 commits and the pool forgets the sender...
        let block = channel.propose(false).expect("builds").expect("a block");
        channel.finalize(block).expect("commits");
        assert!(channel.pool().lock().is_empty());
        // ...and only then does nonce 1 reach the pool.
        channel
            .admit_in(&transfer(&dev, 1), Origin::Client, &before_commit)
            .expect("admitted");
        assert_eq!(channel.pool().lock().ready_len(), 1, "nonce 1 is ready");
        let next = channel.propose(false).expect("builds").expect("a block");
        assert_eq!(next.block.transactions.len(), 1);
        assert_eq!(next.block.transactions[0].nonce(), 1);
    }

    /// The solo sequencer opens a block and hands it transactions while it batches: one
    /// admitted while the block is open (its nonce follows those already executing) joins it,
    /// the block holds them in arrival order, and it commits to the same state and receipts
    /// as a block built at once from the same transactions.
    #[test]
    fn transactions_that_arrive_while_a_block_is_open_execute_into_it_in_order() {
        let dev = DevKey::random();
        let (_dir, channel) = open(&dev);
        let mut block = channel.open_block().expect("opens");
        for nonce in 0..2 {
            channel.submit(&transfer(&dev, nonce)).expect("admitted");
        }
        let filled = channel.fill_block(&mut block).expect("fills");
        assert_eq!((filled.transactions, filled.full), (2, false));
        assert_eq!(
            channel.pool().lock().ready_len(),
            0,
            "both are in the block"
        );
        channel
            .submit(&transfer(&dev, 2))
            .expect("nonce 2 is admitted while 0 and 1 execute");
        assert_eq!(
            channel.fill_block(&mut block).expect("fills").transactions,
            3
        );
        let built = channel
            .close_block(block, false)
            .expect("closes")
            .expect("a block");
        let nonces: Vec<u64> = built.block.transactions.iter().map(|t| t.nonce()).collect();
        assert_eq!(nonces, [0, 1, 2]);
        assert!(built.receipts.iter().all(|r| r.success));

        // The same three transfers built at once on another node with the same genesis.
        let (_other_dir, other) = open(&dev);
        for tx in &built.block.transactions {
            other.submit(tx.encoded()).expect("admitted");
        }
        let at_once = other.propose(false).expect("builds").expect("a block");
        assert_eq!(
            at_once.block.header.state_root,
            built.block.header.state_root
        );
        assert_eq!(
            at_once.block.header.receipts_root,
            built.block.header.receipts_root
        );
        assert_eq!(at_once.block.header.gas_used, built.block.header.gas_used);

        channel.finalize(built).expect("commits");
        assert!(channel.pool().lock().is_empty());
        channel
            .submit(&transfer(&dev, 3))
            .expect("the next nonce after the commit");
    }

    /// The solo sequencer closes a block and commits it in one step, writing the block's
    /// contents while its header is computed: the result is the block `close_block` seals and
    /// `finalize` commits (same roots, receipts, hashes and state; blocks big enough for the
    /// receipts root's own thread), the pool lets go of it, and admission reads the new head.
    #[test]
    fn a_solo_block_written_while_it_is_sealed_commits_as_one_sealed_then_committed() {
        let dev = DevKey::random();
        let (_overlapped_dir, overlapped) = open(&dev);
        let (_stepwise_dir, stepwise) = open(&dev);
        let empty = overlapped.open_block().expect("opens");
        assert!(!overlapped.close_and_finalize(empty, false).expect("closes"));
        for nonce in 0..300 {
            let raw = transfer(&dev, nonce);
            overlapped.submit(&raw).expect("admitted");
            stepwise.submit(&raw).expect("admitted");
        }
        let mut block = overlapped.open_block().expect("opens");
        assert_eq!(
            overlapped
                .fill_block(&mut block)
                .expect("fills")
                .transactions,
            300
        );
        assert!(
            overlapped
                .close_and_finalize(block, false)
                .expect("commits")
        );
        let mut block = stepwise.open_block().expect("opens");
        stepwise.fill_block(&mut block).expect("fills");
        let built = stepwise
            .close_block(block, false)
            .expect("closes")
            .expect("a block");
        stepwise.finalize(built).expect("commits");

        let (a, b) = (
            overlapped.store().snapshot().expect("snapshot"),
            stepwise.store().snapshot().expect("snapshot"),
        );
        let (head, expected) = (
            a.head_header().expect("head"),
            b.head_header().expect("head"),
        );
        assert_eq!(head.height, 1, "the empty block was not produced");
        assert_eq!(
            (head.state_root, head.receipts_root, head.transactions_root),
            (
                expected.state_root,
                expected.receipts_root,
                expected.transactions_root
            )
        );
        assert_eq!(
            (head.gas_used, head.logs_bloom),
            (expected.gas_used, expected.logs_bloom)
        );
        assert_eq!(a.height_of(&head.hash()).expect("reads"), Some(1));
        assert_eq!(a.receipts(1).expect("reads"), b.receipts(1).expect("reads"));
        let hashes = a.transaction_hashes(1).expect("reads");
        assert_eq!(hashes, b.transaction_hashes(1).expect("reads"));
        assert!(a.tx_location(&hashes[299]).expect("reads").is_some());
        assert_eq!(
            a.account(&dev.address()).expect("reads"),
            b.account(&dev.address()).expect("reads")
        );
        assert_eq!(
            a.recompute_state_root().expect("recomputes"),
            head.state_root
        );
        assert!(overlapped.pool().lock().is_empty());
        assert_eq!(
            overlapped.head(),
            head,
            "the channel's head moved to the block"
        );
        overlapped
            .submit(&transfer(&dev, 300))
            .expect("the next nonce after the commit");
    }

    /// Between a block's write to storage and the head's announcement, its receipts are
    /// readable: `eth_blockNumber` (and a new block filter's starting point) must already count
    /// that block, or a client that has just read a receipt sees an older head.
    #[test]
    fn the_block_number_never_trails_a_readable_receipt() {
        use ricaas_rpc::{EthApiServer as _, EthRpc};
        let dev = DevKey::random();
        let (_dir, channel) = open(&dev);
        channel.submit(&transfer(&dev, 0)).expect("admitted");
        let mut block = channel.open_block().expect("opens");
        channel.fill_block(&mut block).expect("fills");
        let built = channel
            .close_block(block, false)
            .expect("closes")
            .expect("a block");
        let hash = built.block.transactions[0].hash();
        // Stored, not yet announced: what a reader sees while the commit's bookkeeping runs.
        channel.store().commit_block(&built).expect("stored");
        assert_eq!(channel.head().height, 0, "the head is not announced yet");
        let channel = std::sync::Arc::new(channel);
        let rpc = EthRpc::new(channel.clone());
        let receipt = rpc
            .transaction_receipt(hash)
            .expect("reads")
            .expect("the receipt is readable");
        assert_eq!(receipt.inner.block_number, Some(1));
        assert_eq!(rpc.block_number().expect("answers").to::<u64>(), 1);
        let filter = rpc.new_block_filter().expect("installs");
        assert_eq!(
            serde_json::to_value(rpc.filter_changes(filter).expect("reads")).expect("json"),
            serde_json::json!([]),
            "a filter installed once block 1 was readable does not report it as new"
        );
    }

    /// An open block takes no more than `max_block_txs`: the fill that reaches the limit says
    /// the block is full, the rest stay ready for the next block, and a block left empty is
    /// not produced unless empty blocks are allowed.
    #[test]
    fn an_open_block_is_full_at_its_transaction_limit_and_the_rest_wait() {
        let dev = DevKey::random();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ChannelConfig::development(
            1337,
            vec![GenesisAccount {
                address: dev.address(),
                balance: U256::from(10u64).pow(U256::from(24)),
            }],
            1_000,
        );
        config.max_block_txs = 3;
        let channel = Channel::open(config, dir.path()).expect("opens");

        let empty = channel.open_block().expect("opens");
        assert!(channel.close_block(empty, false).expect("closes").is_none());
        let empty = channel.open_block().expect("opens");
        let produced = channel.close_block(empty, true).expect("closes");
        let produced = produced.expect("an empty block when allowed");
        assert!(produced.block.transactions.is_empty());
        channel.finalize(produced).expect("commits");

        for nonce in 0..5 {
            channel.submit(&transfer(&dev, nonce)).expect("admitted");
        }
        let mut block = channel.open_block().expect("opens");
        let filled = channel.fill_block(&mut block).expect("fills");
        assert_eq!((filled.transactions, filled.full), (3, true));
        assert_eq!(
            channel.fill_block(&mut block).expect("fills").transactions,
            3
        );
        let built = channel.close_block(block, false).expect("closes");
        let built = built.expect("a block");
        assert_eq!(built.block.header.height, 2);
        assert_eq!(built.block.transactions.len(), 3);
        channel.finalize(built).expect("commits");
        assert_eq!(channel.pool().lock().ready_len(), 2, "nonces 3 and 4 wait");
        let next = channel.propose(false).expect("builds").expect("a block");
        let nonces: Vec<u64> = next.block.transactions.iter().map(|t| t.nonce()).collect();
        assert_eq!(nonces, [3, 4]);
    }

    /// What `consensus.sender_trust` trades: a node that takes a sender on forged claims
    /// executes the transfer as the claimed account's, and `ricaas replay`, which recovers every
    /// signature again, finds the stored sender that the signature does not prove.
    #[test]
    fn a_sender_taken_on_forged_claims_is_found_by_replay() {
        let (dev, victim) = (DevKey::random(), DevKey::random());
        let dir = tempfile::tempdir().expect("tempdir");
        let funded = |address| GenesisAccount {
            address,
            balance: U256::from(10u64).pow(U256::from(24)),
        };
        let config = ChannelConfig::development(
            1337,
            vec![funded(dev.address()), funded(victim.address())],
            1_000,
        );
        let replay = |config: &ChannelConfig| {
            let scratch = tempfile::tempdir().expect("tempdir");
            crate::replay_chain(config, &dir.path().join("chain.redb"), scratch.path())
        };
        {
            let channel = Channel::open(config.clone(), dir.path()).expect("opens");
            // An honest block first: a sender recovered here, and one vouched for truly.
            channel.submit(&transfer(&dev, 0)).expect("admitted");
            let vouched = channel
                .admit(&transfer(&dev, 1), Origin::Vouched(dev.address()))
                .expect("admitted");
            assert_eq!(vouched.1, dev.address());
            assert_eq!(channel.admitted_senders(), (1, 1));
            let genesis = ReplicatedChain::genesis(&channel);
            let honest = channel
                .build_now(&genesis, 20_000, usize::MAX)
                .expect("builds");
            assert_eq!(honest.transactions().len(), 2);
            channel.commit(&honest).expect("commits");
            // Then a transfer `dev` signed, taken as `victim`'s because validators said so (its
            // nonce, 0, is the victim's next one).
            let signed_by_dev = sign_transaction(
                TypedTransaction::Legacy(TxLegacy {
                    chain_id: Some(1337),
                    nonce: 0,
                    gas_price: 0,
                    gas_limit: 21_000,
                    to: TxKind::Call(Address::repeat_byte(9)),
                    value: U256::from(1_000),
                    input: Default::default(),
                }),
                dev.secret(),
            )
            .encoded_2718();
            let (_, sender) = channel
                .admit(&signed_by_dev, Origin::Vouched(victim.address()))
                .expect("admitted on the claim");
            assert_eq!(sender, victim.address());
            let forged = channel
                .build_now(&honest, 20_100, usize::MAX)
                .expect("builds");
            assert_eq!(forged.transactions().len(), 1);
            channel.commit(&forged).expect("commits");
        }
        let err = replay(&config).expect_err("replay must refuse the forged sender");
        match &err {
            crate::ReplayError::Sender {
                height,
                index,
                stored,
                recovered,
            } => {
                assert_eq!((*height, *index, *stored), (2, 0, victim.address()));
                assert!(recovered.contains(&dev.address().to_string()), "{err}");
            }
            other => panic!("expected a sender mismatch, got {other}"),
        }
    }

    #[test]
    fn a_proposer_takes_no_more_transactions_than_the_pacer_allows_and_the_rest_later() {
        let dev = DevKey::random();
        let (_dir, proposer) = open(&dev);
        for nonce in 0..10 {
            proposer.submit(&transfer(&dev, nonce)).expect("admitted");
        }
        let genesis = ReplicatedChain::genesis(&proposer);
        let first = proposer.build_now(&genesis, 20_000, 4).expect("builds");
        assert_eq!(first.transactions().len(), 4);
        // The next block, on the first, takes the following ones in nonce order.
        let second = proposer.build_now(&first, 20_100, 100).expect("builds");
        assert_eq!(second.transactions().len(), 6);
    }

    #[test]
    fn a_finalized_block_that_does_not_re_execute_to_its_header_halts_without_writing() {
        let dev = DevKey::random();
        let block = proposed(&dev);
        let mut header = block.header().clone();
        header.state_root = B256::repeat_byte(0xee);
        let forged = ChainBlock::new(header, block.transactions().to_vec());
        let (_dir, follower) = open(&dev);
        let err = follower.commit(&forged).expect_err("must refuse");
        assert!(
            err.to_string()
                .contains("does not re-execute to its header"),
            "{err}"
        );
        assert_eq!(follower.head().height, 0, "nothing was committed");
        // The honest block still commits afterwards: the refusal changed nothing.
        follower.commit(&block).expect("commits");
        assert_eq!(follower.head().hash(), block.hash());
    }

    /// A block's transaction the pool did not hold has its sender recovered when the block is
    /// verified; admitting the same bytes afterwards (confirmations that came late, a resend)
    /// takes that sender instead of recovering the signature again, and outweighs what other
    /// validators claim. Bytes no block held are still recovered.
    #[test]
    fn a_sender_recovered_for_a_verified_block_is_not_recovered_again_at_admission() {
        let dev = DevKey::random();
        let block = proposed(&dev);
        let raw = block.transactions()[0].1.clone();
        let (_dir, follower) = open(&dev);
        assert!(matches!(
            follower.verify_now(&block, 20_000).expect("verifies"),
            Verdict::Valid
        ));
        assert_eq!(follower.block_senders(), (1, 0), "recovered for the block");
        let (hash, sender) = follower.admit(&raw, Origin::Gossip).expect("admitted");
        assert_eq!(sender, dev.address());
        assert_eq!(follower.block_senders(), (1, 1), "taken from the block's");
        assert_eq!(follower.admitted_senders(), (0, 0), "not recovered again");
        assert_eq!(
            follower.pool().lock().get(&hash).map(RecoveredTx::sender),
            Some(dev.address())
        );
        follower
            .admit(&transfer(&dev, 1), Origin::Gossip)
            .expect("admitted");
        assert_eq!(
            follower.admitted_senders(),
            (1, 0),
            "new bytes are recovered"
        );

        // Claims from other validators do not override what this node recovered itself.
        let (_dir, other) = open(&dev);
        assert!(matches!(
            other.verify_now(&block, 20_000).expect("verifies"),
            Verdict::Valid
        ));
        let (_, sender) = other
            .admit(&raw, Origin::Vouched(Address::repeat_byte(0x66)))
            .expect("admitted");
        assert_eq!(sender, dev.address());
        assert_eq!(other.admitted_senders(), (0, 0));
    }

    #[test]
    fn admission_checks_against_the_head_the_moment_a_block_commits() {
        let dev = DevKey::random();
        let block = proposed(&dev);
        let (_dir, follower) = open(&dev);
        // Admission at genesis: the head view of height 0 is opened and kept.
        follower
            .submit(&transfer(&dev, 5))
            .expect("queued behind nonce 0");
        follower.commit(&block).expect("commits");
        // The committed transfer, sent again, is known as committed, not pooled a second time.
        let again = follower.submit(&transfer(&dev, 0)).expect("known");
        assert_eq!(again, block.transactions()[0].0.hash());
        assert!(follower.pool().lock().get(&again).is_none());
        // Another transaction with the spent nonce is refused with the new state's next nonce.
        let rival = {
            let tx = TxLegacy {
                chain_id: Some(1337),
                nonce: 0,
                gas_price: 0,
                gas_limit: 21_000,
                to: TxKind::Call(Address::repeat_byte(8)),
                value: U256::from(6),
                input: Default::default(),
            };
            sign_transaction(TypedTransaction::Legacy(tx), dev.secret()).encoded_2718()
        };
        let err = follower.submit(&rival).expect_err("nonce spent");
        assert!(err.to_string().contains("next nonce is 1"), "{err}");
    }

    #[test]
    fn commits_are_idempotent_and_a_conflicting_finalized_block_is_an_error() {
        let dev = DevKey::random();
        let block = proposed(&dev);
        let (_dir, follower) = open(&dev);
        assert_eq!(
            follower.verify_now(&block, 30_000).expect("verifies"),
            Verdict::Valid
        );
        follower.commit(&block).expect("commits");
        follower.commit(&block).expect("redelivery is harmless");
        assert_eq!(follower.head().height, 1);
        // Another block at height 1 (empty, later timestamp) conflicts with the committed one.
        let (_d, other) = open(&dev);
        let genesis = ReplicatedChain::genesis(&other);
        let rival = other
            .build_now(&genesis, 50_000, usize::MAX)
            .expect("builds");
        assert_ne!(rival.hash(), block.hash());
        let err = follower.commit(&rival).expect_err("conflict");
        assert!(
            matches!(err, ChannelError::Conflict { height: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn proposals_with_bad_timestamps_or_unknown_parents_are_rejected_with_a_reason() {
        let dev = DevKey::random();
        let block = proposed(&dev);
        let (_dir, follower) = open(&dev);
        // Timestamp far ahead of the verifier's clock.
        match follower
            .verify_now(&block, 20_000 - MAX_CLOCK_DRIFT_MS - 1)
            .expect("verdict")
        {
            Verdict::Invalid(reason) => {
                assert!(reason.contains("ahead of this node's clock"), "{reason}")
            }
            Verdict::Valid => panic!("accepted a block from the future"),
        }
        // A child of a block this node has never seen.
        let mut header = block.header().clone();
        header.parent_hash = B256::repeat_byte(1);
        header.height = 2;
        let orphan = ChainBlock::new(header, block.transactions().to_vec());
        match follower.verify_now(&orphan, 100_000).expect("verdict") {
            Verdict::Invalid(reason) => assert!(reason.contains("not known"), "{reason}"),
            Verdict::Valid => panic!("accepted an orphan"),
        }
    }

    /// A Byzantine proposer cannot get a native transaction in by naming a certificate id the
    /// channel never enrolled: the block fails verification, naming the id.
    #[test]
    fn a_block_naming_an_unenrolled_certificate_id_is_invalid() {
        use ricaas_crypto::ca::{CertificateAuthority, IdentityKey, KeyAlgorithm, Role};
        let dev = DevKey::random();
        let block = proposed(&dev);
        let ca = CertificateAuthority::new_root("org1", KeyAlgorithm::P256, 30).expect("CA");
        let key = IdentityKey::generate(KeyAlgorithm::P256);
        let certificate = ca
            .issue(
                "alice",
                Role::Client,
                key.public_key_info().expect("spki"),
                30,
            )
            .expect("issued");
        let tx = ricaas_crypto::native::sign_native_enrolled(
            ricaas_primitives::NativeTxFields {
                chain_id: 1337,
                nonce: 0,
                gas_price: 0,
                gas_limit: 50_000,
                to: Bytes::copy_from_slice(Address::repeat_byte(9).as_slice()),
                value: U256::ZERO,
                input: Bytes::new(),
            },
            &certificate,
            &key,
        )
        .expect("signs");
        let raw = Bytes::from(tx.encoded());
        let envelope = ricaas_primitives::decode_raw_transaction(&raw, 1 << 20).expect("decodes");
        let forged = ChainBlock::new(block.header().clone(), vec![(envelope, raw)]);
        let (_dir, follower) = open(&dev);
        let id = ricaas_primitives::certificate_id(
            &ricaas_crypto::ca::certificate_der(&certificate).expect("der"),
        );
        match follower.verify_now(&forged, 30_000).expect("verdict") {
            Verdict::Invalid(reason) => assert!(
                reason.contains(&format!("certificate id {id} is not enrolled")),
                "{reason}"
            ),
            Verdict::Valid => panic!("accepted a transaction from an unenrolled certificate id"),
        }
    }
}
