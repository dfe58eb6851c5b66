//! Wiring one validator: marshal (archives, block broadcast, backfill resolver), the simplex
//! engine, and transaction gossip, over p2p channels the caller provides (the authenticated
//! network in a node, the simulated one in deterministic tests).

use super::{BlockLimits, ChainBlock, Halted, Replicated, ReplicatedChain, Timing, gossip};
use alloy_primitives::Bytes;
use commonware_broadcast::buffered;
use commonware_consensus::{
    marshal::{
        self, Start,
        core::Actor as Marshal,
        resolver::p2p as marshal_resolver,
        standard::{Inline, Standard},
    },
    simplex::{
        self,
        config::{Floor, ForwardPolicy, SkipBudget, SkipPolicy},
        elector::RoundRobin,
        scheme::ed25519,
    },
    types::{Epoch, FixedEpocher, ViewDelta},
};
use commonware_cryptography::{
    Digested, Digestible as _,
    certificate::ConstantProvider,
    ed25519::{PrivateKey, PublicKey},
    sha256::Sha256,
};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{
    Clock, Handle, Metrics, Network, Spawner, Storage, Supervisor, buffer::paged::CacheRef,
};
use commonware_storage::archive::immutable;
use commonware_utils::{NZDuration, NZU16, NZU64, NZUsize, ordered::Set};
use rand_core::CryptoRng;
use std::{num::NonZeroUsize, sync::Arc, time::Duration};
use tokio::sync::{mpsc, watch};

/// One validator's consensus settings. Every validator of a channel must agree on `namespace`,
/// `validators` and `block_limits`.
#[derive(Clone, Debug)]
pub struct ValidatorConfig {
    /// Domain separation for every signature (e.g. `ricaas/<chain id>/<channel>`).
    pub namespace: Vec<u8>,
    pub signer: PrivateKey,
    pub validators: Vec<PublicKey>,
    /// Prefix of the engine's storage partitions (under the runtime's storage directory).
    pub partition_prefix: String,
    pub block_limits: BlockLimits,
    pub timing: Timing,
    pub leader_timeout: Duration,
    pub certification_timeout: Duration,
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

/// A running validator: the channel's halt signal and the engine's tasks.
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

/// Starts marshal, simplex and gossip for one validator. `outgoing` carries the transactions
/// this node admitted, to gossip to the others.
#[allow(clippy::too_many_arguments)]
pub async fn start_validator<E, C, S, R, P, B>(
    runtime: E,
    config: ValidatorConfig,
    chain: Arc<C>,
    networks: Networks<S, R>,
    peers: P,
    blocker: B,
    outgoing: mpsc::Receiver<Bytes>,
) -> ValidatorHandle
where
    E: Spawner + Clock + Storage + Metrics + Network + Supervisor + CryptoRng,
    C: ReplicatedChain,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    let me = commonware_cryptography::Signer::public_key(&config.signer);
    let participants = Set::from_iter_dedup(config.validators.iter().cloned());
    let scheme = ed25519::Scheme::signer(&config.namespace, participants, config.signer.clone())
        .expect("the node key is one of the channel's validators (checked by the node config)");
    let provider = ConstantProvider::<ed25519::Scheme, Epoch>::new(scheme.clone());
    // One epoch for now: validator-set changes (a new epoch) arrive with on-chain governance.
    let epocher = FixedEpocher::new(NZU64!(1 << 62));
    let page_cache = CacheRef::new(PAGE_SIZE, PAGE_CACHE_PAGES);
    let prefix = config.partition_prefix.clone();
    let mailbox_size = NZUsize!(1024);

    let (halt_tx, halted) = watch::channel(None);
    let application = Replicated::new(
        runtime.child("application"),
        chain.clone(),
        config.timing,
        halt_tx,
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

    // Simplex with inline verification: a validator votes only for blocks it re-executed.
    let inline: Inline<E, ed25519::Scheme, Replicated<C>, ChainBlock, FixedEpocher> =
        Inline::new(runtime.child("inline"), application, mailbox, epocher);
    let engine = simplex::Engine::new(
        runtime.child("simplex"),
        simplex::config::Config {
            scheme,
            elector: RoundRobin::<Sha256>::default(),
            blocker,
            automaton: inline.clone(),
            relay: inline.clone(),
            reporter: inline,
            strategy: Sequential,
            partition: format!("{prefix}-simplex-epoch0"),
            mailbox_size,
            epoch: Epoch::zero(),
            floor: Floor::Genesis(genesis_digest),
            replay_buffer: NZUsize!(1 << 20),
            write_buffer: NZUsize!(1 << 20),
            page_cache,
            leader_timeout: config.leader_timeout,
            certification_timeout: config.certification_timeout,
            timeout_retry: config.certification_timeout,
            view_retention: ViewDelta::new(256),
            skip: SkipPolicy::Enabled {
                timeout: config.certification_timeout * 2,
                budget: SkipBudget::Participants,
            },
            fetch_timeout: NZDuration!(Duration::from_secs(1)),
            fetch_retry_delay: Duration::from_millis(100),
            forward: ForwardPolicy::Disabled,
            track_historical_votes: false,
        },
    );
    let consensus = engine.start(
        networks.votes,
        networks.certificates,
        networks.consensus_resolver,
    );
    gossip::start_gossip(
        runtime.child("gossip"),
        chain,
        outgoing,
        networks.transactions,
    );
    ValidatorHandle {
        halted,
        marshal: marshal_handle,
        consensus,
    }
}

/// The largest message any of the validator's channels carries, for sizing the p2p network.
pub fn max_message_size(validators: usize, limits: &BlockLimits) -> usize {
    marshal::max_payload_size::<Standard<ChainBlock>, ed25519::Scheme>(validators as u32, limits)
        .max(gossip::MAX_BATCH_BYTES + 64)
}
