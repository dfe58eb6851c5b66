//! One channel on this node: its store, pool and execution rules, as the ordering engine and the
//! RPC server see it.

use crate::replicated::PendingBlocks;
use crate::{
    admission::AdmissionError,
    config::ChannelConfig,
    head_view::{HeadView, HeadViewCache},
    mempool::{Inserted, Mempool, StateNonce},
};
use alloy_primitives::{Address, B256, Bytes, U256};
use parking_lot::{Mutex, RwLock};
use ricaas_consensus::bft::ChainBlock;
use ricaas_consensus::{Application, Backlog, Filled};
use ricaas_execution::{
    BlockContext, BlockOutcome, ChainRules, ExecutionError, Mode, TransactionsRoot, execute_block,
    intrinsic_gas, seal_block, seal_header, verify_block,
};
use ricaas_primitives::{
    Block, ChannelId, Header, RecoveredTx, StoredReceipt, decode_raw_transaction,
};
use ricaas_rpc::{ChannelBackend, RejectedTransaction};
use ricaas_storage::{
    AccountState, ChainStore, ExecutedBlock, Snapshot, StateChanges, StateLattice, StorageError,
};
use std::{path::Path, sync::OnceLock, time::SystemTime};
use tokio::sync::{Notify, mpsc, watch};

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("channel {channel}: {message}")]
    Config { channel: ChannelId, message: String },
    #[error("channel {channel}: {source}")]
    Storage {
        channel: ChannelId,
        source: StorageError,
    },
    #[error("channel {channel}: {source}")]
    Execution {
        channel: ChannelId,
        source: ExecutionError,
    },
    #[error(
        "channel {channel}: finalized block {height} conflicts with this node's chain: it holds {stored:?} there, consensus finalized {finalized}"
    )]
    Conflict {
        channel: ChannelId,
        height: u64,
        stored: Option<B256>,
        finalized: B256,
    },
    #[error("channel {channel}: finalized block {height} is invalid here: {reason}")]
    InvalidFinalized {
        channel: ChannelId,
        height: u64,
        reason: String,
    },
    #[error(
        "channel {channel}: no state for block {height} ({hash}): it is neither committed nor executed here"
    )]
    StateUnavailable {
        channel: ChannelId,
        height: u64,
        hash: B256,
    },
    #[error(
        "channel {channel}: the genesis in the configuration ({configured}) differs from the chain in the data directory ({stored}); restore the original configuration or use a new data directory"
    )]
    GenesisMismatch {
        channel: ChannelId,
        configured: B256,
        stored: B256,
    },
}

/// Where a transaction came from, which decides how its sender is established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A client of this node: the sender is recovered here, and the transaction forwarded.
    Client,
    /// Another validator's gossip: the sender is recovered here.
    Gossip,
    /// Another validator's gossip, with a sender `f + 1` validators recovered alike.
    Vouched(Address),
}

pub struct Channel {
    config: ChannelConfig,
    rules: ChainRules,
    store: ChainStore,
    pool: Mutex<Mempool>,
    work: Notify,
    /// Transactions admitted ready to order since the channel opened (the solo sequencer's
    /// measure of a stream's rate).
    arrivals: std::sync::atomic::AtomicU64,
    head: RwLock<Header>,
    head_tx: watch::Sender<u64>,
    genesis: ExecutedBlock,
    pending: Mutex<PendingBlocks>,
    /// Where newly admitted transactions go to be gossiped to the other validators (BFT only).
    gossip: OnceLock<mpsc::Sender<ricaas_consensus::bft::Forwarded>>,
    /// Serve reads without a read token (a local developer network's choice; off by default).
    anonymous_reads: std::sync::atomic::AtomicBool,
    /// Senders admission recovered from signatures, and took as vouched by other validators.
    senders_recovered: std::sync::atomic::AtomicU64,
    senders_vouched: std::sync::atomic::AtomicU64,
    /// Senders recovered while verifying blocks (transactions not in the pool), and senders
    /// admission took from those instead of recovering them again.
    senders_recovered_in_blocks: std::sync::atomic::AtomicU64,
    senders_remembered: std::sync::atomic::AtomicU64,
    /// Senders recovered for blocks' transactions the pool did not hold.
    recovered_senders: Mutex<crate::recovered::RecoveredSenders>,
    /// What admission reads from the head state, shared until the head moves.
    head_views: HeadViewCache,
    /// Where the chain is stored.
    dir: std::path::PathBuf,
    /// Set once the node serves the channel (channels opened by tools report nothing).
    metrics: OnceLock<crate::metrics::ChannelMetrics>,
}

