//! Validator sets per consensus epoch. An epoch is a fixed run of heights; the validators of
//! epoch e+1 are those in the channel configuration after epoch e's last block, so every node
//! derives them from the chain it committed. Each node records the set of every epoch it entered
//! (durably, before acknowledging the boundary block), and the certificate provider hands
//! consensus and marshal the scheme of each epoch: a signer where this node votes, a verifier
//! where it only follows.

use super::channels::{ChainNumber, Members};
use commonware_consensus::{simplex::scheme::ed25519, types::Epoch};
use commonware_cryptography::{
    certificate::{Provider, Scoped},
    ed25519::{PrivateKey, PublicKey},
};
use commonware_p2p::{
    Address, AddressableManager as _, PeerSetSubscription, PeerSetUpdate, Provider as PeerProvider,
    TrackedPeers, authenticated::lookup::Oracle,
};
use commonware_runtime::{Clock, Metrics, Storage};
use commonware_storage::metadata::{self, Metadata};
use commonware_utils::channel::mpsc;
use commonware_utils::{ordered::Map, ordered::Set, sequence::U64};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{Arc, Mutex, RwLock},
};

/// One validator of an epoch: its Ed25519 key and, when the channel configuration records it,
/// where its p2p endpoint listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochValidator {
    pub key: PublicKey,
    pub address: Option<SocketAddr>,
}

/// The validators of one epoch, in configuration order (duplicates already refused by the
/// configuration).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidatorSet(pub Vec<EpochValidator>);

impl ValidatorSet {
    pub fn keys(&self) -> Set<PublicKey> {
        Set::from_iter_dedup(self.0.iter().map(|v| v.key.clone()))
    }

    pub fn contains(&self, key: &PublicKey) -> bool {
        self.0.iter().any(|v| &v.key == key)
    }

    fn encode(&self) -> Vec<u8> {
        let stored: Vec<StoredValidator> = self
            .0
            .iter()
            .map(|v| StoredValidator {
                key: super::public_key_to_hex(&v.key),
                address: v.address,
            })
            .collect();
        serde_json::to_vec(&stored).unwrap_or_default()
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let stored: Vec<StoredValidator> = serde_json::from_slice(bytes).ok()?;
        stored
            .into_iter()
            .map(|v| {
                Some(EpochValidator {
                    key: super::public_key_from_hex(&v.key).ok()?,
                    address: v.address,
                })
            })
            .collect::<Option<Vec<_>>>()
            .map(Self)
    }
}

#[derive(Serialize, Deserialize)]
struct StoredValidator {
    key: String,
    address: Option<SocketAddr>,
}

/// The schemes of one epoch: a signer when this node is one of its validators.
#[derive(Clone)]
struct EpochSchemes {
    signer: Option<Arc<ed25519::Scheme>>,
    verifier: Arc<ed25519::Scheme>,
}

/// The schemes of the epochs this node knows, shared by marshal (verifying certificates of any
/// known epoch) and the orchestrator (running the current epoch's engine).
#[derive(Clone)]
pub struct EpochProvider {
    namespace: Arc<Vec<u8>>,
    signer: PrivateKey,
    epochs: Arc<RwLock<BTreeMap<Epoch, EpochSchemes>>>,
}

impl EpochProvider {
    pub fn new(namespace: Vec<u8>, signer: PrivateKey) -> Self {
        Self {
            namespace: Arc::new(namespace),
            signer,
            epochs: Arc::default(),
        }
    }

    /// Registers epoch `epoch`'s validators; returns whether this node is one of them.
    pub fn register(&self, epoch: Epoch, validators: &ValidatorSet) -> bool {
        let participants = validators.keys();
        let signer =
            ed25519::Scheme::signer(&self.namespace, participants.clone(), self.signer.clone())
                .map(Arc::new);
        let verifier = Arc::new(ed25519::Scheme::verifier(&self.namespace, participants));
        let signs = signer.is_some();
        self.epochs
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(epoch, EpochSchemes { signer, verifier });
        signs
    }

    fn get(&self, epoch: Epoch) -> Option<EpochSchemes> {
        self.epochs
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&epoch)
            .cloned()
    }

    /// The scheme the epoch's engine runs with: signing where this node votes, observing
    /// otherwise. `None` for an epoch not registered.
    pub fn engine_scheme(&self, epoch: Epoch) -> Option<ed25519::Scheme> {
        let schemes = self.get(epoch)?;
        Some(schemes.signer.unwrap_or(schemes.verifier).as_ref().clone())
    }
}

