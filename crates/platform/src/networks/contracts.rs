//! A network's contracts as a service. A member proposes a deployment from its own account (its
//! custodial admin key signs `ILifecycle.proposeDeploy`: its vote); the members approve it under
//! the channel's deploy policy; then the platform sends the creation transaction signed by that
//! same key — the organization that asked, never another. The registry is the chain's
//! (`ILifecycle`): what this module lists is read from it, with the deployments still waiting
//! for votes. Freezing, unfreezing and revoking are proposed and voted the same way.

use super::invitations::Proposal;
use crate::{
    accounts::{AccountsError, Platform},
    ids::{NetworkId, TenantId},
    security::VersionCode,
    store::now_ms,
};
use alloy_primitives::{B256, Bytes, TxKind, keccak256};
use alloy_sol_types::SolCall as _;
use ricaas_primitives::system::{ILifecycle, LIFECYCLE_ADDRESS};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest creation code (constructor arguments included) a deployment may carry (EIP-3860).
pub const MAX_CREATION_CODE: usize = 49_152;
/// Gas of the creation transaction the platform sends once a deployment is approved.
const CREATE_GAS: u64 = 10_000_000;
/// A lifecycle proposal stores the ABI: base gas plus its size.
const PROPOSE_GAS: u64 = 2_000_000;

/// A deployment to propose.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentRequest {
    /// The contract's name in the channel's registry: 1 to 64 letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// The creation code as hex (`0x…`): the compiler's `bytecode`, with the constructor's
    /// arguments appended unless `constructor_args` gives them.
    pub bytecode: String,
    /// The constructor's arguments (a list in order, or an object by name), checked against
    /// the ABI and appended to `bytecode` ABI-encoded.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub constructor_args: Option<Value>,
    /// The contract's ABI (the compiler's `abi` output).
    #[schema(value_type = Vec<Object>)]
    pub abi: Value,
    /// Keccak-256 of the sources (hex), when known.
    #[serde(default)]
    pub source_hash: Option<String>,
    /// The compiler that built it, e.g. `solc 0.8.26+commit.8a97fa7a`.
    #[serde(default)]
    pub compiler: Option<String>,
    /// The security report of the compilation that built it (`security.report_hash` of
    /// `POST /api/v1/compile`): recorded on chain with the version, readable by the members who
    /// vote. Required when the channel sets `deploy_security_gate`.
    #[serde(default)]
    pub report_hash: Option<String>,
    /// The organization's custodial admin key that signs the proposal and, once approved, the
    /// creation (default `admin`).
    #[serde(default)]
    pub admin_key: Option<String>,
}

/// A contract of a network: from the chain's registry, or a deployment the platform proposed
/// that the chain has not registered yet.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Contract {
    pub name: String,
    pub address: Option<String>,
    /// `proposed` (waiting for votes), `approved` (creation under way), `normal`, `frozen`,
    /// `revoked`, or `failed` (see `message`).
    pub state: String,
    /// The height its state began at (on chain).
    pub since: Option<u64>,
    /// Versions registered (upgrades add one).
    pub version: u64,
    /// The deployment proposal, for deployments made through the platform.
    pub proposal: Option<u64>,
    pub message: Option<String>,
}

/// A lifecycle change of a contract, proposed by name.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum ContractAction {
    /// Refuse every call until it is unfrozen.
    Freeze,
    Unfreeze,
    /// Final: it can never be called again.
    Revoke,
    /// Replace its code with `bytecode` (runtime code, hex) at the same address, keeping its
    /// storage; no constructor runs. `abi` is the new version's.
    Upgrade {
        bytecode: String,
        #[schema(value_type = Vec<Object>)]
        abi: Value,
        #[serde(default)]
        compiler: Option<String>,
        #[serde(default)]
        source_hash: Option<String>,
        /// The security report of the compilation that built it (see deployments).
        #[serde(default)]
        report_hash: Option<String>,
    },
    /// Register a contract created directly (Hardhat, Foundry, ethers) at `address` under
    /// this name, so that it can be frozen, upgraded and revoked.
    Register {
        address: String,
        #[schema(value_type = Vec<Object>)]
        abi: Value,
        #[serde(default)]
        compiler: Option<String>,
        #[serde(default)]
        source_hash: Option<String>,
        /// The security report of the compilation that built it (see deployments).
        #[serde(default)]
        report_hash: Option<String>,
    },
}

