//! Ethereum JSON-RPC for a RiChain channel, over HTTP and WebSocket on one port (jsonrpsee).
//! Every method is a short function over a [`ChannelBackend`]: committed data comes from storage
//! snapshots, pending data and submission from the node's mempool. This crate does not know how
//! the node orders or stores blocks; the node implements the backend trait.

mod backend;
mod convert;
mod errors;
mod eth;
mod filters;
mod server;

pub use backend::{ChannelBackend, RejectedTransaction};
pub use eth::{EthApiServer, EthRpc};
pub use server::{RpcLimits, RpcRouter, RpcServer, RpcServerError, start_rpc_server};
