//! `ricaas member`: an organization admin's on-chain membership operations — enroll
//! certificates its CA issued, revoke accounts of its organization, list and remove its
//! observer nodes, show an account's identity.

use crate::bench::{Call, Submitter, legacy, quantity, sign, submitter, wait_receipt};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_sol_types::{SolCall as _, SolError as _};
use anyhow::{Context as _, bail};
use jsonrpsee::rpc_params;
use ricaas_crypto::DevKey;
use ricaas_primitives::system::{IMembership, MEMBERSHIP_ADDRESS};
use serde_json::Value;
use std::{path::PathBuf, time::Duration};

#[derive(clap::Args)]
pub struct MemberArgs {
    /// JSON-RPC endpoint of a node of the channel.
    #[arg(long, default_value = "http://127.0.0.1:8545/channels/default")]
    rpc: String,
    /// Key file (hex) of the organization admin who signs (e.g. ricaas-data/keys/org1-admin.key).
    #[arg(long)]
    admin_key_file: PathBuf,
    #[command(subcommand)]
    command: MemberCommand,
}

#[derive(clap::Subcommand)]
enum MemberCommand {
    /// Enroll certificates (PEM files) issued by the admin's organization CA.
    Enroll {
        #[arg(long = "cert", required = true)]
        certs: Vec<PathBuf>,
    },
    /// Revoke an account of the admin's organization from the next block on.
    Revoke {
        #[arg(long)]
        account: Address,
    },
    /// List a node of the admin's organization as an observer of the channel (a replica that
    /// follows finalized blocks and serves JSON-RPC without voting). Its node certificate (PEM,
    /// Ed25519 key) must come from the organization's CA.
    AddObserver {
        #[arg(long)]
        cert: PathBuf,
    },
    /// Remove an observer of the admin's organization, by its Ed25519 node key (hex).
    RemoveObserver {
        #[arg(long)]
        key: B256,
    },
    /// Show the identity an account is enrolled with.
    Show {
        #[arg(long)]
        account: Address,
    },
}

/// Sends each (calldata, gas) to the membership contract from `admin`, in nonce order, and
/// fails unless the last one succeeds (they execute in order, so all did).
pub(crate) async fn send_membership_calls(
    control: &Submitter,
    admin: &DevKey,
    chain_id: u64,
    gas_price: u128,
    calls: Vec<(Bytes, u64)>,
) -> anyhow::Result<Value> {
    send_system_calls(
        control,
        admin,
        chain_id,
        gas_price,
        MEMBERSHIP_ADDRESS,
        calls,
    )
    .await
}

/// Sends each (calldata, gas) to the system contract at `to` from `admin`, in nonce order, and
/// fails with the revert reason unless the last one succeeds.
pub(crate) async fn send_system_calls(
    control: &Submitter,
    admin: &DevKey,
    chain_id: u64,
    gas_price: u128,
    to: Address,
    calls: Vec<(Bytes, u64)>,
) -> anyhow::Result<Value> {
    let mut nonce = quantity(
        &control
            .request::<Value>(
                "eth_getTransactionCount",
                rpc_params![admin.address(), "pending"],
            )
            .await?,
    )?;
    let mut last = None;
    for (input, gas) in calls {
        let (hash, raw) = sign(
            admin,
            legacy(
                chain_id,
                gas_price,
                Call {
                    nonce,
                    gas,
                    to: TxKind::Call(to),
                    value: U256::ZERO,
                    input,
                },
            ),
        );
        control
            .request::<B256>("eth_sendRawTransaction", rpc_params![raw])
            .await
            .context("the node refused the membership transaction")?;
        nonce += 1;
        last = Some(hash);
    }
    let Some(hash) = last else {
        bail!("nothing to send");
    };
    let receipt = wait_receipt(control, hash, Duration::from_secs(120)).await?;
    if receipt["status"] != "0x1" {
        let reason = receipt["revertReason"]
            .as_str()
            .and_then(|data| hex::decode(data.trim_start_matches("0x")).ok())
            .and_then(|data| alloy_sol_types::Revert::abi_decode(&data).ok())
            .map(|revert| revert.reason)
            .unwrap_or_else(|| "no reason given".into());
        bail!("the system contract refused: {reason}");
    }
    Ok(receipt)
}

