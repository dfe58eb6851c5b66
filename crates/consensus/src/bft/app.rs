//! The adapter between Commonware's marshal and our chain: proposing, verifying and committing.

use super::{
    ChainBlock, Pacer, ReplicatedChain, Verdict,
    block::digest_of,
    epochs::{EpochValidator, ValidatorSet},
    orchestrator::Transition,
};
use crate::Backlog;
use commonware_actor::Feedback;
use commonware_codec::DecodeExt as _;
use commonware_consensus::{
    Heightable, Reporter,
    marshal::{Update, ancestry::Ancestry},
    simplex::{scheme::ed25519, types::Context},
    types::{Epocher as _, FixedEpocher},
};
use commonware_cryptography::{Digested, Digestible as _, ed25519::PublicKey, sha256::Digest};
use commonware_runtime::{
    Clock, Metrics, Spawner, Supervisor,
    telemetry::metrics::{Gauge, GaugeValue, Histogram, raw},
};
use commonware_utils::Acknowledgement as _;
use futures::{FutureExt as _, StreamExt as _};
use std::{
    future::Future,
    sync::Arc,
    time::{Duration, SystemTime},
};
use tokio::sync::{mpsc, oneshot, watch};

/// How long a proposer waits to fill a block, and how long executing one may take.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// With some transactions waiting, propose once this long has passed since the parent.
    pub block_interval: Duration,
    /// With nothing waiting, propose an empty block once this long has passed since the parent
    /// (must stay below consensus' leader timeout, or idle views would time out).
    pub empty_block_interval: Duration,
    /// A proposer caps its block so that executing it takes about this long on this machine
    /// (see [`Pacer`]); building, and re-executing on every validator, must fit well inside
    /// the certification timeout.
    pub execution_budget: Duration,
}

/// Why a validator stopped following the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Halted(pub String);

/// Implements marshal's application (propose, verify) and reporter (finalized blocks).
pub struct Replicated<C: ReplicatedChain> {
    chain: Arc<C>,
    timing: Timing,
    timings: Arc<BlockTimings>,
    finalized: mpsc::UnboundedSender<(
        Digested<ChainBlock>,
        commonware_utils::acknowledgement::Exact,
    )>,
}

impl<C: ReplicatedChain> Clone for Replicated<C> {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            timing: self.timing,
            timings: self.timings.clone(),
            finalized: self.finalized.clone(),
        }
    }
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs blocking chain work off the consensus tasks.
pub(super) async fn blocking<E, T, F>(
    runtime: &E,
    work: impl FnOnce() -> F + Send + 'static,
) -> Option<T>
where
    E: Spawner,
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    runtime
        .child("chain")
        .shared(true)
        .spawn(move |_| work())
        .await
        .ok()
}

/// How long this node takes to build and re-execute blocks, on the runtime's clock: fed to the
/// [`Pacer`] that sizes its proposals. (The node itself exports how long each stage takes, as
/// `ricaas_block_*_seconds`.)
struct BlockTimings {
    pacer: Pacer,
    proposed_txs: Histogram,
    cap: Gauge,
}

const TXS_BUCKETS: [f64; 10] = [
    1.0, 10.0, 100.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0, 20_000.0, 50_000.0,
];

impl BlockTimings {
    fn new(runtime: &impl Metrics, budget: Duration) -> Self {
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            runtime.register(name, help, raw::Histogram::new(buckets.iter().copied()))
        };
        Self {
            pacer: Pacer::new(budget),
            proposed_txs: histogram(
                "proposed_transactions",
                "Transactions in each block this node proposed",
                &TXS_BUCKETS,
            ),
            cap: runtime.register(
                "block_transaction_cap",
                "Most transactions this node would put in its next block (execution budget over measured cost)",
                raw::Gauge::default(),
            ),
        }
    }

    fn built(&self, txs: usize, elapsed: Duration) {
        self.proposed_txs.observe(txs as f64);
        self.pacer.observe(txs, elapsed);
        self.publish_cap();
    }

    fn verified(&self, txs: usize, elapsed: Duration) {
        self.pacer.observe(txs, elapsed);
        self.publish_cap();
    }

    fn publish_cap(&self) {
        let cap = self.pacer.max_txs().min(GaugeValue::MAX as usize) as GaugeValue;
        self.cap.set(cap);
    }
}

/// The time from `started` to now on `runtime`'s clock (zero if the clock went backwards).
fn since(runtime: &impl Clock, started: SystemTime) -> Duration {
    runtime
        .current()
        .duration_since(started)
        .unwrap_or_default()
}