impl ContractAction {
    fn kind(&self) -> &'static str {
        match self {
            ContractAction::Freeze => "contract_freeze",
            ContractAction::Unfreeze => "contract_unfreeze",
            ContractAction::Revoke => "contract_revoke",
            ContractAction::Upgrade { .. } => "contract_upgrade",
            ContractAction::Register { .. } => "contract_register",
        }
    }
}

fn abi_text(abi: &Value) -> Result<String, AccountsError> {
    if !abi.is_array() {
        return Err(AccountsError::Invalid(
            "abi must be a JSON array (the compiler's `abi` output)".into(),
        ));
    }
    Ok(abi.to_string())
}

fn hash_of(text: Option<&str>) -> Result<B256, AccountsError> {
    match text {
        None => Ok(B256::ZERO),
        Some(text) => text
            .parse()
            .map_err(|_| AccountsError::Invalid("source_hash must be 32 bytes of hex".into())),
    }
}

type DeploymentRow = (String, String, String, String, String, i64, Option<String>);

impl Platform {
    /// Proposes deploying `request` on `network`'s first channel, signed by the caller's
    /// `admin_key` (its organization's vote). Once the members approve it the platform creates
    /// the contract with the same key.
    pub async fn propose_deployment(
        &self,
        tenant: &TenantId,
        network: &str,
        request: DeploymentRequest,
        admin_key: &str,
    ) -> Result<Proposal, AccountsError> {
        let found = self.network(tenant, network).await?;
        if request.name.is_empty()
            || request.name.len() > 64
            || !request
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(AccountsError::Invalid(format!(
                "contract name {:?} must be 1 to 64 letters, digits, '-', '_' or '.'",
                request.name
            )));
        }
        let mut code = parse_code(&request.bytecode)?;
        if !request.abi.is_array() {
            return Err(AccountsError::Invalid(
                "abi must be a JSON array (the compiler's `abi` output)".into(),
            ));
        }
        if let Some(args) = &request.constructor_args {
            code.extend(super::gateway::encode_constructor(&request.abi, args)?);
        }
        let source_hash = match request.source_hash.as_deref() {
            None => B256::ZERO,
            Some(text) => text.parse().map_err(|_| {
                AccountsError::Invalid("source_hash must be 32 bytes of hex".into())
            })?,
        };
        let report_hash = self
            .version_report(
                tenant,
                &found,
                request.report_hash.as_deref(),
                VersionCode::Creation(&code),
            )
            .await?;
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT status FROM network_contracts WHERE network_id = $1 AND name = $2",
        )
        .bind(found.id.as_str())
        .bind(&request.name)
        .fetch_optional(self.store().pool())
        .await?;
        if let Some(status) = taken {
            return Err(AccountsError::Conflict(format!(
                "a deployment of {} was already proposed on {network} ({status})",
                request.name
            )));
        }
        let input: Bytes = ILifecycle::proposeDeployCall {
            name: request.name.clone(),
            initCodeHash: keccak256(&code),
            abi: request.abi.to_string(),
            sourceHash: source_hash,
            compiler: request.compiler.clone().unwrap_or_default(),
            reportHash: report_hash,
            effectiveHeight: 0,
        }
        .abi_encode()
        .into();
        let id = self
            .propose_to(
                tenant,
                &found.id,
                LIFECYCLE_ADDRESS,
                "contract_deploy",
                &serde_json::json!({"name": request.name}),
                input,
                admin_key,
                PROPOSE_GAS,
            )
            .await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO network_contracts (network_id, name, proposer_tenant_id, admin_key, bytecode, \
             proposal_id, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'proposed', $7, $7)",
        )
        .bind(found.id.as_str())
        .bind(&request.name)
        .bind(tenant.as_str())
        .bind(admin_key)
        .bind(hex::encode(&code))
        .bind(id as i64)
        .bind(now)
        .execute(self.store().pool())
        .await?;
        // A policy one vote satisfies is approved at once: create it now.
        self.sync_deployments().await?;
        self.proposal_by_id(tenant, network, admin_key, id).await
    }

    async fn proposal_by_id(
        &self,
        tenant: &TenantId,
        network: &str,
        admin_key: &str,
        id: u64,
    ) -> Result<Proposal, AccountsError> {
        self.proposals(tenant, network, admin_key, None)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| AccountsError::Corrupt(format!("proposal {id} vanished")))
    }

    /// The contracts of `network`'s first channel: the chain's registry, then deployments
    /// proposed through the platform that it does not hold yet. Read as the caller's
    /// `admin_key`.
    pub async fn contracts(
        &self,
        tenant: &TenantId,
        network: &str,
        admin_key: &str,
    ) -> Result<Vec<Contract>, AccountsError> {
        let id = self.network_id(tenant, network).await?;
        let channel = self.governance_channel(&id).await?;
        let output = self
            .system_view(
                tenant,
                &channel,
                admin_key,
                LIFECYCLE_ADDRESS,
                ILifecycle::contractsCall {}.abi_encode().into(),
            )
            .await?;
        let json = ILifecycle::contractsCall::abi_decode_returns(&output)
            .map_err(|e| AccountsError::Unavailable(format!("the contract registry: {e}")))?;
        let listed: Vec<Value> = serde_json::from_str(&json)
            .map_err(|e| AccountsError::Unavailable(format!("the contract registry: {e}")))?;
        let rows: Vec<(String, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT name, proposal_id, status, message FROM network_contracts WHERE network_id = $1 \
             ORDER BY created_at",
        )
        .bind(id.as_str())
        .fetch_all(self.store().pool())
        .await?;
        let mut contracts: Vec<Contract> = listed
            .iter()
            .map(|c| {
                let name = c["name"].as_str().unwrap_or_default().to_owned();
                let row = rows.iter().find(|r| r.0 == name);
                Contract {
                    address: c["address"].as_str().map(str::to_owned),
                    state: c["state"].as_str().unwrap_or_default().to_owned(),
                    since: c["since"].as_u64(),
                    version: c["version"].as_u64().unwrap_or_default(),
                    proposal: row.map(|r| r.1 as u64),
                    message: row.and_then(|r| r.3.clone()),
                    name,
                }
            })
            .collect();
        for (name, proposal, status, message) in rows {
            if contracts.iter().any(|c| c.name == name) {
                continue;
            }
            contracts.push(Contract {
                name,
                address: None,
                state: status,
                since: None,
                version: 0,
                proposal: Some(proposal as u64),
                message,
            });
        }
        Ok(contracts)
    }

    /// Contract `name` as the registry holds it: address, state, every version with its ABI.
    pub async fn contract(
        &self,
        tenant: &TenantId,
        network: &str,
        name: &str,
        admin_key: &str,
    ) -> Result<Value, AccountsError> {
        let found = self.network(tenant, network).await?;
        let channel = self.governance_channel(&found.id).await?;
        let mut record = self
            .registry_entry(tenant, &channel, network, name, admin_key)
            .await?;
        // Each version's security report, as the member that proposed it stored it: what it
        // found and what is still unresolved (absent when the version names none or the
        // report was made elsewhere).
        if let Some(versions) = record["versions"].as_array_mut() {
            for version in versions {
                let Some(hash) = version["report_hash"]
                    .as_str()
                    .and_then(|h| h.parse::<B256>().ok())
                    .filter(|h| !h.is_zero())
                else {
                    continue;
                };
                version["security"] = match self.member_report(&found, &hash.to_string()).await? {
                    Some(report) => serde_json::json!({
                        "findings": report.findings.len(),
                        "unresolved": report.unresolved,
                        "tenant": report.tenant,
                    }),
                    None => Value::Null,
                };
            }
        }
        Ok(record)
    }

    /// Contract `name` as the registry of `channel` (of `network`) holds it.
    pub(crate) async fn registry_entry(
        &self,
        tenant: &TenantId,
        channel: &crate::chain::Channel,
        network: &str,
        name: &str,
        admin_key: &str,
    ) -> Result<Value, AccountsError> {
        let output = self
            .system_view(
                tenant,
                channel,
                admin_key,
                LIFECYCLE_ADDRESS,
                ILifecycle::contractInfoCall { name: name.into() }
                    .abi_encode()
                    .into(),
            )
            .await
            .map_err(|e| match e {
                AccountsError::Unavailable(message) if message.contains("is registered") => {
                    AccountsError::NotFound {
                        what: "contract",
                        name: format!("{network}/{name}"),
                    }
                }
                other => other,
            })?;
        let json = ILifecycle::contractInfoCall::abi_decode_returns(&output)
            .map_err(|e| AccountsError::Unavailable(format!("the contract registry: {e}")))?;
        let mut record: Value = serde_json::from_str(&json)
            .map_err(|e| AccountsError::Unavailable(format!("the contract registry: {e}")))?;
        // The registry keeps ABIs as text: hand them out as JSON.
        if let Some(versions) = record["versions"].as_array_mut() {
            for version in versions {
                if let Some(abi) = version["abi"]
                    .as_str()
                    .and_then(|t| serde_json::from_str::<Value>(t).ok())
                {
                    version["abi"] = abi;
                }
            }
        }
        Ok(record)
    }

    /// Proposes `action` on registered contract `name`, signed by the caller's `admin_key`.
    pub async fn propose_contract_action(
        &self,
        tenant: &TenantId,
        network: &str,
        name: &str,
        action: ContractAction,
        admin_key: &str,
    ) -> Result<Proposal, AccountsError> {
        let found = self.network(tenant, network).await?;
        let name_owned = name.to_owned();
        let kind = action.kind();
        let input: Bytes = match action {
            ContractAction::Upgrade {
                bytecode,
                abi,
                compiler,
                source_hash,
                report_hash,
            } => {
                let code = parse_code(&bytecode)?;
                if code.len() > 24_576 {
                    return Err(AccountsError::Invalid(format!(
                        "runtime code must be at most 24576 bytes (EIP-170), not {}",
                        code.len()
                    )));
                }
                let report_hash = self
                    .version_report(
                        tenant,
                        &found,
                        report_hash.as_deref(),
                        VersionCode::Runtime(&code),
                    )
                    .await?;
                ILifecycle::proposeUpgradeCall {
                    name: name_owned,
                    runtimeCode: code.into(),
                    abi: abi_text(&abi)?,
                    sourceHash: hash_of(source_hash.as_deref())?,
                    compiler: compiler.unwrap_or_default(),
                    reportHash: report_hash,
                    effectiveHeight: 0,
                }
                .abi_encode()
            }
            ContractAction::Register {
                address,
                abi,
                compiler,
                source_hash,
                report_hash,
            } => ILifecycle::proposeRegisterCall {
                name: name_owned,
                target: address.parse().map_err(|_| {
                    AccountsError::Invalid(format!(
                        "{address:?} is not an address (0x and 40 hex digits)"
                    ))
                })?,
                abi: abi_text(&abi)?,
                sourceHash: hash_of(source_hash.as_deref())?,
                compiler: compiler.unwrap_or_default(),
                reportHash: self
                    .version_report(
                        tenant,
                        &found,
                        report_hash.as_deref(),
                        VersionCode::Registered,
                    )
                    .await?,
                effectiveHeight: 0,
            }
            .abi_encode(),
            ContractAction::Freeze => ILifecycle::proposeFreezeCall {
                name: name_owned,
                effectiveHeight: 0,
            }
            .abi_encode(),
            ContractAction::Unfreeze => ILifecycle::proposeUnfreezeCall {
                name: name_owned,
                effectiveHeight: 0,
            }
            .abi_encode(),
            ContractAction::Revoke => ILifecycle::proposeRevokeCall {
                name: name_owned,
                effectiveHeight: 0,
            }
            .abi_encode(),
        }
        .into();
        let id = self
            .propose_to(
                tenant,
                &found.id,
                LIFECYCLE_ADDRESS,
                kind,
                &serde_json::json!({"name": name}),
                input,
                admin_key,
                PROPOSE_GAS,
            )
            .await?;
        self.proposal_by_id(tenant, network, admin_key, id).await
    }

    /// Creates the deployments the members approved, each with its proposer's key, and marks
    /// those whose proposal expired or failed. Run by the reconciler's observer loop.
    pub(crate) async fn sync_deployments(&self) -> Result<(), AccountsError> {
        let open: Vec<DeploymentRow> = sqlx::query_as(
            "SELECT network_id, name, proposer_tenant_id, admin_key, bytecode, proposal_id, creation_tx \
             FROM network_contracts WHERE status = 'proposed'",
        )
        .fetch_all(self.store().pool())
        .await?;
        for (network, name, proposer, admin_key, bytecode, proposal, sent) in open {
            let network = NetworkId::from_stored(network);
            let proposer = TenantId::from_stored(proposer);
            // One network out of reach must not hold up the others.
            if let Err(e) = self
                .advance_deployment(
                    &network,
                    &name,
                    &proposer,
                    &admin_key,
                    &bytecode,
                    proposal,
                    sent.as_deref(),
                )
                .await
            {
                tracing::warn!(%network, contract = %name, error = %e, "advancing a deployment");
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn advance_deployment(
        &self,
        network: &NetworkId,
        name: &str,
        proposer: &TenantId,
        admin_key: &str,
        bytecode: &str,
        proposal: i64,
        sent: Option<&str>,
    ) -> Result<(), AccountsError> {
        let channel = self.governance_channel(network).await?;
        let registered = self
            .system_view(
                proposer,
                &channel,
                admin_key,
                LIFECYCLE_ADDRESS,
                ILifecycle::contractInfoCall { name: name.into() }
                    .abi_encode()
                    .into(),
            )
            .await
            .ok()
            .and_then(|output| ILifecycle::contractInfoCall::abi_decode_returns(&output).ok())
            .and_then(|json| serde_json::from_str::<Value>(&json).ok());
        let finish = |status: &'static str, address: Option<String>, message: Option<String>| async move {
            sqlx::query(
                "UPDATE network_contracts SET status = $1, address = $2, message = $3, updated_at = $4 \
                 WHERE network_id = $5 AND name = $6",
            )
            .bind(status)
            .bind(address)
            .bind(message)
            .bind(now_ms())
            .bind(network.as_str())
            .bind(name)
            .execute(self.store().pool())
            .await
            .map(|_| ())
        };
        match registered.as_ref().and_then(|r| r["state"].as_str()) {
            Some("approved") => {
                let hash = match sent.and_then(|hash| hash.parse::<B256>().ok()) {
                    // Sent before, by this process or one that died since: follow that
                    // transaction rather than send a second creation.
                    Some(hash) => hash,
                    None => {
                        let code = hex::decode(bytecode).map_err(|_| {
                            AccountsError::Corrupt(format!("stored code of {name}"))
                        })?;
                        let hash = match self
                            .submit(
                                proposer,
                                &channel,
                                admin_key,
                                TxKind::Create,
                                code.into(),
                                CREATE_GAS,
                            )
                            .await
                        {
                            Ok(hash) => hash,
                            Err(AccountsError::Conflict(reason)) => {
                                return finish("failed", None, Some(reason))
                                    .await
                                    .map_err(Into::into);
                            }
                            Err(other) => return Err(other),
                        };
                        sqlx::query(
                            "UPDATE network_contracts SET creation_tx = $1, updated_at = $2 \
                             WHERE network_id = $3 AND name = $4",
                        )
                        .bind(format!("{hash:#x}"))
                        .bind(now_ms())
                        .bind(network.as_str())
                        .bind(name)
                        .execute(self.store().pool())
                        .await?;
                        hash
                    }
                };
                let receipt = self
                    .await_receipt(proposer, &channel, admin_key, hash)
                    .await?;
                if receipt["status"] == "0x1" {
                    let address = receipt["contractAddress"].as_str().map(str::to_owned);
                    finish("normal", address, None).await?;
                } else {
                    let reason = crate::chain::revert_reason(&receipt)
                        .unwrap_or_else(|| "no reason given".into());
                    finish(
                        "failed",
                        None,
                        Some(format!(
                            "the constructor reverted in transaction {hash}: {reason}"
                        )),
                    )
                    .await?;
                }
            }
            Some("normal" | "frozen") => {
                let address = registered
                    .as_ref()
                    .and_then(|r| r["address"].as_str())
                    .map(str::to_owned);
                finish("normal", address, None).await?;
            }
            Some("revoked") => {
                finish("failed", None, Some("revoked before it was created".into())).await?;
            }
            _ => {
                let Some(stored) = self.read_proposal(network, proposer, proposal as u64).await
                else {
                    return Ok(());
                };
                match stored["status"]["state"].as_str() {
                    Some("expired") => {
                        finish(
                            "failed",
                            None,
                            Some("the proposal expired before the deploy policy was met".into()),
                        )
                        .await?
                    }
                    Some("failed") => {
                        finish(
                            "failed",
                            None,
                            Some(format!(
                                "the deployment could not apply: {}",
                                stored["status"]["reason"]
                                    .as_str()
                                    .unwrap_or("no reason given")
                            )),
                        )
                        .await?
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// Creation code from hex, refused with what to fix.
fn parse_code(text: &str) -> Result<Vec<u8>, AccountsError> {
    let code = hex::decode(text.trim().trim_start_matches("0x")).map_err(|_| {
        AccountsError::Invalid("bytecode must be the creation code as hex (0x…)".into())
    })?;
    if code.is_empty() || code.len() > MAX_CREATION_CODE {
        return Err(AccountsError::Invalid(format!(
            "bytecode must be 1 to {MAX_CREATION_CODE} bytes, not {}",
            code.len()
        )));
    }
    Ok(code)
}