impl Provider for EpochProvider {
    type Scope = Epoch;
    type Scheme = ed25519::Scheme;

    fn scoped(&self, epoch: Epoch) -> Option<Scoped<ed25519::Scheme>> {
        let schemes = self.get(epoch)?;
        Some(match schemes.signer {
            Some(signer) => Scoped::scheme(signer),
            None => Scoped::verifier(schemes.verifier),
        })
    }
}

/// Each epoch's validator set, durable in the node's consensus storage.
pub struct EpochRecords<E: Storage + Clock + Metrics> {
    store: Option<Metadata<E, U64, Vec<u8>>>,
}

impl<E: Storage + Clock + Metrics> EpochRecords<E> {
    pub async fn open(runtime: E, partition: String) -> Result<Self, metadata::Error> {
        let store = Metadata::init(
            runtime,
            metadata::Config {
                partition,
                codec_config: ((0..).into(), ()),
            },
        )
        .await?;
        Ok(Self { store: Some(store) })
    }

    pub fn get(&self, epoch: Epoch) -> Option<ValidatorSet> {
        let bytes = self.store.as_ref()?.get(&U64::new(epoch.get()))?;
        ValidatorSet::decode(bytes)
    }

    /// Every recorded epoch, oldest first.
    pub fn all(&self) -> Vec<(Epoch, ValidatorSet)> {
        let Some(store) = self.store.as_ref() else {
            return Vec::new();
        };
        let mut epochs: Vec<(Epoch, ValidatorSet)> = store
            .keys()
            .filter_map(|key| {
                let epoch = Epoch::new(u64::from(key.clone()));
                Some((epoch, self.get(epoch)?))
            })
            .collect();
        epochs.sort_by_key(|(epoch, _)| *epoch);
        epochs
    }

    /// Records `epoch`'s validators and waits until the record is durable.
    pub async fn put(&mut self, epoch: Epoch, set: &ValidatorSet) -> Result<(), String> {
        let Some(store) = self.store.take() else {
            return Err("the epoch records failed to sync earlier".into());
        };
        let store = store
            .put_sync(U64::new(epoch.get()), set.encode())
            .await
            .map_err(|e| format!("recording the validators of epoch {epoch}: {e}"))?;
        self.store = Some(store);
        Ok(())
    }
}

/// Most peers one epoch's p2p set holds: its validators, the channel's observers, and
/// validators leaving at its start while room remains (this node included). It sizes the
/// network's preallocated mailboxes.
pub const MAX_PEERS_PER_SET: usize =
    ricaas_primitives::system::MAX_VALIDATORS + ricaas_primitives::system::MAX_OBSERVERS + 4;

/// Tells the p2p network whom to accept and dial: when an epoch begins, the epoch's validators
/// (primary: dialed and accepted) and others still allowed to connect (secondary: accepted);
/// whenever the channel's observers change, those (secondary: they dial the validators).
pub trait PeerTracker: Send + 'static {
    fn track(&mut self, epoch: Epoch, primary: &ValidatorSet, secondary: &ValidatorSet);

    /// The channel's observers, as its committed configuration lists them now.
    fn observers(&mut self, _observers: &ValidatorSet) {}
}

/// A network whose peers are fixed when it is set up (the simulated network of tests).
#[derive(Clone)]
pub struct FixedPeers;

impl PeerTracker for FixedPeers {
    fn track(&mut self, _: Epoch, _: &ValidatorSet, _: &ValidatorSet) {}
}

/// The peer sets of every chain a node serves, tracked on the authenticated `lookup` network as
/// one set, their union (the network knows one sequence of sets; a new one is tracked whenever
/// any chain enters an epoch). Addresses in the node's configuration win over those the channel
/// configurations record (an operator may know a closer route).
#[derive(Clone)]
pub struct NetworkPeers {
    inner: Arc<Mutex<NetworkPeersInner>>,
}

struct NetworkPeersInner {
    oracle: Oracle<PublicKey>,
    configured: HashMap<PublicKey, super::PeerAddress>,
    next_id: u64,
    /// Per chain: its current primary and secondary peers with their addresses.
    chains: BTreeMap<ChainNumber, (AddressedPeers, AddressedPeers)>,
}

type AddressedPeers = Vec<(PublicKey, Address)>;

/// The address of a peer that must dial us: unspecified, so the network never dials it.
const UNKNOWN_ADDRESS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

