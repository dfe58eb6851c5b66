//! `ricaas channel`: create a channel configuration and collect its member admins' signatures,
//! have a node join it, and list a node's channels. Join and list go through the node's admin
//! API (`/admin`), authenticated by an admin token of the organization operating the node.

use anyhow::Context as _;
use jsonrpsee::{
    core::client::ClientT as _,
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
};
use ricaas_crypto::ca::{self, Certificate, IdentityKey};
use ricaas_node::{
    ChannelConfig, ChannelSummary, ConsortiumConfig, OrgConfig, SignedChannelConfig,
};
use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

#[derive(clap::Args)]
pub struct ChannelArgs {
    #[command(subcommand)]
    command: ChannelCommand,
}

/// An admin identity: certificate and PKCS#8 key files.
#[derive(clap::Args, Clone)]
struct AdminIdentity {
    /// Certificate (PEM) of an admin of the organization operating the node.
    #[arg(long)]
    admin_cert: PathBuf,
    /// Its private key (PKCS#8 PEM).
    #[arg(long)]
    admin_key: PathBuf,
}

#[derive(clap::Subcommand)]
enum ChannelCommand {
    /// Write a new channel's configuration (its genesis), signed by the admins given with --sign.
    Create {
        /// Channel name: lowercase letters, digits, '-' and '_'.
        #[arg(long)]
        name: String,
        /// EIP-155 chain id of the channel (distinct from the network's other channels).
        #[arg(long)]
        chain_id: u64,
        /// A member organization: <name>=<root CA certificate file>. Repeat per member.
        #[arg(long = "org", required = true)]
        orgs: Vec<String>,
        /// A validator: <node certificate file>@<p2p host:port>. Repeat per validator.
        #[arg(long = "validator", required = true)]
        validators: Vec<String>,
        /// A certificate enrolled from the first block (admins, clients). Repeat.
        #[arg(long = "member")]
        members: Vec<PathBuf>,
        /// An endorsement: <admin certificate file>,<admin key file>. Repeat per signing admin.
        #[arg(long = "sign")]
        signers: Vec<String>,
        #[arg(long, default_value = "ANY Members")]
        readers: String,
        #[arg(long, default_value = "ANY Members")]
        writers: String,
        #[arg(long, default_value = "ANY Members")]
        contract_deployers: String,
        #[arg(long, default_value = "MAJORITY Admins")]
        admins: String,
        #[arg(long, default_value_t = ricaas_primitives::system::DEFAULT_EPOCH_LENGTH)]
        epoch_length: u64,
        /// Longest a transaction waits for its block, in ms (validators propose sooner when a
        /// block is full).
        #[arg(long, default_value_t = ricaas_node::BFT_BLOCK_INTERVAL_MS)]
        block_interval_ms: u64,
        /// Where to write the signed configuration.
        #[arg(long)]
        out: PathBuf,
    },
    /// Add the endorsement of one more admin to a signed configuration (in place).
    Sign {
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        cert: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
    /// Have a running node open the channel (it must be one of its validators).
    Join {
        #[arg(long)]
        file: PathBuf,
        /// The node's JSON-RPC base address.
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc: String,
        #[command(flatten)]
        admin: AdminIdentity,
    },
    /// The channels a node serves.
    List {
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc: String,
        #[command(flatten)]
        admin: AdminIdentity,
    },
}

fn read_certificate(path: &PathBuf) -> anyhow::Result<(Certificate, String)> {
    let pem =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let certificate = ca::certificate_from_pem(&pem)
        .with_context(|| format!("{} is not a certificate", path.display()))?;
    Ok((certificate, pem))
}

fn read_key(path: &PathBuf) -> anyhow::Result<IdentityKey> {
    let pem =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    IdentityKey::from_pkcs8_pem(&pem)
        .with_context(|| format!("{} is not a PKCS#8 key", path.display()))
}

fn read_signed(file: &PathBuf) -> anyhow::Result<SignedChannelConfig> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a signed channel configuration", file.display()))
}

/// A client of `rpc`'s admin API, authenticated as `admin` for the node behind it.
async fn admin_client(rpc: &str, admin: &AdminIdentity) -> anyhow::Result<HttpClient> {
    let url = format!("{}/admin", rpc.trim_end_matches('/'));
    let open = HttpClientBuilder::default().build(&url)?;
    let node: String = open
        .request("admin_nodeKey", rpc_params![])
        .await
        .with_context(|| format!("asking {url} for its node key"))?;
    let (certificate, _) = read_certificate(&admin.admin_cert)?;
    let key = read_key(&admin.admin_key)?;
    let token = ricaas_crypto::token::admin_token(
        &certificate,
        &key,
        &node,
        crate::bench::unix_ms() / 1000 + 300,
    )?;
    let mut headers = jsonrpsee::http_client::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {token}").parse().context("token header")?,
    );
    Ok(HttpClientBuilder::default()
        .set_headers(headers)
        .build(&url)?)
}

