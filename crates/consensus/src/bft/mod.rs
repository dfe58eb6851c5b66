//! BFT ordering with Commonware: simplex consensus (Ed25519 votes) orders blocks, marshal
//! disseminates them, backfills what a node missed and hands finalized blocks to the chain in
//! height order; an authenticated, encrypted p2p network (only configured validators may
//! connect) carries votes, blocks and gossiped transactions.
//!
//! The chain itself is behind [`ReplicatedChain`]: it builds a block on a given parent (which may
//! be notarized but not yet finalized), re-executes blocks proposed by others, and commits
//! finalized ones. Delivery of finalized blocks is at-least-once; commits are idempotent.

mod address;
mod app;
mod block;
mod channels;
mod engine;
mod epochs;
mod gossip;
mod keys;
mod network;
mod orchestrator;
mod pacer;
mod views;

pub use address::{PeerAddress, PeerAddressError};
pub use app::{Halted, Replicated, Timing};
pub use block::{BlockLimits, ChainBlock, digest_of, hash_of};
pub use channels::{
    ChainNetworks, ChainNumber, Members, OpenChainError, SharedNetwork, chain_number,
};
pub use engine::{
    Networks, StartError, ValidatorConfig, ValidatorHandle, max_message_size, start_validator,
};
pub use epochs::{ChainPeers, EpochValidator, FixedPeers, NetworkPeers, PeerTracker, ValidatorSet};
pub use gossip::{CONFIRMATION_WAIT, Forwarded, GossipMessage, MAX_WAITING, SenderTrust};
pub use keys::{
    NodeKeyError, generate_node_key, node_key_from_hex, node_key_to_hex, public_key_from_hex,
    public_key_of, public_key_to_hex,
};
pub use network::{ValidatorNetwork, start_network};
pub use pacer::Pacer;

/// The authenticated network's sender and peer oracle, as a node holds them.
pub type LookupSender<E> = commonware_p2p::authenticated::lookup::Sender<NodePublicKey, E>;
pub type LookupOracle = commonware_p2p::authenticated::lookup::Oracle<NodePublicKey>;

pub use commonware_cryptography::ed25519::{PrivateKey as NodeKey, PublicKey as NodePublicKey};

use crate::Backlog;
use alloy_primitives::{Address, B256, Bytes};
use std::{future::Future, net::SocketAddr};

/// A block's verdict after re-execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid(String),
}

/// The chain as the BFT adapter drives it. Methods that execute or touch storage block the
/// calling thread; the adapter runs them (and polls the futures of `build` and `verify`) on
/// blocking threads. `build` and `verify` are futures so that deterministic tests can make
/// execution take simulated time (a slow or starved machine); a real chain does its work when
/// first polled.
pub trait ReplicatedChain: Send + Sync + 'static {
    type Error: std::error::Error + Send + Sync + 'static;

    /// The height-zero block every validator starts from.
    fn genesis(&self) -> ChainBlock;

    fn block_limits(&self) -> BlockLimits;

    fn backlog(&self) -> Backlog;

    /// Resolves when new transactions may have become ready.
    fn work_arrived(&self) -> impl Future<Output = ()> + Send;

    /// Height of the newest committed (finalized and durable) block.
    fn committed_height(&self) -> u64;

    /// Whether the state after block `hash` is available to build on: it is the committed head
    /// or a block this node executed that is not committed yet.
    fn has_state(&self, hash: &B256) -> bool;

    /// Builds a block on `parent` (whose state must be available) with at most `max_txs`
    /// pending transactions.
    fn build(
        &self,
        parent: &ChainBlock,
        timestamp_ms: u64,
        max_txs: usize,
    ) -> impl Future<Output = Result<ChainBlock, Self::Error>> + Send;

    /// Re-executes a block built elsewhere on its parent (whose state must be available) and
    /// keeps the result for building on it and for committing it.
    fn verify(
        &self,
        block: &ChainBlock,
        now_ms: u64,
    ) -> impl Future<Output = Result<Verdict, Self::Error>> + Send;

    /// Makes a finalized block durable. Fails (and the channel must halt) if the block does not
    /// re-execute to its header or conflicts with a committed one.
    fn commit(&self, block: &ChainBlock) -> Result<(), Self::Error>;

    /// The validators in the channel configuration of the committed head state: Ed25519 keys
    /// and, where the configuration records them, p2p addresses. `None` for a chain whose
    /// validator set is fixed at genesis (no configuration on chain).
    #[allow(clippy::type_complexity)]
    fn validators(&self) -> Result<Option<Vec<([u8; 32], Option<SocketAddr>)>>, Self::Error>;

    /// Ed25519 keys of the observers the committed channel configuration lists: nodes that
    /// follow the chain without voting, which validators must accept as peers.
    fn observers(&self) -> Result<Vec<[u8; 32]>, Self::Error> {
        Ok(Vec::new())
    }

    /// Transactions gossiped by another validator, to admit into the pool after recovering
    /// each sender. Returns the hash and recovered sender of each one admitted (or already
    /// held), which gossip may confirm to the other validators.
    fn admit_gossip(&self, transactions: Vec<Bytes>) -> Vec<(B256, Address)>;

    /// Transactions whose senders `f + 1` validators recovered alike (see the gossip module):
    /// admitted with those senders, without recovering them again. Every other check of
    /// admission still applies.
    fn admit_vouched(&self, transactions: Vec<(Bytes, Address)>);
}
