//! `ricaas up` and `ricaas node`.

use alloy_primitives::U256;
use anyhow::Context;
use ricaas_crypto::DevKey;
use ricaas_node::{ChannelConfig, GenesisAccount, NodeConfig, RpcConfig, RunningNode, start_node};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::SystemTime,
};

#[derive(clap::Args)]
pub struct UpArgs {
    /// Directory for the network's configuration, keys and data.
    #[arg(long, default_value = "ricaas-data")]
    data_dir: PathBuf,
    /// JSON-RPC port on 127.0.0.1 (0 picks a free port). Overrides the config file.
    #[arg(long)]
    rpc_port: Option<u16>,
    /// EIP-155 chain id of the channel; used only when the network is created.
    #[arg(long, default_value_t = 1337)]
    chain_id: u64,
}

const CONFIG_FILE: &str = "ricaas.toml";
const DEV_KEY_FILE: &str = "keys/dev.key";

/// One billion ether, in wei: enough for any development workload.
fn developer_balance() -> U256 {
    U256::from(10).pow(U256::from(27))
}

fn create_network(dir: &Path, chain_id: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("keys"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let key = DevKey::random();
    key.write_new(&dir.join(DEV_KEY_FILE))?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_millis() as u64;
    let config = NodeConfig {
        data_dir: PathBuf::from("."),
        rpc: RpcConfig::default(),
        channel: ChannelConfig::development(
            chain_id,
            vec![GenesisAccount {
                address: key.address(),
                balance: developer_balance(),
            }],
            now,
        ),
    };
    std::fs::write(dir.join(CONFIG_FILE), config.documented_toml())?;
    Ok(())
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let dir = &args.data_dir;
    let config_path = dir.join(CONFIG_FILE);
    let created = !config_path.exists();
    if created {
        create_network(dir, args.chain_id)?;
    }
    let mut config = NodeConfig::load(&config_path)?;
    if let Some(port) = args.rpc_port {
        config.rpc.listen = SocketAddr::from(([127, 0, 0, 1], port));
    }
    let node = start_node(config.clone()).await?;
    let key_path =
        std::fs::canonicalize(dir.join(DEV_KEY_FILE)).unwrap_or_else(|_| dir.join(DEV_KEY_FILE));
    let key = DevKey::read(&key_path)?;
    let addr = node.rpc_addr;
    let name = config.channel.name.as_str();
    let abs = |p: &Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    println!(
        "RiCaaS local network is running ({})",
        if created { "created" } else { "reopened" }
    );
    println!(
        "  channel:        {name} (chain id {})",
        config.channel.chain_id
    );
    println!("  JSON-RPC HTTP:  http://{addr}/channels/{name}   (also http://{addr}/)");
    println!("  JSON-RPC WS:    ws://{addr}/channels/{name}   (also ws://{addr}/)");
    println!(
        "  developer key:  {}  (account {}, funded in genesis)",
        key_path.display(),
        key.address()
    );
    println!("  config:         {}", abs(&config_path));
    println!(
        "  data:           {}",
        abs(&config.data_dir.join("channels").join(name))
    );
    println!("Press Ctrl-C to stop.");
    serve_until_ctrl_c(node).await
}

pub async fn run_node_from_config(path: &Path) -> anyhow::Result<()> {
    let config = NodeConfig::load(path)?;
    let node = start_node(config.clone()).await?;
    println!("RiCaaS node is running");
    println!(
        "  channel:        {} (chain id {})",
        config.channel.name, config.channel.chain_id
    );
    println!(
        "  JSON-RPC HTTP:  http://{}/channels/{}",
        node.rpc_addr, config.channel.name
    );
    println!(
        "  JSON-RPC WS:    ws://{}/channels/{}",
        node.rpc_addr, config.channel.name
    );
    serve_until_ctrl_c(node).await
}

pub fn replay(path: &Path) -> anyhow::Result<()> {
    let config = NodeConfig::load(path)?;
    let db = config
        .data_dir
        .join("channels")
        .join(config.channel.name.as_str())
        .join("chain.redb");
    anyhow::ensure!(db.exists(), "no chain database at {}", db.display());
    let scratch = std::env::temp_dir().join(format!("ricaas-replay-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let result = ricaas_node::replay_chain(&config.channel, &db, &scratch);
    std::fs::remove_dir_all(&scratch).ok();
    let report = result?;
    println!(
        "replay ok: {} blocks, {} transactions re-executed; head {} {}; stored state matches the head's state root",
        report.head + 1,
        report.transactions,
        report.head,
        report.head_hash
    );
    Ok(())
}

async fn serve_until_ctrl_c(mut node: RunningNode) -> anyhow::Result<()> {
    let failure = tokio::select! {
        signal = shutdown_signal() => {
            signal?;
            None
        }
        error = node.failed() => Some(error),
    };
    if let Some(error) = failure {
        return Err(error.into());
    }
    tracing::info!("shutting down");
    node.stop().await?;
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}
