//! `ricaas up` (a local network: one solo node, or N validators as N supervised processes) and
//! `ricaas node` (one node from its configuration).

use alloy_primitives::U256;
use anyhow::Context as _;
use ricaas_crypto::DevKey;
use ricaas_node::{
    BftConfig, ChannelConfig, GenesisAccount, NetworkConfig, NodeConfig, RpcConfig, RunningNode,
    ValidatorEntry, start_node,
};
use std::{
    io::{BufRead, BufReader},
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::SystemTime,
};

#[derive(clap::Args)]
pub struct UpArgs {
    /// Directory for the network's configuration, keys and data.
    #[arg(long, default_value = "ricaas-data")]
    data_dir: PathBuf,
    /// Number of validators. 1 runs a single node in this process (solo ordering); more runs
    /// that many validator processes replicating the chain with BFT consensus (4 tolerates one
    /// failed validator). Used only when the network is created.
    #[arg(long, default_value_t = 4)]
    nodes: usize,
    /// Number of member organizations (org1, org2, …), each with a CA, an admin, a client and
    /// the node identities of its validators (validator i belongs to org (i mod orgs) + 1).
    /// Used only when the network is created.
    #[arg(long, default_value_t = 4)]
    orgs: usize,
    /// JSON-RPC port on 127.0.0.1 (validator i gets this port + i; 0 picks free ports when the
    /// network is created). Overrides the config file for a single node.
    #[arg(long)]
    rpc_port: Option<u16>,
    /// First p2p port of the validators (validator i gets this port + i; 0 picks free ports).
    /// Used only when a multi-validator network is created.
    #[arg(long, default_value_t = 9545)]
    p2p_port: u16,
    /// EIP-155 chain id of the channel; used only when the network is created.
    #[arg(long, default_value_t = 1337)]
    chain_id: u64,
    /// Let clients without a read token query the channel (a local developer convenience; off
    /// by default: clients sign a read token with an enrolled key). Used when the network is
    /// created.
    #[arg(long)]
    anonymous_reads: bool,
    /// Heights per consensus epoch: validators added or removed by governance take part from
    /// the epoch after the change applies. Used when the network is created.
    #[arg(long, default_value_t = ricaas_primitives::system::DEFAULT_EPOCH_LENGTH, value_parser = clap::value_parser!(u64).range(2..))]
    epoch_length: u64,
    /// How contracts are created on the first channel: `direct` (a creation transaction from an
    /// identity the ContractDeployers policy admits: Hardhat, Foundry and ethers work
    /// unchanged) or `approved` (only creation code a lifecycle proposal approved, sent by the
    /// proposer). Used when the network is created.
    #[arg(long, default_value = "direct")]
    deployment: ricaas_primitives::system::Deployment,
    /// Create the network's files and exit without starting it (run each validator with
    /// `ricaas node --config <data-dir>/nodes/<i>/ricaas.toml`).
    #[arg(long)]
    create_only: bool,
    /// Address of the management platform (console and API) run beside the network; port 0
    /// picks a free one. Its data lives in <data-dir>/platform.
    #[arg(long, default_value = "127.0.0.1:8700")]
    platform_listen: SocketAddr,
    /// Run the network without the management platform.
    #[arg(long)]
    no_platform: bool,
    /// When validators take a gossiped transaction's sender without recovering its signature:
    /// `quorum` (2f + 1 of them recovered it alike), `minority` (f + 1: faster, but f + 1
    /// colluding validators could forge a sender) or `recover` (always). Used when a
    /// multi-validator network is created.
    #[arg(long, value_enum, default_value = "quorum")]
    sender_trust: SenderTrustArg,
}

/// `--sender-trust` (see `ricaas_consensus::bft::SenderTrust`).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SenderTrustArg {
    Quorum,
    Minority,
    Recover,
}

impl From<SenderTrustArg> for ricaas_consensus::bft::SenderTrust {
    fn from(arg: SenderTrustArg) -> Self {
        match arg {
            SenderTrustArg::Quorum => Self::Quorum,
            SenderTrustArg::Minority => Self::Minority,
            SenderTrustArg::Recover => Self::Recover,
        }
    }
}

