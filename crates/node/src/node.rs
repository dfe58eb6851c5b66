//! Starting and stopping a node: channel, ordering engine (solo sequencer or BFT validator) and
//! RPC server wired together.

use crate::{NodeConfig, channel::Channel, channel::ChannelError, config::BftConfig};
use commonware_runtime::{Handle, Supervisor as _, tokio::Context};
use ricaas_consensus::{
    Ordering, OrderingError, SoloConfig, SoloSequencer,
    bft::{
        self, Halted, NodeKeyError, ReplicatedChain as _, StartError, Timing, ValidatorConfig,
        ValidatorHandle,
    },
};
use ricaas_primitives::system::MAX_VALIDATORS;
use ricaas_rpc::{RpcLimits, RpcServerError, start_rpc_server};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::{sync::watch, task::JoinHandle};

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
    #[error("CHAIN HALTED: {0}")]
    Halted(String),
}

/// What orders this node's blocks.
enum Engine {
    Solo {
        shutdown: watch::Sender<bool>,
        sequencer: JoinHandle<Result<(), OrderingError>>,
    },
    Bft {
        validator: ValidatorHandle,
        network: Handle<()>,
    },
}

pub struct RunningNode {
    pub rpc_addr: SocketAddr,
    pub channel: Arc<Channel>,
    engine: Engine,
    rpc: jsonrpsee::server::ServerHandle,
}

/// Opens the channel, starts block production and the RPC server. `runtime` carries the
/// consensus engine's tasks and storage (under the runner's storage directory).
pub async fn start_node(config: NodeConfig, runtime: Context) -> Result<RunningNode, NodeError> {
    let channel_dir = config
        .data_dir
        .join("channels")
        .join(config.channel.name.as_str());
    let channel_config = config.channel.clone();
    let channel = Arc::new(
        tokio::task::spawn_blocking(move || Channel::open(channel_config, &channel_dir))
            .await
            .map_err(|e| NodeError::Task(e.to_string()))??,
    );
    channel.set_anonymous_reads(config.rpc.anonymous_reads);
    let limits = RpcLimits {
        max_request_bytes: config.rpc.max_request_bytes,
        max_connections: config.rpc.max_connections,
        max_batch_len: config.rpc.max_batch_len,
        ..RpcLimits::default()
    };
    let engine = match &config.consensus {
        None => start_solo(&config, channel.clone()),
        Some(bft) => start_bft(&config, bft, channel.clone(), runtime).await?,
    };
    let server = start_rpc_server(
        config.rpc.listen,
        config.channel.name.as_str(),
        channel.clone(),
        &limits,
    )
    .await?;
    Ok(RunningNode {
        rpc_addr: server.local_addr,
        channel,
        engine,
        rpc: server.handle,
    })
}

fn start_solo(config: &NodeConfig, channel: Arc<Channel>) -> Engine {
    let (shutdown, shutdown_rx) = watch::channel(false);
    let sequencer = SoloSequencer::new(SoloConfig {
        block_interval: Duration::from_millis(config.channel.block_interval_ms),
        empty_blocks: config.channel.empty_blocks,
        trailing_empty_block: true,
    });
    let sequencer = tokio::spawn(async move { sequencer.run(channel, shutdown_rx).await });
    Engine::Solo {
        shutdown,
        sequencer,
    }
}

/// Domain separation for every signature and handshake of this channel: votes of one chain can
/// never count on another.
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