impl NetworkPeers {
    pub fn new(
        oracle: Oracle<PublicKey>,
        configured: HashMap<PublicKey, super::PeerAddress>,
    ) -> Self {
        Self {
            inner: Arc::new(Mutex::new(NetworkPeersInner {
                oracle,
                configured,
                next_id: 0,
                chains: BTreeMap::new(),
            })),
        }
    }

    /// The tracker and peer provider of chain `number`.
    pub fn chain(&self, number: ChainNumber) -> ChainPeers {
        ChainPeers::new(number, Some(self.clone()))
    }

    /// Addresses for validators the node's configuration does not list (a joined channel's
    /// genesis records them); configured addresses keep precedence.
    pub fn learn_addresses(&self, addresses: impl IntoIterator<Item = (PublicKey, SocketAddr)>) {
        if let Ok(mut inner) = self.inner.lock() {
            for (key, address) in addresses {
                inner.configured.entry(key).or_insert(address.into());
            }
        }
    }

    /// Stops tracking the peers of a chain this node no longer serves.
    pub fn forget(&self, number: ChainNumber) {
        if let Ok(mut inner) = self.inner.lock()
            && inner.chains.remove(&number).is_some()
        {
            inner.retrack();
        }
    }

    fn update(&self, number: ChainNumber, primary: &ValidatorSet, secondary: &ValidatorSet) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let primary = inner.addresses(primary);
        let secondary = inner.addresses(secondary);
        let before = inner.chains.insert(number, (primary, secondary));
        inner.retrack();
        // The network keeps the previous set too (for peers leaving at an epoch boundary, which
        // the chains already list as secondary): a peer no chain names any more — an observer
        // removed mid-epoch — is dropped only once a second set without it is tracked.
        let names = |peers: &(AddressedPeers, AddressedPeers), key: &PublicKey| {
            peers.0.iter().chain(&peers.1).any(|(k, _)| k == key)
        };
        if let Some(before) = before {
            let current = inner.chains.get(&number).cloned().unwrap_or_default();
            if before
                .0
                .iter()
                .chain(&before.1)
                .any(|(key, _)| !names(&current, key))
            {
                inner.retrack();
            }
        }
    }
}

impl NetworkPeersInner {
    /// The peers of `set` with where to dial them. A peer whose address nobody knows (an
    /// observer; a validator the configurations give no address) is still accepted when it
    /// dials us: it gets an unroutable address, which is never dialed, and connections are
    /// admitted by key, not by source address (see [`super::start_network`]).
    fn addresses(&self, set: &ValidatorSet) -> Vec<(PublicKey, Address)> {
        set.0
            .iter()
            .map(|v| {
                let address = match self.configured.get(&v.key) {
                    Some(configured) => configured.to_p2p(),
                    None => Address::from(v.address.unwrap_or(UNKNOWN_ADDRESS)),
                };
                (v.key.clone(), address)
            })
            .collect()
    }

    /// Tracks the union of the chains' sets as the network's next set. A peer primary in any
    /// chain is primary; the set must fit the network's bound (this node counts even when not
    /// listed), so secondary peers are cut first.
    fn retrack(&mut self) {
        let mut primary: BTreeMap<PublicKey, Address> = BTreeMap::new();
        let mut secondary: BTreeMap<PublicKey, Address> = BTreeMap::new();
        for (p, s) in self.chains.values() {
            primary.extend(p.iter().cloned());
            secondary.extend(s.iter().cloned());
        }
        secondary.retain(|key, _| !primary.contains_key(key));
        let room = MAX_PEERS_PER_SET.saturating_sub(1);
        if primary.len() + secondary.len() > room {
            tracing::warn!(
                peers = primary.len() + secondary.len(),
                room,
                "this node's channels together name more peers than the network holds: some may not connect"
            );
        }
        let primary: Vec<_> = primary.into_iter().take(room).collect();
        let secondary: Vec<_> = secondary
            .into_iter()
            .take(room.saturating_sub(primary.len()))
            .collect();
        let peers = commonware_p2p::AddressableTrackedPeers::new(
            Map::from_iter_dedup(primary),
            Map::from_iter_dedup(secondary),
        );
        let id = self.next_id;
        self.next_id += 1;
        let _ = self.oracle.track(id, peers);
    }
}

