//! Wiring one node of a BFT channel: marshal (archives, block broadcast, backfill resolver), the
//! epoch orchestrator with its simplex engines, and transaction gossip, over p2p channels the
//! caller provides (the authenticated network in a node, the simulated one in deterministic
//! tests). A node whose key is not in an epoch's validator set follows that epoch: it verifies
//! and commits finalized blocks without voting.

use super::{
    BlockLimits, ChainBlock, Halted, Replicated, ReplicatedChain, Timing,
    epochs::{EpochProvider, EpochRecords, EpochValidator, PeerTracker, ValidatorSet},
    gossip,
    orchestrator::{EngineSettings, Orchestrator},
};
use commonware_broadcast::buffered;
use commonware_consensus::{
    marshal::{
        self, Start,
        core::Actor as Marshal,
        resolver::p2p as marshal_resolver,
        standard::{Inline, Standard},
    },
    simplex::scheme::ed25519,
    types::{Epoch, Epocher as _, FixedEpocher, Height, ViewDelta},
};
use commonware_cryptography::{
    Digested, Digestible as _,
    ed25519::{PrivateKey, PublicKey},
};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{
    Clock, Handle, Metrics, Network, Spawner, Storage, Supervisor, buffer::paged::CacheRef,
};
use commonware_storage::archive::immutable;
use commonware_utils::{NZDuration, NZU16, NZU64, NZUsize};
use rand_core::CryptoRng;
use std::{
    num::{NonZeroU64, NonZeroUsize},
    sync::Arc,
    time::Duration,
};
use tokio::sync::{mpsc, watch};

/// One node's consensus settings. Every node of a channel must agree on `namespace`,
/// `validators`, `epoch_length` and `block_limits`.
#[derive(Clone, Debug)]
pub struct ValidatorConfig {
    /// Domain separation for every signature (e.g. `ricaas/<chain id>/<channel>`).
    pub namespace: Vec<u8>,
    pub signer: PrivateKey,
    /// The validators of epoch 0 (later epochs' come from the chain).
    pub validators: Vec<PublicKey>,
    /// Heights per consensus epoch; the validator set can change only between epochs.
    pub epoch_length: NonZeroU64,
    /// Prefix of the engine's storage partitions (under the runtime's storage directory).
    pub partition_prefix: String,
    pub block_limits: BlockLimits,
    pub timing: Timing,
    pub leader_timeout: Duration,
    pub certification_timeout: Duration,
    /// When a gossiped transaction's sender is taken without recovering it here.
    pub sender_trust: gossip::SenderTrust,
}

/// The p2p channel pairs one validator uses.
pub struct Networks<S, R> {
    pub votes: (S, R),
    pub certificates: (S, R),
    pub consensus_resolver: (S, R),
    pub backfill: (S, R),
    pub blocks: (S, R),
    pub transactions: (S, R),
}

impl<S, R> Networks<S, R> {
    /// Names of the six channels, in [`Networks::into_array`] order.
    pub const NAMES: [&'static str; 6] = [
        "votes",
        "certificates",
        "consensus_resolver",
        "backfill",
        "blocks",
        "transactions",
    ];

    /// The six pairs in a fixed order (see [`Networks::NAMES`]).
    pub fn into_array(self) -> [(S, R); 6] {
        [
            self.votes,
            self.certificates,
            self.consensus_resolver,
            self.backfill,
            self.blocks,
            self.transactions,
        ]
    }

    /// The inverse of [`Networks::into_array`].
    pub fn from_array(pairs: [(S, R); 6]) -> Self {
        let [
            votes,
            certificates,
            consensus_resolver,
            backfill,
            blocks,
            transactions,
        ] = pairs;
        Self {
            votes,
            certificates,
            consensus_resolver,
            backfill,
            blocks,
            transactions,
        }
    }
}

/// Why a node's consensus could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("consensus epoch records: {0}")]
    EpochRecords(String),
    #[error("reading the validator set from the chain: {0}")]
    Chain(String),
    #[error("the last block of epoch {0} is missing from the finalized block archive")]
    MissingBoundary(u64),
}

/// A running node: the channel's halt signal and the engine's tasks.
pub struct ValidatorHandle {
    pub halted: watch::Receiver<Option<Halted>>,
    pub marshal: Handle<()>,
    pub consensus: Handle<()>,
}

const PAGE_SIZE: std::num::NonZeroU16 = NZU16!(4096);
const PAGE_CACHE_PAGES: NonZeroUsize = NZUsize!(1024);

