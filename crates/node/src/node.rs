//! A node: the channels it serves, each with its own store, mempool, ordering engine (solo
//! sequencer or BFT consensus among the channel's validators) and JSON-RPC endpoint
//! `/channels/<name>`, over one RPC server and, for BFT, one p2p network whose connections every
//! channel shares (its traffic reaching only the channel's members). Channels beyond the one in
//! the configuration are joined at run time through the admin API and reopened at start.

use crate::{
    NodeConfig,
    channel::{Channel, ChannelError},
    config::{BftConfig, NetworkConfig},
    creation::{CreationError, MAX_SIGNED_CONFIG_BYTES, SignedChannelConfig},
};
use commonware_runtime::{Handle, Supervisor as _, tokio::Context};
use ricaas_consensus::{
    Ordering, OrderingError, SoloConfig, SoloSequencer,
    bft::{
        self, Halted, LookupOracle, LookupSender, NetworkPeers, NodeKey, NodeKeyError,
        NodePublicKey, OpenChainError, ReplicatedChain as _, SharedNetwork, StartError, Timing,
        ValidatorConfig, ValidatorHandle,
    },
};
use ricaas_primitives::system::MAX_VALIDATORS;
use ricaas_rpc::{RpcLimits, RpcRouter, RpcServerError, start_rpc_server};
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

/// File in a joined channel's directory holding its signed configuration.
pub const JOINED_CHANNEL_FILE: &str = "channel.json";