/// Executes `block` on its parent's state (which must be available), on a blocking thread, and
/// records how long it took on the runtime's clock.
async fn timed_verify<E, C>(
    runtime: &E,
    chain: &Arc<C>,
    timings: &BlockTimings,
    block: Arc<ChainBlock>,
) -> Option<Result<Verdict, C::Error>>
where
    E: Spawner + Clock,
    C: ReplicatedChain,
{
    // A block this node already executed (its own proposal, a repeated request) is answered
    // from memory: timing it would make execution look free.
    let executed_before = chain.has_state(&block.hash());
    let chain = chain.clone();
    let now = millis(runtime.current());
    let started = runtime.current();
    let txs = block.transactions().len();
    let verdict = blocking(
        runtime,
        move || async move { chain.verify(&block, now).await },
    )
    .await?;
    if !executed_before {
        timings.verified(txs, since(runtime, started));
    }
    Some(verdict)
}

impl<C: ReplicatedChain> Replicated<C> {
    /// The adapter, and the task that commits finalized blocks in order. After an epoch's last
    /// block it hands the next epoch's validators (read from the state that block produced) to
    /// the orchestrator, and acknowledges the block only once the next epoch is running. The task
    /// stops and reports through `halted` when a finalized block cannot be committed.
    pub fn new<E: Spawner + Clock + Metrics>(
        runtime: E,
        chain: Arc<C>,
        timing: Timing,
        epocher: FixedEpocher,
        transitions: mpsc::UnboundedSender<Transition>,
        halted: watch::Sender<Option<Halted>>,
    ) -> Self {
        let timings = Arc::new(BlockTimings::new(&runtime, timing.execution_budget));
        let (finalized, mut rx) = mpsc::unbounded_channel::<(
            Digested<ChainBlock>,
            commonware_utils::acknowledgement::Exact,
        )>();
        let committer = chain.clone();
        runtime.child("committer").spawn(move |runtime| async move {
            let halt = |reason: String| {
                tracing::error!(%reason, "CHAIN HALTED: this node stops following the chain rather than diverge");
                halted.send_replace(Some(Halted(reason)));
            };
            while let Some((block, ack)) = rx.recv().await {
                let chain = committer.clone();
                let inner = block.inner_shared();
                let height = block.height();
                match blocking(&runtime, move || async move { chain.commit(&inner) }).await {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        halt(format!("finalized block {height} cannot be committed: {e}"));
                        // Hold the acknowledgement: marshal must not consider it delivered.
                        std::mem::forget(ack);
                        return;
                    }
                    None => return,
                }
                if let Some(info) = epocher.containing(height)
                    && info.last() == height
                {
                    let next = info.epoch().next();
                    match hand_over_epoch(&runtime, &committer, &transitions, next, block.digest())
                        .await
                    {
                        Ok(()) => {}
                        Err(Stop::Halt(reason)) => {
                            halt(format!("entering epoch {next}: {reason}"));
                            std::mem::forget(ack);
                            return;
                        }
                        Err(Stop::Shutdown) => return,
                    }
                }
                ack.acknowledge();
            }
        });
        Self {
            chain,
            timing,
            timings,
            finalized,
        }
    }

    /// Makes the state after the first block of `ancestry` available, executing the ancestors
    /// this node has not executed (after a restart, or when it missed their proposals).
    /// `None` when the ancestry does not lead to our committed chain or holds an invalid block.
    async fn ensure_state<E: Spawner + Clock>(
        &self,
        runtime: &E,
        first: Digested<ChainBlock>,
        ancestry: &mut (impl Ancestry<ChainBlock> + 'static),
    ) -> Option<()> {
        let mut missing = Vec::new();
        let mut cursor = first;
        loop {
            if self.chain.has_state(&cursor.inner().hash()) {
                break;
            }
            if cursor.height().get() <= self.chain.committed_height() {
                tracing::warn!(height = cursor.height().get(), hash = %cursor.inner().hash(), "ancestry leaves the committed chain");
                return None;
            }
            missing.push(cursor.inner_shared());
            cursor = ancestry.next().await?;
        }
        for block in missing.into_iter().rev() {
            match timed_verify(runtime, &self.chain, &self.timings, block).await? {
                Ok(Verdict::Valid) => {}
                Ok(Verdict::Invalid(reason)) => {
                    tracing::warn!(%reason, "ancestor block is invalid");
                    return None;
                }
                Err(e) => {
                    tracing::error!(error = %e, "executing an ancestor block failed");
                    return None;
                }
            }
        }
        Some(())
    }

    /// Waits until a block is worth proposing on a parent with timestamp `parent_ms`.
    async fn wait_for_work<E: Clock>(&self, runtime: &E, parent_ms: u64) {
        loop {
            let now = millis(runtime.current());
            let wait = match self.chain.backlog() {
                Backlog::Full => return,
                Backlog::Partial => {
                    (parent_ms + self.timing.block_interval.as_millis() as u64).saturating_sub(now)
                }
                Backlog::Empty => (parent_ms + self.timing.empty_block_interval.as_millis() as u64)
                    .saturating_sub(now),
            };
            if wait == 0 {
                return;
            }
            let sleep = runtime.sleep(Duration::from_millis(wait)).fuse();
            let work = self.chain.work_arrived().fuse();
            futures::pin_mut!(sleep, work);
            futures::select! {
                _ = sleep => {},
                _ = work => {},
            }
        }
    }
}

