//! The nodes' p2p network: Commonware's authenticated `lookup` network (peers known by public key
//! and address; SAKE handshake, ChaCha20-Poly1305 transport). Which keys may connect is decided
//! per consensus epoch and by the channels' observer lists (see [`super::NetworkPeers`]): a
//! connection from any other key is refused during the handshake.

use super::Networks;
use commonware_cryptography::{
    ChaCha20Poly1305,
    ed25519::{PrivateKey, PublicKey},
};
use commonware_p2p::authenticated::lookup::{self, Oracle};
use commonware_runtime::{
    Clock, Handle, Metrics, Network as RuntimeNetwork, Quota, Resolver, Spawner, Supervisor,
};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{NZU32, NZUsize};
use rand_core::CryptoRng;
use std::{net::SocketAddr, time::Duration};

/// p2p channel numbers of one chain's traffic.
const VOTES: u64 = 0;
const CERTIFICATES: u64 = 1;
const CONSENSUS_RESOLVER: u64 = 2;
const BACKFILL: u64 = 3;
const BLOCKS: u64 = 4;
const TRANSACTIONS: u64 = 5;

/// A started p2p network: the channels consensus uses, the oracle that knows the peers (and
/// blocks misbehaving ones), and the network's task.
pub struct ValidatorNetwork<E: Spawner + Clock + Metrics> {
    pub channels: Networks<lookup::Sender<PublicKey, E>, lookup::Receiver<PublicKey>>,
    pub oracle: Oracle<PublicKey>,
    pub handle: Handle<()>,
}

/// Binds `listen`; peers are tracked per epoch by the orchestrator.
pub fn start_network<E>(
    runtime: E,
    signer: PrivateKey,
    namespace: &[u8],
    listen: SocketAddr,
    max_message_size: usize,
) -> ValidatorNetwork<E>
where
    E: Spawner + Clock + Metrics + Supervisor + RuntimeNetwork + Resolver + CryptoRng,
{
    let handshake = Cups::<_, ChaCha20Poly1305>::new(
        Sake {
            signer,
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    // An epoch's validators, observers and a few leaving at its start (see `NetworkPeers`); the current and
    // the previous epoch's sets stay tracked.
    let peers = super::epochs::MAX_PEERS_PER_SET;
    let mut config = lookup::Config::recommended(
        handshake,
        namespace,
        listen,
        NZUsize!(peers),
        u32::try_from(max_message_size).unwrap_or(u32::MAX),
        NZUsize!(4096),
    );
    config.tracked_peer_sets = NZUsize!(2);
    // A consortium's validators often share a LAN or a host: private addresses are normal, and
    // a restarted validator must be able to reconnect at once.
    config.allow_private_ips = true;
    // Peers are admitted by the key they prove in the handshake. Requiring them to also connect
    // from a recorded IP would shut out observers (whose addresses nobody records), nodes
    // behind NAT and Kubernetes pods (which dial from their pod IP, not their Service's).
    config.bypass_ip_check = true;
    // Peers may be named by DNS (a Kubernetes Service): resolved at every dial.
    config.allow_dns = true;
    config.peer_connection_cooldown = Duration::from_secs(1);
    config.allowed_handshake_rate_per_ip = Quota::per_second(NZU32!(16));
    config.dial_frequency = Duration::from_millis(500);
    config.ping_frequency = Duration::from_secs(5);
    let (mut network, oracle) = lookup::Network::new(runtime.child("p2p"), config);
    // Messages per second per peer. The inbound mailbox of each channel is preallocated for one
    // burst from every peer the network may retain (2 sets of MAX_PEERS_PER_SET), so these stay
    // near real traffic: a few votes and certificates per view, one block per height, requests
    // of a catching-up peer; transactions are gossiped in batches as they are admitted.
    let consensus = Quota::per_second(NZU32!(256));
    let channels = Networks {
        votes: network.register(VOTES, consensus),
        certificates: network.register(CERTIFICATES, consensus),
        consensus_resolver: network.register(CONSENSUS_RESOLVER, consensus),
        backfill: network.register(BACKFILL, consensus),
        blocks: network.register(BLOCKS, Quota::per_second(NZU32!(64))),
        transactions: network.register(TRANSACTIONS, Quota::per_second(NZU32!(1_000))),
    };
    let handle = network.start();
    ValidatorNetwork {
        channels,
        oracle,
        handle,
    }
}