/// Domain separation of the node-to-node handshake. Peers are admitted by key (the validators of
/// the channels a node serves); each channel's votes carry their own namespace.
const P2P_NAMESPACE: &[u8] = b"ricaas/p2p/v1";

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Rpc(#[from] RpcServerError),
    #[error("block production stopped: {0}")]
    Ordering(#[from] OrderingError),
    #[error("block production task ended unexpectedly: {0}")]
    Task(String),
    #[error("cannot read the node key {path}: {detail}")]
    NodeKey { path: String, detail: String },
    #[error("consensus.validators: {0}")]
    Validator(#[from] NodeKeyError),
    #[error("{0}")]
    Uncertified(String),
    #[error("consensus: {0}")]
    Consensus(#[from] StartError),
    #[error("p2p: {0}")]
    P2p(#[from] OpenChainError),
    #[error("CHAIN HALTED: {0}")]
    Halted(String),
    #[error(transparent)]
    Creation(#[from] CreationError),
    #[error("cannot join channel {channel}: {message}")]
    Join { channel: String, message: String },
    #[error("joined channel in {path}: {message}")]
    Joined { path: String, message: String },
}

/// What orders one channel's blocks on this node.
enum Engine {
    Solo {
        shutdown: watch::Sender<bool>,
        sequencer: JoinHandle<()>,
    },
    Bft {
        validator: ValidatorHandle,
        watcher: JoinHandle<()>,
    },
}

struct ServedChannel {
    channel: Arc<Channel>,
    engine: Engine,
    /// Joined through the admin API (not the channel of the configuration file).
    joined: bool,
}

/// The node's share of the p2p network: its key, the connections all channels use, and the
/// union of their peer sets.
struct P2p {
    signer: NodeKey,
    me: NodePublicKey,
    settings: BftConfig,
    shared: SharedNetwork<LookupSender<Context>>,
    peers: NetworkPeers,
    oracle: LookupOracle,
    handle: Handle<()>,
    /// The validators (and addresses) the configuration file lists.
    listed: Vec<(NodePublicKey, bft::PeerAddress)>,
    /// Largest message the network carries: every channel's blocks must fit.
    max_message_size: usize,
}

/// A channel as `ricaas channel list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelSummary {
    pub name: String,
    pub chain_id: u64,
    pub height: u64,
    /// `/channels/<name>` on this node's RPC address.
    pub path: String,
    pub members: Vec<String>,
    /// Whether this node votes in the channel's current validator set.
    pub validator: bool,
    /// Joined at run time (kept in the data directory) rather than configured.
    pub joined: bool,
}

/// The channels one node serves.
pub struct ChannelManager {
    data_dir: PathBuf,
    anonymous_reads: bool,
    network: Option<NetworkConfig>,
    router: Arc<RpcRouter>,
    p2p: Option<P2p>,
    runtime: Context,
    channels: tokio::sync::Mutex<BTreeMap<String, ServedChannel>>,
    /// The channel of the node's configuration file (with `members_from_channel`, its members
    /// are the network's).
    configured: Arc<Channel>,
    failures: mpsc::UnboundedSender<NodeError>,
}

pub struct RunningNode {
    pub rpc_addr: SocketAddr,
    /// The channel of the configuration file (also served at `/`).
    pub channel: Arc<Channel>,
    pub manager: Arc<ChannelManager>,
    rpc: jsonrpsee::server::ServerHandle,
    failures: mpsc::UnboundedReceiver<NodeError>,
}

/// Opens the configured channel and every channel joined before, starts their engines, the p2p
/// network (BFT) and the RPC server. `runtime` carries the consensus engines' tasks and storage
/// (under the runner's storage directory).
pub async fn start_node(config: NodeConfig, runtime: Context) -> Result<RunningNode, NodeError> {
    let channel = open_channel(&config.data_dir, config.channel.clone()).await?;
    let p2p = match &config.consensus {
        None => None,
        Some(settings) => Some(start_p2p(settings, &channel, &runtime)?),
    };
    let (failures, failed) = mpsc::unbounded_channel();
    let manager = Arc::new(ChannelManager {
        data_dir: config.data_dir.clone(),
        anonymous_reads: config.rpc.anonymous_reads,
        network: config.network.clone(),
        router: RpcRouter::new(),
        p2p,
        runtime,
        channels: tokio::sync::Mutex::new(BTreeMap::new()),
        configured: channel.clone(),
        failures,
    });
    manager.serve(channel.clone(), false).await?;
    for (path, signed) in joined_channels(&config.data_dir, config.channel.name.as_str())? {
        let joined = manager
            .verify_join(&signed, true)
            .map_err(|e| NodeError::Joined {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        let opened = open_channel(&config.data_dir, joined).await?;
        manager.serve(opened, true).await?;
    }
    if config.network.is_some() {
        crate::admin::serve_admin(&manager);
    }
    // Every context of a runner shares its registry: a child renders all of it.
    let metrics = manager.runtime.child("metrics");
    manager
        .router
        .serve_metrics(move || with_peer_count(commonware_runtime::Metrics::encode(&metrics)));
    let probed = Arc::downgrade(&manager);
    manager.router.serve_probe("/health", move || {
        probed
            .upgrade()
            .ok_or_else(|| serde_json::json!({"status": "stopping"}))
            .and_then(|manager| manager.health())
    });
    let probed = Arc::downgrade(&manager);
    manager.router.serve_probe("/ready", move || {
        probed
            .upgrade()
            .ok_or_else(|| serde_json::json!({"status": "stopping"}))
            .and_then(|manager| manager.readiness())
    });
    let limits = RpcLimits {
        max_request_bytes: config.rpc.max_request_bytes,
        max_connections: config.rpc.max_connections,
        max_batch_len: config.rpc.max_batch_len,
        ..RpcLimits::default()
    };
    let server = start_rpc_server(config.rpc.listen, manager.router.clone(), &limits).await?;
    Ok(RunningNode {
        rpc_addr: server.local_addr,
        channel,
        manager,
        rpc: server.handle,
        failures: failed,
    })
}

async fn open_channel(
    data_dir: &Path,
    config: crate::ChannelConfig,
) -> Result<Arc<Channel>, NodeError> {
    let dir = data_dir.join("channels").join(config.name.as_str());
    let channel = tokio::task::spawn_blocking(move || Channel::open(config, &dir))
        .await
        .map_err(|e| NodeError::Task(e.to_string()))??;
    Ok(Arc::new(channel))
}

/// The signed configurations of the channels joined before, by directory.
fn joined_channels(
    data_dir: &Path,
    configured: &str,
) -> Result<Vec<(PathBuf, SignedChannelConfig)>, NodeError> {
    let root = data_dir.join("channels");
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path().join(JOINED_CHANNEL_FILE);
        if entry.file_name() == configured || !path.is_file() {
            continue;
        }
        let error = |message: String| NodeError::Joined {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| error(e.to_string()))?;
        let signed: SignedChannelConfig =
            serde_json::from_str(&text).map_err(|e| error(e.to_string()))?;
        found.push((path, signed));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

fn read_node_key(settings: &BftConfig) -> Result<NodeKey, NodeError> {
    let key_error = |detail: String| NodeError::NodeKey {
        path: settings.key_file.display().to_string(),
        detail,
    };
    let key_text =
        std::fs::read_to_string(&settings.key_file).map_err(|e| key_error(e.to_string()))?;
    // A node key is the PKCS#8 Ed25519 key of the node's certificate (or, for networks
    // created before certificates, a hex seed).
    if key_text.trim_start().starts_with("-----BEGIN") {
        match ricaas_crypto::ca::IdentityKey::from_pkcs8_pem(&key_text) {
            Ok(ricaas_crypto::ca::IdentityKey::Ed25519(key)) => {
                bft::node_key_from_hex(&hex::encode(key.to_bytes()))
                    .map_err(|e| key_error(e.to_string()))
            }
            Ok(_) => Err(key_error("a node key must be an Ed25519 key".into())),
            Err(e) => Err(key_error(e.to_string())),
        }
    } else {
        bft::node_key_from_hex(&key_text).map_err(|e| key_error(e.to_string()))
    }
}

fn start_p2p(settings: &BftConfig, channel: &Channel, runtime: &Context) -> Result<P2p, NodeError> {
    let signer = read_node_key(settings)?;
    let me = bft::public_key_of(&signer);
    let listed = settings
        .validators
        .iter()
        .map(|v| Ok((bft::public_key_from_hex(&v.public_key)?, v.address.clone())))
        .collect::<Result<Vec<_>, NodeKeyError>>()?;
    // Every channel's blocks are bounded by its own limits; the network carries the largest
    // the configured channel allows (joined channels are held to it).
    let max_message_size = bft::max_message_size(MAX_VALIDATORS, &channel.block_limits());
    let network = bft::start_network(
        runtime.child("network"),
        signer.clone(),
        P2P_NAMESPACE,
        settings.p2p_listen,
        max_message_size,
    );
    let shared = SharedNetwork::start(runtime.child("channels"), network.channels);
    let peers = NetworkPeers::new(network.oracle.clone(), listed.iter().cloned().collect());
    Ok(P2p {
        signer,
        me,
        settings: settings.clone(),
        shared,
        peers,
        oracle: network.oracle,
        handle: network.handle,
        listed,
        max_message_size,
    })
}

/// Domain separation for every signature of one channel: votes of one chain can never count on
/// another.
fn namespace(channel: &Channel) -> Vec<u8> {
    let config = channel.config();
    format!(
        "ricaas/{}/{}/{}",
        config.chain_id,
        config.name,
        channel.genesis().block.hash()
    )
    .into_bytes()
}

impl ChannelManager {
    /// The node's p2p public key (hex), which admin tokens name; `None` for a solo node.
    pub fn node_key(&self) -> Option<String> {
        self.p2p.as_ref().map(|p2p| bft::public_key_to_hex(&p2p.me))
    }

    pub fn network(&self) -> Option<&NetworkConfig> {
        self.network.as_ref()
    }

    pub(crate) fn router(&self) -> &RpcRouter {
        &self.router
    }

    /// The channel `name`, if this node serves it.
    pub async fn channel(&self, name: &str) -> Option<Arc<Channel>> {
        self.channels
            .lock()
            .await
            .get(name)
            .map(|served| served.channel.clone())
    }

    pub async fn list(&self) -> Vec<ChannelSummary> {
        let me = self.p2p.as_ref().map(|p| p.me.clone());
        let channels = self.channels.lock().await;
        channels
            .iter()
            .map(|(name, served)| {
                let config = served.channel.config();
                let consortium = served.channel.consortium().ok().flatten();
                let validator = match (&me, consortium.as_deref()) {
                    (None, _) => true,
                    (Some(me), Some(c)) => c
                        .validators
                        .iter()
                        .any(|v| v.public_key.as_slice() == me.as_ref()),
                    (Some(_), None) => true,
                };
                ChannelSummary {
                    name: name.clone(),
                    chain_id: config.chain_id,
                    height: served.channel.head().height,
                    path: format!("/channels/{name}"),
                    members: consortium
                        .map(|c| c.orgs.iter().map(|o| o.name.clone()).collect())
                        .unwrap_or_default(),
                    validator,
                    joined: served.joined,
                }
            })
            .collect()
    }

    /// The configuration of a channel this node may open: endorsed per the network's
    /// channel-creation policy, with this node among its validators.
    /// The `[network]` section with the organizations a channel may name now. With
    /// `members_from_channel` they are the configured channel's committed members (with their
    /// CAs); a channel joined before and being `reopening` may also name the organizations the
    /// file lists (one removed since must not stop the node from starting).
    fn network_members(&self, reopening: bool) -> Option<NetworkConfig> {
        let mut network = self.network.clone()?;
        if !network.members_from_channel {
            return Some(network);
        }
        let Some(consortium) = self
            .configured
            .consortium()
            .map_err(|e| tracing::warn!(error = %e, "reading the network's members"))
            .ok()
            .flatten()
        else {
            return Some(network);
        };
        let on_chain: Vec<crate::config::OrgConfig> = consortium
            .orgs
            .iter()
            .filter_map(|org| {
                Some(crate::config::OrgConfig {
                    name: org.name.clone(),
                    ca_certificate: ricaas_crypto::ca::certificate_pem(&org.ca).ok()?,
                })
            })
            .collect();
        if reopening {
            let listed = std::mem::take(&mut network.orgs);
            network.orgs = on_chain.clone();
            network.orgs.extend(
                listed
                    .into_iter()
                    .filter(|o| on_chain.iter().all(|c| c.name != o.name)),
            );
        } else {
            network.orgs = on_chain;
        }
        Some(network)
    }

    pub(crate) fn verify_join(
        &self,
        signed: &SignedChannelConfig,
        reopening: bool,
    ) -> Result<crate::ChannelConfig, NodeError> {
        let Some(network) = self.network_members(reopening) else {
            return Err(NodeError::Join {
                channel: "?".into(),
                message: "this node's configuration has no [network] section".into(),
            });
        };
        let config = signed.verify(&network)?;
        let channel = config.name.to_string();
        let Some(p2p) = &self.p2p else {
            return Err(NodeError::Join {
                channel,
                message: "a solo node serves only its configured channel".into(),
            });
        };
        let limits = bft::BlockLimits {
            max_block_bytes: config.max_block_bytes,
            max_tx_bytes: config.max_tx_bytes,
        };
        if bft::max_message_size(MAX_VALIDATORS, &limits) > p2p.max_message_size {
            return Err(NodeError::Join {
                channel,
                message: format!(
                    "its blocks (max_block_bytes {}) do not fit this node's p2p messages, sized for the configured channel's blocks; lower max_block_bytes",
                    config.max_block_bytes
                ),
            });
        }
        let me = bft::public_key_to_hex(&p2p.me);
        let genesis = config
            .consortium
            .as_ref()
            .map(|c| c.consortium(&config.name))
            .transpose()
            .map_err(|message| NodeError::Join {
                channel: channel.clone(),
                message,
            })?;
        let is_validator = genesis
            .iter()
            .flat_map(|c| c.validators.iter())
            .any(|v| hex::encode(v.public_key) == me);
        if !is_validator {
            return Err(NodeError::Join {
                channel,
                message: format!(
                    "this node (key {me}) is not among the channel's validators; only validators open a channel"
                ),
            });
        }
        Ok(config)
    }

    /// Verifies `signed`, opens the channel (creating its genesis), starts its consensus and
    /// serves it, then keeps the document so the channel reopens at the next start.
    pub async fn join(&self, signed: SignedChannelConfig) -> Result<ChannelSummary, NodeError> {
        let config = self.verify_join(&signed, false)?;
        let name = config.name.to_string();
        if self.channels.lock().await.contains_key(&name) {
            return Err(NodeError::Join {
                channel: name,
                message: "this node already serves it".into(),
            });
        }
        let channel = open_channel(&self.data_dir, config).await?;
        // Served first: a channel whose consensus cannot start is not kept, so it cannot stop
        // the node from starting next time.
        self.serve(channel, true).await?;
        let dir = self.data_dir.join("channels").join(&name);
        let persist = || -> std::io::Result<()> {
            let text = serde_json::to_string_pretty(&signed).map_err(std::io::Error::other)?;
            // Written whole or not at all: a torn file would stop the next start.
            let partial = dir.join(format!("{JOINED_CHANNEL_FILE}.partial"));
            std::fs::write(&partial, text)?;
            std::fs::File::open(&partial)?.sync_all()?;
            std::fs::rename(&partial, dir.join(JOINED_CHANNEL_FILE))
        };
        persist().map_err(|e| NodeError::Join {
            channel: name.clone(),
            message: format!(
                "it runs now, but its configuration could not be kept in {} ({e}): it will not reopen after a restart",
                dir.display()
            ),
        })?;
        tracing::info!(channel = %name, "joined channel");
        self.list()
            .await
            .into_iter()
            .find(|c| c.name == name)
            .ok_or(NodeError::Join {
                channel: name,
                message: "not served after joining".into(),
            })
    }

    /// Starts `channel`'s engine and serves its JSON-RPC.
    async fn serve(&self, channel: Arc<Channel>, joined: bool) -> Result<(), NodeError> {
        let name = channel.config().name.to_string();
        let mut channels = self.channels.lock().await;
        if channels.contains_key(&name) {
            return Err(NodeError::Join {
                channel: name,
                message: "this node already serves it".into(),
            });
        }
        channel.set_anonymous_reads(self.anonymous_reads);
        channel.report_metrics(&self.channel_runtime(&name));
        let engine = match &self.p2p {
            None => self.start_solo(channel.clone()),
            Some(p2p) => self.start_bft(p2p, channel.clone(), joined).await?,
        };
        self.router.serve_channel(&name, channel.clone())?;
        tracing::info!(
            channel = %name,
            chain_id = channel.config().chain_id,
            height = channel.head().height,
            joined,
            "serving channel"
        );
        channels.insert(
            name,
            ServedChannel {
                channel,
                engine,
                joined,
            },
        );
        Ok(())
    }

    /// The runtime context of a channel's work: its metrics are `ricaas_*{channel="<name>"}`.
    fn channel_runtime(&self, name: &str) -> Context {
        self.runtime.child("ricaas").with_attribute("channel", name)
    }

    fn start_solo(&self, channel: Arc<Channel>) -> Engine {
        let (shutdown, shutdown_rx) = watch::channel(false);
        let config = channel.config();
        let sequencer = SoloSequencer::new(SoloConfig {
            block_interval: Duration::from_millis(config.block_interval_ms),
            empty_blocks: config.empty_blocks,
            trailing_empty_block: true,
        });
        let failures = self.failures.clone();
        let sequencer = tokio::spawn(async move {
            let failure = match sequencer.run(channel, shutdown_rx.clone()).await {
                Ok(()) if *shutdown_rx.borrow() => return,
                Ok(()) => NodeError::Task("block production stopped".into()),
                Err(e) => NodeError::Ordering(e),
            };
            let _ = failures.send(failure);
        });
        Engine::Solo {
            shutdown,
            sequencer,
        }
    }

    /// The validators of epoch 0 and the epoch length of `channel`.
    fn genesis_validators(
        &self,
        p2p: &P2p,
        channel: &Channel,
        joined: bool,
    ) -> Result<(Vec<NodePublicKey>, std::num::NonZeroU64), NodeError> {
        let config = channel.config();
        let Some(genesis) = &config.consortium else {
            // An open development channel: the listed validators, for good.
            return Ok((
                p2p.listed.iter().map(|(key, _)| key.clone()).collect(),
                std::num::NonZeroU64::new(1 << 62).unwrap_or(std::num::NonZeroU64::MAX),
            ));
        };
        let genesis_consortium =
            genesis
                .consortium(&config.name)
                .map_err(|message| ChannelError::Config {
                    channel: config.name.clone(),
                    message,
                })?;
        let genesis_keys: Vec<String> = genesis_consortium
            .validators
            .iter()
            .map(|v| hex::encode(v.public_key))
            .collect();
        let listed_hex: Vec<String> = p2p
            .listed
            .iter()
            .map(|(key, _)| bft::public_key_to_hex(key))
            .collect();
        if joined {
            // The channel's genesis says where its validators listen; the node's own list (its
            // first channel's) may add closer routes.
            let me = bft::public_key_to_hex(&p2p.me);
            if let Some(missing) = genesis_keys.iter().find(|k| {
                **k != me
                    && !listed_hex.contains(k)
                    && !genesis
                        .validator_addresses
                        .keys()
                        .any(|a| a.eq_ignore_ascii_case(k))
            }) {
                return Err(NodeError::Uncertified(format!(
                    "genesis validator {missing} of channel {} has no p2p address in the channel configuration",
                    config.name
                )));
            }
        } else {
            // In the configured channel the validators are those whose node certificates the
            // channel configuration holds (at genesis, then as governance changes them); the
            // config file says where to reach the genesis validators.
            let current = channel.consortium()?;
            let certified = |key: &str| {
                std::iter::once(&genesis_consortium)
                    .chain(current.as_deref())
                    .any(|c| {
                        c.validators
                            .iter()
                            .any(|v| hex::encode(v.public_key) == key)
                    })
            };
            if let Some(stray) = listed_hex.iter().find(|k| !certified(k)) {
                return Err(NodeError::Uncertified(format!(
                    "consensus.validators lists {stray}, which is not the key of a validator certificate in channel {}",
                    genesis_consortium.channel
                )));
            }
            if let Some(missing) = genesis_keys.iter().find(|k| !listed_hex.contains(k)) {
                return Err(NodeError::Uncertified(format!(
                    "genesis validator {missing} of channel {} has no address in consensus.validators",
                    genesis_consortium.channel
                )));
            }
        }
        let keys = genesis_keys
            .iter()
            .map(|k| bft::public_key_from_hex(k))
            .collect::<Result<Vec<_>, _>>()?;
        let length =
            std::num::NonZeroU64::new(genesis.epoch_length).unwrap_or(std::num::NonZeroU64::MIN);
        Ok((keys, length))
    }

    async fn start_bft(
        &self,
        p2p: &P2p,
        channel: Arc<Channel>,
        joined: bool,
    ) -> Result<Engine, NodeError> {
        let name = channel.config().name.to_string();
        let (validators, epoch_length) = self.genesis_validators(p2p, &channel, joined)?;
        if !validators.contains(&p2p.me) {
            tracing::info!(
                channel = %name,
                key = %bft::public_key_to_hex(&p2p.me),
                "this node is not a genesis validator: it follows the chain, and votes from the epoch whose validator set includes its key"
            );
        }
        if let Some(genesis) = &channel.config().consortium {
            p2p.peers
                .learn_addresses(genesis.validator_addresses.iter().filter_map(
                    |(key, address)| Some((bft::public_key_from_hex(key).ok()?, *address)),
                ));
        }
        let namespace = namespace(&channel);
        let number = bft::chain_number(&namespace);
        let peers = p2p.peers.chain(number);
        let networks = p2p.shared.open(number, peers.members()).await?;
        let (gossip, outgoing) = mpsc::channel(1 << 16);
        channel.set_gossip(gossip);
        let settings = &p2p.settings;
        // The engine's metrics share the node's `ricaas_` prefix and `channel` label.
        let runtime = self.channel_runtime(&name);
        let validator = bft::start_validator(
            runtime,
            ValidatorConfig {
                namespace,
                signer: p2p.signer.clone(),
                validators,
                epoch_length,
                partition_prefix: name.clone(),
                block_limits: channel.block_limits(),
                timing: Timing {
                    block_interval: Duration::from_millis(channel.config().block_interval_ms),
                    empty_block_interval: Duration::from_millis(settings.empty_block_interval_ms),
                    execution_budget: Duration::from_millis(settings.execution_budget_ms),
                },
                leader_timeout: Duration::from_millis(settings.leader_timeout_ms),
                certification_timeout: Duration::from_millis(settings.certification_timeout_ms),
                sender_trust: settings.sender_trust,
            },
            channel,
            networks,
            peers.clone(),
            p2p.oracle.clone(),
            peers,
            outgoing,
        )
        .await?;
        let mut halted = validator.halted.clone();
        let failures = self.failures.clone();
        let watcher = tokio::spawn(async move {
            let reason = halted
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|h| h.clone());
            let failure = match reason {
                Some(Halted(reason)) => NodeError::Halted(format!("channel {name}: {reason}")),
                None => NodeError::Task(format!("consensus of channel {name} stopped")),
            };
            let _ = failures.send(failure);
        });
        Ok(Engine::Bft { validator, watcher })
    }
}

/// The p2p metric that lists each connected peer (its value is when the connection began).
const CONNECTED_PEER_METRIC: &str = "network_p2p_tracker_directory_connected{";

/// Appends `ricaas_peers_connected` to the runtime's metrics: the number of peers the p2p
/// tracker lists as connected. The tracker keeps its connections to itself; the metric it
/// exports (one series per connected peer, removed on disconnect) is its public view of them.
fn with_peer_count(mut metrics: String) -> String {
    use std::fmt::Write as _;
    let connected = metrics
        .lines()
        .filter(|line| line.starts_with(CONNECTED_PEER_METRIC))
        .count();
    let end = metrics.rfind("# EOF").unwrap_or(metrics.len());
    let tail = metrics.split_off(end);
    let _ = write!(
        metrics,
        "# HELP ricaas_peers_connected Validators and observers this node has a live p2p connection to.\n\
         # TYPE ricaas_peers_connected gauge\n\
         ricaas_peers_connected {connected}\n"
    );
    metrics.push_str(&tail);
    metrics
}

impl ChannelManager {
    /// Liveness: every channel's engine is still running (a halted engine means the process
    /// must be restarted, or looked at).
    pub fn health(&self) -> Result<serde_json::Value, serde_json::Value> {
        let Ok(channels) = self.channels.try_lock() else {
            // A channel is being joined: the node is alive.
            return Ok(serde_json::json!({"status": "alive"}));
        };
        let stopped: Vec<&String> = channels
            .iter()
            .filter(|(_, served)| served.engine.stopped())
            .map(|(name, _)| name)
            .collect();
        if stopped.is_empty() {
            Ok(serde_json::json!({"status": "alive"}))
        } else {
            Err(serde_json::json!({
                "status": "failed",
                "message": format!("block production stopped on channel(s) {}: see the node's log", stopped.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
            }))
        }
    }

    /// Readiness: every channel is served, its engine runs and its store answers; the body
    /// lists each channel's height.
    pub fn readiness(&self) -> Result<serde_json::Value, serde_json::Value> {
        let Ok(channels) = self.channels.try_lock() else {
            return Err(serde_json::json!({
                "status": "not ready",
                "message": "a channel is being joined; ask again in a moment",
            }));
        };
        let mut listed = Vec::new();
        let mut problems = Vec::new();
        for (name, served) in channels.iter() {
            if served.engine.stopped() {
                problems.push(format!("channel {name}: block production stopped"));
            }
            match served
                .channel
                .store()
                .snapshot()
                .and_then(|s| s.head_header())
            {
                Ok(head) => listed.push(serde_json::json!({
                    "name": name,
                    "height": head.height,
                    "engine": served.engine.kind(),
                })),
                Err(e) => problems.push(format!("channel {name}: storage does not answer: {e}")),
            }
        }
        if listed.is_empty() && problems.is_empty() {
            problems.push("no channel is served yet".into());
        }
        if problems.is_empty() {
            Ok(serde_json::json!({"status": "ready", "channels": listed}))
        } else {
            Err(serde_json::json!({
                "status": "not ready",
                "message": problems.join("; "),
                "channels": listed,
            }))
        }
    }
}

impl Engine {
    /// Whether the engine's task has ended (only on failure while the node runs).
    fn stopped(&self) -> bool {
        match self {
            Engine::Solo { sequencer, .. } => sequencer.is_finished(),
            Engine::Bft { watcher, .. } => watcher.is_finished(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Engine::Solo { .. } => "solo",
            Engine::Bft { .. } => "bft",
        }
    }
}

impl RunningNode {
    /// Resolves when block production of any channel stops on its own, which only happens on
    /// failure.
    pub async fn failed(&mut self) -> NodeError {
        self.failures
            .recv()
            .await
            .unwrap_or_else(|| NodeError::Task("the node stopped".into()))
    }

    /// Stops every channel's block production (a solo sequencer finishes the block in
    /// progress), the p2p network and the RPC server.
    pub async fn stop(self) -> Result<(), NodeError> {
        let _ = self.rpc.stop();
        self.rpc.stopped().await;
        let channels = std::mem::take(&mut *self.manager.channels.lock().await);
        for (_, served) in channels {
            match served.engine {
                Engine::Solo {
                    shutdown,
                    sequencer,
                } => {
                    shutdown.send_replace(true);
                    sequencer
                        .await
                        .map_err(|e| NodeError::Task(e.to_string()))?;
                }
                Engine::Bft { validator, watcher } => {
                    // Everything the engine finalized is already durable; its journals recover
                    // whatever was in flight.
                    watcher.abort();
                    validator.consensus.abort();
                    validator.marshal.abort();
                }
            }
        }
        if let Some(p2p) = &self.manager.p2p {
            p2p.handle.abort();
        }
        Ok(())
    }
}

/// Ensures a file read from a client stays bounded before it is parsed.
pub(crate) fn check_signed_size(len: usize) -> Result<(), String> {
    if len > MAX_SIGNED_CONFIG_BYTES {
        return Err(format!(
            "the signed channel configuration is {len} bytes; at most {MAX_SIGNED_CONFIG_BYTES} are accepted"
        ));
    }
    Ok(())
}