impl<E, C> commonware_consensus::Application<E> for Replicated<C>
where
    E: Spawner + Clock + Supervisor,
    C: ReplicatedChain,
{
    type SigningScheme = ed25519::Scheme;
    type Context = Context<Digest, PublicKey>;
    type Block = ChainBlock;
    type Input = ();

    async fn propose(
        &mut self,
        (runtime, _context): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
        _input: (),
    ) -> Option<Digested<Self::Block>> {
        let parent = ancestry.next().await?;
        let parent_block = parent.inner_shared();
        self.ensure_state(&runtime, parent, &mut ancestry).await?;
        self.wait_for_work(&runtime, parent_block.header().timestamp_ms)
            .await;
        let chain = self.chain.clone();
        let now = millis(runtime.current());
        let max_txs = self.timings.pacer.max_txs();
        let started = runtime.current();
        let built = blocking(&runtime, move || async move {
            chain.build(&parent_block, now, max_txs).await
        })
        .await?;
        match built {
            Ok(block) => {
                self.timings
                    .built(block.transactions().len(), since(&runtime, started));
                let digest = digest_of(block.hash());
                Some(Digested::precomputed(block, digest))
            }
            Err(e) => {
                tracing::error!(error = %e, "building a block failed");
                None
            }
        }
    }

    async fn verify(
        &mut self,
        (runtime, _context): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
    ) -> bool {
        let Some(block) = ancestry.next().await else {
            return false;
        };
        let Some(parent) = ancestry.next().await else {
            return false;
        };
        if self
            .ensure_state(&runtime, parent, &mut ancestry)
            .await
            .is_none()
        {
            return false;
        }
        match timed_verify(&runtime, &self.chain, &self.timings, block.inner_shared()).await {
            Some(Ok(Verdict::Valid)) => true,
            Some(Ok(Verdict::Invalid(reason))) => {
                tracing::warn!(height = block.height().get(), %reason, "rejected a proposed block");
                false
            }
            Some(Err(e)) => {
                tracing::error!(error = %e, "verifying a proposed block failed");
                false
            }
            None => false,
        }
    }
}

/// Why the committer stops.
enum Stop {
    /// This node cannot follow the chain on (reported through `halted`).
    Halt(String),
    /// The runtime or the orchestrator is shutting down.
    Shutdown,
}

/// After epoch `next - 1`'s last block (`boundary`) is committed: reads the validators of
/// epoch `next` from the committed state and waits until the orchestrator runs that epoch.
async fn hand_over_epoch<E: Spawner, C: ReplicatedChain>(
    runtime: &E,
    chain: &Arc<C>,
    transitions: &mpsc::UnboundedSender<Transition>,
    next: commonware_consensus::types::Epoch,
    boundary: Digest,
) -> Result<(), Stop> {
    let reader = chain.clone();
    let validators = blocking(runtime, move || async move { reader.validators() })
        .await
        .ok_or(Stop::Shutdown)?
        .map_err(|e| Stop::Halt(format!("its validators cannot be read: {e}")))?
        .map(validator_set)
        .transpose()
        .map_err(Stop::Halt)?;
    let (done, entered) = oneshot::channel();
    transitions
        .send(Transition {
            epoch: next,
            boundary,
            validators,
            done,
        })
        .map_err(|_| Stop::Shutdown)?;
    entered
        .await
        .map_err(|_| Stop::Shutdown)?
        .map_err(Stop::Halt)
}

/// The chain's validator list as consensus keys.
pub(super) fn validator_set(
    validators: Vec<([u8; 32], Option<std::net::SocketAddr>)>,
) -> Result<ValidatorSet, String> {
    validators
        .into_iter()
        .map(|(key, address)| {
            PublicKey::decode(bytes::Bytes::copy_from_slice(&key))
                .map(|key| EpochValidator { key, address })
                .map_err(|_| format!("{} is not an Ed25519 public key", hex::encode(key)))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(ValidatorSet)
}

impl<C: ReplicatedChain> Reporter for Replicated<C> {
    type Activity = Update<ChainBlock>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        match activity {
            Update::Block(block, ack) => {
                if self.finalized.send((block, ack)).is_err() {
                    return Feedback::Closed;
                }
            }
            Update::Tip(_, height, _) => {
                tracing::debug!(height = height.get(), "finalized tip");
            }
        }
        Feedback::Ok
    }
}