fn print_channel(c: &ChannelSummary) {
    println!(
        "{:<16} chain id {:<8} height {:<8} {}  members {}  {}{}",
        c.name,
        c.chain_id,
        c.height,
        c.path,
        c.members.join(","),
        if c.validator { "validator" } else { "follower" },
        if c.joined { ", joined" } else { "" }
    );
}

pub async fn run(args: ChannelArgs) -> anyhow::Result<()> {
    match args.command {
        ChannelCommand::Create {
            name,
            chain_id,
            orgs,
            validators,
            members,
            signers,
            readers,
            writers,
            contract_deployers,
            admins,
            epoch_length,
            block_interval_ms,
            out,
        } => {
            let orgs = orgs
                .iter()
                .map(|spec| {
                    let (org, path) = spec
                        .split_once('=')
                        .context("--org takes <name>=<CA certificate file>")?;
                    let (_, pem) = read_certificate(&PathBuf::from(path))?;
                    Ok(OrgConfig {
                        name: org.to_string(),
                        ca_certificate: pem,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut validator_pems = Vec::new();
            let mut validator_addresses = BTreeMap::new();
            for spec in &validators {
                let (path, address) = spec
                    .rsplit_once('@')
                    .context("--validator takes <node certificate file>@<host:port>")?;
                let address: SocketAddr = address
                    .parse()
                    .with_context(|| format!("{address} is not a host:port address"))?;
                let (certificate, pem) = read_certificate(&PathBuf::from(path))?;
                let key = ca::ed25519_key_of(&certificate)
                    .with_context(|| format!("{path} is not a node certificate (Ed25519)"))?;
                validator_addresses.insert(hex::encode(key), address);
                validator_pems.push(pem);
            }
            let members = members
                .iter()
                .map(|path| read_certificate(path).map(|(_, pem)| pem))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut config =
                ChannelConfig::development(chain_id, Vec::new(), crate::bench::unix_ms());
            config.name = ricaas_primitives::ChannelId::new(&name)
                .map_err(|e| anyhow::anyhow!("channel name {name:?}: {e}"))?;
            config.block_interval_ms = block_interval_ms;
            config.consortium = Some(ConsortiumConfig {
                readers,
                writers,
                contract_deployers,
                admins,
                orgs,
                validators: validator_pems,
                members,
                epoch_length,
                validator_addresses,
                deployment: Default::default(),
            });
            let mut signed = SignedChannelConfig::new(&config)?;
            signed.channel_config()?;
            for spec in &signers {
                let (cert, key) = spec
                    .split_once(',')
                    .context("--sign takes <admin certificate file>,<admin key file>")?;
                let (certificate, _) = read_certificate(&PathBuf::from(cert))?;
                signed.sign(&certificate, &read_key(&PathBuf::from(key))?)?;
            }
            std::fs::write(&out, serde_json::to_string_pretty(&signed)?)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "channel {name} (chain id {chain_id}) written to {} with {} signature(s)",
                out.display(),
                signed.signatures.len()
            );
        }
        ChannelCommand::Sign { file, cert, key } => {
            let mut signed = read_signed(&file)?;
            let (certificate, _) = read_certificate(&cert)?;
            signed.sign(&certificate, &read_key(&key)?)?;
            std::fs::write(&file, serde_json::to_string_pretty(&signed)?)?;
            println!(
                "{} now has {} signature(s)",
                file.display(),
                signed.signatures.len()
            );
        }
        ChannelCommand::Join { file, rpc, admin } => {
            let signed = read_signed(&file)?;
            let client = admin_client(&rpc, &admin).await?;
            let joined: ChannelSummary = client
                .request("admin_joinChannel", rpc_params![signed])
                .await
                .context("joining the channel")?;
            println!("joined:");
            print_channel(&joined);
        }
        ChannelCommand::List { rpc, admin } => {
            let client = admin_client(&rpc, &admin).await?;
            let channels: Vec<ChannelSummary> = client
                .request("admin_channels", rpc_params![])
                .await
                .context("listing channels")?;
            for c in &channels {
                print_channel(c);
            }
        }
    }
    Ok(())
}
