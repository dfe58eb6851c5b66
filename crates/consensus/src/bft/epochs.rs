//! Validator sets per consensus epoch. An epoch is a fixed run of heights; the validators of
//! epoch e+1 are those in the channel configuration after epoch e's last block, so every node
//! derives them from the chain it committed. Each node records the set of every epoch it entered
//! (durably, before acknowledging the boundary block), and the certificate provider hands
//! consensus and marshal the scheme of each epoch: a signer where this node votes, a verifier
//! where it only follows.

use commonware_consensus::{simplex::scheme::ed25519, types::Epoch};
use commonware_cryptography::{
    certificate::{Provider, Scoped},
    ed25519::{PrivateKey, PublicKey},
};
use commonware_p2p::{Address, AddressableManager as _, authenticated::lookup::Oracle};
use commonware_runtime::{Clock, Metrics, Storage};
use commonware_storage::metadata::{self, Metadata};
use commonware_utils::{ordered::Map, ordered::Set, sequence::U64};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{Arc, RwLock},
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
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Most peers one epoch's p2p set holds: its validators, and validators leaving at its start
/// while room remains (this node included). It sizes the network's preallocated mailboxes.
pub const MAX_PEERS_PER_SET: usize = ricaas_primitives::system::MAX_VALIDATORS + 4;

/// Tells the p2p network whom to accept and dial when an epoch begins: the epoch's validators
/// (primary: dialed and accepted) and others still allowed to connect (secondary: accepted).
pub trait PeerTracker: Send + 'static {
    fn track(&mut self, epoch: Epoch, primary: &ValidatorSet, secondary: &ValidatorSet);
}

/// A network whose peers are fixed when it is set up (the simulated network of tests).
pub struct FixedPeers;

impl PeerTracker for FixedPeers {
    fn track(&mut self, _: Epoch, _: &ValidatorSet, _: &ValidatorSet) {}
}

/// Tracking for the authenticated `lookup` network. Addresses in the node's configuration win
/// over those the channel configuration records (an operator may know a closer route).
pub struct LookupPeers {
    pub oracle: Oracle<PublicKey>,
    pub configured: HashMap<PublicKey, SocketAddr>,
}

impl LookupPeers {
    fn addresses(&self, set: &ValidatorSet) -> Map<PublicKey, Address> {
        let entries: Vec<(PublicKey, Address)> = set
            .0
            .iter()
            .filter_map(|v| {
                let address = self.configured.get(&v.key).copied().or(v.address);
                if address.is_none() {
                    tracing::warn!(validator = %super::public_key_to_hex(&v.key), "no p2p address known for a validator; it must connect to us");
                }
                address.map(|a| (v.key.clone(), Address::from(a)))
            })
            .collect();
        Map::from_iter_dedup(entries)
    }
}

impl PeerTracker for LookupPeers {
    fn track(&mut self, epoch: Epoch, primary: &ValidatorSet, secondary: &ValidatorSet) {
        // The set must fit the network's bound (this node counts even when not listed).
        let room = MAX_PEERS_PER_SET.saturating_sub(primary.0.len() + 1);
        if secondary.0.len() > room {
            tracing::warn!(
                epoch = epoch.get(),
                leaving = secondary.0.len(),
                room,
                "too many validators leave at once: only some may still connect"
            );
        }
        let secondary = ValidatorSet(secondary.0.iter().take(room).cloned().collect());
        let peers = commonware_p2p::AddressableTrackedPeers::new(
            self.addresses(primary),
            self.addresses(&secondary),
        );
        let _ = self.oracle.track(epoch.get(), peers);
    }
}