impl Channel {
    /// Opens (or creates, committing genesis) the channel's chain under `dir`.
    pub fn open(config: ChannelConfig, dir: &Path) -> Result<Self, ChannelError> {
        let channel = config.name.clone();
        let storage = |source| ChannelError::Storage {
            channel: channel.clone(),
            source,
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| storage(StorageError::Database(format!("{}: {e}", dir.display()))))?;
        let store = ChainStore::open(&dir.join("chain.redb")).map_err(storage)?;
        let rules = ChainRules {
            chain_id: config.chain_id,
            block_gas_limit: config.block_gas_limit,
            tx_gas_limit: config.tx_gas_limit,
        };
        let genesis = genesis_block(&config).map_err(|message| ChannelError::Config {
            channel: channel.clone(),
            message,
        })?;
        let snapshot = store.snapshot().map_err(storage)?;
        match snapshot.header(0).map_err(storage)? {
            Some(stored) if stored.hash() != genesis.block.hash() => {
                return Err(ChannelError::GenesisMismatch {
                    channel,
                    configured: genesis.block.hash(),
                    stored: stored.hash(),
                });
            }
            Some(_) => {}
            None => {
                store.commit_block(&genesis).map_err(storage)?;
            }
        }
        let head = store
            .snapshot()
            .and_then(|s| s.head_header())
            .map_err(storage)?;
        tracing::info!(channel = %channel, height = head.height, hash = %head.hash(), "channel opened");
        let (head_tx, _) = watch::channel(head.height);
        Ok(Self {
            pool: Mutex::new(Mempool::new(config.mempool.clone())),
            config,
            rules,
            store,
            work: Notify::new(),
            arrivals: std::sync::atomic::AtomicU64::new(0),
            head: RwLock::new(head),
            head_tx,
            genesis,
            pending: Mutex::new(PendingBlocks::default()),
            gossip: OnceLock::new(),
            anonymous_reads: std::sync::atomic::AtomicBool::new(false),
            senders_recovered: std::sync::atomic::AtomicU64::new(0),
            senders_vouched: std::sync::atomic::AtomicU64::new(0),
            senders_recovered_in_blocks: std::sync::atomic::AtomicU64::new(0),
            senders_remembered: std::sync::atomic::AtomicU64::new(0),
            recovered_senders: Mutex::new(crate::recovered::RecoveredSenders::new(
                crate::recovered::GENERATION,
            )),
            head_views: HeadViewCache::default(),
            dir: dir.to_path_buf(),
            metrics: OnceLock::new(),
        })
    }

    /// Sends every transaction this node admits from its clients to `gossip` as well, with the
    /// sender recovered from it.
    pub fn set_gossip(&self, gossip: mpsc::Sender<ricaas_consensus::bft::Forwarded>) {
        let _ = self.gossip.set(gossip);
    }

    /// Reports this channel's metrics on `runtime` from now on (once; later calls are ignored).
    pub(crate) fn report_metrics(
        self: &std::sync::Arc<Self>,
        runtime: &impl commonware_runtime::Metrics,
    ) {
        if self.metrics.get().is_none() {
            let metrics = crate::metrics::ChannelMetrics::register(runtime, self, self.dir.clone());
            let _ = self.metrics.set(metrics);
        }
    }

    pub(crate) fn metrics(&self) -> Option<&crate::metrics::ChannelMetrics> {
        self.metrics.get()
    }

