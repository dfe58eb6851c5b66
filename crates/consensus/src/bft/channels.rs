//! Many chains over one p2p network. Each of the network's base channels (votes, certificates,
//! …) is multiplexed by chain: a chain's traffic carries its channel number (from its genesis
//! block) and goes only to the chain's current members; what arrives from anyone else is dropped
//! before the chain's engines see it. A node that is not in a chain therefore never receives its
//! blocks, votes or transactions from an honest node, and cannot inject any.

use super::{Networks, public_key_to_hex};
use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::{
    LimitedSender, Message, Receiver, Recipients, Sender,
    utils::mux::{self, Builder as _, MuxHandle, Muxer, SubReceiver, SubSender},
};
use commonware_runtime::{Spawner, Supervisor};
use std::{
    collections::{BTreeMap, HashSet},
    num::NonZeroUsize,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

/// How a chain is addressed on the shared network: the first eight bytes of the Keccak-256 of its
/// consensus namespace (chain id, name and genesis hash), so two chains collide only if those
/// hashes share a 64-bit prefix (refused when the second is opened).
pub type ChainNumber = u64;

pub fn chain_number(namespace: &[u8]) -> ChainNumber {
    let hash = alloy_primitives::keccak256(namespace);
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(prefix)
}

/// The peers one chain talks to: the validators of its current epoch and those still allowed to
/// connect (see [`super::ChainPeers`]). Shared by the chain's senders and receivers.
#[derive(Clone, Default)]
pub struct Members {
    keys: Arc<RwLock<HashSet<PublicKey>>>,
    dropped: Arc<AtomicU64>,
}

impl Members {
    pub fn replace(&self, keys: impl IntoIterator<Item = PublicKey>) {
        let keys: HashSet<PublicKey> = keys.into_iter().collect();
        if let Ok(mut current) = self.keys.write() {
            *current = keys;
        }
    }

    pub fn contains(&self, key: &PublicKey) -> bool {
        self.keys.read().map(|k| k.contains(key)).unwrap_or(false)
    }

    /// Messages received from peers outside the chain and dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// `recipients` narrowed to members. `All` on the network would mean every connected peer,
    /// including nodes of other chains.
    fn restrict(&self, recipients: Recipients<PublicKey>) -> Recipients<PublicKey> {
        let Ok(keys) = self.keys.read() else {
            return Recipients::Some(Vec::new());
        };
        match recipients {
            Recipients::All => Recipients::Some(keys.iter().cloned().collect()),
            Recipients::Some(list) => {
                Recipients::Some(list.into_iter().filter(|k| keys.contains(k)).collect())
            }
            Recipients::One(key) if keys.contains(&key) => Recipients::One(key),
            Recipients::One(_) => Recipients::Some(Vec::new()),
        }
    }
}

/// A sender that reaches only the chain's members.
#[derive(Clone)]
pub struct MemberSender<S> {
    inner: S,
    members: Members,
}

impl<S: LimitedSender<PublicKey = PublicKey>> LimitedSender for MemberSender<S> {
    type PublicKey = PublicKey;
    type Checked<'a>
        = S::Checked<'a>
    where
        Self: 'a;

    fn check(
        &mut self,
        recipients: Recipients<Self::PublicKey>,
    ) -> Result<Self::Checked<'_>, SystemTime> {
        let recipients = self.members.restrict(recipients);
        self.inner.check(recipients)
    }
}

/// A receiver that yields only what the chain's members sent.
pub struct MemberReceiver<R> {
    inner: R,
    members: Members,
    chain: ChainNumber,
}

impl<R> std::fmt::Debug for MemberReceiver<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemberReceiver({:016x})", self.chain)
    }
}

impl<R: Receiver<PublicKey = PublicKey>> Receiver for MemberReceiver<R> {
    type Error = R::Error;
    type PublicKey = PublicKey;