/// The management platform `up` runs as a child process, killed when dropped.
struct PlatformProcess {
    child: Child,
    api: String,
    data_dir: PathBuf,
    /// Held open while `up` lives: the platform stops when it closes.
    stdin: Option<std::process::ChildStdin>,
}

impl Drop for PlatformProcess {
    fn drop(&mut self) {
        // Closing its stdin asks the platform to stop (and stop the nodes it runs); it is
        // killed if it has not within the grace period.
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(25);
        while std::time::Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `ricaas platform` over `<data-dir>/platform`, adopting the network (its orgs become
/// tenants) the first time, with `rpc_url` as the way to channel `channel`.
async fn start_platform(
    args: &UpArgs,
    channel: &str,
    rpc_url: &str,
) -> anyhow::Result<Option<PlatformProcess>> {
    if args.no_platform {
        return Ok(None);
    }
    let data_dir = args.data_dir.join("platform");
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let log_path = data_dir.join("platform.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let exe = std::env::current_exe().context("locating the ricaas binary")?;
    let mut child = Command::new(exe)
        .arg("platform")
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--listen")
        .arg(args.platform_listen.to_string())
        .arg("--local-network")
        .arg(&args.data_dir)
        .arg("--local-channel")
        .arg(format!("local/{channel}={rpc_url}"))
        .arg("--exit-with-stdin")
        .env_remove("RICAAS_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .context("starting the platform")?;
    let stdout = child.stdout.take().context("platform stdout")?;
    let stdin = child.stdin.take();
    let api = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut api = None;
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.trim().strip_prefix("RiCaaS platform API:") {
                api = Some(rest.trim().to_owned());
            }
            if line.starts_with("Press Ctrl-C") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        api
    })
    .await?;
    let Some(api) = api else {
        let _ = child.kill();
        anyhow::bail!(
            "the platform did not start (is {} in use? pass --platform-listen, or --no-platform); see {}",
            args.platform_listen,
            log_path.display()
        );
    };
    Ok(Some(PlatformProcess {
        child,
        api,
        data_dir,
        stdin,
    }))
}

fn print_platform(platform: &Option<PlatformProcess>) {
    let Some(platform) = platform else {
        return;
    };
    let base = platform.api.trim_end_matches("/api/v1");
    println!("  console:        {base}/");
    println!(
        "  platform API:   {}   (OpenAPI: {}/openapi.json)",
        platform.api, platform.api
    );
    println!(
        "  credentials:    {} (org roots), {} (operator)   (mode 0600, written once)",
        absolute(
            &platform
                .data_dir
                .join(crate::platform::TENANT_CREDENTIALS_FILE)
        ),
        absolute(
            &platform
                .data_dir
                .join(crate::platform::OPERATOR_CREDENTIALS_FILE)
        )
    );
    println!("  platform pid:   {}", platform.child.id());
}

const CONFIG_FILE: &str = "ricaas.toml";
const DEV_KEY_FILE: &str = "keys/dev.key";
const NODES_DIR: &str = "nodes";

/// One billion ether, in wei: enough for any development workload.
fn developer_balance() -> U256 {
    U256::from(10).pow(U256::from(27))
}

fn now_ms() -> anyhow::Result<u64> {
    Ok(SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_millis() as u64)
}

fn genesis_for(keys: &[&DevKey]) -> Vec<GenesisAccount> {
    keys.iter()
        .map(|key| GenesisAccount {
            address: key.address(),
            balance: developer_balance(),
        })
        .collect()
}

/// The channel of a new network: its consortium's members enrolled and funded.
fn consortium_channel(
    dir: &Path,
    args: &UpArgs,
) -> anyhow::Result<(ChannelConfig, crate::orgs::CreatedConsortium)> {
    let created = crate::orgs::create(
        dir,
        args.orgs,
        args.nodes,
        args.epoch_length,
        args.deployment,
    )?;
    let mut channel = ChannelConfig::development(
        args.chain_id,
        genesis_for(&[&created.dev_key, &created.admin_key]),
        now_ms()?,
    );
    channel.consortium = Some(created.config.clone());
    Ok((channel, created))
}

fn create_solo_network(dir: &Path, args: &UpArgs) -> anyhow::Result<()> {
    let (channel, _) = consortium_channel(dir, args)?;
    let config = NodeConfig {
        data_dir: PathBuf::from("."),
        rpc: RpcConfig {
            anonymous_reads: args.anonymous_reads,
            ..RpcConfig::default()
        },
        channel,
        consensus: None,
        network: None,
    };
    std::fs::write(dir.join(CONFIG_FILE), config.documented_toml())?;
    Ok(())
}

fn print_consortium(dir: &Path) {
    println!(
        "  organizations:  {}/<org>/{{ca,admin,client,node<i>}}  (certificates and keys)",
        absolute(&dir.join(crate::orgs::ORGS_DIR))
    );
    println!(
        "  org1 admin key: {}  (enrolls identities: ricaas ca, then IMembership.enroll at 0x…1001)",
        absolute(&dir.join("keys/org1-admin.key"))
    );
}

/// `count` ports on 127.0.0.1: consecutive from `base`, or free ones the OS picked when `base`
/// is 0.
fn ports(base: u16, count: usize) -> anyhow::Result<Vec<u16>> {
    if base != 0 {
        return (0..count)
            .map(|i| {
                u16::try_from(usize::from(base) + i)
                    .map_err(|_| anyhow::anyhow!("port {base} + {i} is out of range"))
            })
            .collect();
    }
    // Hold every listener until all are picked so the OS hands out distinct ports.
    let listeners = (0..count)
        .map(|_| TcpListener::bind(("127.0.0.1", 0)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()?)
}

fn node_dir(dir: &Path, index: usize) -> PathBuf {
    dir.join(NODES_DIR).join(index.to_string())
}

/// Writes a new file readable by its owner only (private keys).
pub(crate) fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Writes keys and configs of `count` validators that share one genesis.
fn create_bft_network(dir: &Path, args: &UpArgs) -> anyhow::Result<()> {
    let count = args.nodes;
    let (mut channel, created) = consortium_channel(dir, args)?;
    channel.block_interval_ms = ricaas_node::BFT_BLOCK_INTERVAL_MS;
    let rpc_ports = ports(args.rpc_port.unwrap_or(8545), count)?;
    let p2p_ports = ports(args.p2p_port, count)?;
    let validators: Vec<ValidatorEntry> = created
        .validators
        .iter()
        .zip(&p2p_ports)
        .map(|((_, public_key), port)| ValidatorEntry {
            public_key: public_key.clone(),
            address: SocketAddr::from(([127, 0, 0, 1], *port)).into(),
        })
        .collect();
    for (index, (key_path, _)) in created.validators.iter().enumerate() {
        let home = node_dir(dir, index);
        std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
        // The node key is its certificate's key, kept with the certificate under orgs/.
        let key_file = PathBuf::from("../..").join(
            key_path
                .strip_prefix(dir)
                .context("node key outside the data directory")?,
        );
        let config = NodeConfig {
            data_dir: PathBuf::from("data"),
            rpc: RpcConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], rpc_ports[index])),
                anonymous_reads: args.anonymous_reads,
                ..RpcConfig::default()
            },
            channel: channel.clone(),
            consensus: Some(BftConfig {
                sender_trust: args.sender_trust.into(),
                ..BftConfig::local(
                    key_file,
                    SocketAddr::from(([127, 0, 0, 1], p2p_ports[index])),
                    validators.clone(),
                )
            }),
            // Validator i belongs to org (i mod orgs) + 1 (see `orgs::create`); a new channel
            // needs every member's admin to sign it.
            network: Some(NetworkConfig {
                org: format!("org{}", index % args.orgs.max(1) + 1),
                channel_creation_policy: "ALL Admins".into(),
                orgs: created.config.orgs.clone(),
                members_from_channel: false,
            }),
        };
        std::fs::write(home.join(CONFIG_FILE), config.documented_toml())?;
    }
    Ok(())
}

