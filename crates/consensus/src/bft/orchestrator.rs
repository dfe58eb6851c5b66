//! Runs one simplex engine per consensus epoch. When the chain commits an epoch's last block the
//! committer hands over the next epoch's validators; the orchestrator records them, registers
//! their scheme, points the p2p network at them and starts the next epoch's engine on the
//! boundary block before the previous engine stops. Votes, certificates and consensus backfill
//! travel on per-epoch sub-channels; traffic of a later epoch tells a node that it is behind, and
//! marshal is asked to fetch the boundary block's finalization from the sender.

use super::{
    ChainBlock, Halted, Replicated, ReplicatedChain,
    epochs::{EpochProvider, EpochRecords, PeerTracker, ValidatorSet},
};
use commonware_consensus::{
    marshal::{
        core::Mailbox as MarshalMailbox,
        standard::{Inline, Standard},
    },
    simplex::{
        self,
        config::{Floor, ForwardPolicy, SkipBudget, SkipPolicy},
        elector::RoundRobin,
        scheme::ed25519,
    },
    types::{Epoch, Epocher as _, FixedEpocher, ViewDelta},
};
use commonware_cryptography::{ed25519::PublicKey, sha256::Digest, sha256::Sha256};
use commonware_p2p::{
    Blocker, Receiver, Sender,
    utils::mux::{Builder as _, MuxHandle, Muxer},
};
use commonware_parallel::Sequential;
use commonware_runtime::{
    Clock, Handle, Metrics, Network, Spawner, Storage, Supervisor, buffer::paged::CacheRef,
};
use commonware_utils::{NZDuration, NZUsize, vec::NonEmptyVec};
use rand_core::CryptoRng;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// The next epoch, handed over by the committer once the previous epoch's last block is durable.
pub struct Transition {
    pub epoch: Epoch,
    /// Digest of the previous epoch's last block: the new engine's genesis.
    pub boundary: Digest,
    /// `None` when the chain keeps no validator set (the previous epoch's carries over).
    pub validators: Option<ValidatorSet>,
    /// Answered once the epoch is recorded and its engine runs, or with why it cannot be.
    pub done: oneshot::Sender<Result<(), String>>,
}

/// Settings every epoch's engine shares.
pub struct EngineSettings {
    pub partition_prefix: String,
    pub page_cache: CacheRef,
    pub leader_timeout: Duration,
    pub certification_timeout: Duration,
}

pub struct Orchestrator<E, C, B, T>
where
    E: Spawner + Clock + Storage + Metrics + Network + Supervisor + CryptoRng,
    C: ReplicatedChain,
{
    pub runtime: E,
    pub provider: EpochProvider,
    pub records: EpochRecords<E>,
    pub tracker: T,
    pub blocker: B,
    pub inline: Inline<E, ed25519::Scheme, Replicated<C>, ChainBlock, FixedEpocher>,
    /// Told of every epoch's certificates, for `/metrics`.
    pub views: super::views::ViewMetrics,
    pub marshal: MarshalMailbox<ed25519::Scheme, Standard<ChainBlock>>,
    pub epocher: FixedEpocher,
    pub settings: EngineSettings,
    pub me: PublicKey,
    /// Where a failure to run consensus is reported (the node stops).
    pub halt: watch::Sender<Option<Halted>>,
}

struct ActiveEpoch {
    epoch: Epoch,
    engine: Handle<()>,
}

impl Drop for ActiveEpoch {
    fn drop(&mut self) {
        self.engine.abort();
    }
}

struct Channels<S: Sender> {
    votes: MuxHandle<S>,
    certificates: MuxHandle<S>,
    resolver: MuxHandle<S>,
}