    async fn recv(&mut self) -> Result<Message<PublicKey>, Self::Error> {
        loop {
            let (from, message) = self.inner.recv().await?;
            if self.members.contains(&from) {
                return Ok((from, message));
            }
            self.members.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                peer = %public_key_to_hex(&from),
                chain = format_args!("{:016x}", self.chain),
                "dropped a message from a peer outside the channel"
            );
        }
    }

    fn capacity(&self) -> NonZeroUsize {
        self.inner.capacity()
    }
}

/// The sub-channels one chain uses, already narrowed to its members.
pub type ChainNetworks<S> =
    Networks<MemberSender<SubSender<S>>, MemberReceiver<SubReceiver<PublicKey>>>;

#[derive(Debug, thiserror::Error)]
pub enum OpenChainError {
    #[error(
        "chain number {0:016x} is already open on this node (same genesis, or a colliding one)"
    )]
    AlreadyOpen(ChainNumber),
    #[error("the p2p network has stopped")]
    Closed,
}

/// The node's base channels, each split by chain. Cloning shares the same network.
pub struct SharedNetwork<S: Sender> {
    muxes: [MuxHandle<S>; 6],
    unrouted: Arc<Mutex<BTreeMap<ChainNumber, u64>>>,
}

impl<S: Sender> Clone for SharedNetwork<S> {
    fn clone(&self) -> Self {
        Self {
            muxes: self.muxes.clone(),
            unrouted: self.unrouted.clone(),
        }
    }
}

impl<S: Sender<PublicKey = PublicKey>> SharedNetwork<S> {
    /// Starts one demultiplexer per base channel on `runtime`.
    pub fn start<E, R>(runtime: E, networks: Networks<S, R>) -> Self
    where
        E: Spawner + Supervisor,
        R: Receiver<PublicKey = PublicKey>,
    {
        let unrouted = Arc::new(Mutex::new(BTreeMap::new()));
        let mut names = Networks::<S, R>::NAMES.into_iter();
        let muxes = networks.into_array().map(|(sender, receiver)| {
            let name = names.next().unwrap_or("p2p");
            let (muxer, handle, mut backup) = Muxer::builder(runtime.child(name), sender, receiver)
                .with_backup()
                .build();
            muxer.start();
            // Traffic of chains this node does not serve: nothing an honest member sends, so it
            // is counted (and visible in tests) rather than silently lost.
            let unrouted = unrouted.clone();
            runtime
                .child(name)
                .child("unrouted")
                .spawn(move |_| async move {
                    while let Some((chain, (from, _))) = backup.recv().await {
                        if let Ok(mut counts) = unrouted.lock() {
                            *counts.entry(chain).or_insert(0) += 1;
                        }
                        tracing::debug!(
                            peer = %public_key_to_hex(&from),
                            chain = format_args!("{chain:016x}"),
                            "message for a channel this node does not serve"
                        );
                    }
                });
            handle
        });
        Self { muxes, unrouted }
    }

    /// The sub-channels of chain `number`, sending to and accepting from `members` only.
    pub async fn open(
        &self,
        number: ChainNumber,
        members: Members,
    ) -> Result<ChainNetworks<S>, OpenChainError> {
        let mut opened = Vec::with_capacity(6);
        for handle in &self.muxes {
            let mut handle = handle.clone();
            let (sender, receiver) = handle.register(number).await.map_err(|e| match e {
                mux::Error::AlreadyRegistered(_) => OpenChainError::AlreadyOpen(number),
                _ => OpenChainError::Closed,
            })?;
            opened.push((
                MemberSender {
                    inner: sender,
                    members: members.clone(),
                },
                MemberReceiver {
                    inner: receiver,
                    members: members.clone(),
                    chain: number,
                },
            ));
        }
        let pairs: [_; 6] = opened.try_into().map_err(|_| OpenChainError::Closed)?;
        Ok(Networks::from_array(pairs))
    }

    /// Messages that arrived for chain `number` while this node did not serve it.
    pub fn unrouted(&self, number: ChainNumber) -> u64 {
        self.unrouted
            .lock()
            .map(|counts| counts.get(&number).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}