/// The configuration files of the validators of a multi-node network, in order.
fn validator_configs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut configs = Vec::new();
    while node_dir(dir, configs.len()).join(CONFIG_FILE).exists() {
        configs.push(node_dir(dir, configs.len()).join(CONFIG_FILE));
    }
    Ok(configs)
}

fn absolute(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// The commonware runtime every node runs on: tokio, with the consensus engine's storage under
/// the node's data directory.
pub fn node_runtime(data_dir: &Path) -> commonware_runtime::tokio::Runner {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    commonware_runtime::tokio::Runner::new(
        commonware_runtime::tokio::Config::new()
            .with_worker_threads(threads)
            .with_catch_panics(false)
            .with_storage_directory(data_dir.join("consensus")),
    )
}

/// Where `up` keeps the network's data.
pub fn data_dir_of(args: &UpArgs) -> &Path {
    &args.data_dir
}

/// Creates the network when absent; true if this run created it.
pub fn prepare(args: &UpArgs) -> anyhow::Result<bool> {
    let dir = &args.data_dir;
    let exists = dir.join(CONFIG_FILE).exists() || !validator_configs(dir)?.is_empty();
    if exists {
        return Ok(false);
    }
    anyhow::ensure!(args.nodes >= 1, "--nodes must be at least 1");
    if args.nodes == 1 {
        create_solo_network(dir, args)?;
    } else {
        create_bft_network(dir, args)?;
    }
    Ok(true)
}

/// Whether the network in `args.data_dir` runs its validators as separate processes.
pub fn is_multi_node(args: &UpArgs) -> anyhow::Result<bool> {
    Ok(!validator_configs(&args.data_dir)?.is_empty())
}

pub async fn run_solo(
    args: UpArgs,
    created: bool,
    runtime: commonware_runtime::tokio::Context,
) -> anyhow::Result<()> {
    let dir = &args.data_dir;
    let config_path = dir.join(CONFIG_FILE);
    let mut config = NodeConfig::load(&config_path)?;
    if let Some(port) = args.rpc_port {
        config.rpc.listen = SocketAddr::from(([127, 0, 0, 1], port));
    }
    if args.create_only {
        println!("RiCaaS network created in {}", absolute(dir));
        return Ok(());
    }
    let node = start_node(config.clone(), runtime).await?;
    let platform = start_platform(
        &args,
        config.channel.name.as_str(),
        &format!("http://{}/channels/{}", node.rpc_addr, config.channel.name),
    )
    .await?;
    let key_path =
        std::fs::canonicalize(dir.join(DEV_KEY_FILE)).unwrap_or_else(|_| dir.join(DEV_KEY_FILE));
    let key = DevKey::read(&key_path)?;
    let addr = node.rpc_addr;
    let name = config.channel.name.as_str();
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
        "  developer key:  {}  (account {}, org1 client, enrolled and funded in genesis)",
        key_path.display(),
        key.address()
    );
    print_consortium(dir);
    print_platform(&platform);
    println!("  config:         {}", absolute(&config_path));
    println!(
        "  data:           {}",
        absolute(&config.data_dir.join("channels").join(name))
    );
    println!("Press Ctrl-C to stop.");
    serve_until_ctrl_c(node).await
}