    /// Senders admission has established since the node started: recovered from a signature
    /// here, and taken as vouched for by other validators (see `consensus.sender_trust`).
    pub fn admitted_senders(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.senders_recovered.load(Relaxed),
            self.senders_vouched.load(Relaxed),
        )
    }

    /// Senders recovered while verifying blocks whose transactions the pool did not hold, and
    /// senders admission then took from those instead of recovering them again.
    pub fn block_senders(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.senders_recovered_in_blocks.load(Relaxed),
            self.senders_remembered.load(Relaxed),
        )
    }

    /// The sender recovered for a block's transaction `hash` outside the pool, if remembered.
    pub(crate) fn remembered_sender(&self, hash: &B256) -> Option<Address> {
        self.recovered_senders.lock().get(hash)
    }

    /// The remembered senders, locked: for looking up a whole block's at once. Taken after the
    /// pool's lock where both are held.
    pub(crate) fn remembered_senders(
        &self,
    ) -> parking_lot::MutexGuard<'_, crate::recovered::RecoveredSenders> {
        self.recovered_senders.lock()
    }

    /// Remembers the senders a block's verification recovered (Ethereum envelopes only, see
    /// `crate::recovered`).
    pub(crate) fn remember_senders(&self, recovered: impl IntoIterator<Item = (B256, Address)>) {
        let mut count = 0;
        let mut senders = self.recovered_senders.lock();
        for (hash, sender) in recovered {
            senders.insert(hash, sender);
            count += 1;
        }
        self.senders_recovered_in_blocks
            .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
    }

    /// Transactions in the pool: all of them, and those ready for the next block.
    pub(crate) fn pool_sizes(&self) -> (usize, usize) {
        let pool = self.pool.lock();
        (pool.len(), pool.ready_len())
    }

    pub(crate) fn store(&self) -> &ChainStore {
        &self.store
    }

    pub(crate) fn pool(&self) -> &Mutex<Mempool> {
        &self.pool
    }

    pub(crate) fn pending(&self) -> &Mutex<PendingBlocks> {
        &self.pending
    }

    pub(crate) fn genesis(&self) -> &ExecutedBlock {
        &self.genesis
    }

    /// Forgets the head state admission cached: called as soon as a block is durable, so no
    /// admission after it checks against the state before it.
    pub(crate) fn forget_head_view(&self) {
        self.head_views.clear();
    }

    pub(crate) fn set_head(&self, header: Header) {
        let height = header.height;
        *self.head.write() = header;
        self.head_tx.send_replace(height);
    }

    pub(crate) fn storage_error(&self, source: StorageError) -> ChannelError {
        ChannelError::Storage {
            channel: self.config.name.clone(),
            source,
        }
    }

    pub(crate) fn execution_error(&self, source: ExecutionError) -> ChannelError {
        ChannelError::Execution {
            channel: self.config.name.clone(),
            source,
        }
    }

    pub(crate) fn state_unavailable(&self, block: &ChainBlock) -> ChannelError {
        ChannelError::StateUnavailable {
            channel: self.config.name.clone(),
            height: block.header().height,
            hash: block.hash(),
        }
    }

    pub fn config(&self) -> &ChannelConfig {
        &self.config
    }

    pub fn head(&self) -> Header {
        self.head.read().clone()
    }

    /// Admission of a raw transaction from a client: decode, chain id, gas, signature, nonce,
    /// funds, pool; then gossip to the other validators.
    pub fn submit(&self, raw: &[u8]) -> Result<B256, AdmissionError> {
        self.admit(raw, Origin::Client)
            .map(|(hash, _)| hash)
            .inspect_err(|refused| {
                if let Some(metrics) = self.metrics() {
                    metrics.rejected(refused);
                }
            })
    }

    /// Admission; a client's transaction, once pooled, is forwarded to the other validators.
    /// Returns the transaction's hash and sender.
    pub(crate) fn admit(
        &self,
        raw: &[u8],
        origin: Origin,
    ) -> Result<(B256, Address), AdmissionError> {
        // Governance may have changed the per-transaction gas cap and the minimum price: every
        // check reads the head state, through the view shared by all admissions at this head.
        self.admit_in(raw, origin, &*self.head_view()?)
    }

    /// Admission against `view`, which a block may have superseded by the time the transaction
    /// reaches the pool (blocks commit while admissions run).
    pub(crate) fn admit_in(
        &self,
        raw: &[u8],
        origin: Origin,
        view: &HeadView,
    ) -> Result<(B256, Address), AdmissionError> {
        let envelope = decode_raw_transaction(raw, self.config.max_tx_bytes)?;
        match envelope.chain_id() {
            None => {
                return Err(AdmissionError::MissingChainId {
                    expected: self.rules.chain_id,
                });
            }
            Some(id) if id != self.rules.chain_id => {
                return Err(AdmissionError::WrongChainId {
                    got: id,
                    expected: self.rules.chain_id,
                });
            }
            Some(_) => {}
        }
        let consortium = view.consortium();
        let (tx_gas_limit, min_gas_price) = match consortium {
            Some(c) => (
                c.rules(&self.rules).tx_gas_limit,
                c.min_gas_price(self.config.min_gas_price),
            ),
            None => (self.rules.tx_gas_limit, self.config.min_gas_price),
        };
        let gas = envelope.gas_limit();
        if gas > tx_gas_limit {
            return Err(AdmissionError::GasLimitTooHigh {
                gas,
                limit: tx_gas_limit,
            });
        }
        let price = envelope.max_fee_per_gas();
        if price < min_gas_price {
            return Err(AdmissionError::GasPriceTooLow {
                price,
                minimum: min_gas_price,
            });
        }
        // A transaction this node already holds was checked when it first came: the same bytes
        // (the hash covers the signature) need no second recovery.
        let hash = envelope.hash();
        if let Some(held) = self.pool.lock().get(&hash) {
            return Ok((hash, held.sender()));
        }
        // A block this node verified may have held these bytes and had their sender recovered
        // then (`crate::recovered`): the same signature need not be recovered again.
        let remembered = match &envelope {
            ricaas_primitives::ChainTx::Ethereum(_) => self.remembered_sender(&hash),
            ricaas_primitives::ChainTx::Native { .. } => None,
        };
        let tx = match (origin, remembered, envelope) {
            (_, Some(sender), envelope) => {
                self.senders_remembered
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                RecoveredTx::from_verified_parts(envelope, sender, Bytes::copy_from_slice(raw))
            }
            // Validators vouched for the sender of this exact encoding: their claims are keyed by
            // the Keccak of the bytes they recovered from, which is `hash` (decoding accepts only
            // the canonical encoding and hashes those bytes).
            (Origin::Vouched(sender), None, ricaas_primitives::ChainTx::Ethereum(envelope)) => {
                self.senders_vouched
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                RecoveredTx::from_verified_parts(
                    ricaas_primitives::ChainTx::Ethereum(envelope),
                    sender,
                    Bytes::copy_from_slice(raw),
                )
            }
            // A native transaction may name its signer's certificate by the id it was enrolled
            // with.
            (_, _, envelope) => {
                self.senders_recovered
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                ricaas_crypto::native::recover_encoded(
                    envelope,
                    Bytes::copy_from_slice(raw),
                    |id| {
                        ricaas_execution::system::enrolled_key(
                            &mut ricaas_execution::system::StateSlots(view.snapshot()),
                            &id,
                        )
                        .ok()
                        .flatten()
                    },
                )?
            }
        };
        let sender = tx.sender();
        let needed = intrinsic_gas(&tx);
        if gas < needed {
            return Err(AdmissionError::IntrinsicGasTooLow { gas, needed });
        }
        let account = view.snapshot().account(&tx.sender())?.unwrap_or_default();
        // Resending a committed transaction is answered with its hash, as Ethereum nodes do. Only
        // a nonce the sender has already used can belong to one, so only then is the index read.
        if tx.nonce() < account.nonce && view.snapshot().tx_location(&hash)?.is_some() {
            return Ok((hash, sender));
        }
        self.check_permission(&tx, view)?;
        let cost = U256::from(gas) * U256::from(price) + tx.envelope().value();
        if account.balance < cost {
            return Err(AdmissionError::InsufficientFunds {
                sender: tx.sender(),
                balance: account.balance,
                cost,
            });
        }
        let inserted = {
            let mut pool = self.pool.lock();
            let mut state = StateNonce {
                nonce: account.nonce,
                at_height: view.height().unwrap_or(0),
            };
            if pool.needs_newer_state(&sender, state.at_height) {
                // A block committed since the view was opened cleared this sender from the pool:
                // the view's nonce may be one that block used. Storage holds that block already
                // (it is written before the pool is cleared), and while the pool is locked no
                // later block can clear the sender again.
                let snapshot = self.store.snapshot()?;
                state = StateNonce {
                    nonce: snapshot.account(&sender)?.unwrap_or_default().nonce,
                    at_height: snapshot.head_height().unwrap_or(0),
                };
            }
            pool.insert(tx, state)?
        };
        if inserted == Inserted::Ready {
            self.arrivals
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.work.notify_one();
        }
        if origin == Origin::Client
            && let Some(gossip) = self.gossip.get()
            && gossip
                .try_send((Bytes::copy_from_slice(raw), sender))
                .is_err()
        {
            // The other validators are far behind; the transaction is pooled here and this node
            // includes it when it next proposes.
            tracing::debug!(tx = %hash, "gossip queue full: transaction not forwarded");
        }
        Ok((hash, sender))
    }

    /// The channel configuration as of the head block (`None` for an open development channel).
    pub fn consortium(
        &self,
    ) -> Result<Option<std::sync::Arc<ricaas_execution::system::Consortium>>, ChannelError> {
        let snapshot = self
            .store
            .snapshot()
            .map_err(|source| ChannelError::Storage {
                channel: self.config.name.clone(),
                source,
            })?;
        self.consortium_in(&snapshot)
    }

    /// The channel configuration in `snapshot` (parsed once per configuration, then cached).
    fn consortium_in(
        &self,
        snapshot: &ricaas_storage::Snapshot,
    ) -> Result<Option<std::sync::Arc<ricaas_execution::system::Consortium>>, ChannelError> {
        ricaas_execution::system::Consortium::load(&mut ricaas_execution::system::StateSlots(
            snapshot,
        ))
        .map_err(|e| ChannelError::Config {
            channel: self.config.name.clone(),
            message: e.to_string(),
        })
    }

    /// Lets clients without a read token query the channel (`rpc.anonymous_reads`).
    pub fn set_anonymous_reads(&self, allowed: bool) {
        self.anonymous_reads
            .store(allowed, std::sync::atomic::Ordering::Relaxed);
    }

    /// The sender must be an enrolled, valid identity the channel's Writers (for contract
    /// creation: ContractDeployers) policy admits, as of the head state and the wall clock.
    fn check_permission(&self, tx: &RecoveredTx, view: &HeadView) -> Result<(), AdmissionError> {
        use ricaas_execution::system::{self, Action};
        let Some(consortium) = view.consortium() else {
            return Ok(());
        };
        let action = if tx.envelope().is_create() {
            match view
                .creation_action(consortium, tx.sender(), tx.envelope().input())
                .map_err(|e| AdmissionError::State(e.to_string()))?
            {
                Ok((action, _)) => action,
                Err(refused) => return Err(AdmissionError::Permission(Box::new(refused))),
            }
        } else {
            Action::Write
        };
        let record = view
            .identity(tx.sender())
            .map_err(|e| AdmissionError::State(e.to_string()))?;
        system::judge_sender(consortium, tx.sender(), record, action, unix_now_secs())
            .map_err(|refused| AdmissionError::Permission(Box::new(refused)))
    }

    /// The head state admission checks against, opened once per head height.
    pub(crate) fn head_view(&self) -> Result<std::sync::Arc<HeadView>, AdmissionError> {
        let height = self.head.read().height;
        self.head_views.get(height, || {
            let snapshot = self.store.snapshot()?;
            let consortium = self
                .consortium_in(&snapshot)
                .map_err(|e| AdmissionError::State(e.to_string()))?;
            Ok(HeadView::new(snapshot, consortium))
        })
    }

    /// Opens the next block on the head: its context is fixed now, and a thread of its own
    /// executes the transactions [`Channel::fill_open`] hands it, in that order, until the block
    /// is closed.
    fn open_on_head(&self) -> Result<OpenBlock, ExecutionError> {
        let snapshot = self.store.snapshot()?;
        let parent = snapshot.head_header()?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let context = BlockContext {
            height: parent.height + 1,
            timestamp_ms: now.max(parent.timestamp_ms + 1),
            parent_hash: parent.hash(),
            beneficiary: Address::ZERO,
            gas_limit: self.rules.block_gas_limit,
        };
        let (feed, batches) = std::sync::mpsc::channel::<Vec<RecoveredTx>>();
        let rules = self.rules.clone();
        let in_thread = context.clone();
        let executor = std::thread::Builder::new()
            .name(format!("block-{}", context.height))
            .spawn(move || {
                let outcome = execute_block(
                    &snapshot,
                    &rules,
                    &in_thread,
                    batches.into_iter().flatten(),
                    Mode::Build,
                )?;
                Ok((snapshot, outcome))
            })
            .map_err(|e| ExecutionError::Evm(format!("could not start a block's executor: {e}")))?;
        Ok(OpenBlock {
            context,
            feed: Some(feed),
            executor: Some(executor),
            taken: 0,
            opened: std::time::Instant::now(),
        })
    }

    /// Moves ready transactions from the pool into the open block, up to the block's limit.
    fn fill_open(&self, open: &mut OpenBlock) -> Filled {
        let room = self.config.max_block_txs.saturating_sub(open.taken);
        if room > 0
            && let Some(feed) = &open.feed
        {
            let batch = self.pool.lock().take_ready(room);
            if !batch.is_empty() {
                open.taken += batch.len();
                if let Err(std::sync::mpsc::SendError(batch)) = feed.send(batch) {
                    // The executor has stopped (on an error `close_open` reports): the
                    // transactions go back to the pool rather than nowhere.
                    open.taken -= batch.len();
                    self.pool.lock().return_deferred(batch);
                    open.feed = None;
                }
            }
        }
        Filled {
            transactions: open.taken,
            full: open.taken >= self.config.max_block_txs,
        }
    }

    /// Cuts the open block: waits for its executor to finish what it was handed, gives back to
    /// the pool what did not fit and drops what failed, and seals the rest.
    fn close_open(
        &self,
        open: OpenBlock,
        allow_empty: bool,
    ) -> Result<Option<ExecutedBlock>, ExecutionError> {
        let Some(finished) = self.finish_open(open, allow_empty)? else {
            return Ok(None);
        };
        let timing = finished.timing;
        let sealed = seal_block(&finished.snapshot, &finished.context, finished.outcome)?;
        timing.built(self, sealed.block.transactions.len());
        Ok(Some(sealed))
    }

    /// Cuts the open block and commits it, writing what it holds (transactions, receipts,
    /// indexes, state changes) while its header is computed: a solo block is final once
    /// sealed, so its commit need not wait for the roots, and the two together take about as
    /// long as the longer of them where one after the other took both.
    fn close_and_commit(&self, open: OpenBlock, allow_empty: bool) -> Result<bool, ExecutionError> {
        let Some(finished) = self.finish_open(open, allow_empty)? else {
            return Ok(false);
        };
        let FinishedBlock {
            snapshot,
            context,
            outcome,
            ..
        } = &finished;
        let (sealed, staged) = std::thread::scope(|scope| {
            let seal = scope.spawn(|| seal_header(snapshot, context, outcome));
            let staged = self.store.stage_block(
                context.height,
                &outcome.transactions,
                &outcome.receipts,
                &outcome.changes,
            );
            // A panic computing the header is a bug: raised here as it would have been
            // without the thread.
            let sealed = seal
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (sealed, staged)
        });
        let (header, lattice) = sealed?;
        finished.timing.built(self, outcome.transactions.len());
        let committing = std::time::Instant::now();
        staged?.commit(&header, &lattice)?;
        let block = Block {
            header,
            transactions: finished.outcome.transactions,
        };
        self.committed(&block, committing.elapsed());
        Ok(true)
    }

    /// Waits for the open block's executor and settles the pool: what did not fit goes back,
    /// what failed is dropped. `None` when the block holds nothing and may not be empty.
    fn finish_open(
        &self,
        mut open: OpenBlock,
        allow_empty: bool,
    ) -> Result<Option<FinishedBlock>, ExecutionError> {
        let cut = std::time::Instant::now();
        let (snapshot, outcome) = open.finish()?;
        let executed_at = std::time::Instant::now();
        {
            let mut pool = self.pool.lock();
            for rejected in &outcome.rejected {
                tracing::debug!(tx = %rejected.tx.hash(), reason = %rejected.reason, "transaction dropped at execution");
            }
            let rejected: Vec<RecoveredTx> =
                outcome.rejected.iter().map(|r| r.tx.clone()).collect();
            pool.drop_rejected(&rejected);
            pool.return_deferred(outcome.deferred.clone());
        }
        if outcome.transactions.is_empty() && !allow_empty {
            return Ok(None);
        }
        let timing = BuildTiming {
            height: open.context.height,
            offered: open.taken,
            opened: open.opened,
            cut,
            executed_at,
        };
        Ok(Some(FinishedBlock {
            snapshot,
            context: open.context.clone(),
            outcome,
            timing,
        }))
    }

    /// Builds the next block at once from the transactions ready now (what the solo sequencer
    /// does over an interval, for tests).
    #[cfg(test)]
    pub(crate) fn propose(
        &self,
        allow_empty: bool,
    ) -> Result<Option<ExecutedBlock>, ExecutionError> {
        let mut open = self.open_on_head()?;
        self.fill_open(&mut open);
        self.close_open(open, allow_empty)
    }
}