async fn start_bft(
    config: &NodeConfig,
    bft_config: &BftConfig,
    channel: Arc<Channel>,
    runtime: Context,
) -> Result<Engine, NodeError> {
    let key_text =
        std::fs::read_to_string(&bft_config.key_file).map_err(|e| NodeError::NodeKey {
            path: bft_config.key_file.display().to_string(),
            detail: e.to_string(),
        })?;
    let key_error = |detail: String| NodeError::NodeKey {
        path: bft_config.key_file.display().to_string(),
        detail,
    };
    // A node key is the PKCS#8 Ed25519 key of the node's certificate (or, for networks
    // created before certificates, a hex seed).
    let signer = if key_text.trim_start().starts_with("-----BEGIN") {
        match ricaas_crypto::ca::IdentityKey::from_pkcs8_pem(&key_text) {
            Ok(ricaas_crypto::ca::IdentityKey::Ed25519(key)) => {
                bft::node_key_from_hex(&hex::encode(key.to_bytes()))
                    .map_err(|e| key_error(e.to_string()))?
            }
            Ok(_) => return Err(key_error("a node key must be an Ed25519 key".into())),
            Err(e) => return Err(key_error(e.to_string())),
        }
    } else {
        bft::node_key_from_hex(&key_text).map_err(|e| key_error(e.to_string()))?
    };
    let me = bft::public_key_of(&signer);
    let listed = bft_config
        .validators
        .iter()
        .map(|v| Ok((bft::public_key_from_hex(&v.public_key)?, v.address)))
        .collect::<Result<Vec<_>, NodeKeyError>>()?;
    // In a consortium channel the validators are those whose node certificates the channel
    // configuration holds (at genesis, then as governance changes them); the config file says
    // where to reach the genesis validators.
    let (genesis_validators, epoch_length) = match &config.channel.consortium {
        Some(genesis) => {
            let genesis_consortium =
                genesis
                    .consortium(&config.channel.name)
                    .map_err(|message| ChannelError::Config {
                        channel: config.channel.name.clone(),
                        message,
                    })?;
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
            let listed_hex: Vec<String> = listed
                .iter()
                .map(|(key, _)| bft::public_key_to_hex(key))
                .collect();
            if let Some(stray) = listed_hex.iter().find(|k| !certified(k)) {
                return Err(NodeError::Uncertified(format!(
                    "consensus.validators lists {stray}, which is not the key of a validator certificate in channel {}",
                    genesis_consortium.channel
                )));
            }
            let genesis_keys = genesis_consortium
                .validators
                .iter()
                .map(|v| hex::encode(v.public_key))
                .collect::<Vec<_>>();
            if let Some(missing) = genesis_keys.iter().find(|k| !listed_hex.contains(k)) {
                return Err(NodeError::Uncertified(format!(
                    "genesis validator {missing} of channel {} has no address in consensus.validators",
                    genesis_consortium.channel
                )));
            }
            let keys = genesis_keys
                .iter()
                .map(|k| bft::public_key_from_hex(k))
                .collect::<Result<Vec<_>, _>>()?;
            let length = std::num::NonZeroU64::new(genesis.epoch_length)
                .unwrap_or(std::num::NonZeroU64::MIN);
            (keys, length)
        }
        // An open development channel: the listed validators, for good.
        None => (
            listed.iter().map(|(key, _)| key.clone()).collect(),
            std::num::NonZeroU64::new(1 << 62).unwrap_or(std::num::NonZeroU64::MAX),
        ),
    };
    if !genesis_validators.contains(&me) {
        tracing::info!(
            key = %bft::public_key_to_hex(&me),
            "this node is not a genesis validator: it follows the chain, and votes from the epoch whose validator set includes its key"
        );
    }
    let namespace = namespace(&channel);
    let limits = channel.block_limits();
    let network = bft::start_network(
        runtime.child("network"),
        signer.clone(),
        &namespace,
        bft_config.p2p_listen,
        bft::max_message_size(MAX_VALIDATORS, &limits),
    );
    let (gossip, outgoing) = tokio::sync::mpsc::channel(1 << 16);
    channel.set_gossip(gossip);
    let tracker = bft::LookupPeers {
        oracle: network.oracle.clone(),
        configured: listed.into_iter().collect(),
    };
    let validator = bft::start_validator(
        runtime.child("validator"),
        ValidatorConfig {
            namespace,
            signer,
            validators: genesis_validators,
            epoch_length,
            partition_prefix: config.channel.name.to_string(),
            block_limits: limits,
            timing: Timing {
                block_interval: Duration::from_millis(config.channel.block_interval_ms),
                empty_block_interval: Duration::from_millis(bft_config.empty_block_interval_ms),
            },
            leader_timeout: Duration::from_millis(bft_config.leader_timeout_ms),
            certification_timeout: Duration::from_millis(bft_config.certification_timeout_ms),
        },
        channel,
        network.channels,
        network.oracle.clone(),
        network.oracle,
        tracker,
        outgoing,
    )
    .await?;
    Ok(Engine::Bft {
        validator,
        network: network.handle,
    })
}

impl RunningNode {
    /// Resolves when block production stops on its own, which only happens on failure.
    pub async fn failed(&mut self) -> NodeError {
        match &mut self.engine {
            Engine::Solo { sequencer, .. } => match sequencer.await {
                Ok(Ok(())) => NodeError::Task("block production stopped".into()),
                Ok(Err(e)) => NodeError::Ordering(e),
                Err(e) => NodeError::Task(e.to_string()),
            },
            Engine::Bft { validator, .. } => {
                let halted = validator
                    .halted
                    .wait_for(Option::is_some)
                    .await
                    .ok()
                    .and_then(|h| h.clone());
                match halted {
                    Some(Halted(reason)) => NodeError::Halted(reason),
                    None => NodeError::Task("consensus stopped".into()),
                }
            }
        }
    }

    /// Stops block production (finishing the block in progress) and the RPC server.
    pub async fn stop(self) -> Result<(), NodeError> {
        let _ = self.rpc.stop();
        self.rpc.stopped().await;
        match self.engine {
            Engine::Solo {
                shutdown,
                sequencer,
            } => {
                shutdown.send_replace(true);
                match sequencer.await {
                    Ok(r) => r.map_err(NodeError::from),
                    Err(e) => Err(NodeError::Task(e.to_string())),
                }
            }
            Engine::Bft { validator, network } => {
                // Everything the engine finalized is already durable; its journals recover
                // whatever was in flight.
                validator.consensus.abort();
                validator.marshal.abort();
                network.abort();
                Ok(())
            }
        }
    }
}