/// A validator process started by `up`, killed when dropped.
struct Supervised {
    index: usize,
    child: Child,
}

impl Drop for Supervised {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts one `ricaas node` process per validator, waits until each serves JSON-RPC, prints the
/// endpoints and supervises them until Ctrl-C.
pub async fn run_validators(args: UpArgs, created: bool) -> anyhow::Result<()> {
    let dir = &args.data_dir;
    let configs = validator_configs(dir)?;
    if args.create_only {
        println!(
            "RiCaaS network of {} validators created in {}",
            configs.len(),
            absolute(dir)
        );
        for config in &configs {
            println!("  ricaas node --config {}", absolute(config));
        }
        return Ok(());
    }
    let exe = std::env::current_exe().context("locating the ricaas binary")?;
    let mut children = Vec::new();
    let mut endpoints = Vec::new();
    for (index, config_path) in configs.iter().enumerate() {
        let log_path = config_path.with_file_name("node.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut child = Command::new(&exe)
            .arg("node")
            .arg("--config")
            .arg(config_path)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting validator {index}"))?;
        let stdout = child.stdout.take().context("validator stdout")?;
        children.push(Supervised { index, child });
        let url = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut url = None;
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.trim().strip_prefix("JSON-RPC HTTP:") {
                    url = rest.split_whitespace().next().map(str::to_string);
                    break;
                }
            }
            // Keep draining so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            url
        })
        .await?;
        let url = url.with_context(|| {
            format!(
                "validator {index} exited before serving JSON-RPC; see {}",
                log_path.display()
            )
        })?;
        endpoints.push((url, log_path));
    }
    let dev_key = absolute(&dir.join(DEV_KEY_FILE));
    let first = NodeConfig::load(&configs[0])?;
    let platform = start_platform(&args, first.channel.name.as_str(), &endpoints[0].0).await?;
    println!(
        "RiCaaS local network is running ({}): {} validators, BFT",
        if created { "created" } else { "reopened" },
        configs.len()
    );
    println!(
        "  channel:        {} (chain id {})",
        first.channel.name, first.channel.chain_id
    );
    for (index, (url, log)) in endpoints.iter().enumerate() {
        println!(
            "  validator {index}:    JSON-RPC HTTP: {url}   pid {}   log {}",
            children[index].child.id(),
            log.display()
        );
    }
    println!("  developer key:  {dev_key}  (org1 client, enrolled and funded in genesis)");
    print_consortium(dir);
    print_platform(&platform);
    println!(
        "  configs:        {}/<i>/ricaas.toml",
        absolute(&dir.join(NODES_DIR))
    );
    println!(
        "  channels:       validator i belongs to org (i mod orgs)+1; `ricaas channel create` writes a new channel signed by its members' admins, `ricaas channel join --rpc <validator> --admin-cert … --admin-key …` opens it on a running validator (README: Channels)"
    );
    println!("Press Ctrl-C to stop.");
    let result = supervise(children).await;
    drop(platform);
    result
}