/// A block the solo sequencer has opened and not yet cut: the transactions handed to it are
/// executing on its own thread, against the head it was opened on. Dropped without being
/// closed (the sequencer failed), the executor finishes and its work is discarded.
pub struct OpenBlock {
    context: BlockContext,
    feed: Option<std::sync::mpsc::Sender<Vec<RecoveredTx>>>,
    executor: Option<std::thread::JoinHandle<Result<(Snapshot, BlockOutcome), ExecutionError>>>,
    /// Transactions handed to the executor.
    taken: usize,
    opened: std::time::Instant,
}

/// An open block whose executor has finished: what [`Channel::finish_open`] hands to sealing.
struct FinishedBlock {
    snapshot: Snapshot,
    context: BlockContext,
    outcome: BlockOutcome,
    timing: BuildTiming,
}

/// When a solo block was opened, cut and done executing, for its build metric and log line.
#[derive(Clone, Copy)]
struct BuildTiming {
    height: u64,
    offered: usize,
    opened: std::time::Instant,
    cut: std::time::Instant,
    executed_at: std::time::Instant,
}

impl BuildTiming {
    /// Records the block's build (cut to sealed) in the metrics and the debug log.
    fn built(&self, channel: &Channel, included: usize) {
        if let Some(metrics) = channel.metrics() {
            metrics.built(self.cut.elapsed());
        }
        tracing::debug!(
            height = self.height,
            offered = self.offered,
            included,
            open_ms = (self.cut - self.opened).as_secs_f64() * 1e3,
            finish_ms = (self.executed_at - self.cut).as_secs_f64() * 1e3,
            seal_ms = self.executed_at.elapsed().as_secs_f64() * 1e3,
            "block built"
        );
    }
}

