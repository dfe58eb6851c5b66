//! Starting and stopping a node: channel, ordering engine and RPC server wired together.

use crate::{NodeConfig, channel::Channel, channel::ChannelError};
use ricaas_consensus::{Ordering, OrderingError, SoloConfig, SoloSequencer};
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
}

pub struct RunningNode {
    pub rpc_addr: SocketAddr,
    pub channel: Arc<Channel>,
    shutdown: watch::Sender<bool>,
    sequencer: JoinHandle<Result<(), OrderingError>>,
    rpc: jsonrpsee::server::ServerHandle,
}

/// Opens the channel, starts block production and the RPC server.
pub async fn start_node(config: NodeConfig) -> Result<RunningNode, NodeError> {
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
    let limits = RpcLimits {
        max_request_bytes: config.rpc.max_request_bytes,
        max_connections: config.rpc.max_connections,
        max_batch_len: config.rpc.max_batch_len,
        ..RpcLimits::default()
    };
    let server = start_rpc_server(
        config.rpc.listen,
        config.channel.name.as_str(),
        channel.clone(),
        &limits,
    )
    .await?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let sequencer = SoloSequencer::new(SoloConfig {
        block_interval: Duration::from_millis(config.channel.block_interval_ms),
        empty_blocks: config.channel.empty_blocks,
        trailing_empty_block: true,
    });
    let app = channel.clone();
    let sequencer = tokio::spawn(async move { sequencer.run(app, shutdown_rx).await });
    Ok(RunningNode {
        rpc_addr: server.local_addr,
        channel,
        shutdown,
        sequencer,
        rpc: server.handle,
    })
}

impl RunningNode {
    /// Resolves when block production stops on its own, which only happens on failure.
    pub async fn failed(&mut self) -> NodeError {
        match (&mut self.sequencer).await {
            Ok(Ok(())) => NodeError::Task("block production stopped".into()),
            Ok(Err(e)) => NodeError::Ordering(e),
            Err(e) => NodeError::Task(e.to_string()),
        }
    }

    /// Stops block production (finishing the block in progress) and the RPC server.
    pub async fn stop(self) -> Result<(), NodeError> {
        self.shutdown.send_replace(true);
        let result = self.sequencer.await;
        let _ = self.rpc.stop();
        self.rpc.stopped().await;
        match result {
            Ok(r) => r.map_err(NodeError::from),
            Err(e) => Err(NodeError::Task(e.to_string())),
        }
    }
}