impl<E, C, B, T> Orchestrator<E, C, B, T>
where
    E: Spawner + Clock + Storage + Metrics + Network + Supervisor + CryptoRng,
    C: ReplicatedChain,
    B: Blocker<PublicKey = PublicKey>,
    T: PeerTracker,
{
    /// Runs epochs from `start` (entered on `floor`) on, until the runtime stops or the
    /// committer goes away.
    pub async fn run<S, R>(
        mut self,
        start: Epoch,
        floor: Digest,
        votes: (S, R),
        certificates: (S, R),
        resolver: (S, R),
        mut transitions: mpsc::UnboundedReceiver<Transition>,
    ) where
        S: Sender<PublicKey = PublicKey>,
        R: Receiver<PublicKey = PublicKey>,
    {
        let (mux, votes, mut vote_backup) =
            Muxer::builder(self.runtime.child("vote_mux"), votes.0, votes.1)
                .with_backup()
                .build();
        mux.start();
        let (mux, certificates, mut certificate_backup) = Muxer::builder(
            self.runtime.child("certificate_mux"),
            certificates.0,
            certificates.1,
        )
        .with_backup()
        .build();
        mux.start();
        let (mux, resolver) =
            Muxer::new(self.runtime.child("resolver_mux"), resolver.0, resolver.1);
        mux.start();
        let mut channels = Channels {
            votes,
            certificates,
            resolver,
        };
        let mut active = match self.enter(start, floor, &mut channels).await {
            Ok(active) => active,
            Err(reason) => {
                let reason = format!("starting consensus in epoch {start}: {reason}");
                tracing::error!(%reason, "CHAIN HALTED");
                self.halt.send_replace(Some(Halted(reason)));
                return;
            }
        };
        loop {
            tokio::select! {
                message = vote_backup.recv() => {
                    let Some((their_epoch, (from, _))) = message else { return };
                    self.behind(active.epoch, their_epoch, from);
                }
                message = certificate_backup.recv() => {
                    let Some((their_epoch, (from, _))) = message else { return };
                    self.behind(active.epoch, their_epoch, from);
                }
                transition = transitions.recv() => {
                    let Some(transition) = transition else { return };
                    if transition.epoch <= active.epoch {
                        // A boundary block delivered again after a restart.
                        let _ = transition.done.send(Ok(()));
                        continue;
                    }
                    match self.next_epoch(&active, &transition, &mut channels).await {
                        Ok(next) => {
                            // Dropping the previous epoch stops its engine.
                            active = next;
                            let _ = transition.done.send(Ok(()));
                        }
                        Err(reason) => {
                            let _ = transition.done.send(Err(reason));
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Records the validators of the epoch after `active` and starts its engine.
    async fn next_epoch<S: Sender<PublicKey = PublicKey>>(
        &mut self,
        active: &ActiveEpoch,
        transition: &Transition,
        channels: &mut Channels<S>,
    ) -> Result<ActiveEpoch, String> {
        let validators = match &transition.validators {
            Some(set) => set.clone(),
            None => self
                .records
                .get(active.epoch)
                .ok_or_else(|| format!("no validator set recorded for epoch {}", active.epoch))?,
        };
        self.records.put(transition.epoch, &validators).await?;
        self.provider.register(transition.epoch, &validators);
        self.enter(transition.epoch, transition.boundary, channels)
            .await
    }

    /// Traffic of a later epoch: the network moved past our epoch's last block, which we have
    /// not committed. Ask marshal to fetch its finalization from the sender.
    fn behind(&self, ours: Epoch, theirs: u64, from: PublicKey) {
        if theirs <= ours.get() {
            return;
        }
        if let Some(boundary) = self.epocher.last(ours) {
            tracing::debug!(
                ours = ours.get(),
                theirs,
                "peer is in a later epoch; fetching our epoch's last block"
            );
            self.marshal
                .hint_finalized(boundary, NonEmptyVec::new(from));
        }
    }

    async fn enter<S: Sender<PublicKey = PublicKey>>(
        &mut self,
        epoch: Epoch,
        floor: Digest,
        channels: &mut Channels<S>,
    ) -> Result<ActiveEpoch, String> {
        let validators = self
            .records
            .get(epoch)
            .ok_or_else(|| format!("no validator set recorded for epoch {epoch}"))?;
        let scheme = self
            .provider
            .engine_scheme(epoch)
            .ok_or_else(|| format!("no signing scheme registered for epoch {epoch}"))?;
        let previous = epoch
            .previous()
            .and_then(|previous| self.records.get(previous))
            .unwrap_or_else(|| ValidatorSet(Vec::new()));
        // Validators leaving at this boundary may still connect, to fetch what they missed.
        let leaving = ValidatorSet(
            previous
                .0
                .into_iter()
                .filter(|v| !validators.contains(&v.key))
                .collect(),
        );
        self.tracker.track(epoch, &validators, &leaving);
        let closed = |e: commonware_p2p::utils::mux::Error| format!("p2p sub-channel: {e}");
        let votes = channels.votes.register(epoch.get()).await.map_err(closed)?;
        let certificates = channels
            .certificates
            .register(epoch.get())
            .await
            .map_err(closed)?;
        let resolver = channels
            .resolver
            .register(epoch.get())
            .await
            .map_err(closed)?;
        let settings = &self.settings;
        let mailbox_size = NZUsize!(1024);
        let engine = simplex::Engine::new(
            self.runtime.child("simplex").with_attribute("epoch", epoch),
            simplex::config::Config {
                scheme,
                elector: RoundRobin::<Sha256>::default(),
                blocker: self.blocker.clone(),
                automaton: self.inline.clone(),
                relay: self.inline.clone(),
                reporter: commonware_consensus::Reporters::from((
                    self.inline.clone(),
                    self.views.clone(),
                )),
                strategy: Sequential,
                partition: format!("{}-simplex-epoch{}", settings.partition_prefix, epoch.get()),
                mailbox_size,
                epoch,
                floor: Floor::Genesis(floor),
                replay_buffer: NZUsize!(1 << 20),
                write_buffer: NZUsize!(1 << 20),
                page_cache: settings.page_cache.clone(),
                leader_timeout: settings.leader_timeout,
                certification_timeout: settings.certification_timeout,
                timeout_retry: settings.certification_timeout,
                view_retention: ViewDelta::new(256),
                skip: SkipPolicy::Enabled {
                    timeout: settings.certification_timeout * 2,
                    budget: SkipBudget::Participants,
                },
                fetch_timeout: NZDuration!(Duration::from_secs(1)),
                fetch_retry_delay: Duration::from_millis(100),
                forward: ForwardPolicy::Disabled,
                track_historical_votes: false,
            },
        );
        let engine = engine.start(votes, certificates, resolver);
        let votes_here = validators.contains(&self.me);
        tracing::info!(
            epoch = epoch.get(),
            validators = validators.0.len(),
            voting = votes_here,
            "entered consensus epoch"
        );
        Ok(ActiveEpoch { epoch, engine })
    }
}