impl OpenBlock {
    /// Tells the executor nothing more is coming and waits for what it has done.
    fn finish(&mut self) -> Result<(Snapshot, BlockOutcome), ExecutionError> {
        self.feed = None;
        let executor = self
            .executor
            .take()
            .ok_or_else(|| ExecutionError::Evm("the block was already closed".into()))?;
        executor.join().map_err(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            ExecutionError::Evm(format!("the block's executor panicked: {what}"))
        })?
    }
}

/// Wall-clock Unix seconds: validity of certificates and read tokens at admission.
pub(crate) fn unix_now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The genesis block: the configured accounts funded and, in a consortium channel, the system
/// contracts holding the channel configuration and the identities enrolled from the start.
pub(crate) fn genesis_block(config: &ChannelConfig) -> Result<ExecutedBlock, String> {
    let mut changes = match &config.consortium {
        Some(consortium) => ricaas_execution::system::genesis_state(
            &consortium.consortium(&config.name)?,
            &consortium.member_certificates()?,
        )
        .map_err(|e| format!("channel.consortium: {e}"))?,
        None => StateChanges::default(),
    };
    for account in &config.genesis {
        let state = AccountState {
            balance: account.balance,
            ..Default::default()
        };
        if changes
            .accounts
            .insert(account.address, Some(state))
            .is_some()
        {
            return Err(format!(
                "channel.genesis funds {}, a system contract address",
                account.address
            ));
        }
    }
    let mut lattice = StateLattice::default();
    for (address, state) in &changes.accounts {
        if let Some(state) = state.filter(|s| !s.is_empty()) {
            lattice.add_account(address, &state);
        }
    }
    for ((address, slot), value) in &changes.storage {
        if !value.is_zero() {
            lattice.add_slot(address, slot, value);
        }
    }
    let header = Header {
        parent_hash: B256::ZERO,
        height: 0,
        timestamp_ms: config.genesis_timestamp_ms,
        transactions_root: Block::transactions_root(&[]),
        receipts_root: StoredReceipt::receipts_root(&[]),
        state_root: lattice.root(),
        logs_bloom: Default::default(),
        gas_limit: config.block_gas_limit,
        gas_used: 0,
        beneficiary: Address::ZERO,
    };
    Ok(ExecutedBlock {
        block: Block {
            header,
            transactions: Vec::new(),
        },
        receipts: Vec::new(),
        changes,
        lattice,
    })
}

