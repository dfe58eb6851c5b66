//! `ricaas governance`: an organization admin proposes changes of the channel configuration
//! and votes on them through the governance system contract.

use crate::member::{admin_client, send_system_calls};
use alloy_primitives::{Address, Bytes};
use alloy_sol_types::{SolCall as _, SolEvent as _};
use anyhow::Context as _;
use jsonrpsee::rpc_params;
use ricaas_crypto::DevKey;
use ricaas_primitives::system::{GOVERNANCE_ADDRESS, IGovernance, ILifecycle, LIFECYCLE_ADDRESS};
use std::path::{Path, PathBuf};

/// Enough for a lifecycle proposal that stores a large ABI or an upgrade's code.
const GAS: u64 = 5_000_000;

#[derive(clap::Args)]
pub struct GovernanceArgs {
    /// JSON-RPC endpoint of a node of the channel.
    #[arg(long, default_value = "http://127.0.0.1:8545/channels/default")]
    rpc: String,
    /// Key file (hex) of the organization admin who signs.
    #[arg(long)]
    admin_key_file: PathBuf,
    #[command(subcommand)]
    command: GovernanceCommand,
}

#[derive(clap::Subcommand)]
enum GovernanceCommand {
    /// Propose a new policy text for readers, writers, contract_deployers or admins.
    SetPolicy {
        #[arg(long)]
        policy: String,
        #[arg(long)]
        text: String,
        /// Block height at which the change takes effect (later if approved after it).
        #[arg(long)]
        at: u64,
    },
    /// Propose a chain parameter: tx_gas_limit, min_gas_price, proposal_lifetime_seconds (how
    /// long proposals stay open for votes; a minute to a year, default a week) or
    /// deploy_security_gate (0 off; 1 or 2: contract versions must name a security report with
    /// no unresolved high, or medium and high, findings).
    SetParameter {
        #[arg(long)]
        name: String,
        #[arg(long)]
        value: u128,
        #[arg(long)]
        at: u64,
    },
    /// Propose revoking an account of any member organization.
    Revoke {
        #[arg(long)]
        account: Address,
        #[arg(long)]
        at: u64,
    },
    /// Propose a new member organization: its CA certificate and first admin certificates.
    AddOrg {
        #[arg(long)]
        name: String,
        #[arg(long)]
        ca_cert: PathBuf,
        #[arg(long = "admin-cert", required = true)]
        admin_certs: Vec<PathBuf>,
        #[arg(long)]
        at: u64,
    },
    /// Propose removing a member organization.
    RemoveOrg {
        #[arg(long)]
        name: String,
        #[arg(long)]
        at: u64,
    },
    /// Propose a validator: its node certificate (Ed25519, OU=node, issued by a member CA) and
    /// the p2p address (ip:port) the other nodes reach it on. It votes from the consensus epoch
    /// after the change applies.
    AddValidator {
        #[arg(long)]
        cert: PathBuf,
        #[arg(long)]
        p2p_address: std::net::SocketAddr,
        #[arg(long)]
        at: u64,
    },
    /// Propose removing a validator (by its Ed25519 public key, hex) from the consensus epoch
    /// after the change applies.
    RemoveValidator {
        #[arg(long)]
        key: alloy_primitives::B256,
        #[arg(long)]
        at: u64,
    },
    /// Vote for a proposal (one vote per organization).
    Vote {
        #[arg(long)]
        id: u64,
    },
    /// Show a proposal: change, approvals, deadline (`expires_at`), status.
    Show {
        #[arg(long)]
        id: u64,
    },
    /// Propose deploying a contract (lifecycle): approves the creation code in `--code-file`
    /// (hex, constructor arguments appended) for this admin's account, which then sends it.
    ContractDeploy {
        #[arg(long)]
        name: String,
        #[arg(long)]
        code_file: PathBuf,
        /// The ABI (JSON array), as the compiler wrote it.
        #[arg(long)]
        abi_file: PathBuf,
        #[arg(long, default_value = "")]
        compiler: String,
        #[arg(long, default_value_t = 0)]
        at: u64,
    },
    /// Propose registering a contract created directly (`deployment = "direct"` channels).
    ContractRegister {
        #[arg(long)]
        name: String,
        #[arg(long)]
        address: Address,
        #[arg(long)]
        abi_file: PathBuf,
        #[arg(long, default_value = "")]
        compiler: String,
        #[arg(long, default_value_t = 0)]
        at: u64,
    },
    /// Propose replacing a contract's code with the runtime code in `--code-file` (hex),
    /// keeping its address and storage.
    ContractUpgrade {
        #[arg(long)]
        name: String,
        #[arg(long)]
        code_file: PathBuf,
        #[arg(long)]
        abi_file: PathBuf,
        #[arg(long, default_value = "")]
        compiler: String,
        #[arg(long, default_value_t = 0)]
        at: u64,
    },
    /// Propose freezing a contract: every call is refused until it is unfrozen.
    ContractFreeze {
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 0)]
        at: u64,
    },
    ContractUnfreeze {
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 0)]
        at: u64,
    },
    /// Propose revoking a contract (final).
    ContractRevoke {
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 0)]
        at: u64,
    },
    /// List the registered contracts (name, address, state, since, version).
    Contracts,
    /// Show a registered contract with every version.
    Contract {
        #[arg(long)]
        name: String,
    },
}