/// A client of `rpc` reading as `admin`: (client, chain id, gas price).
pub(crate) async fn admin_client(
    rpc: &str,
    admin: &DevKey,
) -> anyhow::Result<(Submitter, u64, u128)> {
    let chain_id = quantity(
        &submitter(rpc, 4, None)
            .await?
            .request::<Value>("eth_chainId", rpc_params![])
            .await?,
    )?;
    let control = submitter(rpc, 4, Some((admin, chain_id))).await?;
    let gas_price = quantity(
        &control
            .request::<Value>("eth_gasPrice", rpc_params![])
            .await?,
    )? as u128;
    Ok((control, chain_id, gas_price))
}

pub async fn run(args: MemberArgs) -> anyhow::Result<()> {
    let admin = DevKey::read(&args.admin_key_file)?;
    let (control, chain_id, gas_price) = admin_client(&args.rpc, &admin).await?;
    match args.command {
        MemberCommand::Enroll { certs } => {
            let certificates = certs
                .iter()
                .map(|path| {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let certificate = ricaas_crypto::ca::certificate_from_pem(&text)
                        .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
                    Ok(Bytes::from(ricaas_crypto::ca::certificate_der(
                        &certificate,
                    )?))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let count = certificates.len();
            let gas = 100_000 + 70_000 * count as u64;
            let input = IMembership::enrollCall { certificates }.abi_encode().into();
            let receipt =
                send_membership_calls(&control, &admin, chain_id, gas_price, vec![(input, gas)])
                    .await?;
            println!(
                "enrolled {count} certificate(s) in block {}",
                quantity(&receipt["blockNumber"])?
            );
        }
        MemberCommand::AddObserver { cert } => {
            let text = std::fs::read_to_string(&cert)
                .with_context(|| format!("reading {}", cert.display()))?;
            let certificate = ricaas_crypto::ca::certificate_from_pem(&text)
                .with_context(|| format!("{} is not a PEM certificate", cert.display()))?;
            let key = ricaas_crypto::ca::ed25519_key_of(&certificate).with_context(|| {
                format!("{} does not certify an Ed25519 node key", cert.display())
            })?;
            let input = IMembership::addObserverCall {
                nodeCertificate: ricaas_crypto::ca::certificate_der(&certificate)?.into(),
            }
            .abi_encode()
            .into();
            let receipt = send_membership_calls(
                &control,
                &admin,
                chain_id,
                gas_price,
                vec![(input, 200_000)],
            )
            .await?;
            println!(
                "observer 0x{} listed in block {}",
                hex::encode(key),
                quantity(&receipt["blockNumber"])?
            );
        }
        MemberCommand::RemoveObserver { key } => {
            let input = IMembership::removeObserverCall { nodeKey: key }
                .abi_encode()
                .into();
            let receipt = send_membership_calls(
                &control,
                &admin,
                chain_id,
                gas_price,
                vec![(input, 200_000)],
            )
            .await?;
            println!(
                "observer {key} removed in block {}",
                quantity(&receipt["blockNumber"])?
            );
        }
        MemberCommand::Revoke { account } => {
            let input = IMembership::revokeCall { account }.abi_encode().into();
            let receipt =
                send_membership_calls(&control, &admin, chain_id, gas_price, vec![(input, 60_000)])
                    .await?;
            println!(
                "revoked {account} at height {}",
                quantity(&receipt["blockNumber"])?
            );
        }
        MemberCommand::Show { account } => {
            let data = Bytes::from(IMembership::identityOfCall { account }.abi_encode());
            let output: Bytes = control
                .request(
                    "eth_call",
                    rpc_params![
                        serde_json::json!({"to": MEMBERSHIP_ADDRESS, "data": data}),
                        "latest"
                    ],
                )
                .await?;
            let identity = IMembership::identityOfCall::abi_decode_returns(&output)?;
            println!(
                "{account}: {}.{} valid {} .. {}{}",
                identity.org,
                identity.role,
                ricaas_crypto::ca::unix_time_text(identity.notBefore),
                ricaas_crypto::ca::unix_time_text(identity.notAfter),
                if identity.revoked {
                    format!(", revoked at height {}", identity.revokedAtHeight)
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(())
}