impl Application for Channel {
    type Block = ExecutedBlock;
    type Error = ExecutionError;
    type Open = OpenBlock;

    fn backlog(&self) -> Backlog {
        let ready = self.pool.lock().ready_len();
        match ready {
            0 => Backlog::Empty,
            n if n >= self.config.max_block_txs => Backlog::Full,
            _ => Backlog::Partial,
        }
    }

    async fn work_arrived(&self) {
        self.work.notified().await
    }

    fn arrivals(&self) -> u64 {
        self.arrivals.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn open_block(&self) -> Result<OpenBlock, ExecutionError> {
        self.open_on_head()
    }

    fn fill_block(&self, open: &mut OpenBlock) -> Result<Filled, ExecutionError> {
        Ok(self.fill_open(open))
    }

    fn close_block(
        &self,
        open: OpenBlock,
        allow_empty: bool,
    ) -> Result<Option<ExecutedBlock>, ExecutionError> {
        self.close_open(open, allow_empty)
    }

    fn close_and_finalize(
        &self,
        open: OpenBlock,
        allow_empty: bool,
    ) -> Result<bool, ExecutionError> {
        self.close_and_commit(open, allow_empty)
    }

    fn verify(&self, block: &ExecutedBlock) -> Result<(), ExecutionError> {
        let started = std::time::Instant::now();
        let snapshot = self.store.snapshot()?;
        verify_block(
            &snapshot,
            &self.rules,
            &block.block,
            TransactionsRoot::Compute,
        )?;
        if let Some(metrics) = self.metrics() {
            metrics.verified(started.elapsed());
        }
        Ok(())
    }

    fn finalize(&self, block: ExecutedBlock) -> Result<(), ExecutionError> {
        self.commit_executed(&block)
    }
}

impl ChannelBackend for Channel {
    fn rules(&self) -> &ChainRules {
        &self.rules
    }

