//! A RiChain node. It assembles a channel — admission, mempool, ordering engine, execution and
//! storage — serves its JSON-RPC, and runs until shut down. Configuration is one TOML file.

mod admission;
mod channel;
mod config;
mod mempool;
mod node;
mod replay;
mod replicated;

pub use admission::AdmissionError;
pub use channel::{Channel, ChannelError};
pub use config::{
    BftConfig, ChannelConfig, ConfigError, ConsortiumConfig, GenesisAccount, MempoolConfig,
    NodeConfig, OrgConfig, RpcConfig, ValidatorEntry,
};
pub use mempool::{Mempool, PoolError};
pub use node::{NodeError, RunningNode, start_node};
pub use replay::{ReplayError, ReplayReport, replay_chain};