/// One chain's view of its peers: the tracker its orchestrator reports epochs to, the provider its
/// block broadcast and backfill ask whom to talk to, and the members its p2p sub-channels are
/// narrowed to (see [`super::channels`]).
#[derive(Clone)]
pub struct ChainPeers {
    number: ChainNumber,
    members: Members,
    network: Option<NetworkPeers>,
    sets: Arc<Mutex<ChainSets>>,
}

#[derive(Default)]
struct ChainSets {
    /// The last two epochs' sets (the network keeps as many), observers included as secondary.
    tracked: BTreeMap<u64, TrackedPeers<PublicKey>>,
    /// The current epoch and its validators and leaving validators, as last tracked.
    current: Option<(Epoch, ValidatorSet, ValidatorSet)>,
    /// The channel's observers.
    observers: ValidatorSet,
    subscribers: Vec<mpsc::UnboundedSender<PeerSetUpdate<PublicKey>>>,
}

impl ChainSets {
    fn latest_update(&self) -> Option<PeerSetUpdate<PublicKey>> {
        let (index, latest) = self.tracked.last_key_value()?;
        let primary = Set::from_iter_dedup(
            self.tracked
                .values()
                .flat_map(|t| t.primary.iter().cloned()),
        );
        let secondary = Set::from_iter_dedup(
            self.tracked
                .values()
                .flat_map(|t| t.secondary.iter().cloned())
                .filter(|k| primary.position(k).is_none()),
        );
        Some(PeerSetUpdate {
            index: *index,
            latest: latest.clone(),
            all: TrackedPeers::new(primary, secondary),
        })
    }
}

impl std::fmt::Debug for ChainPeers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChainPeers({:016x})", self.number)
    }
}

impl ChainPeers {
    fn new(number: ChainNumber, network: Option<NetworkPeers>) -> Self {
        Self {
            number,
            members: Members::default(),
            network,
            sets: Arc::default(),
        }
    }

    /// A chain on a network whose connections are fixed when it is built (the simulated network
    /// of tests): only the chain's members and provider follow its epochs.
    pub fn standalone(number: ChainNumber) -> Self {
        Self::new(number, None)
    }

    pub fn members(&self) -> Members {
        self.members.clone()
    }
}

impl ChainPeers {
    /// Points the chain's members, its peer provider and the network at the current epoch's
    /// validators, with the leaving validators and the observers as secondary peers.
    fn publish(&self, sets: &mut ChainSets) {
        let Some((epoch, primary, leaving)) = sets.current.clone() else {
            return;
        };
        let mut secondary = leaving;
        for observer in &sets.observers.0 {
            if !primary.contains(&observer.key) && !secondary.contains(&observer.key) {
                secondary.0.push(observer.clone());
            }
        }
        self.members
            .replace(primary.0.iter().chain(&secondary.0).map(|v| v.key.clone()));
        sets.tracked.insert(
            epoch.get(),
            TrackedPeers::new(primary.keys(), secondary.keys()),
        );
        while sets.tracked.len() > 2 {
            sets.tracked.pop_first();
        }
        if let Some(update) = sets.latest_update() {
            sets.subscribers
                .retain(|subscriber| subscriber.send(update.clone()).is_ok());
        }
        if let Some(network) = &self.network {
            network.update(self.number, &primary, &secondary);
        }
    }
}

impl PeerTracker for ChainPeers {
    fn track(&mut self, epoch: Epoch, primary: &ValidatorSet, secondary: &ValidatorSet) {
        if let Ok(mut sets) = self.sets.lock() {
            sets.current = Some((epoch, primary.clone(), secondary.clone()));
            self.publish(&mut sets);
        }
    }

    fn observers(&mut self, observers: &ValidatorSet) {
        if let Ok(mut sets) = self.sets.lock() {
            if sets.observers == *observers {
                return;
            }
            tracing::info!(
                observers = observers.0.len(),
                "the channel's observers changed"
            );
            sets.observers = observers.clone();
            self.publish(&mut sets);
        }
    }
}

impl PeerProvider for ChainPeers {
    type PublicKey = PublicKey;

    async fn peer_set(&mut self, id: u64) -> Option<TrackedPeers<PublicKey>> {
        self.sets.lock().ok()?.tracked.get(&id).cloned()
    }

    async fn subscribe(&mut self) -> PeerSetSubscription<PublicKey> {
        let (sender, receiver) = mpsc::unbounded_channel();
        if let Ok(mut sets) = self.sets.lock() {
            if let Some(update) = sets.latest_update() {
                let _ = sender.send(update);
            }
            sets.subscribers.push(sender);
        }
        receiver
    }
}