async fn supervise(mut children: Vec<Supervised>) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tokio::select! {
            signal = shutdown_signal() => {
                signal?;
                break;
            }
            _ = tick.tick() => {
                for child in &mut children {
                    if let Ok(Some(status)) = child.child.try_wait() {
                        // Reported once; the network keeps going while a quorum is up.
                        tracing::warn!(validator = child.index, %status, "validator exited");
                        println!("validator {} exited ({status}); the others continue", child.index);
                    }
                }
                children.retain_mut(|c| !matches!(c.child.try_wait(), Ok(Some(_))));
            }
        }
    }
    for child in &children {
        let _ = Command::new("kill")
            .args(["-TERM", &child.child.id().to_string()])
            .status();
    }
    for child in &mut children {
        let _ = child.child.wait();
    }
    Ok(())
}

pub fn node_data_dir(path: &Path) -> anyhow::Result<PathBuf> {
    Ok(NodeConfig::load(path)?.data_dir)
}

pub async fn run_node_from_config(
    path: &Path,
    runtime: commonware_runtime::tokio::Context,
) -> anyhow::Result<()> {
    let config = NodeConfig::load(path)?;
    let node = start_node(config.clone(), runtime).await?;
    println!("RiCaaS node is running");
    println!(
        "  channel:        {} (chain id {})",
        config.channel.name, config.channel.chain_id
    );
    if let Some(bft) = &config.consensus {
        println!(
            "  consensus:      BFT validator, {} validators, p2p {}",
            bft.validators.len(),
            bft.p2p_listen
        );
    }
    println!(
        "  JSON-RPC HTTP:  http://{}/channels/{}",
        node.rpc_addr, config.channel.name
    );
    println!(
        "  JSON-RPC WS:    ws://{}/channels/{}",
        node.rpc_addr, config.channel.name
    );
    for joined in node.manager.list().await.iter().filter(|c| c.joined) {
        println!(
            "  joined channel: {} (chain id {})   http://{}{}",
            joined.name, joined.chain_id, node.rpc_addr, joined.path
        );
    }
    if let Some(network) = &config.network {
        println!(
            "  admin API:      http://{}/admin   (admins of {}; ricaas channel join|list)",
            node.rpc_addr, network.org
        );
    }
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