    fn authorize_read(&self, authorization: Option<&str>) -> Result<(), String> {
        use ricaas_execution::system::{self, Action, StateSlots};
        let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
        let consortium = self.consortium_in(&snapshot).map_err(|e| e.to_string())?;
        let Some(token) = authorization else {
            if consortium.is_none()
                || self
                    .anonymous_reads
                    .load(std::sync::atomic::Ordering::Relaxed)
            {
                return Ok(());
            }
            return Err(format!(
                "this node serves channel {} to enrolled identities only: send \
                 `Authorization: Bearer ricaas-read.<expires>.<signature>`, a personal_sign of \
                 \"{}\" by your account",
                self.config.name,
                ricaas_crypto::token::read_token_statement(
                    self.config.name.as_str(),
                    self.rules.chain_id,
                    0
                )
                .replace('\n', "\\n")
                .replace("expires: 0", "expires: <unix seconds>")
            ));
        };
        let now = unix_now_secs();
        let reader = ricaas_crypto::token::verify_read_token(
            token,
            self.config.name.as_str(),
            self.rules.chain_id,
            now,
        )
        .map_err(|e| e.to_string())?;
        let Some(consortium) = consortium else {
            return Ok(());
        };
        system::check_sender(
            &consortium,
            &mut StateSlots(&snapshot),
            reader,
            Action::Read,
            now,
        )
        .map_err(|e| e.to_string())?
        .map_err(|refused| refused.to_string().replacen("sender", "reader", 1))
    }

    fn min_gas_price(&self) -> u128 {
        match self.consortium() {
            Ok(Some(consortium)) => consortium.min_gas_price(self.config.min_gas_price),
            _ => self.config.min_gas_price,
        }
    }

    fn snapshot(&self) -> Result<Snapshot, StorageError> {
        self.store.snapshot()
    }

    fn submit_raw_transaction(&self, raw: Bytes) -> Result<B256, RejectedTransaction> {
        self.submit(&raw).map_err(|e| {
            tracing::debug!(error = %e, "transaction rejected");
            RejectedTransaction {
                code: e.rpc_code(),
                message: e.to_string(),
            }
        })
    }

    fn pending_nonce(&self, address: &Address) -> Option<u64> {
        self.pool.lock().pending_nonce(address)
    }

    fn pending_transaction(&self, hash: &B256) -> Option<RecoveredTx> {
        self.pool.lock().get(hash).cloned()
    }

    fn head_watch(&self) -> watch::Receiver<u64> {
        self.head_tx.subscribe()
    }
}
