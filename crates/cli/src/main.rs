//! `ricaas`: one binary for the platform. `up` runs a local network, `node` runs one node from
//! its configuration file, `bench` measures any Ethereum JSON-RPC endpoint.

mod bench;
mod ca;
mod channel;
mod check;
mod compile;
mod governance;
mod k8s;
mod member;
mod orgs;
mod platform;
mod submit;
mod up;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// jemalloc instead of glibc's malloc: a node allocates and frees block-sized buffers (thousands
/// of transactions, their receipts, redb pages) many times a second on several threads, and
/// glibc hands those back to the kernel and faults them in again zeroed — 15% of a validator's
/// CPU under load was the kernel clearing pages (BENCHMARKS.md). jemalloc keeps freed pages
/// for reuse and returns them only after they stay unused (its decay), as reth does.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "ricaas",
    version,
    about = "RiCaaS: consortium blockchain as a service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a local network: creates it on first run (config, developer key, genesis), reopens it after.
    Up(up::UpArgs),
    /// Run one node from its TOML configuration.
    Node {
        /// Path of the node's configuration file (as written by `ricaas up`).
        #[arg(long)]
        config: PathBuf,
    },
    /// Verify a stopped node's data: re-execute every block from genesis and check each header
    /// and the stored state against the chain's commitments.
    Replay {
        /// Path of the node's configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Benchmark an Ethereum JSON-RPC endpoint with pre-signed ERC-20 transfers.
    Bench(bench::BenchArgs),
    /// An organization's certificate authority: init, enroll, renew, revoke, crl, verify.
    Ca(ca::CaArgs),
    /// Enroll, revoke or show identities on chain (membership system contract), as an org admin.
    Member(member::MemberArgs),
    /// Propose and vote on channel configuration changes (governance system contract).
    Governance(governance::GovernanceArgs),
    /// Create a channel (configuration signed by its members' admins), join a node to it, list
    /// a node's channels.
    Channel(channel::ChannelArgs),
    /// Compile Solidity with the solcjs release the pragmas allow (installed from the npm
    /// registry on first use, integrity-checked); imports read from disk and @openzeppelin.
    Compile(compile::CompileArgs),
    /// Check Solidity for security weaknesses (reentrancy, unchecked calls, access control,
    /// arithmetic, randomness, …): findings with SWC ids as text, JSON or SARIF 2.1.
    Check(check::CheckArgs),
    /// Run the management plane: tenants, accounts and sessions behind a REST API (`/api/v1`,
    /// OpenAPI at `/api/v1/openapi.json`), on SQLite under --data-dir or on PostgreSQL.
    Platform(platform::PlatformArgs),
    /// A network's nodes as Kubernetes objects (StatefulSet, Services, Secret, ConfigMap):
    /// printed as YAML, or applied to the cluster of KUBECONFIG.
    K8s(k8s::K8sArgs),
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RICAAS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,jsonrpsee=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    use commonware_runtime::Runner as _;
    match cli.command {
        Command::Up(args) => {
            let created = up::prepare(&args)?;
            if up::is_multi_node(&args)? {
                tokio_runtime()?.block_on(up::run_validators(args, created))
            } else {
                let data_dir = up::data_dir_of(&args).to_path_buf();
                up::node_runtime(&data_dir).start(|runtime| up::run_solo(args, created, runtime))
            }
        }
        Command::Node { config } => {
            let data_dir = up::node_data_dir(&config)?;
            up::node_runtime(&data_dir)
                .start(|runtime| async move { up::run_node_from_config(&config, runtime).await })
        }
        Command::Replay { config } => up::replay(&config),
        Command::Ca(args) => ca::run(args),
        Command::Member(args) => tokio_runtime()?.block_on(member::run(args)),
        Command::K8s(args) => tokio_runtime()?.block_on(k8s::run(args)),
        Command::Governance(args) => tokio_runtime()?.block_on(governance::run(args)),
        Command::Channel(args) => tokio_runtime()?.block_on(channel::run(args)),
        Command::Bench(args) => bench::runtime(&args)?.block_on(bench::run(args)),
        Command::Platform(args) => tokio_runtime()?.block_on(platform::run(args)),
        Command::Compile(args) => compile::run(args),
        Command::Check(args) => check::run(args),
    }
}

fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}
