//! A RiChain node. It assembles a channel — admission, mempool, ordering engine, execution and
//! storage — serves its JSON-RPC, and runs until shut down. Configuration is one TOML file.

mod admin;
mod admission;
mod channel;
mod config;
mod creation;
mod head_view;
mod mempool;
mod metrics;
mod node;
mod recovered;
mod replay;
mod replicated;

pub use admin::ADMIN_REFUSED_CODE;
pub use admission::AdmissionError;
pub use channel::{Channel, ChannelError};
pub use config::{
    BFT_BLOCK_INTERVAL_MS, BftConfig, ChannelConfig, ConfigError, ConsortiumConfig, GenesisAccount,
    MempoolConfig, NetworkConfig, NodeConfig, OrgConfig, RpcConfig, ValidatorEntry,
};
pub use creation::{ConfigSignature, CreationError, MAX_SIGNED_CONFIG_BYTES, SignedChannelConfig};
pub use mempool::{Mempool, PoolError, StateNonce};
pub use node::{
    ChannelManager, ChannelSummary, JOINED_CHANNEL_FILE, NodeError, RunningNode, start_node,
};
pub use replay::{ReplayError, ReplayReport, replay_chain};