fn archive_config<C>(
    prefix: &str,
    name: &str,
    codec_config: C,
    page_cache: &CacheRef,
) -> immutable::Config<C> {
    let buffer = NZUsize!(1 << 20);
    immutable::Config {
        metadata_partition: format!("{prefix}-{name}-metadata"),
        freezer_table_partition: format!("{prefix}-{name}-freezer-table"),
        freezer_table_initial_size: 1 << 12,
        freezer_table_resize_frequency: 4,
        freezer_table_resize_chunk_size: 1 << 10,
        freezer_key_partition: format!("{prefix}-{name}-freezer-key"),
        freezer_key_page_cache: page_cache.clone(),
        freezer_value_partition: format!("{prefix}-{name}-freezer-value"),
        freezer_value_target_size: 1 << 29,
        freezer_value_compression: None,
        ordinal_partition: format!("{prefix}-{name}-ordinal"),
        items_per_section: NZU64!(4096),
        codec_config,
        replay_buffer: buffer,
        freezer_key_write_buffer: buffer,
        freezer_value_write_buffer: buffer,
        ordinal_write_buffer: buffer,
    }
}

/// Starts marshal, the epoch orchestrator and gossip for one node. `outgoing` carries the
/// transactions this node admitted, to gossip to the others.
#[allow(clippy::too_many_arguments)]
pub async fn start_validator<E, C, S, R, P, B, T>(
    runtime: E,
    config: ValidatorConfig,
    chain: Arc<C>,
    networks: Networks<S, R>,
    peers: P,
    blocker: B,
    tracker: T,
    outgoing: mpsc::Receiver<gossip::Forwarded>,
) -> Result<ValidatorHandle, StartError>
where
    E: Spawner + Clock + Storage + Metrics + Network + Supervisor + CryptoRng,
    C: ReplicatedChain,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
    T: PeerTracker + Clone,
{
    let me = commonware_cryptography::Signer::public_key(&config.signer);
    let (me_for_gossip, genesis_for_gossip, sender_trust) =
        (me.clone(), config.validators.clone(), config.sender_trust);
    let epocher = FixedEpocher::new(config.epoch_length);
    let page_cache = CacheRef::new(PAGE_SIZE, PAGE_CACHE_PAGES);
    let prefix = config.partition_prefix.clone();
    let mailbox_size = NZUsize!(1024);

    // The validator sets of the epochs this node has entered, and the epoch it resumes in: the
    // one holding the block after its committed head.
    let mut records = EpochRecords::open(runtime.child("epochs"), format!("{prefix}-epochs"))
        .await
        .map_err(|e| StartError::EpochRecords(e.to_string()))?;
    if records.get(Epoch::zero()).is_none() {
        let genesis_set = ValidatorSet(
            config
                .validators
                .iter()
                .map(|key| EpochValidator {
                    key: key.clone(),
                    address: None,
                })
                .collect(),
        );
        records
            .put(Epoch::zero(), &genesis_set)
            .await
            .map_err(StartError::EpochRecords)?;
    }
    let committed = Height::new(chain.committed_height());
    let start = epocher
        .containing(committed.next())
        .map(|info| info.epoch())
        .unwrap_or_else(Epoch::zero);
    if records.get(start).is_none() {
        // Stopped right after committing the previous epoch's last block, before recording
        // the next set: the committed head is exactly the state that decides it.
        let previous = start.previous().unwrap_or_else(Epoch::zero);
        if epocher.last(previous) != Some(committed) {
            return Err(StartError::EpochRecords(format!(
                "no validator set recorded for epoch {start}, which holds committed height {committed}"
            )));
        }
        let set = match chain
            .validators()
            .map_err(|e| StartError::Chain(e.to_string()))?
        {
            Some(validators) => super::app::validator_set(validators).map_err(StartError::Chain)?,
            None => records.get(previous).ok_or_else(|| {
                StartError::EpochRecords(format!("no validator set recorded for epoch {previous}"))
            })?,
        };
        records
            .put(start, &set)
            .await
            .map_err(StartError::EpochRecords)?;
    }
    let provider = EpochProvider::new(config.namespace.clone(), config.signer.clone());
    for (epoch, set) in records.all() {
        provider.register(epoch, &set);
    }

    let (halt_tx, halted) = watch::channel(None);
    let (transitions, transitions_rx) = mpsc::unbounded_channel();
    let application = Replicated::new(
        runtime.child("application"),
        chain.clone(),
        config.timing,
        epocher.clone(),
        transitions,
        halt_tx.clone(),
    );

    // Marshal: finalized block and certificate archives, block broadcast, backfill.
    let finalizations = immutable::Archive::init(
        runtime.child("finalizations_by_height"),
        archive_config(
            &prefix,
            "finalizations",
            <ed25519::Scheme as commonware_cryptography::certificate::Verifier>::certificate_codec_config_unbounded(),
            &page_cache,
        ),
    )
    .await
    .expect("finalizations archive opens");
    let blocks = immutable::Archive::init(
        runtime.child("finalized_blocks"),
        archive_config(&prefix, "blocks", config.block_limits, &page_cache),
    )
    .await
    .expect("finalized blocks archive opens");
    let resolver = marshal_resolver::init(
        runtime.child("marshal_resolver"),
        marshal_resolver::Config {
            public_key: me.clone(),
            peer_provider: peers.clone(),
            blocker: blocker.clone(),
            mailbox_size,
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        networks.backfill,
    );
    let (broadcast, buffer) = buffered::Engine::new(
        runtime.child("broadcast"),
        buffered::Config {
            public_key: me.clone(),
            mailbox_size,
            deque_size: 16,
            priority: false,
            codec_config: config.block_limits,
            peer_provider: peers.clone(),
            strategy: Sequential,
        },
    );
    broadcast.start(networks.blocks);
    let genesis = chain.genesis();
    let genesis_digest = genesis.digest();
    let (actor, mailbox, _floor) = Marshal::init(
        runtime.child("marshal"),
        finalizations,
        blocks,
        marshal::Config {
            provider: provider.clone(),
            epocher: epocher.clone(),
            start: Start::Genesis(Digested::precomputed(genesis, genesis_digest)),
            partition_prefix: format!("{prefix}-marshal"),
            mailbox_size,
            view_retention: ViewDelta::new(256),
            prunable_items_per_section: NZU64!(4096),
            page_cache: page_cache.clone(),
            replay_buffer: NZUsize!(1 << 20),
            key_write_buffer: NZUsize!(1 << 20),
            value_write_buffer: NZUsize!(1 << 20),
            block_codec_config: config.block_limits,
            max_repair: NZUsize!(16),
            max_pending_acks: NZUsize!(1),
            strategy: Sequential,
        },
    )
    .await;
    let marshal_handle = actor.start(application.clone(), buffer, resolver);

    // The engine of the starting epoch begins on the previous epoch's last block.
    let floor = match start.previous() {
        None => genesis_digest,
        Some(previous) => {
            let height = epocher
                .last(previous)
                .ok_or(StartError::MissingBoundary(previous.get()))?;
            let block = mailbox
                .get_block(height)
                .await
                .ok_or(StartError::MissingBoundary(previous.get()))?;
            block.digest()
        }
    };

    // Simplex with inline verification: a validator votes only for blocks it re-executed.
    let inline: Inline<E, ed25519::Scheme, Replicated<C>, ChainBlock, FixedEpocher> = Inline::new(
        runtime.child("inline"),
        application,
        mailbox.clone(),
        epocher.clone(),
    );
    watch_observers(runtime.child("observers"), chain.clone(), tracker.clone());
    let orchestrator = Orchestrator {
        runtime: runtime.child("orchestrator"),
        provider,
        records,
        tracker,
        blocker,
        inline,
        views: super::views::ViewMetrics::register(&runtime.child("consensus")),
        marshal: mailbox,
        epocher,
        settings: EngineSettings {
            partition_prefix: prefix,
            page_cache,
            leader_timeout: config.leader_timeout,
            certification_timeout: config.certification_timeout,
        },
        me,
        halt: halt_tx,
    };
    // The orchestrator's log lines name the chain: a node runs one per channel.
    let span = tracing::info_span!("consensus", channel = %config.partition_prefix);
    let consensus = runtime.child("epochs").spawn(move |_| {
        tracing::Instrument::instrument(
            orchestrator.run(
                start,
                floor,
                networks.votes,
                networks.certificates,
                networks.consensus_resolver,
                transitions_rx,
            ),
            span,
        )
    });
    gossip::start_gossip(
        runtime.child("gossip"),
        chain,
        me_for_gossip,
        genesis_for_gossip,
        sender_trust,
        outgoing,
        networks.transactions,
    );
    Ok(ValidatorHandle {
        halted,
        marshal: marshal_handle,
        consensus,
    })
}

/// Observers are listed and removed at any height, not at epoch boundaries (they never vote):
/// after each newly committed block, the channel's observers as its configuration lists them
/// are handed to the peer tracker, which admits or drops their connections.
fn watch_observers<E, C, T>(runtime: E, chain: Arc<C>, mut tracker: T)
where
    E: Spawner + Clock,
    C: ReplicatedChain,
    T: PeerTracker + Clone,
{
    runtime.spawn(move |context| async move {
        let mut checked_at = None;
        loop {
            let height = chain.committed_height();
            if checked_at != Some(height) {
                let reader = chain.clone();
                let Some(listed) =
                    super::app::blocking(&context, move || async move { reader.observers() }).await
                else {
                    return;
                };
                match listed {
                    Ok(keys) => {
                        let observers = keys
                            .iter()
                            .filter_map(|key| {
                                super::app::validator_set(vec![(*key, None)])
                                    .ok()
                                    .and_then(|set| set.0.into_iter().next())
                            })
                            .collect();
                        tracker.observers(&ValidatorSet(observers));
                        checked_at = Some(height);
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the channel's observers"),
                }
            }
            context.sleep(Duration::from_millis(500)).await;
        }
    });
}

/// The largest message any of the node's channels carries, for sizing the p2p network: a block
/// with a certificate of up to `validators` signatures, plus the chain and epoch sub-channel
/// prefixes (a varint each).
pub fn max_message_size(validators: usize, limits: &BlockLimits) -> usize {
    marshal::max_payload_size::<Standard<ChainBlock>, ed25519::Scheme>(validators as u32, limits)
        .max(gossip::MAX_BATCH_BYTES + 64)
        + 32
}