fn hex_file(path: &Path) -> anyhow::Result<Bytes> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let code = hex::decode(text.trim().trim_start_matches("0x"))
        .with_context(|| format!("{} is not hex", path.display()))?;
    Ok(code.into())
}

fn abi_text(path: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let abi: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    anyhow::ensure!(
        abi.is_array(),
        "{} must hold a JSON array (an ABI)",
        path.display()
    );
    Ok(abi.to_string())
}

fn der_of(path: &Path) -> anyhow::Result<Bytes> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let certificate = ricaas_crypto::ca::certificate_from_pem(&text)
        .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
    Ok(ricaas_crypto::ca::certificate_der(&certificate)?.into())
}

pub async fn run(args: GovernanceArgs) -> anyhow::Result<()> {
    let admin = DevKey::read(&args.admin_key_file)?;
    let (control, chain_id, gas_price) = admin_client(&args.rpc, &admin).await?;
    let view = |to: Address, data: Vec<u8>| {
        let control = &control;
        async move {
            let output: Bytes = control
                .request(
                    "eth_call",
                    rpc_params![
                        serde_json::json!({"to": to, "data": Bytes::from(data)}),
                        "latest"
                    ],
                )
                .await?;
            anyhow::Ok(output)
        }
    };
    let mut to = GOVERNANCE_ADDRESS;
    let input: Vec<u8> = match args.command {
        GovernanceCommand::Contracts => {
            let output = view(LIFECYCLE_ADDRESS, ILifecycle::contractsCall {}.abi_encode()).await?;
            println!(
                "{}",
                ILifecycle::contractsCall::abi_decode_returns(&output)?
            );
            return Ok(());
        }
        GovernanceCommand::Contract { name } => {
            let output = view(
                LIFECYCLE_ADDRESS,
                ILifecycle::contractInfoCall { name }.abi_encode(),
            )
            .await?;
            println!(
                "{}",
                ILifecycle::contractInfoCall::abi_decode_returns(&output)?
            );
            return Ok(());
        }
        GovernanceCommand::ContractDeploy {
            name,
            code_file,
            abi_file,
            compiler,
            at,
        } => {
            to = LIFECYCLE_ADDRESS;
            ILifecycle::proposeDeployCall {
                name,
                initCodeHash: alloy_primitives::keccak256(hex_file(&code_file)?),
                abi: abi_text(&abi_file)?,
                sourceHash: Default::default(),
                compiler,
                reportHash: Default::default(),
                effectiveHeight: at,
            }
            .abi_encode()
        }
        GovernanceCommand::ContractRegister {
            name,
            address,
            abi_file,
            compiler,
            at,
        } => {
            to = LIFECYCLE_ADDRESS;
            ILifecycle::proposeRegisterCall {
                name,
                target: address,
                abi: abi_text(&abi_file)?,
                sourceHash: Default::default(),
                compiler,
                reportHash: Default::default(),
                effectiveHeight: at,
            }
            .abi_encode()
        }
        GovernanceCommand::ContractUpgrade {
            name,
            code_file,
            abi_file,
            compiler,
            at,
        } => {
            to = LIFECYCLE_ADDRESS;
            ILifecycle::proposeUpgradeCall {
                name,
                runtimeCode: hex_file(&code_file)?,
                abi: abi_text(&abi_file)?,
                sourceHash: Default::default(),
                compiler,
                reportHash: Default::default(),
                effectiveHeight: at,
            }
            .abi_encode()
        }
        GovernanceCommand::ContractFreeze { name, at } => {
            to = LIFECYCLE_ADDRESS;
            ILifecycle::proposeFreezeCall {
                name,
                effectiveHeight: at,
            }
            .abi_encode()
        }
        GovernanceCommand::ContractUnfreeze { name, at } => {
            to = LIFECYCLE_ADDRESS;
            ILifecycle::proposeUnfreezeCall {
                name,
                effectiveHeight: at,
            }
            .abi_encode()
        }
        GovernanceCommand::ContractRevoke { name, at } => {
            to = LIFECYCLE_ADDRESS;
            ILifecycle::proposeRevokeCall {
                name,
                effectiveHeight: at,
            }
            .abi_encode()
        }
        GovernanceCommand::Show { id } => {
            let data = Bytes::from(IGovernance::proposalCall { id }.abi_encode());
            let output: Bytes = control
                .request(
                    "eth_call",
                    rpc_params![
                        serde_json::json!({"to": GOVERNANCE_ADDRESS, "data": data}),
                        "latest"
                    ],
                )
                .await?;
            println!(
                "{}",
                IGovernance::proposalCall::abi_decode_returns(&output)?
            );
            return Ok(());
        }
        GovernanceCommand::Vote { id } => IGovernance::voteCall { id }.abi_encode(),
        GovernanceCommand::SetPolicy { policy, text, at } => IGovernance::proposeSetPolicyCall {
            policy,
            text,
            effectiveHeight: at,
        }
        .abi_encode(),
        GovernanceCommand::SetParameter { name, value, at } => {
            IGovernance::proposeSetParameterCall {
                name,
                value: alloy_primitives::U256::from(value),
                effectiveHeight: at,
            }
            .abi_encode()
        }
        GovernanceCommand::Revoke { account, at } => IGovernance::proposeRevokeCall {
            account,
            effectiveHeight: at,
        }
        .abi_encode(),
        GovernanceCommand::AddOrg {
            name,
            ca_cert,
            admin_certs,
            at,
        } => IGovernance::proposeAddOrgCall {
            name,
            caCertificate: der_of(&ca_cert)?,
            admins: admin_certs
                .iter()
                .map(|p| der_of(p))
                .collect::<anyhow::Result<_>>()?,
            effectiveHeight: at,
        }
        .abi_encode(),
        GovernanceCommand::RemoveOrg { name, at } => IGovernance::proposeRemoveOrgCall {
            name,
            effectiveHeight: at,
        }
        .abi_encode(),
        GovernanceCommand::AddValidator {
            cert,
            p2p_address,
            at,
        } => IGovernance::proposeAddValidatorCall {
            nodeCertificate: der_of(&cert)?,
            p2pAddress: p2p_address.to_string(),
            effectiveHeight: at,
        }
        .abi_encode(),
        GovernanceCommand::RemoveValidator { key, at } => IGovernance::proposeRemoveValidatorCall {
            nodeKey: key,
            effectiveHeight: at,
        }
        .abi_encode(),
    };
    let receipt = send_system_calls(
        &control,
        &admin,
        chain_id,
        gas_price,
        to,
        vec![(input.into(), GAS)],
    )
    .await?;
    // Proposals return their id in the Proposed event's first topic.
    let proposed = IGovernance::Proposed::SIGNATURE_HASH;
    let id = receipt["logs"].as_array().and_then(|logs| {
        logs.iter().find_map(|log| {
            let topics = log["topics"].as_array()?;
            (topics.first()?.as_str()? == proposed.to_string())
                .then(|| topics.get(1)?.as_str().map(str::to_string))?
        })
    });
    match id {
        Some(topic) => println!(
            "proposal {} submitted in block {}",
            u64::from_str_radix(topic.trim_start_matches("0x"), 16).unwrap_or_default(),
            receipt["blockNumber"].as_str().unwrap_or_default()
        ),
        None => println!(
            "vote recorded in block {}",
            receipt["blockNumber"].as_str().unwrap_or_default()
        ),
    }
    Ok(())
}
